// Transactions on the gossip topic travel in batches, like devp2p's Transactions message: what
// this node admitted from its own clients within a few milliseconds goes out as one message of
// many transactions. Every gossip message costs each peer a protobuf frame, a Noise seal and open,
// a message id and a seen-cache entry, and is received up to once per mesh peer; per transaction
// that overhead was larger than admitting the transaction itself. A peer's batch is admitted
// transaction by transaction, and judged as a whole.
import { CodecError, decode, encode } from '../../runtime/codec/canonical.ts'
import { readArray, readBytes } from '../../runtime/codec/read.ts'
import { OpenLedgerError } from '../../runtime/errors.ts'
import { MAX_TX_BYTES } from '../../runtime/transaction.ts'
import type { GossipVerdict } from '../../p2p/interface.ts'
import type { SubmissionSource } from './txSubmission.ts'

/** Most transactions in one gossip message. */
export const MAX_GOSSIP_BATCH_TXS = 1024

/** Codes of refusals that no honest peer could have caused: the batch is rejected, the peer scored down. */
const PEER_FAULTS = new Set(['INVALID_ENCODING', 'INVALID_SIGNATURE', 'WRONG_CHAIN_ID', 'UNKNOWN_CALL', 'INVALID_ARGUMENTS', 'GAS_LIMIT_TOO_LOW', 'TIP_ABOVE_MAX_FEE'])

export class TxBatchError extends OpenLedgerError<'INVALID_BATCH'> {}

/** The canonical bytes of a batch: an array of encoded transactions. */
export function encodeTxBatch(transactions: readonly Uint8Array[]): Uint8Array {
  return encode(transactions as Uint8Array[])
}

/** The transactions of a batch; throws INVALID_BATCH on anything but a canonical, non-empty list within the limits. */
export function decodeTxBatch(bytes: Uint8Array, maxBytes: number): Uint8Array[] {
  try {
    const list = readArray(decode(bytes, maxBytes), 'batch')
    if (list.length === 0 || list.length > MAX_GOSSIP_BATCH_TXS) throw new TxBatchError('INVALID_BATCH', `a batch holds 1 to ${MAX_GOSSIP_BATCH_TXS} transactions, not ${list.length}`)
    return list.map((item, i) => readBytes(item, `batch[${i}]`, undefined, MAX_TX_BYTES))
  } catch (error) {
    if (error instanceof CodecError) throw new TxBatchError('INVALID_BATCH', `malformed transaction batch: ${error.message}`, { cause: error })
    throw error
  }
}

export interface TxGossipOptions {
  /** how long an admitted transaction waits for others to share its message (ms) */
  flushMs: number
  /** the topic's message limit (bytes); a batch is sent before it would exceed it */
  maxMessageBytes: number
}

export interface TxGossipComponents {
  publish(bytes: Uint8Array): Promise<void>
  submit(bytes: Uint8Array, source: SubmissionSource): Promise<unknown>
  onPublishError?(error: unknown): void
}

/** Room for the array header and a transaction's bin header in the encoded batch. */
const ARRAY_OVERHEAD = 5
const ITEM_OVERHEAD = 5

export class TxGossip {
  readonly #options: TxGossipOptions
  readonly #components: TxGossipComponents
  #outbox: Uint8Array[] = []
  #outboxBytes = ARRAY_OVERHEAD
  #timer: ReturnType<typeof setTimeout> | undefined

  constructor(options: Partial<TxGossipOptions> & Pick<TxGossipOptions, 'maxMessageBytes'>, components: TxGossipComponents) {
    this.#options = { flushMs: 5, ...options }
    if (this.#options.maxMessageBytes < MAX_TX_BYTES + ARRAY_OVERHEAD + ITEM_OVERHEAD) throw new RangeError(`maxMessageBytes must hold one transaction of ${MAX_TX_BYTES} bytes`)
    this.#components = components
  }

  /** Queues a transaction this node admitted from its own clients; sent within flushMs. */
  enqueue(tx: Uint8Array): void {
    if (this.#outboxBytes + tx.length + ITEM_OVERHEAD > this.#options.maxMessageBytes || this.#outbox.length === MAX_GOSSIP_BATCH_TXS) this.flush()
    this.#outbox.push(tx)
    this.#outboxBytes += tx.length + ITEM_OVERHEAD
    this.#timer ??= setTimeout(() => this.flush(), this.#options.flushMs)
  }

  /** Sends what is queued now. */
  flush(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    if (this.#outbox.length === 0) return
    const batch = encodeTxBatch(this.#outbox)
    this.#outbox = []
    this.#outboxBytes = ARRAY_OVERHEAD
    this.#components.publish(batch).catch((error: unknown) => this.#components.onPublishError?.(error))
  }

  /**
   * A peer's batch: each transaction is admitted as if relayed alone. Rejected (the peer scored
   * down, nothing forwarded) when the batch is malformed or any transaction could never be valid;
   * accepted (forwarded) when at least one was admitted; otherwise ignored (all known or stale).
   */
  async receive(bytes: Uint8Array): Promise<GossipVerdict> {
    let transactions: Uint8Array[]
    try {
      transactions = decodeTxBatch(bytes, this.#options.maxMessageBytes)
    } catch {
      return 'reject'
    }
    const results = await Promise.allSettled(transactions.map((tx) => this.#components.submit(tx, 'gossip')))
    let admitted = false
    for (const result of results) {
      if (result.status === 'fulfilled') admitted = true
      else if (result.reason instanceof OpenLedgerError && PEER_FAULTS.has(result.reason.code)) return 'reject'
    }
    return admitted ? 'accept' : 'ignore'
  }

  stop(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#outbox = []
    this.#outboxBytes = ARRAY_OVERHEAD
  }
}
