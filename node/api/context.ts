// What the RPC handlers read and drive: the node's services, passed explicitly.
import type { ClockStatus } from '../consensus/clockMonitor.ts'
import { OpenLedgerError } from '../../runtime/errors.ts'
import type { BlockHeader } from '../../runtime/block.ts'
import type { Chain } from '../chain/chain.ts'
import type { Mempool } from '../mempool/mempool.ts'
import type { TxSubmission } from '../mempool/txSubmission.ts'
import type { TxWatcher } from '../mempool/txWatcher.ts'
import type { BlobStore } from '../blobs/blobStore.ts'
import type { JobProgress } from '../models/trainingService.ts'
import type { SettleResult } from '../market/providerService.ts'
import type { AttributionService } from '../attribution/attributionService.ts'

/** What the RPC reads of the network and consensus, when the node has them (not in dev mode). */
export interface NetworkView {
  readonly peerId: string
  peers(): Array<{ id: string; addresses: string[]; direction: string; score: number; connectedSince: number }>
  blockPeer(peer: string): void
  unblockPeer(peer: string): boolean
  blockedPeers(): string[]
}
export interface ConsensusView {
  state(): {
    height: number
    round: number
    step: string
    lockedRound: number
    validRound: number
    proposer: Uint8Array | undefined
    isValidator: boolean
    validators: { validators: ReadonlyArray<{ publicKey: Uint8Array; power: bigint; address?: Uint8Array }>; totalPower: bigint } | undefined
  }
}
export interface SyncView {
  readonly highestPeerHeight: number
  readonly isSyncing: boolean
}

export interface ApiComponents {
  network?: NetworkView | undefined
  consensus?: ConsensusView | undefined
  sync?: SyncView | undefined
  chain: Chain
  mempool: Mempool
  submission: TxSubmission
  watcher: TxWatcher
  nodeName: string
  version: string
  /** whether operator-only methods (peer blocking) may be called: `--rpc-methods unsafe` */
  unsafeMethods?: boolean
  /** the node's blob store (datanet contributions); absent, the blob methods answer BLOBS_DISABLED */
  blobs?: BlobStore | undefined
  /** the node's ModelFactory worker, for this node's progress on the jobs it works on */
  training?: { progress(job: number): JobProgress | undefined } | undefined
  /** the node's inference-market provider (`--provider`): settles its channel vouchers on demand */
  provider?: { settle(): Promise<SettleResult> } | undefined
  /** the node's Proof of Attribution worker: citations of an output (openledger_getCitations) */
  attribution?: Pick<AttributionService, 'citations'> | undefined
  /** the home's storage: whether the node can write (node/storage) */
  storage?: { readonly status: 'ok' | 'low' | 'failed'; readonly lastFreeBytes: number | undefined; readonly fatal: Error | undefined } | undefined
  /** this node's clock against its peers' (validators and full nodes on a network) */
  clock?: { status(): ClockStatus } | undefined
}

export type ApiErrorCode = 'UNKNOWN_BLOCK' | 'UNKNOWN_TRANSACTION' | 'STATE_UNAVAILABLE' | 'UNSAFE_METHOD' | 'NO_NETWORK' | 'NOT_A_PROVIDER'
export class ApiError extends OpenLedgerError<ApiErrorCode> {}

/** The block a query refers to: a hash, or the head when none is given. */
export async function resolveBlock(chain: Chain, hash: Uint8Array | undefined): Promise<{ hash: Uint8Array; header: BlockHeader }> {
  if (hash === undefined) return chain.head
  const header = await chain.chainStore.getHeader(hash)
  if (header === undefined) throw new ApiError('UNKNOWN_BLOCK', 'no block with this hash')
  return { hash, header }
}
