// Merkle root over an ordered list (transactions, receipts), RFC 6962 style: leaves and inner
// nodes are domain-separated, an odd node is promoted. Proofs of one item in a list are
// `merkleListProof` / `verifyMerkleListProof`.
import { concatBytes, sha256 } from './crypto/hash.ts'

const LEAF = Uint8Array.of(0)
const NODE = Uint8Array.of(1)
export const EMPTY_LIST_ROOT = sha256(new Uint8Array(0))

export function merkleListRoot(items: readonly Uint8Array[]): Uint8Array {
  if (items.length === 0) return EMPTY_LIST_ROOT
  let level = items.map((item) => sha256(concatBytes(LEAF, item)))
  while (level.length > 1) {
    const next: Uint8Array[] = []
    for (let i = 0; i < level.length; i += 2) {
      const left = level[i] as Uint8Array
      const right = level[i + 1]
      next.push(right === undefined ? left : sha256(concatBytes(NODE, left, right)))
    }
    level = next
  }
  return level[0] as Uint8Array
}
