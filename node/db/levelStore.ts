// LevelDB behind the KeyValueStore port; the only file that imports level.
import { Level } from 'level'
import { OpenLedgerError } from '../../runtime/errors.ts'
import type { Bucket } from './buckets.ts'
import type { KeyValueStore, RangeOptions, WriteBatch } from './store.ts'

export type DatabaseErrorCode = 'DB_OPEN_FAILED' | 'DB_LOCKED' | 'DB_WRITE_FAILED' | 'DB_READ_FAILED'
export class DatabaseError extends OpenLedgerError<DatabaseErrorCode> {}

// Buffers in and out: LevelDB's binding takes them as they are, where 'view' encoding converts every
// key and value of a batch first (a third of a block batch's marshalling time). Callers see plain
// Uint8Arrays over the same memory.
type Bytes = Buffer
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
  readonly #db: Level<Bytes, Bytes>

  private constructor(db: Level<Bytes, Bytes>) {
    this.#db = db
  }

  static async open(path: string): Promise<LevelStore> {
    const db = new Level<Bytes, Bytes>(path, encodings)
    try {
      await db.open()
    } catch (cause) {
      const locked = String((cause as { cause?: { message?: string } }).cause?.message ?? cause).includes('lock')
      throw new DatabaseError(locked ? 'DB_LOCKED' : 'DB_OPEN_FAILED', locked ? `database ${path} is in use by another process` : `cannot open database ${path}`, { cause })
    }
    return new LevelStore(db)
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

  async write(batch: WriteBatch, options: { sync?: boolean } = {}): Promise<void> {
    const operations = batch.operations.map((op) =>
      op.type === 'put' ? { type: 'put' as const, key: bucketKey(op.bucket, op.key), value: asBuffer(op.value) } : { type: 'del' as const, key: bucketKey(op.bucket, op.key) },
    )
    try {
      await this.#db.batch(operations, { sync: options.sync ?? false })
    } catch (cause) {
      throw new DatabaseError('DB_WRITE_FAILED', 'database write failed', { cause })
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
