// The resident adapter set of the serving engine: an LRU under a byte budget, with pinning and
// reference counts (an adapter a queued or running request holds is never evicted). A miss fetches
// through the engine's hooks (AdapterSource, shape check, copy into the worker); concurrent misses on
// one adapter share a single fetch.
import { ServingError } from '../errors.ts'
import type { AdapterWeights, ResidentAdapter } from '../types.ts'

export interface CacheEntry {
  readonly key: string
  readonly base: string
  readonly id: string
  readonly rank: number
  readonly alpha: number
  readonly bytes: number
  /** kept on the main thread only for classifier bases (LM adapters live in their worker) */
  readonly tensors: ReadonlyMap<string, Float32Array> | undefined
  refs: number
  pinned: boolean
}

export interface AdapterCacheHooks {
  /** fetch and check an adapter; returns it with its size in bytes (computed, not trusted) */
  fetch(base: string, id: string, signal: AbortSignal): Promise<{ weights: AdapterWeights; bytes: number; keepTensors: boolean }>
  /** make it usable (copy it into the worker of its base) */
  install(entry: CacheEntry, weights: AdapterWeights): Promise<void>
  /** forget it (tell the worker) */
  drop(entry: CacheEntry): void
}

export class AdapterCache {
  /** insertion order = least recently used first */
  private readonly entries = new Map<string, CacheEntry>()
  private readonly loading = new Map<string, Promise<CacheEntry>>()
  private residentBytes = 0
  private readonly counters = { hits: 0, misses: 0, evictions: 0, loadFailures: 0 }
  private readonly budget: number
  private readonly hooks: AdapterCacheHooks

  constructor(budget: number, hooks: AdapterCacheHooks) {
    this.budget = budget
    this.hooks = hooks
  }

  /** Holds every adapter (in order) until released; on failure holds none. */
  async acquireAll(base: string, ids: readonly string[], signal: AbortSignal): Promise<CacheEntry[]> {
    const held: CacheEntry[] = []
    try {
      for (const id of ids) held.push(await this.acquire(base, id, signal))
      return held
    } catch (error) {
      for (const entry of held) this.release(entry)
      throw error
    }
  }

  async acquire(base: string, id: string, signal: AbortSignal): Promise<CacheEntry> {
    const key = `${base}:${id}`
    const resident = this.entries.get(key)
    if (resident !== undefined) {
      this.counters.hits++
      this.touch(resident)
      resident.refs++
      return resident
    }
    const loading = this.loading.get(key)
    if (loading === undefined) {
      this.counters.misses++
      // the loader's caller holds the entry from the moment it exists (refs 1), so a concurrent
      // load cannot evict it between its install and this caller's first step
      const load = this.load(key, base, id, signal).finally(() => this.loading.delete(key))
      this.loading.set(key, load)
      return load
    }
    const entry = await loading
    entry.refs++
    return entry
  }

  release(entry: CacheEntry): void {
    entry.refs = Math.max(0, entry.refs - 1)
    if (entry.refs === 0) this.freed++
  }

  /** Grows whenever an adapter stops being held: a load refused for memory is worth retrying only after that. */
  freed = 0

  async pin(base: string, id: string, signal: AbortSignal): Promise<void> {
    const entry = await this.acquire(base, id, signal)
    entry.pinned = true
    this.release(entry)
  }

  unpin(base: string, id: string): void {
    const entry = this.entries.get(`${base}:${id}`)
    if (entry !== undefined) entry.pinned = false
  }

  resident(): ResidentAdapter[] {
    return [...this.entries.values()].map((e) => ({ base: e.base, id: e.id, rank: e.rank, bytes: e.bytes, pinned: e.pinned }))
  }

  stats(): { hits: number; misses: number; evictions: number; loadFailures: number; residentAdapters: number; residentBytes: number } {
    return { ...this.counters, residentAdapters: this.entries.size, residentBytes: this.residentBytes }
  }

  private touch(entry: CacheEntry): void {
    this.entries.delete(entry.key)
    this.entries.set(entry.key, entry)
  }

  private async load(key: string, base: string, id: string, signal: AbortSignal): Promise<CacheEntry> {
    let fetched: Awaited<ReturnType<AdapterCacheHooks['fetch']>>
    try {
      fetched = await this.hooks.fetch(base, id, signal)
    } catch (error) {
      this.counters.loadFailures++
      throw error
    }
    const { weights, bytes } = fetched
    if (bytes > this.budget) {
      this.counters.loadFailures++
      throw new ServingError('ADAPTER_MEMORY_EXHAUSTED', 'the adapter is larger than the whole adapter memory budget', { details: { base, id, bytes, budget: this.budget } })
    }
    // evict the least recently used adapters nobody holds until it fits
    for (const entry of this.entries.values()) {
      if (this.residentBytes + bytes <= this.budget) break
      if (entry.refs > 0 || entry.pinned) continue
      this.entries.delete(entry.key)
      this.residentBytes -= entry.bytes
      this.counters.evictions++
      this.hooks.drop(entry)
    }
    if (this.residentBytes + bytes > this.budget) {
      // memory held by requests frees as they finish (retry then); memory held by pins does not
      let pinnedBytes = 0
      for (const entry of this.entries.values()) if (entry.pinned) pinnedBytes += entry.bytes
      const retry = pinnedBytes + bytes <= this.budget
      throw new ServingError('ADAPTER_MEMORY_EXHAUSTED', retry ? 'every resident adapter is in use' : 'pinned adapters leave no room for this one', { details: { base, id, bytes, budget: this.budget, retry } })
    }
    const entry: CacheEntry = { key, base, id, rank: weights.rank, alpha: weights.alpha, bytes, tensors: fetched.keepTensors ? weights.tensors : undefined, refs: 1, pinned: false }
    // counted before the install so concurrent loads see the memory as taken
    this.residentBytes += bytes
    this.entries.set(key, entry)
    try {
      await this.hooks.install(entry, weights)
    } catch (error) {
      this.entries.delete(key)
      this.residentBytes -= bytes
      this.counters.loadFailures++
      throw error
    }
    return entry
  }
}
