// The authenticated state tree: a versioned, compact sparse Merkle tree over sha256(key) paths.
//
// Shape (decides the root hash; see treeHash.ts for the hashing rules):
// - Binary, 256 levels, with leaf shortcuts: a leaf sits at the shallowest depth where its path is
//   unique among the present keys (Jellyfish / compact SMT), so an internal node always has at
//   least two leaves below it, and the tree (hence the root) depends only on the key/value set.
//
// Storage (decides the records, not the root): the binary nodes are stored in pages of
// PAGE_HEIGHT = 4 levels, like Jellyfish's 16-ary nodes, so one db record holds up to 15 internal
// nodes and a block of updates writes about a quarter of the records a node-per-record layout would.
// - A page is rooted at an internal node whose depth is a multiple of 4. Its 31 slots are the
//   positions of a complete binary tree of height 4 in heap order (slot 0 the page root, children
//   of slot s are 2s+1 (bit 0) and 2s+2 (bit 1)); slots 15..30, at depth+4, hold references to
//   child pages. Record: 31 kind bytes (0 empty/absent, 1 internal, 2 leaf, 3 child page), then
//   the payloads of the slots in slot order: internal = hash(32); leaf = version(8) keyHash(32)
//   leafHash(32); child page = version(8) hash(32). Internal hashes are stored so a loaded page
//   needs no hashing, and keyHash is kept in the parent so updates never read leaf records.
// - Leaves are records of their own holding the key and the value, so reads and proofs at old
//   versions work: u16 key length, key, value.
// - Ids (the db keys): page = version(8, big-endian) || nibble count(1) || path nibbles packed;
//   leaf = version(8) || 0xff || keyHash(32). The version is the one that created the node, so
//   nodes are immutable, a version's new nodes sort together, and an id names one node forever.
//   A leaf id does not depend on its depth: a leaf that moves up or down is not rewritten.
//
// Updates: `updateTree` applies a whole block of changes at once. The changes are sorted by path,
// the pages on their paths are loaded level by level (one batched read per level, through the
// NodeReader port), then one synchronous walk rebuilds the touched nodes and serialises the new
// pages. It returns the records to write and the ids of the nodes this version made stale (replaced
// or deleted), which pruning deletes once no kept version needs them. Nothing here does IO.
//
// Speed: inside the walk, hashes are 32-character latin1 strings (see sha256Latin1), unchanged
// nodes are read and copied in place from the loaded page bytes, and new records are cut from a
// few large slabs, so a block allocates almost no ArrayBuffers.
import type { Hash } from '../crypto/hash.ts'
import { StateError } from './errors.ts'
import type { StateProof } from './proof.ts'
import { HASH_BYTES, INNER_PREFIX, LEAF_PREFIX, MAX_STATE_KEY_BYTES, MAX_STATE_VALUE_BYTES, sha256Latin1, valueHash } from './treeHash.ts'
import { copyStored } from './typedValues.ts'

export interface StateChange {
  key: Uint8Array
  /** undefined deletes the key */
  value: Uint8Array | undefined
}

/** Reads tree records (pages and leaves) by id; the state database implements it over its cache and store. */
export interface NodeReader {
  getNode(id: Uint8Array): Promise<Uint8Array | undefined>
  /** the same for many ids at once (one db round trip for a whole tree level) */
  getNodes(ids: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]>
}

/** The root of one version: empty, a single leaf, or a page. */
export type RootRef =
  | { readonly kind: 'empty' }
  | { readonly kind: 'leaf'; readonly version: number; readonly keyHash: Uint8Array; readonly hash: Hash }
  | { readonly kind: 'page'; readonly version: number; readonly hash: Hash }

export const EMPTY_ROOT: RootRef = { kind: 'empty' }

/** A change ready for the tree: validated, path computed, bytes copied. */
export interface TreeChange {
  readonly key: Uint8Array
  /** sha256(key) as a latin1 string; sorting these strings sorts by path */
  readonly keyHash: string
  readonly value: Uint8Array | undefined
}

export interface TreeRecord {
  readonly id: Uint8Array
  readonly bytes: Uint8Array
}

export interface TreeUpdate {
  readonly root: RootRef
  /** new pages */
  readonly pages: readonly TreeRecord[]
  /** new leaf records */
  readonly leaves: readonly TreeRecord[]
  /** ids of the nodes of the previous version that this version no longer references */
  readonly stale: readonly Uint8Array[]
}

export const PAGE_HEIGHT = 4
const PAGE_SLOTS = 31
/** slots below this index are inside the page; from it on they reference child pages */
const FIRST_CHILD_SLOT = 15

const KIND_EMPTY = 0
const KIND_INNER = 1
const KIND_LEAF = 2
const KIND_PAGE = 3
type Kind = 0 | 1 | 2 | 3
const PAYLOAD_BYTES = [0, HASH_BYTES, 8 + 2 * HASH_BYTES, 8 + HASH_BYTES] as const
const LEAF_ID_MARK = 0xff
const VERSION_BYTES = 8
const TWO_POW_32 = 2 ** 32
/** new records are cut from slabs of this size (bigger records get their own buffer) */
const SLAB_BYTES = 256 * 1024

// ---------------------------------------------------------------------------------------------
// bytes and latin1 strings

/** The bytes as a latin1 string (one character per byte): a cheap map key that sorts like the bytes. */
export function latin1(bytes: Uint8Array): string {
  if (bytes.length <= 64) return String.fromCharCode.apply(null, bytes as unknown as number[])
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
}

function latin1At(bytes: Uint8Array, offset: number, length: number): string {
  return latin1(bytes.subarray(offset, offset + length))
}

function writeLatin1(out: Uint8Array, offset: number, text: string): void {
  for (let i = 0; i < text.length; i++) out[offset + i] = text.charCodeAt(i)
}

function latin1Bytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length)
  writeLatin1(out, 0, text)
  return out
}

/** Bit `depth` of a latin1 path (0 = most significant bit of the first byte). */
function bitOf(path: string, depth: number): number {
  return (path.charCodeAt(depth >> 3) >> (7 - (depth & 7))) & 1
}

function writeVersion(out: Uint8Array, offset: number, version: number): void {
  const high = Math.floor(version / TWO_POW_32)
  const low = version >>> 0
  out[offset] = high >>> 24
  out[offset + 1] = (high >>> 16) & 0xff
  out[offset + 2] = (high >>> 8) & 0xff
  out[offset + 3] = high & 0xff
  out[offset + 4] = low >>> 24
  out[offset + 5] = (low >>> 16) & 0xff
  out[offset + 6] = (low >>> 8) & 0xff
  out[offset + 7] = low & 0xff
}

function readVersion(bytes: Uint8Array, offset: number): number {
  let high = 0
  let low = 0
  for (let i = 0; i < 4; i++) high = high * 256 + (bytes[offset + i] ?? 0)
  for (let i = 4; i < 8; i++) low = low * 256 + (bytes[offset + i] ?? 0)
  return high * TWO_POW_32 + low
}

function corrupt(message: string): StateError {
  return new StateError('STATE_CORRUPT', message)
}

// ---------------------------------------------------------------------------------------------
// ids and records

/** Id of the page at `depth` (a multiple of 4) on `path` (a latin1 key hash) created by `version`. */
export function pageNodeId(version: number, depth: number, path: string): Uint8Array {
  const nibbles = depth / PAGE_HEIGHT
  const id = new Uint8Array(VERSION_BYTES + 1 + ((nibbles + 1) >> 1))
  writeVersion(id, 0, version)
  id[VERSION_BYTES] = nibbles
  const whole = nibbles >> 1
  for (let i = 0; i < whole; i++) id[VERSION_BYTES + 1 + i] = path.charCodeAt(i)
  if ((nibbles & 1) === 1) id[VERSION_BYTES + 1 + whole] = path.charCodeAt(whole) & 0xf0
  return id
}

/** Id of the leaf of `keyHash` (latin1) created by `version`. */
export function leafNodeId(version: number, keyHash: string): Uint8Array {
  const id = new Uint8Array(VERSION_BYTES + 1 + HASH_BYTES)
  writeVersion(id, 0, version)
  id[VERSION_BYTES] = LEAF_ID_MARK
  writeLatin1(id, VERSION_BYTES + 1, keyHash)
  return id
}

export function isPageId(id: Uint8Array): boolean {
  return id.length > VERSION_BYTES && id[VERSION_BYTES] !== LEAF_ID_MARK
}

export function encodeLeafRecord(key: Uint8Array, value: Uint8Array, out: Uint8Array = new Uint8Array(2 + key.length + value.length)): Uint8Array {
  out[0] = key.length >> 8
  out[1] = key.length & 0xff
  out.set(key, 2)
  out.set(value, 2 + key.length)
  return out
}

export function decodeLeafRecord(bytes: Uint8Array): { key: Uint8Array; value: Uint8Array } {
  const keyLength = bytes.length < 2 ? -1 : ((bytes[0] as number) << 8) | (bytes[1] as number)
  if (keyLength < 0 || keyLength > MAX_STATE_KEY_BYTES || bytes.length < 2 + keyLength) throw corrupt('malformed leaf record')
  return { key: bytes.subarray(2, 2 + keyLength), value: bytes.subarray(2 + keyLength) }
}

const EMPTY_ROOT_HASH = new Uint8Array(HASH_BYTES)

export function rootHash(root: RootRef): Hash {
  return root.kind === 'empty' ? EMPTY_ROOT_HASH : root.hash
}

export function encodeRootRef(root: RootRef): Uint8Array {
  switch (root.kind) {
    case 'empty':
      return Uint8Array.of(KIND_EMPTY)
    case 'leaf': {
      const out = new Uint8Array(1 + PAYLOAD_BYTES[KIND_LEAF])
      out[0] = KIND_LEAF
      writeVersion(out, 1, root.version)
      out.set(root.keyHash, 1 + VERSION_BYTES)
      out.set(root.hash, 1 + VERSION_BYTES + HASH_BYTES)
      return out
    }
    case 'page': {
      const out = new Uint8Array(1 + PAYLOAD_BYTES[KIND_PAGE])
      out[0] = KIND_PAGE
      writeVersion(out, 1, root.version)
      out.set(root.hash, 1 + VERSION_BYTES)
      return out
    }
  }
}

export function decodeRootRef(bytes: Uint8Array): RootRef {
  const kind = bytes[0]
  if (kind === KIND_EMPTY && bytes.length === 1) return EMPTY_ROOT
  if (kind === KIND_LEAF && bytes.length === 1 + PAYLOAD_BYTES[KIND_LEAF]) {
    return { kind: 'leaf', version: readVersion(bytes, 1), keyHash: bytes.slice(1 + VERSION_BYTES, 1 + VERSION_BYTES + HASH_BYTES), hash: bytes.slice(1 + VERSION_BYTES + HASH_BYTES) }
  }
  if (kind === KIND_PAGE && bytes.length === 1 + PAYLOAD_BYTES[KIND_PAGE]) return { kind: 'page', version: readVersion(bytes, 1), hash: bytes.slice(1 + VERSION_BYTES) }
  throw corrupt('malformed state root record')
}

// ---------------------------------------------------------------------------------------------
// changes

/** Validates, hashes and sorts a block's changes by path; of several changes to one key the last wins. */
export function normalizeChanges(changes: readonly StateChange[]): TreeChange[] {
  const byPath = new Map<string, TreeChange>()
  for (const [index, change] of changes.entries()) {
    const { key, value } = change
    if (key.length > MAX_STATE_KEY_BYTES) {
      throw new StateError('STATE_KEY_TOO_LARGE', `state key of ${key.length} bytes, limit ${MAX_STATE_KEY_BYTES}`, { details: { index } })
    }
    if (value !== undefined && value.length > MAX_STATE_VALUE_BYTES) {
      throw new StateError('STATE_VALUE_TOO_LARGE', `state value of ${value.length} bytes, limit ${MAX_STATE_VALUE_BYTES}`, { details: { index } })
    }
    const keyHash = sha256Latin1(key)
    byPath.set(keyHash, { key: key.slice(), keyHash, value: value === undefined ? undefined : copyStored(value) })
  }
  return [...byPath.values()].sort((a, b) => (a.keyHash < b.keyHash ? -1 : a.keyHash > b.keyHash ? 1 : 0))
}

// ---------------------------------------------------------------------------------------------
// slots: the nodes of the tree as the walks see them

/** A loaded page: its record and the offset of each slot's payload. */
export interface Page {
  readonly bytes: Uint8Array
  readonly offsets: Uint16Array
}

/**
 * A node stored in a loaded page (internal node, leaf or child-page reference), read in place:
 * unchanged nodes are copied byte for byte into new pages, never decoded.
 */
class StoredSlot {
  readonly page: Page
  readonly slot: number
  constructor(page: Page, slot: number) {
    this.page = page
    this.slot = slot
  }
  get kind(): number {
    return this.page.bytes[this.slot] as number
  }
  get offset(): number {
    return this.page.offsets[this.slot] as number
  }
  /** where this node's hash starts in page.bytes */
  get hashOffset(): number {
    const kind = this.kind
    return this.offset + (kind === KIND_LEAF ? VERSION_BYTES + HASH_BYTES : kind === KIND_PAGE ? VERSION_BYTES : 0)
  }
}

/** A leaf created by this update, the root leaf of a one-key tree, or a stored leaf being looked into. */
class LeafSlot {
  readonly version: number
  readonly keyHash: string
  readonly hash: string
  constructor(version: number, keyHash: string, hash: string) {
    this.version = version
    this.keyHash = keyHash
    this.hash = hash
  }
}

/** A page reference: the root of the tree, or a page written by this update. */
class PageSlot {
  readonly version: number
  readonly hash: string
  constructor(version: number, hash: string) {
    this.version = version
    this.hash = hash
  }
}

/** An internal node created by this update. */
class NewInner {
  readonly hash: string
  readonly left: Slot
  readonly right: Slot
  /** the path of some key below, for the page id */
  readonly path: string
  constructor(left: Slot, right: Slot, path: string) {
    this.hash = hashInner(left, right)
    this.left = left
    this.right = right
    this.path = path
  }
}

type Slot = null | StoredSlot | LeafSlot | PageSlot | NewInner

const scratch = new Uint8Array(1 + 2 * HASH_BYTES)

/** Writes a slot's hash at out[offset..offset+32). */
function putHash(out: Uint8Array, offset: number, slot: Slot): void {
  if (slot === null) out.fill(0, offset, offset + HASH_BYTES)
  else if (slot instanceof StoredSlot) {
    const { bytes } = slot.page
    const from = slot.hashOffset
    for (let i = 0; i < HASH_BYTES; i++) out[offset + i] = bytes[from + i] as number
  } else writeLatin1(out, offset, slot.hash)
}

// Same rules as innerHash/leafHash in treeHash.ts (the tests compare them), on latin1 hashes.
function hashInner(left: Slot, right: Slot): string {
  scratch[0] = INNER_PREFIX
  putHash(scratch, 1, left)
  putHash(scratch, 1 + HASH_BYTES, right)
  return sha256Latin1(scratch)
}

function hashLeaf(keyHash: string, hashOfValue: string): string {
  scratch[0] = LEAF_PREFIX
  writeLatin1(scratch, 1, keyHash)
  writeLatin1(scratch, 1 + HASH_BYTES, hashOfValue)
  return sha256Latin1(scratch)
}

function slotHashBytes(slot: Slot): Uint8Array {
  const out = new Uint8Array(HASH_BYTES)
  putHash(out, 0, slot)
  return out
}

function isLeaf(slot: Slot): boolean {
  return slot instanceof LeafSlot || (slot instanceof StoredSlot && slot.kind === KIND_LEAF)
}

/** A leaf's fields, for the few leaves an update or a read looks into. */
function leafOf(slot: StoredSlot | LeafSlot): LeafSlot {
  if (slot instanceof LeafSlot) return slot
  const { bytes } = slot.page
  const offset = slot.offset
  return new LeafSlot(readVersion(bytes, offset), latin1At(bytes, offset + VERSION_BYTES, HASH_BYTES), latin1At(bytes, offset + VERSION_BYTES + HASH_BYTES, HASH_BYTES))
}

/** The node below internal node `slot` of `page` on side `bit`. */
function storedChild(page: Page, slot: number, bit: number): StoredSlot | null {
  const child = 2 * slot + 1 + bit
  return page.bytes[child] === KIND_EMPTY ? null : new StoredSlot(page, child)
}

function rootSlot(root: RootRef): Slot {
  switch (root.kind) {
    case 'empty':
      return null
    case 'leaf':
      return new LeafSlot(root.version, latin1(root.keyHash), latin1(root.hash))
    case 'page':
      return new PageSlot(root.version, latin1(root.hash))
  }
}

/** Checks a page record's structure and computes the payload offset of each slot. */
export function parsePage(bytes: Uint8Array): Page {
  if (bytes.length < PAGE_SLOTS || bytes[0] !== KIND_INNER) throw corrupt('malformed state page')
  const offsets = new Uint16Array(PAGE_SLOTS)
  let offset = PAGE_SLOTS
  for (let slot = 0; slot < PAGE_SLOTS; slot++) {
    const kind = bytes[slot] as number
    if (kind !== KIND_EMPTY) {
      const parentInner = slot === 0 || bytes[(slot - 1) >> 1] === KIND_INNER
      const allowed = slot < FIRST_CHILD_SLOT ? kind === KIND_INNER || kind === KIND_LEAF : kind === KIND_PAGE || kind === KIND_LEAF
      if (!parentInner || !allowed) throw corrupt('malformed state page')
    }
    offsets[slot] = offset
    offset += PAYLOAD_BYTES[kind as Kind] ?? 0
  }
  if (offset !== bytes.length) throw corrupt('malformed state page')
  return { bytes, offsets }
}

// ---------------------------------------------------------------------------------------------
// the update

/** First index in [lo, hi) whose path has bit `depth` set (changes are sorted by path). */
function splitIndex(changes: readonly TreeChange[], depth: number, lo: number, hi: number): number {
  let low = lo
  let high = hi
  while (low < high) {
    const mid = (low + high) >>> 1
    if (bitOf((changes[mid] as TreeChange).keyHash, depth) === 0) low = mid + 1
    else high = mid
  }
  return low
}

/** The pages an update visits, keyed by visitKey(depth, first change index). */
type LoadedPages = Map<number, { readonly id: Uint8Array; readonly page: Page }>
// Both walks split the sorted changes the same way, so a page is visited at one (depth, lo) pair.
const visitKey = (depth: number, lo: number): number => lo * 512 + depth

/**
 * Applies sorted, de-duplicated changes (from normalizeChanges) to the tree with root `root`,
 * creating version `version`. Pure apart from reads through `reader`.
 */
export async function updateTree(reader: NodeReader, root: RootRef, changes: readonly TreeChange[], version: number): Promise<TreeUpdate> {
  const pages = await loadPages(reader, root, changes)
  return new TreeBuilder(changes, pages, version).run(root)
}

/** Loads, level by level, every page on the paths of the changes. */
async function loadPages(reader: NodeReader, root: RootRef, changes: readonly TreeChange[]): Promise<LoadedPages> {
  const loaded: LoadedPages = new Map()
  if (root.kind !== 'page' || changes.length === 0) return loaded
  let frontier: Array<{ version: number; depth: number; lo: number; hi: number }> = [{ version: root.version, depth: 0, lo: 0, hi: changes.length }]
  while (frontier.length > 0) {
    const ids = frontier.map((want) => pageNodeId(want.version, want.depth, (changes[want.lo] as TreeChange).keyHash))
    const records = await reader.getNodes(ids)
    const next: typeof frontier = []
    for (const [i, want] of frontier.entries()) {
      const record = records[i]
      if (record === undefined) throw corrupt(`missing state page at depth ${want.depth} of version ${want.version}`)
      const page = parsePage(record)
      loaded.set(visitKey(want.depth, want.lo), { id: ids[i] as Uint8Array, page })
      const visit = (slot: number, depth: number, lo: number, hi: number): void => {
        const kind = page.bytes[slot]
        if (kind === KIND_INNER) {
          const mid = splitIndex(changes, depth, lo, hi)
          if (lo < mid) visit(2 * slot + 1, depth + 1, lo, mid)
          if (mid < hi) visit(2 * slot + 2, depth + 1, mid, hi)
        } else if (kind === KIND_PAGE) {
          next.push({ version: readVersion(page.bytes, page.offsets[slot] as number), depth, lo, hi })
        }
      }
      visit(0, want.depth, want.lo, want.hi)
    }
    frontier = next
  }
  return loaded
}

class TreeBuilder {
  readonly #changes: readonly TreeChange[]
  readonly #pages: LoadedPages
  readonly #version: number
  readonly #newPages: TreeRecord[] = []
  readonly #newLeaves: TreeRecord[] = []
  readonly #stale: Uint8Array[] = []
  #slab = new Uint8Array(0)
  #slabUsed = 0

  constructor(changes: readonly TreeChange[], pages: LoadedPages, version: number) {
    this.#changes = changes
    this.#pages = pages
    this.#version = version
  }

  run(root: RootRef): TreeUpdate {
    const before = rootSlot(root)
    let after = this.#update(before, 0, 0, this.#changes.length)
    if (after instanceof NewInner) after = this.#writePage(after, 0)
    let newRoot: RootRef
    if (after === before) newRoot = root
    else if (after === null) newRoot = EMPTY_ROOT
    else if (after instanceof PageSlot) newRoot = { kind: 'page', version: after.version, hash: latin1Bytes(after.hash) }
    else if (after instanceof LeafSlot || (after instanceof StoredSlot && after.kind === KIND_LEAF)) {
      const leaf = leafOf(after)
      newRoot = { kind: 'leaf', version: leaf.version, keyHash: latin1Bytes(leaf.keyHash), hash: latin1Bytes(leaf.hash) }
    } else throw corrupt('state tree root is not a page')
    return { root: newRoot, pages: this.#newPages, leaves: this.#newLeaves, stale: this.#stale }
  }

  /** Space for a new record: slices of shared slabs, so a block allocates a few buffers, not thousands. */
  #alloc(size: number): Uint8Array {
    if (size > SLAB_BYTES / 8) return new Uint8Array(size)
    if (this.#slabUsed + size > this.#slab.length) {
      this.#slab = new Uint8Array(SLAB_BYTES)
      this.#slabUsed = 0
    }
    const out = this.#slab.subarray(this.#slabUsed, this.#slabUsed + size)
    this.#slabUsed += size
    return out
  }

  /** The subtree at `depth` after applying changes [lo, hi); returns `slot` itself when nothing changed. */
  #update(slot: Slot, depth: number, lo: number, hi: number): Slot {
    if (lo === hi) return slot
    if (slot === null) {
      if (hi - lo === 1) return this.#newLeaf(this.#changes[lo] as TreeChange)
      const mid = splitIndex(this.#changes, depth, lo, hi)
      return this.#combine(this.#update(null, depth + 1, lo, mid), this.#update(null, depth + 1, mid, hi), lo)
    }
    if (slot instanceof StoredSlot) {
      const kind = slot.kind
      if (kind === KIND_INNER) {
        const mid = splitIndex(this.#changes, depth, lo, hi)
        const left = storedChild(slot.page, slot.slot, 0)
        const right = storedChild(slot.page, slot.slot, 1)
        const newLeft = this.#update(left, depth + 1, lo, mid)
        const newRight = this.#update(right, depth + 1, mid, hi)
        if (newLeft === left && newRight === right) return slot
        return this.#combine(newLeft, newRight, lo)
      }
      if (kind === KIND_PAGE) return this.#updatePage(slot, depth, lo, hi)
      return this.#updateLeaf(slot, depth, lo, hi)
    }
    if (slot instanceof LeafSlot) return this.#updateLeaf(slot, depth, lo, hi)
    if (slot instanceof PageSlot) return this.#updatePage(slot, depth, lo, hi)
    throw corrupt('unexpected node in the state tree')
  }

  #updatePage(slot: StoredSlot | PageSlot, depth: number, lo: number, hi: number): Slot {
    const loaded = this.#pages.get(visitKey(depth, lo))
    if (loaded === undefined) throw corrupt(`state page at depth ${depth} was not loaded`)
    const root = new StoredSlot(loaded.page, 0)
    const after = this.#update(root, depth, lo, hi)
    if (after === root) return slot
    this.#stale.push(loaded.id)
    return after
  }

  #updateLeaf(slot: StoredSlot | LeafSlot, depth: number, lo: number, hi: number): Slot {
    const changes = this.#changes
    const leaf = leafOf(slot)
    const first = changes[lo] as TreeChange
    if (hi - lo === 1 && first.keyHash === leaf.keyHash) {
      if (first.value === undefined) {
        this.#stale.push(leafNodeId(leaf.version, leaf.keyHash))
        return null
      }
      const hash = hashLeaf(first.keyHash, sha256Latin1(first.value))
      if (hash === leaf.hash) return slot
      this.#stale.push(leafNodeId(leaf.version, leaf.keyHash))
      return this.#newLeaf(first, hash)
    }
    // push the leaf down beside the changes until they part ways
    const mid = splitIndex(changes, depth, lo, hi)
    const side = bitOf(leaf.keyHash, depth)
    const left = this.#update(side === 0 ? slot : null, depth + 1, lo, mid)
    const right = this.#update(side === 1 ? slot : null, depth + 1, mid, hi)
    if (side === 0 ? left === slot && right === null : right === slot && left === null) return slot
    return this.#combine(left, right, lo)
  }

  #newLeaf(change: TreeChange, hash?: string): LeafSlot | null {
    const { key, value } = change
    if (value === undefined) return null
    const leaf = new LeafSlot(this.#version, change.keyHash, hash ?? hashLeaf(change.keyHash, sha256Latin1(value)))
    const bytes = encodeLeafRecord(key, value, this.#alloc(2 + key.length + value.length))
    this.#newLeaves.push({ id: leafNodeId(this.#version, change.keyHash), bytes })
    return leaf
  }

  /** An internal node over two subtrees, keeping the tree compact: a lone leaf moves up. */
  #combine(left: Slot, right: Slot, lo: number): Slot {
    if (left === null && (right === null || isLeaf(right))) return right
    if (right === null && isLeaf(left)) return left
    return new NewInner(left, right, (this.#changes[lo] as TreeChange).keyHash)
  }

  /** Serialises the page rooted at `inner` (at `depth`, a multiple of 4), and its new child pages first. */
  #writePage(inner: NewInner, depth: number): PageSlot {
    const kinds = new Uint8Array(PAGE_SLOTS)
    // each slot's payload comes from a new node, or is copied from a slot of a stored page
    const fresh = new Array<LeafSlot | PageSlot | NewInner | undefined>(PAGE_SLOTS)
    const fromPage = new Array<Page | undefined>(PAGE_SLOTS)
    const fromSlot = new Uint8Array(PAGE_SLOTS)
    const copy = (page: Page, slot: number, index: number): void => {
      kinds[index] = page.bytes[slot] as number
      fromPage[index] = page
      fromSlot[index] = slot
    }
    // an unchanged stored subtree sits in the same slots of the new page as in its old page
    const copySubtree = (page: Page, index: number): void => {
      copy(page, index, index)
      if (page.bytes[index] === KIND_INNER) {
        copySubtree(page, 2 * index + 1)
        copySubtree(page, 2 * index + 2)
      }
    }
    const place = (slot: Slot, index: number, at: number): void => {
      if (slot === null) return
      if (slot instanceof StoredSlot) {
        const kind = slot.kind
        if (kind === KIND_LEAF) copy(slot.page, slot.slot, index) // possibly moved up
        else if (slot.slot !== index || (kind === KIND_PAGE) !== index >= FIRST_CHILD_SLOT) throw corrupt('stored node out of place in a new state page')
        else copySubtree(slot.page, index)
      } else if (slot instanceof NewInner) {
        if (index >= FIRST_CHILD_SLOT) {
          kinds[index] = KIND_PAGE
          fresh[index] = this.#writePage(slot, at)
        } else {
          kinds[index] = KIND_INNER
          fresh[index] = slot
          place(slot.left, 2 * index + 1, at + 1)
          place(slot.right, 2 * index + 2, at + 1)
        }
      } else {
        kinds[index] = slot instanceof LeafSlot ? KIND_LEAF : KIND_PAGE
        fresh[index] = slot
      }
    }
    place(inner, 0, depth)
    let size = PAGE_SLOTS
    for (let index = 0; index < PAGE_SLOTS; index++) size += PAYLOAD_BYTES[kinds[index] as Kind]
    const bytes = this.#alloc(size)
    bytes.set(kinds)
    let offset = PAGE_SLOTS
    for (let index = 0; index < PAGE_SLOTS; index++) {
      const kind = kinds[index] as Kind
      if (kind === KIND_EMPTY) continue
      const length = PAYLOAD_BYTES[kind]
      const source = fromPage[index]
      if (source !== undefined) {
        const from = source.offsets[fromSlot[index] as number] as number
        bytes.set(source.bytes.subarray(from, from + length), offset)
      } else {
        const slot = fresh[index]
        if (slot instanceof LeafSlot) {
          writeVersion(bytes, offset, slot.version)
          writeLatin1(bytes, offset + VERSION_BYTES, slot.keyHash)
          writeLatin1(bytes, offset + VERSION_BYTES + HASH_BYTES, slot.hash)
        } else if (slot instanceof PageSlot) {
          writeVersion(bytes, offset, slot.version)
          writeLatin1(bytes, offset + VERSION_BYTES, slot.hash)
        } else if (slot instanceof NewInner) writeLatin1(bytes, offset, slot.hash)
      }
      offset += length
    }
    this.#newPages.push({ id: pageNodeId(this.#version, depth, inner.path), bytes })
    return new PageSlot(this.#version, inner.hash)
  }
}

// ---------------------------------------------------------------------------------------------
// reads and proofs at any stored version

interface PathEnd {
  /** where the key's path ends: an empty subtree or a leaf (this key's or another's) */
  readonly end: null | LeafSlot
  readonly siblings: Uint8Array[]
}

async function walkPath(reader: NodeReader, root: RootRef, keyHash: string, collectSiblings: boolean): Promise<PathEnd> {
  const siblings: Uint8Array[] = []
  let slot = rootSlot(root)
  let depth = 0
  while (true) {
    if (slot === null || slot instanceof LeafSlot) return { end: slot, siblings }
    let pageVersion: number | undefined
    if (slot instanceof PageSlot) pageVersion = slot.version
    else if (slot instanceof StoredSlot && slot.kind === KIND_PAGE) pageVersion = readVersion(slot.page.bytes, slot.offset)
    if (pageVersion !== undefined) {
      const record = await reader.getNode(pageNodeId(pageVersion, depth, keyHash))
      if (record === undefined) throw corrupt(`missing state page at depth ${depth} of version ${pageVersion}`)
      slot = new StoredSlot(parsePage(record), 0)
      continue
    }
    if (!(slot instanceof StoredSlot)) throw corrupt('unexpected node in the state tree')
    if (slot.kind === KIND_LEAF) return { end: leafOf(slot), siblings }
    const bit = bitOf(keyHash, depth)
    if (collectSiblings) siblings.push(slotHashBytes(storedChild(slot.page, slot.slot, 1 - bit)))
    slot = storedChild(slot.page, slot.slot, bit)
    depth++
  }
}

async function readLeaf(reader: NodeReader, leaf: LeafSlot): Promise<{ key: Uint8Array; value: Uint8Array }> {
  const record = await reader.getNode(leafNodeId(leaf.version, leaf.keyHash))
  if (record === undefined) throw corrupt(`missing state leaf of version ${leaf.version}`)
  const decoded = decodeLeafRecord(record)
  if (sha256Latin1(decoded.key) !== leaf.keyHash || hashLeaf(leaf.keyHash, sha256Latin1(decoded.value)) !== leaf.hash) throw corrupt('state leaf does not match its hash')
  return decoded
}

/** The value of `key` in the tree with root `root`, walking the tree (for historical reads). */
export async function readValue(reader: NodeReader, root: RootRef, key: Uint8Array): Promise<Uint8Array | undefined> {
  const keyHash = sha256Latin1(key)
  const { end } = await walkPath(reader, root, keyHash, false)
  if (end === null || end.keyHash !== keyHash) return undefined
  return (await readLeaf(reader, end)).value.slice()
}

/** An inclusion proof when `key` is present, a non-inclusion proof otherwise. */
export async function proveKey(reader: NodeReader, root: RootRef, key: Uint8Array): Promise<StateProof> {
  const keyHash = sha256Latin1(key)
  const { end, siblings } = await walkPath(reader, root, keyHash, true)
  if (end === null || end.keyHash === keyHash) return { siblings }
  const other = await readLeaf(reader, end)
  return { siblings, leaf: { keyHash: latin1Bytes(end.keyHash), valueHash: valueHash(other.value) } }
}

