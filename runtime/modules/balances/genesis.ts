import * as k from '../../codec/schema.ts'
import type { StateOverlay } from '../../state/overlay.ts'
import { putAccountInfo } from '../system/index.ts'
import { totalIssuance, vesting, vestingKind } from './state.ts'

export const balancesGenesisKind = k.struct({
  balances: k.list(k.struct({ address: k.address, amount: k.amount }), 1_000_000),
  vesting: k.list(k.struct({ address: k.address, schedule: vestingKind }), 100_000),
})
export type BalancesGenesis = k.Infer<typeof balancesGenesisKind>

/** Mints the whole supply: the sum of the genesis balances becomes the total issuance. */
export function applyBalancesGenesis(state: StateOverlay, config: BalancesGenesis): bigint {
  let issuance = 0n
  const seen = new Set<string>()
  for (const { address, amount } of config.balances) {
    const id = Buffer.from(address).toString('hex')
    if (seen.has(id)) throw new Error(`genesis: duplicate balance for 0x${id}`)
    seen.add(id)
    putAccountInfo(state, address, { nonce: 0, free: amount })
    issuance += amount
  }
  for (const { address, schedule } of config.vesting) vesting.set(state, address, schedule)
  totalIssuance.set(state, issuance)
  return issuance
}
