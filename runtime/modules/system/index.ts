// system: account records (nonce and free balance), remarks and the randomness beacon's mix. The
// nonce is bumped by the state transition before every call runs, so even a failed call consumes
// its nonce.
import type { Address } from '../../crypto/secp256k1.ts'
import type { RuntimeModule } from '../../module.ts'
import type { StateOverlay, StateReader } from '../../state/overlay.ts'
import { updateMix } from './randomness.ts'
import { ModuleIndex } from '../indices.ts'
import { calls } from './calls.ts'
import { SystemError } from './errors.ts'
import { events } from './events.ts'
import { applySystemGenesis } from './genesis.ts'
import { accounts, type AccountInfo } from './state.ts'

export const systemModule: RuntimeModule = {
  index: ModuleIndex.system,
  name: 'system',
  calls,
  events,
  errors: SystemError.list,
  genesis: { apply: applySystemGenesis },
  // first module in dispatch order: every later hook and call of the block sees this block's mix
  async beginBlock(context) {
    await updateMix(context.state, context.block)
  },
}

/** The account's record; an account never seen reads as nonce 0 with nothing. The caller's own copy. */
export async function accountInfo(state: StateReader, account: Address): Promise<AccountInfo> {
  return (await accounts.get(state, account)) ?? { nonce: 0, free: 0n }
}

/**
 * Stores the account's record. A record with nonce 0 and nothing is removed (an account is
 * nothing until it is funded); one that has sent a transaction stays even when emptied, so its
 * used nonces can never be replayed.
 */
export function putAccountInfo(state: StateOverlay, account: Address, info: AccountInfo): void {
  if (info.nonce === 0 && info.free === 0n) accounts.delete(state, account)
  else accounts.set(state, account, info)
}

export async function accountNonce(state: StateReader, account: Address): Promise<number> {
  return (await accountInfo(state, account)).nonce
}
export { drawSeed, drawWeighted, isSampled, MIX_HISTORY, mixAt, RANDOMNESS_LOOKAHEAD, type DrawRequest } from './randomness.ts'
export { accounts } from './state.ts'
