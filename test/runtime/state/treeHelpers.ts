// Test helpers for the state tree: an in-memory node store and a from-scratch reference root.
import { bytesEqual } from '../../../runtime/codec/canonical.ts'
import { sha256 } from '../../../runtime/crypto/hash.ts'
import {
  EMPTY_ROOT,
  latin1,
  leafNodeId,
  normalizeChanges,
  pageNodeId,
  parsePage,
  rootHash,
  updateTree,
  type NodeReader,
  type RootRef,
  type StateChange,
  type TreeUpdate,
} from '../../../runtime/state/merkleTree.ts'
import { EMPTY_HASH, bitAt, innerHash, leafHash } from '../../../runtime/state/treeHash.ts'

export const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')

/** Every record ever written, never pruned, so any version can be read back. */
export class MemoryTree implements NodeReader {
  readonly records = new Map<string, Uint8Array>()
  readonly stale = new Set<string>()
  readonly roots: RootRef[] = []
  root: RootRef = EMPTY_ROOT
  version = -1
  reads = 0

  async getNode(id: Uint8Array): Promise<Uint8Array | undefined> {
    this.reads++
    return this.records.get(latin1(id))
  }

  async getNodes(ids: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    this.reads += ids.length
    return ids.map((id) => this.records.get(latin1(id)))
  }

  async apply(changes: readonly StateChange[]): Promise<TreeUpdate> {
    const version = this.version + 1
    const update = await updateTree(this, this.root, normalizeChanges(changes), version)
    for (const record of [...update.pages, ...update.leaves]) this.records.set(latin1(record.id), record.bytes)
    for (const id of update.stale) this.stale.add(latin1(id))
    this.root = update.root
    this.version = version
    this.roots[version] = update.root
    return update
  }

  get rootHash(): Uint8Array {
    return rootHash(this.root)
  }
}

/** Ids of every record the tree with this root references. */
export function reachable(tree: MemoryTree, root: RootRef): Set<string> {
  const ids = new Set<string>()
  if (root.kind === 'empty') return ids
  if (root.kind === 'leaf') {
    ids.add(latin1(leafNodeId(root.version, latin1(root.keyHash))))
    return ids
  }
  const visitPage = (version: number, depth: number, path: Uint8Array): void => {
    const id = pageNodeId(version, depth, latin1(path))
    ids.add(latin1(id))
    const record = tree.records.get(latin1(id))
    if (record === undefined) throw new Error(`missing page ${hex(id)}`)
    const page = parsePage(record)
    const walk = (slot: number, at: number, prefix: Uint8Array): void => {
      const kind = record[slot]
      const offset = page.offsets[slot] as number
      if (kind === 1) {
        for (const bit of [0, 1]) {
          const child = prefix.slice()
          if (bit === 1) child[at >> 3] = (child[at >> 3] as number) | (0x80 >> (at & 7))
          walk(2 * slot + 1 + bit, at + 1, child)
        }
      } else if (kind === 2) {
        const version = Number(new DataView(record.buffer, record.byteOffset + offset, 8).getBigUint64(0))
        ids.add(latin1(leafNodeId(version, latin1(record.subarray(offset + 8, offset + 40)))))
      } else if (kind === 3) {
        visitPage(Number(new DataView(record.buffer, record.byteOffset + offset, 8).getBigUint64(0)), at, prefix)
      }
    }
    walk(0, depth, path)
  }
  visitPage(root.version, 0, new Uint8Array(32))
  return ids
}

/** The root computed from scratch from the key/value set, by the definition of the tree. */
export function referenceRoot(state: ReadonlyMap<string, Uint8Array>): Uint8Array {
  const leaves = [...state.entries()].map(([key, value]) => ({ keyHash: sha256(Buffer.from(key, 'hex')), valueHash: sha256(value) }))
  const build = (items: typeof leaves, depth: number): Uint8Array => {
    if (items.length === 0) return EMPTY_HASH
    if (items.length === 1) return leafHash((items[0] as (typeof leaves)[number]).keyHash, (items[0] as (typeof leaves)[number]).valueHash)
    return innerHash(
      build(items.filter((item) => bitAt(item.keyHash, depth) === 0), depth + 1),
      build(items.filter((item) => bitAt(item.keyHash, depth) === 1), depth + 1),
    )
  }
  return build(leaves, 0)
}

export const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => bytesEqual(a, b)
