// LevelDB behind the KeyValueStore port; the only file that imports level.
import { Level } from 'level'
import { OpenLedgerError } from '../../runtime/errors.ts'
import type { Bucket } from './buckets.ts'
import { prefixed, type KeyValueStore, type RangeOptions, type WriteBatch } from './store.ts'

export type DatabaseErrorCode = 'DB_OPEN_FAILED' | 'DB_LOCKED' | 'DB_WRITE_FAILED' | 'DB_READ_FAILED'
export class DatabaseError extends OpenLedgerError<DatabaseErrorCode> {}

type Bytes = Uint8Array
const encodings = { keyEncoding: 'view', valueEncoding: 'view' } as const

function view(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
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
    const value = await this.#db.get(prefixed(bucket, key))
    return value === undefined ? undefined : view(value)
  }

  async getMany(bucket: Bucket, keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    if (keys.length === 0) return []
    const values = await this.#db.getMany(keys.map((key) => prefixed(bucket, key)))
    return values.map((value) => (value === undefined ? undefined : view(value)))
  }

  async write(batch: WriteBatch, options: { sync?: boolean } = {}): Promise<void> {
    const operations = batch.operations.map((op) =>
      op.type === 'put' ? { type: 'put' as const, key: prefixed(op.bucket, op.key), value: op.value } : { type: 'del' as const, key: prefixed(op.bucket, op.key) },
    )
    try {
      await this.#db.batch(operations, { sync: options.sync ?? false })
    } catch (cause) {
      throw new DatabaseError('DB_WRITE_FAILED', 'database write failed', { cause })
    }
  }

  async *entries(bucket: Bucket, range: RangeOptions = {}): AsyncIterable<[Uint8Array, Uint8Array]> {
    const gte = prefixed(bucket, range.gte ?? new Uint8Array(0))
    const lt = range.lt === undefined ? Uint8Array.of(bucket + 1) : prefixed(bucket, range.lt)
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
