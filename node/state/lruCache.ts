// A least-recently-used cache with a weight budget (entries weigh 1 unless a weigher is given).
// A doubly linked list through the entries keeps hits and evictions O(1); (a Map used as the
// queue itself degrades: iterating to its first live key skips every entry deleted before it).
interface Entry<V> {
  key: string
  value: V
  weight: number
  /** towards the most recently used end */
  newer: Entry<V> | undefined
  /** towards the least recently used end */
  older: Entry<V> | undefined
}

export class LruCache<V> {
  readonly #entries = new Map<string, Entry<V>>()
  readonly #capacity: number
  readonly #weigh: (value: V) => number
  #weight = 0
  #newest: Entry<V> | undefined
  #oldest: Entry<V> | undefined

  constructor(capacity: number, weigh: (value: V) => number = () => 1) {
    this.#capacity = capacity
    this.#weigh = weigh
  }

  get(key: string): V | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    if (entry !== this.#newest) {
      this.#unlink(entry)
      this.#pushNewest(entry)
    }
    return entry.value
  }

  set(key: string, value: V): void {
    this.delete(key)
    const weight = this.#weigh(value)
    if (weight > this.#capacity) return
    const entry: Entry<V> = { key, value, weight, newer: undefined, older: undefined }
    this.#entries.set(key, entry)
    this.#pushNewest(entry)
    this.#weight += weight
    while (this.#weight > this.#capacity && this.#oldest !== undefined) this.delete(this.#oldest.key)
  }

  delete(key: string): void {
    const entry = this.#entries.get(key)
    if (entry === undefined) return
    this.#entries.delete(key)
    this.#unlink(entry)
    this.#weight -= entry.weight
  }

  clear(): void {
    this.#entries.clear()
    this.#newest = undefined
    this.#oldest = undefined
    this.#weight = 0
  }

  get size(): number {
    return this.#entries.size
  }

  get weight(): number {
    return this.#weight
  }

  #unlink(entry: Entry<V>): void {
    if (entry.newer === undefined) this.#newest = entry.older
    else entry.newer.older = entry.older
    if (entry.older === undefined) this.#oldest = entry.newer
    else entry.older.newer = entry.newer
    entry.newer = undefined
    entry.older = undefined
  }

  #pushNewest(entry: Entry<V>): void {
    entry.older = this.#newest
    entry.newer = undefined
    if (this.#newest === undefined) this.#oldest = entry
    else this.#newest.newer = entry
    this.#newest = entry
  }
}
