// The key-value port every persistent part of the node writes through. Two implementations run
// the same test suite: LevelStore (the node) and MemoryStore (tests). A WriteBatch is applied
// atomically: one per finalized block, so a crash never leaves half a block on disk.
import type { Bucket } from './buckets.ts'

export interface RangeOptions {
  gte?: Uint8Array
  lt?: Uint8Array
  reverse?: boolean
  limit?: number
}

export type BatchOperation =
  | { type: 'put'; bucket: Bucket; key: Uint8Array; value: Uint8Array }
  | { type: 'del'; bucket: Bucket; key: Uint8Array }

export class WriteBatch {
  readonly operations: BatchOperation[] = []
  put(bucket: Bucket, key: Uint8Array, value: Uint8Array): this {
    this.operations.push({ type: 'put', bucket, key, value })
    return this
  }
  del(bucket: Bucket, key: Uint8Array): this {
    this.operations.push({ type: 'del', bucket, key })
    return this
  }
  get size(): number {
    return this.operations.length
  }
}

export interface KeyValueStore {
  get(bucket: Bucket, key: Uint8Array): Promise<Uint8Array | undefined>
  getMany(bucket: Bucket, keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]>
  /** Applies every operation or none; `sync` waits for the OS to flush to disk. */
  write(batch: WriteBatch, options?: { sync?: boolean }): Promise<void>
  entries(bucket: Bucket, range?: RangeOptions): AsyncIterable<[Uint8Array, Uint8Array]>
  close(): Promise<void>
}

export function prefixed(bucket: Bucket, key: Uint8Array): Uint8Array {
  const out = new Uint8Array(key.length + 1)
  out[0] = bucket
  out.set(key, 1)
  return out
}
