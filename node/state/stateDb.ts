// The persisted authenticated state: the versioned Merkle tree of runtime/state/merkleTree.ts over
// the KeyValueStore port, plus a flat copy of the latest state for one-get reads.
//
// Buckets (node/db/buckets.ts):
//   stateValue  raw key -> value of the latest version (flat state; listing by key prefix)
//   stateNode   node id -> tree page or leaf record (ids begin with the creating version)
//   stateStale  version (8 bytes) -> canonical list of the node ids that version made stale
//   stateRoot   version (8 bytes) -> root reference; the last one is the latest committed version
//
// One version per block height. `prepare` computes a block's new tree without touching anything
// shared (a proposer may prepare several candidates on one parent), `commit` adds every write of
// the chosen one to the caller's batch, which the caller writes atomically with the block, and
// `applied` then advances the in-memory view. A crash before the batch is written leaves the
// previous version intact: reopening finds it as the last stateRoot record.
//
// Pruning (Jellyfish style): keeping `pruneWindow` versions readable, the block at version v deletes
// the root records below v - window + 1 and the nodes made stale at versions up to v - window + 1 -
// those are referenced only by versions that are no longer kept. Root records go first, so every
// root record left in the store can be read in full. At most MAX_PRUNED_VERSIONS_PER_BLOCK versions
// are pruned per block, so shrinking the window catches up gradually instead of in one huge batch.
import { Bucket, heightKey } from '../db/buckets.ts'
import type { KeyValueStore, WriteBatch } from '../db/store.ts'
import { CodecError, decode, encode } from '../../runtime/codec/canonical.ts'
import { readArray, readBytes } from '../../runtime/codec/read.ts'
import { StateError } from '../../runtime/state/errors.ts'
import {
  EMPTY_ROOT,
  decodeRootRef,
  encodeRootRef,
  isPageId,
  latin1,
  normalizeChanges,
  proveKey,
  readValue,
  rootHash,
  updateTree,
  type NodeReader,
  type RootRef,
  type StateChange,
  type TreeChange,
  type TreeUpdate,
} from '../../runtime/state/merkleTree.ts'
import type { StateProof } from '../../runtime/state/proof.ts'
import { MAX_STATE_KEY_BYTES } from '../../runtime/state/treeHash.ts'
import { decodeStored } from '../../runtime/state/typedValues.ts'
import type { Kind } from '../../runtime/codec/schema.ts'
import { LruCache } from './lruCache.ts'
import { PageCache } from './pageCache.ts'

export type { StateChange } from '../../runtime/state/merkleTree.ts'
export type { StateProof } from '../../runtime/state/proof.ts'

export interface StateDbOptions {
  /** versions kept readable and provable, the latest included (default 256) */
  pruneWindow?: number
  /** tree pages kept in memory (default 400,000, about 250 MB: a 1M-account tree) */
  nodeCacheSize?: number
  /** bytes of latest-state values kept in memory (default 32 MiB) */
  valueCacheBytes?: number
}

export const DEFAULT_PRUNE_WINDOW = 256
export const DEFAULT_NODE_CACHE_SIZE = 400_000
const DEFAULT_VALUE_CACHE_BYTES = 32 * 1024 * 1024
/** versions pruned per block at most */
const MAX_PRUNED_VERSIONS_PER_BLOCK = 16
/** bookkeeping bytes counted per cached value besides key and value */
const VALUE_ENTRY_OVERHEAD = 96
/** reads of one prefetch, when blocks keep overtaking it */
const PREFETCH_ATTEMPTS = 3

/** A block's new state, computed but not yet committed. */
export interface PreparedState {
  readonly version: number
  readonly root: Uint8Array
}

interface Prepared {
  readonly db: StateDb
  readonly baseVersion: number
  readonly version: number
  readonly root: RootRef
  readonly changes: readonly TreeChange[]
  readonly update: TreeUpdate
  /** encoded stale id list, or undefined when there is none or it is pruned at once */
  readonly staleRecord: Uint8Array | undefined
  readonly pruneNodes: readonly Uint8Array[]
  readonly pruneStaleVersions: readonly number[]
  readonly pruneRootVersions: readonly number[]
}

const prepared = new WeakMap<PreparedState, Prepared>()

function readHeight(key: Uint8Array): number {
  if (key.length !== 8) throw new StateError('STATE_CORRUPT', 'malformed state version key')
  return Number(new DataView(key.buffer, key.byteOffset, 8).getBigUint64(0))
}

function checkKey(key: Uint8Array): void {
  if (key.length > MAX_STATE_KEY_BYTES) throw new StateError('STATE_KEY_TOO_LARGE', `state key of ${key.length} bytes, limit ${MAX_STATE_KEY_BYTES}`)
}

function checkVersionArgument(version: number): void {
  if (!Number.isSafeInteger(version)) throw new StateError('STATE_VERSION_INVALID', `state version must be an integer, got ${version}`)
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`)
  return value
}

/** The first key after every key that starts with `prefix`; undefined when there is none. */
function prefixEnd(prefix: Uint8Array): Uint8Array | undefined {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i] !== 0xff) {
      const end = prefix.slice(0, i + 1)
      end[i] = (end[i] as number) + 1
      return end
    }
  }
  return undefined
}

/** The first items of an ascending list that pass `keep`, at most MAX_PRUNED_VERSIONS_PER_BLOCK. */
function takeWhile(versions: readonly number[], keep: (version: number) => boolean): number[] {
  const out: number[] = []
  for (const version of versions) {
    if (!keep(version) || out.length === MAX_PRUNED_VERSIONS_PER_BLOCK) break
    out.push(version)
  }
  return out
}

function decodeStaleRecord(bytes: Uint8Array): Uint8Array[] {
  try {
    return readArray(decode(bytes, 64 * 1024 * 1024), 'stale ids').map((id, i) => readBytes(id, `stale ids[${i}]`))
  } catch (cause) {
    if (cause instanceof CodecError) throw new StateError('STATE_CORRUPT', 'malformed stale node list', { cause })
    throw cause
  }
}

export class StateDb {
  readonly #store: KeyValueStore
  readonly #window: number
  readonly #nodes: PageCache
  readonly #values: LruCache<Uint8Array | null>
  readonly #reader: NodeReader
  #version: number
  #root: RootRef
  /** versions with a root record in the store, ascending */
  readonly #rootVersions: number[]
  /** versions with a stale list in the store, ascending */
  readonly #staleVersions: number[]
  /** bumped by applied(): a flat read that started before must not fill the cache with its old answer */
  #generation = 0

  private constructor(store: KeyValueStore, options: Required<StateDbOptions>, root: RootRef, rootVersions: number[], staleVersions: number[]) {
    this.#store = store
    this.#window = options.pruneWindow
    this.#nodes = new PageCache(options.nodeCacheSize)
    this.#values = new LruCache(options.valueCacheBytes, (value) => (value?.length ?? 0) + VALUE_ENTRY_OVERHEAD)
    this.#version = rootVersions.at(-1) ?? -1
    this.#root = root
    this.#rootVersions = rootVersions
    this.#staleVersions = staleVersions
    this.#reader = { getNode: (id) => this.#getNode(id), getNodes: (ids) => this.#getNodes(ids) }
  }

  static async open(store: KeyValueStore, options: StateDbOptions = {}): Promise<StateDb> {
    const resolved: Required<StateDbOptions> = {
      pruneWindow: positiveInteger(options.pruneWindow, DEFAULT_PRUNE_WINDOW, 'pruneWindow'),
      nodeCacheSize: positiveInteger(options.nodeCacheSize, DEFAULT_NODE_CACHE_SIZE, 'nodeCacheSize'),
      valueCacheBytes: positiveInteger(options.valueCacheBytes, DEFAULT_VALUE_CACHE_BYTES, 'valueCacheBytes'),
    }
    // both lists are short (about one entry per kept version): pruning plans from memory
    const rootVersions: number[] = []
    let root: RootRef = EMPTY_ROOT
    for await (const [key, value] of store.entries(Bucket.stateRoot)) {
      rootVersions.push(readHeight(key))
      root = decodeRootRef(value)
    }
    const staleVersions: number[] = []
    for await (const [key] of store.entries(Bucket.stateStale)) staleVersions.push(readHeight(key))
    return new StateDb(store, resolved, root, rootVersions, staleVersions)
  }

  /** Latest committed version; -1 before the first commit. */
  get version(): number {
    return this.#version
  }

  /** Root hash of the latest committed version (32 zero bytes for the empty state). */
  get root(): Uint8Array {
    return rootHash(this.#root).slice()
  }

  /** The oldest version still readable. */
  get oldestVersion(): number {
    return Math.max(0, this.#version - this.#window + 1)
  }

  /** Value of `key` in the latest version: one flat read, cached. The bytes are shared: never mutate them. */
  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    checkKey(key)
    const id = latin1(key)
    const cached = this.#values.get(id)
    if (cached !== undefined) return cached ?? undefined
    const generation = this.#generation
    const value = await this.#store.get(Bucket.stateValue, key)
    if (generation === this.#generation) this.#values.set(id, value ?? null)
    return value
  }

  /**
   * `key`'s latest value decoded as `kind`, the caller's own copy (decoded at most once per stored
   * bytes). A cached value is answered with a settled promise: the mempool reads every sender's
   * record on admission, and suspending two async frames per read cost more than the read.
   */
  getTyped<T>(key: Uint8Array, kind: Kind<T>): Promise<T | undefined> {
    try {
      checkKey(key)
      const cached = this.#values.get(latin1(key))
      if (cached !== undefined) return Promise.resolve(cached === null ? undefined : decodeStored(cached, kind))
    } catch (error) {
      return Promise.reject(error)
    }
    return this.get(key).then((bytes) => (bytes === undefined ? undefined : decodeStored(bytes, kind)))
  }

  /**
   * Loads the latest values of `keys` that are not cached, in one store round trip, into the value
   * cache: the reads that follow (block execution, mempool admission) then never wait on the disk,
   * and never yield the event loop between two transactions.
   */
  async prefetch(keys: readonly Uint8Array[]): Promise<void> {
    let missing: Uint8Array[] = []
    let ids: string[] = []
    const seen = new Set<string>()
    for (const key of keys) {
      checkKey(key)
      const id = latin1(key)
      if (seen.has(id) || this.#values.get(id) !== undefined) continue
      seen.add(id)
      missing.push(key)
      ids.push(id)
    }
    // A block applied while the read was out may have changed some of these keys, so its answers
    // are dropped; it is read again (what the block did not leave in the cache), a few times at
    // most, or every admission after it would go to the disk key by key.
    for (let attempt = 0; attempt < PREFETCH_ATTEMPTS && missing.length > 0; attempt++) {
      const generation = this.#generation
      const values = await this.#store.getMany(Bucket.stateValue, missing)
      if (generation === this.#generation) {
        values.forEach((value, i) => this.#values.set(ids[i] as string, value ?? null))
        return
      }
      const stillMissing = ids.flatMap((id, i) => (this.#values.get(id) === undefined ? [i] : []))
      missing = stillMissing.map((i) => missing[i] as Uint8Array)
      ids = stillMissing.map((i) => ids[i] as string)
    }
  }

  /** Value of `key` at `version`, read through the tree. */
  async getAt(key: Uint8Array, version: number): Promise<Uint8Array | undefined> {
    checkKey(key)
    const root = await this.#rootRefAt(version)
    return this.#whileKept(version, () => readValue(this.#reader, root, key))
  }

  /**
   * Key/value pairs of the latest version whose key starts with `prefix`, in key order; with
   * `after`, only keys above it (a page that goes on from the last key of the previous one).
   */
  async *entries(prefix: Uint8Array, after?: Uint8Array): AsyncIterable<[Uint8Array, Uint8Array]> {
    const end = prefixEnd(prefix)
    // the least key above `after` is `after` followed by a zero byte
    const gte = after === undefined ? prefix : Uint8Array.of(...after, 0)
    yield* this.#store.entries(Bucket.stateValue, end === undefined ? { gte } : { gte, lt: end })
  }

  /**
   * Computes version `version` (default: the next one) from the latest committed version and
   * `changes` (several changes to one key: the last wins). Changes nothing shared.
   */
  async prepare(changes: readonly StateChange[], version: number = this.#version + 1): Promise<PreparedState> {
    checkVersionArgument(version)
    if (version <= this.#version) throw new StateError('STATE_VERSION_INVALID', `state version ${version} is not above the latest ${this.#version}`)
    const baseVersion = this.#version
    const normalized = normalizeChanges(changes)
    const update = await updateTree(this.#reader, this.#root, normalized, version)
    const plan = await this.#planPruning(version)
    let staleRecord: Uint8Array | undefined
    let pruneNodes = plan.nodes
    if (update.stale.length > 0) {
      if (plan.staleUpTo >= version) pruneNodes = [...pruneNodes, ...update.stale]
      else staleRecord = encode(update.stale)
    }
    const state: PreparedState = Object.freeze({ version, root: rootHash(update.root).slice() })
    prepared.set(state, {
      db: this,
      baseVersion,
      version,
      root: update.root,
      changes: normalized,
      update,
      staleRecord,
      pruneNodes,
      pruneStaleVersions: plan.staleVersions,
      pruneRootVersions: plan.rootVersions,
    })
    return state
  }

  /** Adds every write of a prepared version to `batch`; write the batch, then call applied(). */
  commit(state: PreparedState, batch: WriteBatch): void {
    const p = this.#prepared(state)
    for (const page of p.update.pages) batch.put(Bucket.stateNode, page.id, page.bytes)
    for (const leaf of p.update.leaves) batch.put(Bucket.stateNode, leaf.id, leaf.bytes)
    for (const change of p.changes) {
      if (change.value === undefined) batch.del(Bucket.stateValue, change.key)
      else batch.put(Bucket.stateValue, change.key, change.value)
    }
    batch.put(Bucket.stateRoot, heightKey(p.version), encodeRootRef(p.root))
    if (p.staleRecord !== undefined) batch.put(Bucket.stateStale, heightKey(p.version), p.staleRecord)
    for (const id of p.pruneNodes) batch.del(Bucket.stateNode, id)
    for (const version of p.pruneStaleVersions) batch.del(Bucket.stateStale, heightKey(version))
    for (const version of p.pruneRootVersions) batch.del(Bucket.stateRoot, heightKey(version))
  }

  /** Makes a prepared version the latest, once the batch holding its commit was written. */
  applied(state: PreparedState): void {
    const p = this.#prepared(state)
    this.#version = p.version
    this.#root = p.root
    this.#generation++
    // the cache follows the latest tree: older versions' pages are read from the store when asked for
    for (const id of p.update.stale) if (isPageId(id)) this.#nodes.delete(latin1(id))
    for (const id of p.pruneNodes) if (isPageId(id)) this.#nodes.delete(latin1(id))
    for (const page of p.update.pages) this.#nodes.set(latin1(page.id), page.bytes)
    // pruned versions are the oldest ones, at the front of both lists
    this.#rootVersions.splice(0, p.pruneRootVersions.length)
    this.#rootVersions.push(p.version)
    this.#staleVersions.splice(0, p.pruneStaleVersions.length)
    if (p.staleRecord !== undefined) this.#staleVersions.push(p.version)
    for (const change of p.changes) this.#values.set(latin1(change.key), change.value ?? null)
  }

  /** Proof of `key`'s value (or absence) at `version` (default: the latest). */
  async prove(key: Uint8Array, version: number = this.#version): Promise<StateProof> {
    checkKey(key)
    const root = await this.#rootRefAt(version)
    return this.#whileKept(version, () => proveKey(this.#reader, root, key))
  }

  /** Root hash at `version`, or undefined when that version is unknown or pruned. */
  async rootAt(version: number): Promise<Uint8Array | undefined> {
    try {
      return rootHash(await this.#rootRefAt(version)).slice()
    } catch (error) {
      if (error instanceof StateError && (error.code === 'STATE_VERSION_PRUNED' || error.code === 'STATE_VERSION_UNKNOWN')) return undefined
      throw error
    }
  }

  #prepared(state: PreparedState): Prepared {
    const p = prepared.get(state)
    if (p === undefined || p.db !== this) throw new StateError('STATE_PREPARED_STALE', 'not a state prepared by this state database')
    if (p.baseVersion !== this.#version) {
      throw new StateError('STATE_PREPARED_STALE', `state version ${p.version} was prepared on version ${p.baseVersion}, the latest is ${this.#version}`)
    }
    return p
  }

  async #rootRefAt(version: number): Promise<RootRef> {
    checkVersionArgument(version)
    if (version === this.#version) return this.#root
    if (version < 0 || version > this.#version) throw new StateError('STATE_VERSION_UNKNOWN', `state version ${version} was never committed (latest ${this.#version})`)
    if (version < this.oldestVersion) throw this.#prunedError(version)
    const record = await this.#store.get(Bucket.stateRoot, heightKey(version))
    if (record !== undefined) return decodeRootRef(record)
    // no record: a skipped version, or pruned under a smaller window before a restart
    if (version < (this.#rootVersions[0] ?? 0)) throw this.#prunedError(version)
    throw new StateError('STATE_VERSION_UNKNOWN', `state version ${version} was never committed`)
  }

  #prunedError(version: number): StateError {
    return new StateError('STATE_VERSION_PRUNED', `state version ${version} is pruned (oldest kept ${this.oldestVersion})`, { details: { version } })
  }

  /** Runs a tree read; if nodes went missing because pruning passed the version meanwhile, says so. */
  async #whileKept<T>(version: number, read: () => Promise<T>): Promise<T> {
    try {
      return await read()
    } catch (error) {
      if (error instanceof StateError && error.code === 'STATE_CORRUPT' && version < this.oldestVersion) throw this.#prunedError(version)
      throw error
    }
  }

  async #planPruning(version: number): Promise<{ nodes: Uint8Array[]; staleVersions: number[]; rootVersions: number[]; staleUpTo: number }> {
    const oldest = version - this.#window + 1
    const empty = { nodes: [], staleVersions: [], rootVersions: [], staleUpTo: -1 }
    if (oldest <= 0) return empty
    const rootVersions = takeWhile(this.#rootVersions, (v) => v < oldest)
    // nodes stale since s serve only versions below s: deletable once every root below s is gone
    const staleUpTo = rootVersions.length === MAX_PRUNED_VERSIONS_PER_BLOCK ? (rootVersions.at(-1) as number) + 1 : oldest
    const staleVersions = takeWhile(this.#staleVersions, (v) => v <= staleUpTo)
    const records = await this.#store.getMany(Bucket.stateStale, staleVersions.map(heightKey))
    const nodes: Uint8Array[] = []
    for (const record of records) {
      if (record === undefined) throw new StateError('STATE_CORRUPT', 'missing stale node list')
      for (const id of decodeStaleRecord(record)) nodes.push(id)
    }
    return { nodes, staleVersions, rootVersions, staleUpTo }
  }

  async #getNode(id: Uint8Array): Promise<Uint8Array | undefined> {
    const [record] = await this.#getNodes([id])
    return record
  }

  async #getNodes(ids: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    const out: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(ids.length)
    const missing: number[] = []
    ids.forEach((id, i) => {
      const cached = isPageId(id) ? this.#nodes.get(latin1(id)) : undefined
      if (cached === undefined) missing.push(i)
      else out[i] = cached
    })
    if (missing.length === 0) return out
    const records = await this.#store.getMany(Bucket.stateNode, missing.map((i) => ids[i] as Uint8Array))
    missing.forEach((index, j) => {
      const record = records[j]
      const id = ids[index] as Uint8Array
      out[index] = record !== undefined && isPageId(id) ? this.#nodes.set(latin1(id), record) : record
    })
    return out
  }
}
