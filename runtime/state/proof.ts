// State proofs: that a key holds a value, or holds nothing, in the state whose root a block header
// commits to. Pure and self-contained, so a light client needs only this file and the hashing rules.
//
// A proof lists the sibling hashes along the key's path, from the root's children down to the
// depth where the path ends: at the key's own leaf (inclusion), at an empty subtree, or at the
// leaf of another key that is alone under that prefix (non-inclusion; the proof then carries that
// leaf's key hash and value hash). The verifier rebuilds the root from the bottom up.
//
// Encoding (canonical msgpack): [siblings: bytes32[], leaf: null | [keyHash: bytes32, valueHash: bytes32]]
import { CodecError, bytesEqual, decode, encode, type Decoded } from '../codec/canonical.ts'
import { readArray, readBytes } from '../codec/read.ts'
import { StateError } from './errors.ts'
import { EMPTY_HASH, HASH_BYTES, MAX_STATE_KEY_BYTES, MAX_STATE_VALUE_BYTES, PATH_BITS, bitAt, innerHash, keyPath, leafHash, samePrefix, valueHash } from './treeHash.ts'

export interface ProofLeaf {
  readonly keyHash: Uint8Array
  readonly valueHash: Uint8Array
}

export interface StateProof {
  /** sibling hashes from depth 1 (a child of the root) down to the end of the path */
  readonly siblings: readonly Uint8Array[]
  /** for non-inclusion: the other key's leaf found where the path ends */
  readonly leaf?: ProofLeaf
}

/** Largest encoded proof: 256 siblings of 32 bytes plus headers. */
const MAX_PROOF_BYTES = 16 * 1024

export function encodeStateProof(proof: StateProof): Uint8Array {
  return encode([proof.siblings, proof.leaf === undefined ? null : [proof.leaf.keyHash, proof.leaf.valueHash]])
}

/** Decodes proof bytes; anything else (including non-canonical bytes) is a STATE_PROOF_MALFORMED error. */
export function decodeStateProof(bytes: Uint8Array): StateProof {
  try {
    const [rawSiblings, rawLeaf] = readArray(decode(bytes, MAX_PROOF_BYTES), 'proof', 2) as [Decoded, Decoded]
    const list = readArray(rawSiblings, 'proof.siblings')
    if (list.length > PATH_BITS) throw new StateError('STATE_PROOF_MALFORMED', `proof.siblings: at most ${PATH_BITS} hashes`)
    const siblings = list.map((sibling, i) => readBytes(sibling, `proof.siblings[${i}]`, HASH_BYTES))
    if (rawLeaf === null) return { siblings }
    const [keyHash, hashOfValue] = readArray(rawLeaf, 'proof.leaf', 2) as [Decoded, Decoded]
    return { siblings, leaf: { keyHash: readBytes(keyHash, 'proof.leaf.keyHash', HASH_BYTES), valueHash: readBytes(hashOfValue, 'proof.leaf.valueHash', HASH_BYTES) } }
  } catch (cause) {
    if (cause instanceof StateError) throw cause
    if (cause instanceof CodecError) throw new StateError('STATE_PROOF_MALFORMED', `malformed state proof: ${cause.message}`, { cause })
    throw cause
  }
}

const isHash = (value: unknown): value is Uint8Array => value instanceof Uint8Array && value.length === HASH_BYTES

/**
 * True when `proof` shows that, in the state with this root, `key` holds `value`
 * (or holds nothing when `value` is undefined). Never throws: malformed input is simply false.
 */
export function verifyStateProof(root: Uint8Array, key: Uint8Array, value: Uint8Array | undefined, proof: StateProof): boolean {
  if (!isHash(root) || !(key instanceof Uint8Array) || key.length > MAX_STATE_KEY_BYTES) return false
  if (value !== undefined && (!(value instanceof Uint8Array) || value.length > MAX_STATE_VALUE_BYTES)) return false
  if (typeof proof !== 'object' || proof === null) return false
  const siblings: unknown = proof.siblings
  if (!Array.isArray(siblings) || siblings.length > PATH_BITS || !siblings.every(isHash)) return false
  const depth = siblings.length
  const path = keyPath(key)
  let node: Uint8Array
  if (value !== undefined) {
    // inclusion: the path ends at this key's own leaf
    if (proof.leaf !== undefined) return false
    node = leafHash(path, valueHash(value))
  } else if (proof.leaf === undefined) {
    node = EMPTY_HASH
  } else {
    // non-inclusion by another leaf: it must be a different key sharing the path down to here,
    // since a leaf sits where its path stops being shared with every other key
    const { keyHash, valueHash: otherValueHash } = proof.leaf
    if (!isHash(keyHash) || !isHash(otherValueHash)) return false
    if (bytesEqual(keyHash, path) || !samePrefix(keyHash, path, depth)) return false
    node = leafHash(keyHash, otherValueHash)
  }
  for (let d = depth - 1; d >= 0; d--) {
    const sibling = siblings[d] as Uint8Array
    node = bitAt(path, d) === 0 ? innerHash(node, sibling) : innerHash(sibling, node)
  }
  return bytesEqual(node, root)
}
