// system storage: account nonces.
import * as k from '../../codec/schema.ts'
import { bytesKey, storageMap } from '../../storage.ts'
import { ModuleIndex } from '../indices.ts'

export const StorageItem = { nonce: 0 } as const

export const nonces = storageMap(ModuleIndex.system, StorageItem.nonce, bytesKey, k.uint)
