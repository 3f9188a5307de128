// The way into the pool: decode, recover the signer off the main thread (submissions arriving in
// the same tick are verified as one batch), then admit. Every refusal is a typed error with a
// stable code; nothing is half-admitted.
import { decodeTransactionInput, InvalidTransactionCode, InvalidTransactionError } from '../../runtime/stateTransition.ts'
import { type Transaction } from '../../runtime/transaction.ts'
import type { Address } from '../../runtime/crypto/secp256k1.ts'
import type { SignatureVerifier } from '../workers/signatureVerifier.ts'
import type { NodeMetrics } from '../metrics/metrics.ts'
import { OpenLedgerError } from '../../runtime/errors.ts'
import { MempoolError, type Mempool } from './mempool.ts'
import type { TxJournal } from './txJournal.ts'

/** how many submissions one verification batch holds at most */
const MAX_BATCH = 512

/** `local`: RPC or this node itself; `gossip`: a peer relayed it (gossipsub forwards it on). */
export type SubmissionSource = 'local' | 'gossip'

interface Pending {
  tx: Transaction
  resolve: (result: { hash: Uint8Array; status: 'ready' | 'future' }) => void
  reject: (error: unknown) => void
}

export class TxSubmission {
  readonly #mempool: Mempool
  readonly #verifier: SignatureVerifier
  readonly #metrics: Pick<NodeMetrics, 'mempoolRejections'> | undefined
  #queue: Pending[] = []
  #scheduled = false
  /** why the node stopped admitting (a storage fault), once it did */
  #closed: string | undefined

  readonly #journal: Pick<TxJournal, 'record'> | undefined
  readonly #prefetch: ((items: ReadonlyArray<{ tx: Transaction; sender: Address }>) => Promise<void>) | undefined

  /**
   * `prefetch` loads the state the admitted transactions will read (the node passes the runtime's
   * access hints to the state database): one batched read per verified batch, instead of one disk
   * read per account as each is admitted, and the block builder later finds it all in memory.
   */
  constructor(components: {
    mempool: Mempool
    verifier: SignatureVerifier
    metrics?: Pick<NodeMetrics, 'mempoolRejections'>
    prefetch?: (items: ReadonlyArray<{ tx: Transaction; sender: Address }>) => Promise<void>
    /** where local submissions are made durable before they are acknowledged */
    journal?: Pick<TxJournal, 'record'>
  }) {
    this.#journal = components.journal
    this.#mempool = components.mempool
    this.#verifier = components.verifier
    this.#metrics = components.metrics
    this.#prefetch = components.prefetch
  }

  readonly #admitted = new Set<(bytes: Uint8Array, source: SubmissionSource) => void>()

  /** Called for every admitted transaction, with where it came from (the node gossips local ones). */
  onAdmitted(listener: (bytes: Uint8Array, source: SubmissionSource) => void): () => void {
    this.#admitted.add(listener)
    return () => this.#admitted.delete(listener)
  }

  /** Refuses every later submission with NODE_HALTED (the node stopped on a storage fault). */
  close(reason: string): void {
    this.#closed = reason
  }

  /** Decodes and admits one encoded transaction; resolves to its hash and pool status. */
  async submit(bytes: Uint8Array, source: SubmissionSource = 'local'): Promise<{ hash: Uint8Array; status: 'ready' | 'future' }> {
    try {
      const result = await this.#admit(bytes)
      // a local transaction is acknowledged only once a restart would find it again
      if (source === 'local' && this.#journal !== undefined) await this.#journal.record(result.hash, bytes)
      for (const listener of this.#admitted) listener(bytes, source)
      return result
    } catch (error) {
      this.#metrics?.mempoolRejections.inc({ reason: error instanceof OpenLedgerError ? error.code : 'INTERNAL' })
      throw error
    }
  }

  #admit(bytes: Uint8Array): Promise<{ hash: Uint8Array; status: 'ready' | 'future' }> {
    if (this.#closed !== undefined) return Promise.reject(new MempoolError('NODE_HALTED', `the node stopped admitting transactions: ${this.#closed}`))
    let tx: Transaction
    try {
      tx = decodeTransactionInput(bytes)
    } catch (cause) {
      return Promise.reject(cause)
    }
    if (this.#mempool.has(tx.hash)) return Promise.reject(new MempoolError('ALREADY_KNOWN', 'transaction is already in the pool'))
    return new Promise((resolve, reject) => {
      this.#queue.push({ tx, resolve, reject })
      if (this.#queue.length >= MAX_BATCH) this.#flush()
      else if (!this.#scheduled) {
        this.#scheduled = true
        setImmediate(() => this.#flush())
      }
    })
  }

  #flush(): void {
    this.#scheduled = false
    const batch = this.#queue
    this.#queue = []
    if (batch.length === 0) return
    void this.#process(batch)
  }

  async #process(batch: Pending[]): Promise<void> {
    let senders: (Uint8Array | undefined)[]
    try {
      senders = await this.#verifier.recoverSigners(batch.map(({ tx }) => ({ digest: tx.digest, signature: tx.signature })))
    } catch (error) {
      for (const item of batch) item.reject(error)
      return
    }
    if (this.#prefetch !== undefined) {
      const recovered: Array<{ tx: Transaction; sender: Address }> = []
      batch.forEach((item, i) => {
        const sender = senders[i]
        if (sender !== undefined) recovered.push({ tx: item.tx, sender })
      })
      try {
        await this.#prefetch(recovered)
      } catch {
        // only a hint: admission reads what it needs itself and reports a failing store there
      }
    }
    for (let i = 0; i < batch.length; i++) {
      const item = batch[i] as Pending
      const sender = senders[i]
      if (sender === undefined) {
        item.reject(new InvalidTransactionError(InvalidTransactionCode.invalidSignature, 'signature does not verify'))
        continue
      }
      try {
        if (this.#closed !== undefined) throw new MempoolError('NODE_HALTED', `the node stopped admitting transactions: ${this.#closed}`)
        const { status } = await this.#mempool.add(item.tx, sender)
        item.resolve({ hash: item.tx.hash, status })
      } catch (error) {
        item.reject(error)
      }
    }
  }
}
