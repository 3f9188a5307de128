// system storage: the account record and the randomness beacon's per-block mix (runtime/modules/system/randomness.ts).
import * as k from '../../codec/schema.ts'
import { bytesKey, storageMap, u64Key } from '../../storage.ts'
import { ModuleIndex } from '../indices.ts'

/** Item 0 held the nonce alone before the account record held it (retired: never reuse). */
export const StorageItem = { account: 1, randomMix: 2 } as const

/**
 * An account's record, as Substrate's `System::Account`: its next nonce and its free balance (the
 * balances module's part) in one state leaf. Every transaction reads and writes both for its sender,
 * so one record is one key, one read, one write and one leaf per sender instead of two.
 */
export const accountInfoKind = k.struct({ nonce: k.uint, free: k.amount })
export type AccountInfo = k.Infer<typeof accountInfoKind>

export const accounts = storageMap(ModuleIndex.system, StorageItem.account, bytesKey, accountInfoKind)

/**
 * height -> the beacon's mix after that block (runtime/modules/system/randomness.ts). Kept for MIX_HISTORY
 * heights: a draw reads the mix of a height at most that far back.
 */
export const randomMixes = storageMap(ModuleIndex.system, StorageItem.randomMix, u64Key, k.hash)
