// balances storage: free balance per account, vesting locks, total issuance.
import * as k from '../../codec/schema.ts'
import { bytesKey, storageMap, storageValue } from '../../storage.ts'
import { ModuleIndex } from '../indices.ts'

export const StorageItem = { account: 0, vesting: 1, totalIssuance: 2 } as const

export const accountKind = k.struct({ free: k.amount })
export const vestingKind = k.struct({
  /** amount locked until cliffEnd, then released linearly until end */
  total: k.amount,
  /** ms since epoch */
  cliffEnd: k.uint,
  /** ms since epoch */
  end: k.uint,
})
export type VestingSchedule = k.Infer<typeof vestingKind>

export const accounts = storageMap(ModuleIndex.balances, StorageItem.account, bytesKey, accountKind)
export const vesting = storageMap(ModuleIndex.balances, StorageItem.vesting, bytesKey, vestingKind)
export const totalIssuance = storageValue(ModuleIndex.balances, StorageItem.totalIssuance, k.amount, 0n)
