// balances storage: vesting locks and total issuance. Free balances live in the system module's
// account record, next to the nonce (see system/state.ts).
import * as k from '../../codec/schema.ts'
import { bytesKey, storageMap, storageValue } from '../../storage.ts'
import { ModuleIndex } from '../indices.ts'

/** Item 0 held the free balance before the system account record held it (retired: never reuse). */
export const StorageItem = { vesting: 1, totalIssuance: 2 } as const

export const vestingKind = k.struct({
  /** amount locked until cliffEnd, then released linearly until end */
  total: k.amount,
  /** ms since epoch */
  cliffEnd: k.uint,
  /** ms since epoch */
  end: k.uint,
})
export type VestingSchedule = k.Infer<typeof vestingKind>

export const vesting = storageMap(ModuleIndex.balances, StorageItem.vesting, bytesKey, vestingKind)
export const totalIssuance = storageValue(ModuleIndex.balances, StorageItem.totalIssuance, k.amount, 0n)
