// The Merkle root over a job's checkpoint hashes, and inclusion proofs for disputes.
//
// Tree rule: leaf = keccak256(0x00 ‖ checkpoint hash); inner node = keccak256(0x01 ‖ left ‖ right)
// (the prefixes keep a leaf from passing as a node). Levels are built left to right; when a level
// has an odd number of nodes the last one is carried up unchanged (no duplication, so no two lists
// share a root). The root of an empty list is 32 zero bytes.
import { keccak256Prefixed, concatBytes } from '../../runtime/crypto/hash.ts'
import { MlError } from '../errors.ts'

const LEAF = Uint8Array.of(0)
const NODE = Uint8Array.of(1)

export function merkleLeaf(hash: Uint8Array): Uint8Array {
  return keccak256Prefixed(LEAF, hash)
}

export function merkleNode(left: Uint8Array, right: Uint8Array): Uint8Array {
  return keccak256Prefixed(NODE, concatBytes(left, right))
}

export function merkleRoot(hashes: readonly Uint8Array[]): Uint8Array {
  if (hashes.length === 0) return new Uint8Array(32)
  let level = hashes.map(merkleLeaf)
  while (level.length > 1) {
    const next: Uint8Array[] = []
    for (let i = 0; i + 1 < level.length; i += 2) next.push(merkleNode(level[i]!, level[i + 1]!))
    if (level.length % 2 === 1) next.push(level[level.length - 1]!)
    level = next
  }
  return level[0]!
}

/** One step of a proof: the sibling and whether it sits on the left. */
export interface MerkleStep {
  sibling: Uint8Array
  left: boolean
}

/** The siblings from leaf `index` up to the root (levels where the node is carried up add none). */
export function merkleProof(hashes: readonly Uint8Array[], index: number): MerkleStep[] {
  if (!Number.isInteger(index) || index < 0 || index >= hashes.length) throw new MlError('INVALID_ARGUMENT', 'proof index out of range', { details: { index, count: hashes.length } })
  const proof: MerkleStep[] = []
  let level = hashes.map(merkleLeaf)
  let i = index
  while (level.length > 1) {
    const sibling = i % 2 === 0 ? i + 1 : i - 1
    if (sibling < level.length) proof.push({ sibling: level[sibling]!, left: sibling < i })
    const next: Uint8Array[] = []
    for (let j = 0; j + 1 < level.length; j += 2) next.push(merkleNode(level[j]!, level[j + 1]!))
    if (level.length % 2 === 1) next.push(level[level.length - 1]!)
    level = next
    i = Math.floor(i / 2)
  }
  return proof
}

export function verifyMerkleProof(root: Uint8Array, hash: Uint8Array, proof: readonly MerkleStep[]): boolean {
  let node = merkleLeaf(hash)
  for (const step of proof) node = step.left ? merkleNode(step.sibling, node) : merkleNode(node, step.sibling)
  return node.length === root.length && node.every((b, i) => b === root[i])
}
