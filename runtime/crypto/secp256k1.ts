// Account signatures: secp256k1 ECDSA over a 32-byte digest, 65 bytes `r || s || v` (v in {0, 1}),
// and Ethereum-style addresses (last 20 bytes of keccak256 of the uncompressed public key).
//
// One acceptance rule for every backend, checked here before any backend runs: r and s in
// [1, n-1], s <= n/2 (low-S, so a signature cannot be malleated into a second valid one), v in
// {0, 1}. Two backends compute the same thing: the native libsecp256k1 binding (default, several
// times faster) and pure-JS noble (the reference, used when the binding cannot load).
import { createRequire } from 'node:module'
import { secp256k1 as noble } from '@noble/curves/secp256k1.js'
import { keccak256 } from './hash.ts'

export type Address = Uint8Array
export const SIGNATURE_BYTES = 65
export const ADDRESS_BYTES = 20

const CURVE_ORDER = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n
const HALF_ORDER = CURVE_ORDER >> 1n
// The bounds as 32 big-endian bytes: every recovery checks two scalars against them, and a byte
// comparison costs a fraction of building two bigints 8 bits at a time.
const CURVE_ORDER_BYTES = scalarBytes(CURVE_ORDER)
const HALF_ORDER_BYTES = scalarBytes(HALF_ORDER)

interface NativeSecp256k1 {
  ecdsaSign(digest: Uint8Array, privateKey: Uint8Array): { signature: Uint8Array; recid: number }
  ecdsaRecover(signature: Uint8Array, recid: number, digest: Uint8Array, compressed: boolean): Uint8Array
  publicKeyCreate(privateKey: Uint8Array, compressed: boolean): Uint8Array
  privateKeyVerify(privateKey: Uint8Array): boolean
}

function loadNative(): NativeSecp256k1 | undefined {
  try {
    const require = createRequire(import.meta.url)
    return require('secp256k1/bindings') as NativeSecp256k1
  } catch {
    return undefined
  }
}

const native = loadNative()

export type Secp256k1Backend = 'native' | 'noble'
export const availableBackends: readonly Secp256k1Backend[] = native === undefined ? ['noble'] : ['native', 'noble']
let backend: Secp256k1Backend = native === undefined ? 'noble' : 'native'

export function setBackend(name: Secp256k1Backend): void {
  if (!availableBackends.includes(name)) throw new Error(`secp256k1 backend ${name} is not available`)
  backend = name
}
export function currentBackend(): Secp256k1Backend {
  return backend
}

function scalarBytes(value: bigint): Uint8Array {
  const bytes = new Uint8Array(32)
  for (let i = 31, rest = value; i >= 0; i--, rest >>= 8n) bytes[i] = Number(rest & 0xffn)
  return bytes
}

/** Compares the 32-byte big-endian scalar at `bytes[offset]` with `bound`: negative, zero or positive. */
function compareScalar(bytes: Uint8Array, offset: number, bound: Uint8Array): number {
  for (let i = 0; i < 32; i++) {
    const difference = (bytes[offset + i] as number) - (bound[i] as number)
    if (difference !== 0) return difference
  }
  return 0
}

function isZeroScalar(bytes: Uint8Array, offset: number): boolean {
  let any = 0
  for (let i = 0; i < 32; i++) any |= bytes[offset + i] as number
  return any === 0
}

/** The single acceptance rule, independent of backend. */
export function isAcceptableSignature(signature: Uint8Array): boolean {
  if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_BYTES) return false
  const v = signature[64]
  if (v !== 0 && v !== 1) return false
  // r in [1, n-1], s in [1, n/2]
  return compareScalar(signature, 0, CURVE_ORDER_BYTES) < 0 && !isZeroScalar(signature, 0)
    && compareScalar(signature, 32, HALF_ORDER_BYTES) <= 0 && !isZeroScalar(signature, 32)
}

export function isValidPrivateKey(privateKey: Uint8Array): boolean {
  if (!(privateKey instanceof Uint8Array) || privateKey.length !== 32) return false
  return compareScalar(privateKey, 0, CURVE_ORDER_BYTES) < 0 && !isZeroScalar(privateKey, 0)
}

export function publicKeyToAddress(uncompressed: Uint8Array): Address {
  // drop the 0x04 prefix
  return keccak256(uncompressed.subarray(1)).subarray(12)
}

export function privateKeyToPublicKey(privateKey: Uint8Array): Uint8Array {
  if (!isValidPrivateKey(privateKey)) throw new Error('invalid secp256k1 private key')
  return noble.getPublicKey(privateKey, false)
}

export function privateKeyToAddress(privateKey: Uint8Array): Address {
  return publicKeyToAddress(privateKeyToPublicKey(privateKey))
}

/** Deterministic (RFC 6979) low-S signature of a 32-byte digest. */
export function signDigest(privateKey: Uint8Array, digest: Uint8Array): Uint8Array {
  if (!isValidPrivateKey(privateKey)) throw new Error('invalid secp256k1 private key')
  if (digest.length !== 32) throw new Error('digest must be 32 bytes')
  const out = new Uint8Array(SIGNATURE_BYTES)
  if (backend === 'native' && native !== undefined) {
    const { signature, recid } = native.ecdsaSign(digest, privateKey)
    out.set(signature, 0)
    out[64] = recid
    return out
  }
  const recovered = noble.sign(digest, privateKey, { prehash: false, lowS: true, format: 'recovered' })
  out.set(recovered.subarray(1), 0)
  out[64] = recovered[0] ?? 0
  return out
}

/** The uncompressed public key that made `signature` over `digest`, or undefined if none did. */
export function recoverPublicKey(digest: Uint8Array, signature: Uint8Array, using: Secp256k1Backend = backend): Uint8Array | undefined {
  if (digest.length !== 32 || !isAcceptableSignature(signature)) return undefined
  try {
    if (using === 'native' && native !== undefined) {
      return native.ecdsaRecover(signature.subarray(0, 64), signature[64] ?? 0, digest, false)
    }
    const recovered = new Uint8Array(SIGNATURE_BYTES)
    recovered[0] = signature[64] ?? 0
    recovered.set(signature.subarray(0, 64), 1)
    return noble.Signature.fromBytes(recovered, 'recovered').recoverPublicKey(digest).toBytes(false)
  } catch {
    return undefined
  }
}

export function recoverAddress(digest: Uint8Array, signature: Uint8Array, using: Secp256k1Backend = backend): Address | undefined {
  const publicKey = recoverPublicKey(digest, signature, using)
  return publicKey === undefined ? undefined : publicKeyToAddress(publicKey)
}
