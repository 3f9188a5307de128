// The journal of local transactions (geth's `transactions.rlp`): every transaction this node
// admitted from its own RPC or services is written, synced, before the submitter hears "accepted",
// and replayed into the pool at start. So a transaction the node acknowledged is not lost to a
// kill -9 before a block includes it. An entry leaves the journal when a committed block includes
// the transaction or the pool drops it (replaced, evicted, invalid, stale); deletions are not
// synced (one lost to a crash is found at the next replay: the pool refuses the transaction, with
// NONCE_TOO_LOW once it is included, and the entry goes). Transactions relayed by peers are not
// journaled: their sender's node keeps them.
//
// Records live in the node's LevelDB (`Bucket.txJournal`), keyed by an arrival sequence then the
// hash, so a replay admits them in the order they came (nonce order within a sender). The journal
// holds no more than the pool does: an entry exists only while its transaction is pooled.
import { toLatin1 } from '../../runtime/crypto/hash.ts'
import { Bucket } from '../db/buckets.ts'
import { WriteBatch, type KeyValueStore } from '../db/store.ts'
import type { ImportedBlock } from '../chain/chain.ts'
import type { Logger } from '../../lib/logger.ts'
import type { Mempool } from './mempool.ts'

/** how many journaled transactions a replay hands the pool at once (one verification batch) */
const REPLAY_CHUNK = 512
const SEQUENCE_BYTES = 8

export interface TxJournalComponents {
  store: KeyValueStore
  mempool: Pick<Mempool, 'subscribe'>
  chain: { onBlock(listener: (block: Pick<ImportedBlock, 'transactions'>) => void): () => void }
  logger: Logger
}

export class TxJournal {
  readonly #store: KeyValueStore
  readonly #components: TxJournalComponents
  /** journaled transactions by hash (latin1), with their record key */
  readonly #keys = new Map<string, Uint8Array>()
  #sequence = 0n
  readonly #unsubscribe: Array<() => void> = []

  constructor(components: TxJournalComponents) {
    this.#store = components.store
    this.#components = components
  }

  /** how many transactions the journal holds */
  get size(): number {
    return this.#keys.size
  }

  /**
   * Starts following the pool and the chain, then replays what the journal holds through `submit`
   * (the node's admission, as a local submission: a replayed transaction is gossiped again).
   * Entries the pool refuses now (already included, out of funds, …) are deleted.
   */
  async start(submit: (bytes: Uint8Array, source: 'local') => Promise<{ hash: Uint8Array }>): Promise<{ replayed: number; dropped: number }> {
    const { mempool, chain } = this.#components
    this.#unsubscribe.push(
      mempool.subscribe((event) => {
        if (event.type === 'dropped') this.#forget([event.entry.tx.hash])
      }),
      chain.onBlock((block) => {
        if (this.#keys.size > 0) this.#forget(block.transactions.map((tx) => tx.hash))
      }),
    )
    const records: Array<{ key: Uint8Array; bytes: Uint8Array }> = []
    for await (const [key, bytes] of this.#store.entries(Bucket.txJournal)) {
      records.push({ key, bytes })
      this.#keys.set(toLatin1(key.subarray(SEQUENCE_BYTES)), key)
    }
    const last = records.at(-1)
    if (last !== undefined) this.#sequence = new DataView(last.key.buffer, last.key.byteOffset).getBigUint64(0) + 1n
    let replayed = 0
    const stale = new WriteBatch()
    for (let i = 0; i < records.length; i += REPLAY_CHUNK) {
      const chunk = records.slice(i, i + REPLAY_CHUNK)
      const results = await Promise.allSettled(chunk.map(({ bytes }) => submit(bytes, 'local')))
      results.forEach((result, j) => {
        if (result.status === 'fulfilled') replayed++
        else {
          const { key } = chunk[j] as (typeof chunk)[number]
          this.#keys.delete(toLatin1(key.subarray(SEQUENCE_BYTES)))
          stale.del(Bucket.txJournal, key)
        }
      })
    }
    if (stale.size > 0) await this.#store.write(stale)
    if (records.length > 0) this.#components.logger.info('local transactions replayed from the journal', { replayed, dropped: stale.size })
    return { replayed, dropped: stale.size }
  }

  stop(): void {
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe()
  }

  /**
   * Journals an admitted local transaction; resolves once the record is on disk (synced). A
   * transaction already journaled (a replay) is not written twice.
   */
  async record(hash: Uint8Array, bytes: Uint8Array): Promise<void> {
    const id = toLatin1(hash)
    if (this.#keys.has(id)) return
    const key = new Uint8Array(SEQUENCE_BYTES + hash.length)
    new DataView(key.buffer).setBigUint64(0, this.#sequence++)
    key.set(hash, SEQUENCE_BYTES)
    this.#keys.set(id, key)
    try {
      await this.#store.write(new WriteBatch().put(Bucket.txJournal, key, bytes), { sync: true })
    } catch (error) {
      this.#keys.delete(id)
      throw error
    }
  }

  #forget(hashes: readonly Uint8Array[]): void {
    const batch = new WriteBatch()
    for (const hash of hashes) {
      const id = toLatin1(hash)
      const key = this.#keys.get(id)
      if (key === undefined) continue
      this.#keys.delete(id)
      batch.del(Bucket.txJournal, key)
    }
    // not synced and not awaited: a deletion lost to a crash is redone at the next replay; a
    // failed write is reported to the node's storage health by the store itself
    if (batch.size > 0) this.#store.write(batch).catch(() => {})
  }
}
