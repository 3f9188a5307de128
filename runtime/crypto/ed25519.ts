// Validator consensus signatures: ed25519 (RFC 8032) over arbitrary messages, 32-byte public keys,
// 64-byte signatures `R || S`. The secret key is the RFC 8032 32-byte seed.
//
// One acceptance rule for every backend, checked here before any backend runs (the libsodium rule):
//   - public key: 32 bytes, a canonical encoding (y < p, and no "negative zero" x) of a curve point
//     that is not of small order;
//   - signature: 64 bytes, S < L (canonical, so a signature cannot be malleated by adding L), R a
//     canonical encoding that is not one of the 8 small-order points;
//   - the cofactorless equation [S]B = R + [k]A, checked by comparing encode([S]B - [k]A) with the
//     R bytes, k = SHA-512(R || A || M) mod L.
// Both backends use that same equation: OpenSSL's (node:crypto, native, the default) and our own
// over noble's point arithmetic (pure JS, the reference). noble's own `verify` is cofactored
// ([8][S]B = [8]R + [8][k]A); it disagrees with OpenSSL on R with a torsion component, so it is not
// used. A fixed rule keeps validators from splitting on a crafted vote.
import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto'
import { ED25519_TORSION_SUBGROUP, ed25519 as noble } from '@noble/curves/ed25519.js'
import { sha512 } from '@noble/hashes/sha2.js'
import { OpenLedgerError } from '../errors.ts'

export const ED25519_SECRET_KEY_BYTES = 32
export const ED25519_PUBLIC_KEY_BYTES = 32
export const ED25519_SIGNATURE_BYTES = 64

export type Ed25519ErrorCode = 'INVALID_SECRET_KEY' | 'BACKEND_UNAVAILABLE'
export class Ed25519Error extends OpenLedgerError<Ed25519ErrorCode> {}

export interface Ed25519KeyPair {
  secretKey: Uint8Array
  publicKey: Uint8Array
}

/** The prime order of the base point. */
const GROUP_ORDER = 2n ** 252n + 27742317777372353535851937790883648493n

// DER wrappers that turn raw key bytes into the SubjectPublicKeyInfo / PKCS#8 forms OpenSSL reads.
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')

const SMALL_ORDER_ENCODINGS = new Set(ED25519_TORSION_SUBGROUP)

function nativeWorks(): boolean {
  try {
    const key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, Buffer.alloc(32)]), format: 'der', type: 'spki' })
    return key.asymmetricKeyType === 'ed25519'
  } catch {
    return false
  }
}

export type Ed25519Backend = 'native' | 'noble'
export const availableBackends: readonly Ed25519Backend[] = nativeWorks() ? ['native', 'noble'] : ['noble']
let backend: Ed25519Backend = availableBackends[0] ?? 'noble'

export function setBackend(name: Ed25519Backend): void {
  if (!availableBackends.includes(name)) throw new Ed25519Error('BACKEND_UNAVAILABLE', `ed25519 backend ${name} is not available`)
  backend = name
}
export function currentBackend(): Ed25519Backend {
  return backend
}

function littleEndian(bytes: Uint8Array): bigint {
  let value = 0n
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i] ?? 0)
  return value
}

function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

/**
 * False for the encodings RFC 8032 forbids: y >= p (2^255 - 19), and x = 0 with the sign bit set
 * (x = 0 only for y = 1 and y = p - 1). Byte comparisons, no field arithmetic.
 */
export function isCanonicalPointEncoding(encoded: Uint8Array): boolean {
  if (encoded.length !== 32) return false
  const top = (encoded[31] ?? 0) & 0x7f
  const signBit = (encoded[31] ?? 0) >> 7
  let middleAllOnes = true
  let middleAllZeros = true
  for (let i = 1; i < 31; i++) {
    if (encoded[i] !== 0xff) middleAllOnes = false
    if (encoded[i] !== 0) middleAllZeros = false
  }
  const low = encoded[0] ?? 0
  if (top === 0x7f && middleAllOnes && low >= 0xed) return false // y >= p
  if (signBit === 1) {
    if (top === 0 && middleAllZeros && low === 1) return false // y = 1, x = 0
    if (top === 0x7f && middleAllOnes && low === 0xec) return false // y = p - 1, x = 0
  }
  return true
}

interface AcceptedPublicKey {
  point: InstanceType<typeof noble.Point>
  keyObject: KeyObject | undefined
}

// Validators' keys are few and verified constantly: remember decoded points and OpenSSL key
// objects for the most recently used ones (insertion order of a Map gives a cheap LRU).
const PUBLIC_KEY_CACHE_SIZE = 4096
const publicKeyCache = new Map<string, AcceptedPublicKey>()

function acceptedPublicKey(publicKey: Uint8Array): AcceptedPublicKey | undefined {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== ED25519_PUBLIC_KEY_BYTES) return undefined
  const id = hexOf(publicKey)
  const cached = publicKeyCache.get(id)
  if (cached !== undefined) {
    publicKeyCache.delete(id)
    publicKeyCache.set(id, cached)
    return cached
  }
  if (!isCanonicalPointEncoding(publicKey)) return undefined
  let point: InstanceType<typeof noble.Point>
  try {
    point = noble.Point.fromBytes(publicKey, false)
  } catch {
    return undefined
  }
  if (point.isSmallOrder()) return undefined
  const accepted: AcceptedPublicKey = { point, keyObject: undefined }
  publicKeyCache.set(id, accepted)
  if (publicKeyCache.size > PUBLIC_KEY_CACHE_SIZE) {
    const oldest = publicKeyCache.keys().next()
    if (oldest.done !== true) publicKeyCache.delete(oldest.value)
  }
  return accepted
}

/** The public-key half of the acceptance rule. */
export function isAcceptablePublicKey(publicKey: Uint8Array): boolean {
  return acceptedPublicKey(publicKey) !== undefined
}

/** The signature-encoding half of the acceptance rule (length, canonical R not of small order, S < L). */
export function isAcceptableSignatureEncoding(signature: Uint8Array): boolean {
  if (!(signature instanceof Uint8Array) || signature.length !== ED25519_SIGNATURE_BYTES) return false
  const r = signature.subarray(0, 32)
  if (!isCanonicalPointEncoding(r) || SMALL_ORDER_ENCODINGS.has(hexOf(r))) return false
  return littleEndian(signature.subarray(32, 64)) < GROUP_ORDER
}

function checkSecretKey(secretKey: Uint8Array): void {
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== ED25519_SECRET_KEY_BYTES) {
    throw new Ed25519Error('INVALID_SECRET_KEY', `ed25519 secret key must be ${ED25519_SECRET_KEY_BYTES} bytes`)
  }
}

/** The key pair whose secret key is `seed` (RFC 8032: the secret key is a 32-byte seed). */
export function generateEd25519FromSeed(seed: Uint8Array): Ed25519KeyPair {
  checkSecretKey(seed)
  return { secretKey: Uint8Array.from(seed), publicKey: ed25519PublicKey(seed) }
}

export function ed25519PublicKey(secretKey: Uint8Array): Uint8Array {
  checkSecretKey(secretKey)
  return noble.getPublicKey(secretKey)
}

/** Deterministic RFC 8032 signature; both backends give the same bytes. */
export function ed25519Sign(secretKey: Uint8Array, message: Uint8Array, using: Ed25519Backend = backend): Uint8Array {
  checkSecretKey(secretKey)
  if (using === 'native' && availableBackends.includes('native')) {
    const key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, secretKey]), format: 'der', type: 'pkcs8' })
    const signature = nodeSign(null, message, key)
    return new Uint8Array(signature.buffer, signature.byteOffset, signature.byteLength)
  }
  return noble.sign(message, secretKey)
}

function verifyWithNoble(accepted: AcceptedPublicKey, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  const r = signature.subarray(0, 32)
  const s = littleEndian(signature.subarray(32, 64))
  const k = littleEndian(sha512.create().update(r).update(publicKey).update(message).digest()) % GROUP_ORDER
  const expectedR = noble.Point.BASE.multiplyUnsafe(s).subtract(accepted.point.multiplyUnsafe(k)).toBytes()
  for (let i = 0; i < 32; i++) if (expectedR[i] !== r[i]) return false
  return true
}

function verifyWithOpenSsl(accepted: AcceptedPublicKey, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  accepted.keyObject ??= createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' })
  return nodeVerify(null, message, accepted.keyObject, signature)
}

/** True only if `signature` is acceptable under the rule above and was made by `publicKey` over `message`. */
export function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array, using: Ed25519Backend = backend): boolean {
  if (!(message instanceof Uint8Array) || !isAcceptableSignatureEncoding(signature)) return false
  const accepted = acceptedPublicKey(publicKey)
  if (accepted === undefined) return false
  if (using === 'native' && availableBackends.includes('native')) return verifyWithOpenSsl(accepted, publicKey, message, signature)
  return verifyWithNoble(accepted, publicKey, message, signature)
}
