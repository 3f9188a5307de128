// Content ids of blobs. A blob is cut into CHUNK_BYTES chunks (the last may be shorter); the
// content id commits to the size and to a Merkle tree over the chunks, so every chunk can be
// verified on its own, as it arrives, with its sibling path:
//
//   leaf(chunk)  = sha256(0x00 ‖ chunk)
//   node(l, r)   = sha256(0x01 ‖ l ‖ r)          an odd last node is promoted unchanged
//   content id   = sha256(0x02 ‖ u64be(size) ‖ root)
//
// Pure: the CLI, the store, the p2p fetcher and tests share it.
import { createHash } from 'node:crypto'
import { bytesEqual } from '../../runtime/codec/canonical.ts'
import { concatBytes, sha256 } from '../../runtime/crypto/hash.ts'

/** bytes per chunk (256 KiB) */
export const CHUNK_BYTES = 256 * 1024

const LEAF = Uint8Array.of(0)
const NODE = Uint8Array.of(1)
const ID = Uint8Array.of(2)

export function chunkCount(size: number): number {
  return Math.ceil(size / CHUNK_BYTES)
}

/** The length chunk `index` of a blob of `size` bytes must have. */
export function chunkLength(size: number, index: number): number {
  return Math.min(CHUNK_BYTES, size - index * CHUNK_BYTES)
}

/** Hashed incrementally: no copy of the (256 KiB) chunk. */
export function chunkLeaf(chunk: Uint8Array): Uint8Array {
  const digest = createHash('sha256').update(LEAF).update(chunk).digest()
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength)
}

function node(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(concatBytes(NODE, left, right))
}

function nextLevel(level: readonly Uint8Array[]): Uint8Array[] {
  const next: Uint8Array[] = []
  for (let i = 0; i < level.length; i += 2) {
    const right = level[i + 1]
    next.push(right === undefined ? (level[i] as Uint8Array) : node(level[i] as Uint8Array, right))
  }
  return next
}

export function contentIdFromLeaves(size: number, leaves: readonly Uint8Array[]): Uint8Array {
  let level = [...leaves]
  while (level.length > 1) level = nextLevel(level)
  const sizeBytes = new Uint8Array(8)
  new DataView(sizeBytes.buffer).setBigUint64(0, BigInt(size))
  return sha256(concatBytes(ID, sizeBytes, level[0] ?? new Uint8Array(32)))
}

export function contentId(bytes: Uint8Array): Uint8Array {
  const leaves: Uint8Array[] = []
  for (let offset = 0; offset < bytes.length; offset += CHUNK_BYTES) leaves.push(chunkLeaf(bytes.subarray(offset, offset + CHUNK_BYTES)))
  return contentIdFromLeaves(bytes.length, leaves)
}

/** Every level of the chunk tree, leaves first (what chunkProof reads; the store caches it). */
export function chunkTreeLevels(leaves: readonly Uint8Array[]): Uint8Array[][] {
  const levels = [[...leaves]]
  while ((levels.at(-1) as Uint8Array[]).length > 1) levels.push(nextLevel(levels.at(-1) as Uint8Array[]))
  return levels
}

/** The sibling hashes of leaf `index`, bottom up (levels where it is promoted contribute none). */
export function chunkProof(leavesOrLevels: readonly Uint8Array[] | readonly Uint8Array[][], index: number): Uint8Array[] {
  const levels = leavesOrLevels[0] instanceof Uint8Array ? chunkTreeLevels(leavesOrLevels as Uint8Array[]) : (leavesOrLevels as Uint8Array[][])
  const siblings: Uint8Array[] = []
  let i = index
  for (const level of levels.slice(0, -1)) {
    const sibling = level[i ^ 1]
    if (sibling !== undefined) siblings.push(sibling)
    i >>>= 1
  }
  return siblings
}

/** True when `chunk` is chunk `index` of the blob with this content id and size. Never throws. */
export function verifyChunk(cid: Uint8Array, size: number, index: number, chunk: Uint8Array, siblings: readonly Uint8Array[]): boolean {
  if (!Number.isSafeInteger(size) || size < 1 || !Number.isSafeInteger(index) || index < 0) return false
  const count = chunkCount(size)
  if (index >= count || chunk.length !== chunkLength(size, index)) return false
  let hash = chunkLeaf(chunk)
  let i = index
  let width = count
  let used = 0
  while (width > 1) {
    const hasSibling = (i ^ 1) < width
    if (hasSibling) {
      const sibling = siblings[used++]
      if (sibling === undefined || sibling.length !== 32) return false
      hash = (i & 1) === 0 ? node(hash, sibling) : node(sibling, hash)
    }
    i >>>= 1
    width = Math.ceil(width / 2)
  }
  if (used !== siblings.length) return false
  const sizeBytes = new Uint8Array(8)
  new DataView(sizeBytes.buffer).setBigUint64(0, BigInt(size))
  return bytesEqual(sha256(concatBytes(ID, sizeBytes, hash)), cid)
}
