// Hash functions of the chain: sha256 for state and blocks, keccak256 for Ethereum-style addresses.
// node:crypto's one-shot hash is pure computation (no IO) and several times faster than a JS sha256.
import { hash as nodeHash } from 'node:crypto'
import { keccak_256 } from '@noble/hashes/sha3.js'

export type Hash = Uint8Array

export function sha256(data: Uint8Array): Hash {
  const digest = nodeHash('sha256', data, 'buffer')
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength)
}

export function keccak256(data: Uint8Array): Hash {
  return keccak_256(data)
}

/** keccak256(prefix ‖ data) without copying the two into one buffer first. */
export function keccak256Prefixed(prefix: Uint8Array, data: Uint8Array): Hash {
  return keccak_256.create().update(prefix).update(data).digest()
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
