// system: account nonces and remarks. The nonce is bumped by the state transition before every
// call runs, so even a failed call consumes its nonce.
import type { Address } from '../../crypto/secp256k1.ts'
import type { RuntimeModule } from '../../module.ts'
import type { StateOverlay, StateReader } from '../../state/overlay.ts'
import { ModuleIndex } from '../indices.ts'
import { calls } from './calls.ts'
import { SystemError } from './errors.ts'
import { events } from './events.ts'
import { nonces } from './state.ts'

export const systemModule: RuntimeModule = {
  index: ModuleIndex.system,
  name: 'system',
  calls,
  events,
  errors: SystemError.list,
}

export async function accountNonce(state: StateReader, account: Address): Promise<number> {
  return (await nonces.get(state, account)) ?? 0
}

export function setNonce(state: StateOverlay, account: Address, nonce: number): void {
  nonces.set(state, account, nonce)
}
