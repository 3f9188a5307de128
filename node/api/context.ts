// What the RPC handlers read and drive: the node's services, passed explicitly.
import { OpenLedgerError } from '../../runtime/errors.ts'
import type { BlockHeader } from '../../runtime/block.ts'
import type { Chain } from '../chain/chain.ts'
import type { Mempool } from '../mempool/mempool.ts'
import type { TxSubmission } from '../mempool/txSubmission.ts'
import type { TxWatcher } from '../mempool/txWatcher.ts'

export interface ApiComponents {
  chain: Chain
  mempool: Mempool
  submission: TxSubmission
  watcher: TxWatcher
  nodeName: string
  version: string
}

export type ApiErrorCode = 'UNKNOWN_BLOCK' | 'UNKNOWN_TRANSACTION' | 'STATE_UNAVAILABLE'
export class ApiError extends OpenLedgerError<ApiErrorCode> {}

/** The block a query refers to: a hash, or the head when none is given. */
export async function resolveBlock(chain: Chain, hash: Uint8Array | undefined): Promise<{ hash: Uint8Array; header: BlockHeader }> {
  if (hash === undefined) return chain.head
  const header = await chain.chainStore.getHeader(hash)
  if (header === undefined) throw new ApiError('UNKNOWN_BLOCK', 'no block with this hash')
  return { hash, header }
}
