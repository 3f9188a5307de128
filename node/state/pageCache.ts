// The in-memory cache of tree pages: the whole hot tree of a large state (hundreds of thousands of
// pages) without one ArrayBuffer per page. One buffer per page makes every allocation and every
// major GC slower as the cache grows; here pages are copied into large append-only chunks and the
// cache hands out views of them.
//
// - Records are immutable (a page id names one content forever), so a chunk is never rewritten
//   once a record is in it, and a view handed out stays valid however long it is held.
// - Eviction is FIFO by chunk with a second chance: when the cache holds more than `capacity`
//   records, the oldest chunk is dropped; records read since they were written into it are copied
//   forward instead of evicted (an approximation of LRU with O(1) hits).
// - Deleted records (replaced or pruned pages) leave holes; when the holes outweigh the live bytes,
//   the oldest chunk is dropped and its live records are copied forward (compaction).
interface Chunk {
  readonly bytes: Uint8Array
  used: number
  readonly keys: string[]
}

interface Entry {
  chunk: Chunk
  offset: number
  length: number
  /** read since written into its chunk */
  hot: boolean
}

/** Default chunk size: large enough that chunks are few, small enough to drop often. */
const CHUNK_BYTES = 1024 * 1024

export class PageCache {
  readonly #index = new Map<string, Entry>()
  /** oldest first; the last one is being filled */
  readonly #chunks: Chunk[] = []
  readonly #capacity: number
  readonly #chunkBytes: number
  #liveBytes = 0
  #totalBytes = 0

  constructor(capacity: number, chunkBytes = CHUNK_BYTES) {
    this.#capacity = capacity
    this.#chunkBytes = chunkBytes
  }

  /** The record (a view: never mutate it), or undefined. */
  get(key: string): Uint8Array | undefined {
    const entry = this.#index.get(key)
    if (entry === undefined) return undefined
    entry.hot = true
    return entry.chunk.bytes.subarray(entry.offset, entry.offset + entry.length)
  }

  /** Stores a copy of `bytes`; returns the cached view. */
  set(key: string, bytes: Uint8Array): Uint8Array {
    const existing = this.get(key)
    if (existing !== undefined) return existing
    const entry = this.#append(key, bytes, false)
    this.#maintain()
    return entry.chunk.bytes.subarray(entry.offset, entry.offset + entry.length)
  }

  delete(key: string): void {
    const entry = this.#index.get(key)
    if (entry === undefined) return
    this.#index.delete(key)
    this.#liveBytes -= entry.length
  }

  get size(): number {
    return this.#index.size
  }

  /** Bytes held by the chunks, holes included. */
  get bytes(): number {
    return this.#totalBytes
  }

  #append(key: string, bytes: Uint8Array, hot: boolean): Entry {
    let chunk = this.#chunks.at(-1)
    if (chunk === undefined || chunk.used + bytes.length > chunk.bytes.length) {
      chunk = { bytes: new Uint8Array(Math.max(this.#chunkBytes, bytes.length)), used: 0, keys: [] }
      this.#chunks.push(chunk)
    }
    chunk.bytes.set(bytes, chunk.used)
    const entry: Entry = { chunk, offset: chunk.used, length: bytes.length, hot }
    chunk.used += bytes.length
    chunk.keys.push(key)
    this.#index.set(key, entry)
    this.#liveBytes += bytes.length
    this.#totalBytes += bytes.length
    return entry
  }

  #maintain(): void {
    while (this.#chunks.length > 1) {
      const overCapacity = this.#index.size > this.#capacity
      const mostlyHoles = this.#totalBytes - this.#liveBytes > this.#liveBytes + this.#chunkBytes
      if (!overCapacity && !mostlyHoles) return
      const oldest = this.#chunks.shift() as Chunk
      this.#totalBytes -= oldest.used
      for (const key of oldest.keys) {
        const entry = this.#index.get(key)
        if (entry?.chunk !== oldest) continue // deleted, or already copied forward
        this.#index.delete(key)
        this.#liveBytes -= entry.length
        if (!overCapacity || entry.hot) this.#append(key, oldest.bytes.subarray(entry.offset, entry.offset + entry.length), false)
      }
    }
  }
}
