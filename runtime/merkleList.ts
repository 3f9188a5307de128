// Merkle root over an ordered list (transactions, receipts), RFC 6962 style: a leaf is
// sha256(0x00 ‖ item), an inner node sha256(0x01 ‖ left ‖ right), an odd node is promoted.
//
// A block's lists have thousands of items, so the hashing works in one reused scratch buffer and
// keeps the intermediate hashes as latin1 strings (see treeHash.ts): no concatenated copy and no
// ArrayBuffer per hash, only the root becomes bytes.
import { hash as nodeHash } from 'node:crypto'
import { sha256 } from './crypto/hash.ts'

const LEAF = 0x00
const NODE = 0x01
const HASH_BYTES = 32
export const EMPTY_LIST_ROOT = sha256(new Uint8Array(0))

let scratch = Buffer.alloc(1 + 2 * HASH_BYTES)

function leafHash(item: Uint8Array): string {
  if (scratch.length < 1 + item.length) scratch = Buffer.alloc(Math.max(1 + item.length, 2 * scratch.length))
  scratch[0] = LEAF
  scratch.set(item, 1)
  return nodeHash('sha256', scratch.subarray(0, 1 + item.length), 'binary')
}

function nodeHashOf(left: string, right: string): string {
  scratch[0] = NODE
  scratch.write(left, 1, HASH_BYTES, 'latin1')
  scratch.write(right, 1 + HASH_BYTES, HASH_BYTES, 'latin1')
  return nodeHash('sha256', scratch.subarray(0, 1 + 2 * HASH_BYTES), 'binary')
}

export function merkleListRoot(items: readonly Uint8Array[]): Uint8Array {
  if (items.length === 0) return EMPTY_LIST_ROOT
  let level = items.map(leafHash)
  while (level.length > 1) {
    const next: string[] = []
    for (let i = 0; i < level.length; i += 2) {
      const left = level[i] as string
      const right = level[i + 1]
      next.push(right === undefined ? left : nodeHashOf(left, right))
    }
    level = next
  }
  return new Uint8Array(Buffer.from(level[0] as string, 'latin1'))
}
