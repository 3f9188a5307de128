// An in-memory KeyValueStore with the same semantics as LevelStore (byte-ordered keys, atomic
// batches); tests and benchmarks use it.
import type { Bucket } from './buckets.ts'
import { prefixed, type KeyValueStore, type RangeOptions, type WriteBatch } from './store.ts'

function compare(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length)
  for (let i = 0; i < length; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0)
    if (d !== 0) return d
  }
  return a.length - b.length
}

const hexOf = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')

export class MemoryStore implements KeyValueStore {
  readonly #data = new Map<string, { key: Uint8Array; value: Uint8Array }>()
  #closed = false

  async get(bucket: Bucket, key: Uint8Array): Promise<Uint8Array | undefined> {
    this.#check()
    return this.#data.get(hexOf(prefixed(bucket, key)))?.value
  }

  async getMany(bucket: Bucket, keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    this.#check()
    return keys.map((key) => this.#data.get(hexOf(prefixed(bucket, key)))?.value)
  }

  async write(batch: WriteBatch): Promise<void> {
    this.#check()
    for (const op of batch.operations) {
      const key = prefixed(op.bucket, op.key)
      if (op.type === 'put') this.#data.set(hexOf(key), { key, value: op.value.slice() })
      else this.#data.delete(hexOf(key))
    }
  }

  async *entries(bucket: Bucket, range: RangeOptions = {}): AsyncIterable<[Uint8Array, Uint8Array]> {
    this.#check()
    const gte = prefixed(bucket, range.gte ?? new Uint8Array(0))
    const lt = range.lt === undefined ? Uint8Array.of(bucket + 1) : prefixed(bucket, range.lt)
    const rows = [...this.#data.values()].filter((row) => compare(row.key, gte) >= 0 && compare(row.key, lt) < 0).sort((a, b) => compare(a.key, b.key))
    if (range.reverse === true) rows.reverse()
    const limited = range.limit === undefined || range.limit < 0 ? rows : rows.slice(0, range.limit)
    for (const row of limited) yield [row.key.subarray(1), row.value]
  }

  async close(): Promise<void> {
    this.#closed = true
  }

  #check(): void {
    if (this.#closed) throw new Error('store is closed')
  }
}
