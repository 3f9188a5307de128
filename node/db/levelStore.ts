// LevelDB behind the KeyValueStore port; the only file that imports level.
//
// Fail-stop: the first failed write poisons the handle. LevelDB 1.20 itself poisons only after a
// failed sync; after a failed append its log writer has already advanced its block offset, so a
// later write would land behind a torn record that recovery discards together with everything
// after it (blocks the node acknowledged). So after one failure this store refuses every write,
// reports the failure once (`onWriteFailure`: the node stops) and a restart recovers from the
// last durable write.
import { Level } from 'level'
import { formatBytes, freeBytes, ioCause, rootMessage } from '../storage/ioCause.ts'
import type { Bucket } from './buckets.ts'
import { DatabaseError } from './errors.ts'
import type { KeyValueStore, RangeOptions, WriteBatch } from './store.ts'

export { DatabaseError, type DatabaseErrorCode } from './errors.ts'

export interface LevelStoreOptions {
  /** called once, with the first failed write (the node stops on it) */
  onWriteFailure?: (error: DatabaseError) => void
}

// Buffers in and out: LevelDB's binding takes them as they are, where 'view' encoding converts every
// key and value of a batch first (a third of a block batch's marshalling time). Callers see plain
// Uint8Arrays over the same memory.
type Bytes = Buffer
type BatchOperations = Array<{ type: 'put'; key: Bytes; value: Bytes } | { type: 'del'; key: Bytes }>
interface Pending {
  readonly operations: BatchOperations
  readonly sync: boolean
  readonly resolve: () => void
  readonly reject: (error: unknown) => void
}
const encodings = { keyEncoding: 'buffer', valueEncoding: 'buffer' } as const

function view(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** The bucket byte then the key, in a new Buffer. */
function bucketKey(bucket: Bucket, key: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(key.length + 1)
  out[0] = bucket
  out.set(key, 1)
  return out
}

export class LevelStore implements KeyValueStore {
  readonly path: string
  readonly #db: Level<Bytes, Bytes>
  readonly #onWriteFailure: ((error: DatabaseError) => void) | undefined
  /** the first failed write: every later write is refused */
  #failed: DatabaseError | undefined
  /** writes waiting for the one in flight */
  #queue: Pending[] = []
  #writing = false

  private constructor(path: string, db: Level<Bytes, Bytes>, options: LevelStoreOptions) {
    this.path = path
    this.#db = db
    this.#onWriteFailure = options.onWriteFailure
  }

  static async open(path: string, options: LevelStoreOptions = {}): Promise<LevelStore> {
    const db = new Level<Bytes, Bytes>(path, encodings)
    try {
      await db.open()
    } catch (cause) {
      const message = rootMessage(cause)
      if (/lock/i.test(message)) throw new DatabaseError('DB_LOCKED', `database ${path} is in use by another process`, { cause, details: { path } })
      const why = ioCause(cause)
      const free = freeBytes(path)
      throw new DatabaseError('DB_OPEN_FAILED', `cannot open database ${path}: ${message} (${why}; ${formatBytes(free)} free)`, { cause, details: { path, cause: why, freeBytes: free } })
    }
    return new LevelStore(path, db, options)
  }

  /** The failed write that stopped this store, if one did. */
  get failure(): DatabaseError | undefined {
    return this.#failed
  }

  async get(bucket: Bucket, key: Uint8Array): Promise<Uint8Array | undefined> {
    const value = await this.#db.get(bucketKey(bucket, key))
    return value === undefined ? undefined : view(value)
  }

  async getMany(bucket: Bucket, keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    if (keys.length === 0) return []
    const values = await this.#db.getMany(keys.map((key) => bucketKey(bucket, key)))
    return values.map((value) => (value === undefined ? undefined : view(value)))
  }

  write(batch: WriteBatch, options: { sync?: boolean } = {}): Promise<void> {
    const operations: BatchOperations = batch.operations.map((op) =>
      op.type === 'put' ? { type: 'put' as const, key: bucketKey(op.bucket, op.key), value: asBuffer(op.value) } : { type: 'del' as const, key: bucketKey(op.bucket, op.key) },
    )
    return new Promise((resolve, reject) => {
      this.#queue.push({ operations, sync: options.sync ?? false, resolve, reject })
      if (!this.#writing) void this.#drain()
    })
  }

  /**
   * One LevelDB write at a time: a batch queued behind a failed one must see the failure, not land
   * behind its torn record (LevelDB's writer queue would run it next, and recovery would drop it).
   * What queued meanwhile goes as one group, as LevelDB's own group commit would: each caller's
   * operations stay whole and in order, and the group is synced if any caller asked.
   */
  async #drain(): Promise<void> {
    this.#writing = true
    while (this.#queue.length > 0) {
      const group = this.#queue
      this.#queue = []
      try {
        await this.#write(group.length === 1 ? (group[0] as Pending).operations : group.flatMap((entry) => entry.operations), group.some((entry) => entry.sync))
        for (const entry of group) entry.resolve()
      } catch (error) {
        for (const entry of group) entry.reject(error)
      }
    }
    this.#writing = false
  }

  async #write(operations: BatchOperations, sync: boolean): Promise<void> {
    const failed = this.#failed
    if (failed !== undefined) throw new DatabaseError('DB_WRITE_FAILED', `database ${this.path} refuses writes after a failed one: ${failed.message}`, { cause: failed, details: failed.details ?? {} })
    try {
      await this.#db.batch(operations, { sync })
    } catch (cause) {
      const why = ioCause(cause)
      const free = freeBytes(this.path)
      this.#failed = new DatabaseError('DB_WRITE_FAILED', `writing database ${this.path} failed: ${rootMessage(cause)} (${why}; ${formatBytes(free)} free)`, { cause, details: { path: this.path, cause: why, freeBytes: free } })
      this.#onWriteFailure?.(this.#failed)
      throw this.#failed
    }
  }

  async *entries(bucket: Bucket, range: RangeOptions = {}): AsyncIterable<[Uint8Array, Uint8Array]> {
    const gte = bucketKey(bucket, range.gte ?? new Uint8Array(0))
    const lt = range.lt === undefined ? Buffer.of(bucket + 1) : bucketKey(bucket, range.lt)
    const iterator = this.#db.iterator({ gte, lt, reverse: range.reverse ?? false, limit: range.limit ?? -1 })
    try {
      for await (const [key, value] of iterator) yield [view(key).subarray(1), view(value)]
    } finally {
      await iterator.close()
    }
  }

  async close(): Promise<void> {
    await this.#db.close()
  }
}
