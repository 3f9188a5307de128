// Hash functions of the chain: sha256 for state and blocks, keccak256 for Ethereum-style addresses
// and transaction digests. Both are pure computation (no IO).
//
// sha256: node:crypto's one-shot hash (OpenSSL). Asked for a latin1 string it allocates no
// ArrayBuffer, which is most of the cost of a small hash: the 32 characters copied into a fresh
// Uint8Array make sha256() ~4x cheaper than asking for a Buffer.
// keccak256: OpenSSL has no Keccak-256 (its sha3-256 pads differently), so it is hash-wasm's
// WebAssembly build: ~7x the speed of the pure-JS @noble/hashes one on the small inputs of every
// transaction (its signing digest, the signer's address). Tests check both against @noble/hashes.
import { hash as nodeHash } from 'node:crypto'
import { createKeccak } from 'hash-wasm'

export type Hash = Uint8Array

export function sha256(data: Uint8Array): Hash {
  const digest = nodeHash('sha256', data, 'binary') // 'binary' is Node's name for latin1
  const out = new Uint8Array(32)
  for (let i = 0; i < 32; i++) out[i] = digest.charCodeAt(i)
  return out
}

// One instance per thread (module): used synchronously from init() to digest(), so never shared
// between two hashes in flight.
const keccak = await createKeccak(256)

export function keccak256(data: Uint8Array): Hash {
  keccak.init()
  keccak.update(data)
  return keccak.digest('binary')
}

/** keccak256(prefix ‖ data) without copying the two into one buffer first. */
export function keccak256Prefixed(prefix: Uint8Array, data: Uint8Array): Hash {
  keccak.init()
  keccak.update(prefix)
  keccak.update(data)
  return keccak.digest('binary')
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let length = 0
  for (const part of parts) length += part.length
  const out = new Uint8Array(length)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

/** An exact string key for a short byte string (hash, address): one latin1 character per byte. */
export function toLatin1(bytes: Uint8Array): string {
  return bytes.length <= 64
    ? String.fromCharCode.apply(null, bytes as unknown as number[])
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

export function toHex(bytes: Uint8Array): string {
  // Buffer's native encoder for all but the shortest inputs: several times faster from 32 bytes
  // (hashes, transactions), and it makes one flat string rather than a chain of concatenations.
  if (bytes.length > 16) return '0x' + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
  let out = '0x'
  for (const byte of bytes) out += HEX[byte]
  return out
}

/** Parses 0x-prefixed (or bare) hex; returns undefined for anything malformed. */
export function fromHex(hex: string): Uint8Array | undefined {
  const body = hex.startsWith('0x') || hex.startsWith('0X') ? hex.slice(2) : hex
  if (body.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(body)) return undefined
  const out = new Uint8Array(body.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(body.slice(i * 2, i * 2 + 2), 16)
  return out
}

const encoder = new TextEncoder()
export function utf8(text: string): Uint8Array {
  return encoder.encode(text)
}
