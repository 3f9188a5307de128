// The hashing rules of the state tree, shared by the tree, the proofs and light clients.
//
// A key's path is sha256(key): 256 bits, most significant bit of byte 0 first (bit 0 picks the
// child of the root: 0 = left, 1 = right). Hashes are domain separated so a leaf can never pass
// for an internal node or the other way round:
//   empty subtree  32 zero bytes
//   leaf           sha256(0x00 || keyHash || sha256(value))
//   internal       sha256(0x01 || left || right)
import { hash as nodeHash } from 'node:crypto'
import { sha256, type Hash } from '../crypto/hash.ts'

export const HASH_BYTES = 32
/** bits in a key path */
export const PATH_BITS = 256
/** state keys are at most this many bytes */
export const MAX_STATE_KEY_BYTES = 256
/** state values are at most this many bytes (1 MiB) */
export const MAX_STATE_VALUE_BYTES = 1024 * 1024

const EMPTY = new Uint8Array(HASH_BYTES)
/** The hash of an empty subtree. Shared: never mutate it. */
export const EMPTY_HASH: Hash = EMPTY

export const LEAF_PREFIX = 0x00
export const INNER_PREFIX = 0x01
// One scratch buffer: sha256 reads it synchronously, so reuse is safe on one thread.
const scratch = new Uint8Array(1 + 2 * HASH_BYTES)

/**
 * sha256 as a 32-character latin1 string (one character per byte). The tree hashes thousands of
 * nodes per block: a string result costs no ArrayBuffer, which makes bulk hashing about 3x faster
 * than sha256() here, whose Buffer result is one off-heap allocation per hash. Same function.
 */
export function sha256Latin1(data: Uint8Array): string {
  return nodeHash('sha256', data, 'binary') // 'binary' is Node's name for latin1
}

export function keyPath(key: Uint8Array): Hash {
  return sha256(key)
}

export function valueHash(value: Uint8Array): Hash {
  return sha256(value)
}

export function leafHash(keyHash: Uint8Array, hashOfValue: Uint8Array): Hash {
  scratch[0] = LEAF_PREFIX
  scratch.set(keyHash, 1)
  scratch.set(hashOfValue, 1 + HASH_BYTES)
  return sha256(scratch)
}

export function innerHash(left: Uint8Array, right: Uint8Array): Hash {
  return innerHashAt(left, 0, right, 0)
}

/** innerHash of the 32 bytes of `left` at `leftOffset` and of `right` at `rightOffset` (no copies). */
export function innerHashAt(left: Uint8Array, leftOffset: number, right: Uint8Array, rightOffset: number): Hash {
  scratch[0] = INNER_PREFIX
  for (let i = 0; i < HASH_BYTES; i++) {
    scratch[1 + i] = left[leftOffset + i] as number
    scratch[1 + HASH_BYTES + i] = right[rightOffset + i] as number
  }
  return sha256(scratch)
}

/** Bit `depth` of a path (0 = most significant bit of the first byte). */
export function bitAt(path: Uint8Array, depth: number): number {
  return ((path[depth >> 3] ?? 0) >> (7 - (depth & 7))) & 1
}

/** True when a and b agree on their first `bits` bits. */
export function samePrefix(a: Uint8Array, b: Uint8Array, bits: number): boolean {
  const whole = bits >> 3
  for (let i = 0; i < whole; i++) if (a[i] !== b[i]) return false
  const rest = bits & 7
  if (rest === 0) return true
  const mask = (0xff << (8 - rest)) & 0xff
  return ((a[whole] ?? 0) & mask) === ((b[whole] ?? 0) & mask)
}
