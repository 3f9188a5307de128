// The contribution tree of a datanet: a fixed-depth binary Merkle tree over leaf *positions*. An
// accepted contribution takes the next position; a withdrawn one empties its leaf again. The
// chain keeps only the nodes on non-empty paths (see state.ts `treeNodes`), so accepting or
// withdrawing costs TREE_DEPTH reads and writes and publishing a version just copies the root:
// O(1) in the number of contributions.
//
// Everything here is pure, so anyone can check an inclusion proof with this file alone:
//
//   leaf(c)    = sha256(0x00 ‖ encode([datanet, index, contributor, cid, size, rows, format]))
//   node(l, r) = sha256(0x01 ‖ l ‖ r)
//   empty leaf = 32 zero bytes; an empty subtree of height h is EMPTY_SUBTREE[h]
//   proof      = the TREE_DEPTH sibling hashes from the leaf's level up; bit h of the position
//                says whether the path goes right (1) or left (0) at height h
import { bytesEqual, encode } from '../../codec/canonical.ts'
import { concatBytes, sha256 } from '../../crypto/hash.ts'

/** height of the tree: 2^24 (16.7 million) accepted contributions per datanet */
export const TREE_DEPTH = 24
export const MAX_TREE_LEAVES = 2 ** TREE_DEPTH

const LEAF_TAG = Uint8Array.of(0)
const NODE_TAG = Uint8Array.of(1)

export function treeNodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(concatBytes(NODE_TAG, left, right))
}

/** EMPTY_SUBTREE[h]: the root of an empty subtree of height h (h = 0 is an empty leaf). */
export const EMPTY_SUBTREE: readonly Uint8Array[] = (() => {
  const out: Uint8Array[] = [new Uint8Array(32)]
  for (let h = 1; h <= TREE_DEPTH; h++) out.push(treeNodeHash(out[h - 1] as Uint8Array, out[h - 1] as Uint8Array))
  return out
})()

export const EMPTY_TREE_ROOT = EMPTY_SUBTREE[TREE_DEPTH] as Uint8Array

export interface LeafFields {
  readonly datanet: number
  readonly index: number
  readonly contributor: Uint8Array
  readonly cid: Uint8Array
  readonly size: number
  readonly rows: number
  readonly format: number
}

/** What a version commits to for one contribution: who gave which bytes, how many rows. */
export function contributionLeaf(c: LeafFields): Uint8Array {
  return sha256(concatBytes(LEAF_TAG, encode([c.datanet, c.index, c.contributor, c.cid, c.size, c.rows, c.format])))
}

/**
 * The levels of the tree over `leaves` (position i holds leaves[i], undefined = empty), bottom up;
 * positions past the end are empty. O(n) hashes.
 */
export function buildTreeLevels(leaves: ReadonlyArray<Uint8Array | undefined>): Uint8Array[][] {
  if (leaves.length > MAX_TREE_LEAVES) throw new RangeError(`at most ${MAX_TREE_LEAVES} leaves`)
  let level = leaves.map((leaf) => leaf ?? (EMPTY_SUBTREE[0] as Uint8Array))
  const levels = [level]
  for (let h = 0; h < TREE_DEPTH; h++) {
    const next: Uint8Array[] = []
    const empty = EMPTY_SUBTREE[h] as Uint8Array
    for (let i = 0; i < level.length; i += 2) next.push(treeNodeHash(level[i] as Uint8Array, level[i + 1] ?? empty))
    if (next.length === 0) next.push(EMPTY_SUBTREE[h + 1] as Uint8Array)
    level = next
    levels.push(level)
  }
  return levels
}

export function treeRoot(leaves: ReadonlyArray<Uint8Array | undefined>): Uint8Array {
  return buildTreeLevels(leaves).at(-1)?.[0] as Uint8Array
}

/** The sibling path of `position` in a tree built by buildTreeLevels. */
export function inclusionProof(levels: readonly Uint8Array[][], position: number): Uint8Array[] {
  const siblings: Uint8Array[] = []
  let index = position
  for (let h = 0; h < TREE_DEPTH; h++) {
    siblings.push(levels[h]?.[index ^ 1] ?? (EMPTY_SUBTREE[h] as Uint8Array))
    index >>>= 1
  }
  return siblings
}

/** The root a leaf at `position` with these siblings gives. */
export function rootFromProof(leaf: Uint8Array, position: number, siblings: readonly Uint8Array[]): Uint8Array {
  let node = leaf
  let index = position
  for (const sibling of siblings) {
    node = (index & 1) === 0 ? treeNodeHash(node, sibling) : treeNodeHash(sibling, node)
    index = Math.floor(index / 2)
  }
  return node
}

/** True when `leaf` sits at `position` under `root`. Never throws: malformed input is false. */
export function verifyInclusionProof(root: Uint8Array, leaf: Uint8Array, position: number, siblings: readonly Uint8Array[]): boolean {
  if (!(root instanceof Uint8Array) || root.length !== 32 || !(leaf instanceof Uint8Array) || leaf.length !== 32) return false
  if (!Number.isSafeInteger(position) || position < 0 || position >= MAX_TREE_LEAVES) return false
  if (!Array.isArray(siblings) || siblings.length !== TREE_DEPTH) return false
  if (!siblings.every((s) => s instanceof Uint8Array && s.length === 32)) return false
  if (bytesEqual(leaf, EMPTY_SUBTREE[0] as Uint8Array)) return false
  return bytesEqual(rootFromProof(leaf, position, siblings), root)
}
