// RLP (Ethereum's recursive length prefix), for Ethereum-signed transactions only. Decoding is
// strict as geth's is: a single byte below 0x80 must be itself, lengths are minimal (no leading
// zero bytes, no long form for lengths under 56), no trailing bytes. So one value has one
// encoding, and a transaction's keccak hash names it uniquely.
import { bigintToBytes, CodecError, CodecErrorCode } from './canonical.ts'

export type RlpValue = Uint8Array | readonly RlpValue[]
export type RlpDecoded = Uint8Array | RlpDecoded[]

const MAX_DEPTH = 16

function lengthBytes(length: number): number[] {
  const out: number[] = []
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) out.unshift(rest % 256)
  return out
}

function header(length: number, shortBase: number): number[] {
  return length < 56 ? [shortBase + length] : [shortBase + 55 + lengthBytes(length).length, ...lengthBytes(length)]
}

function encodeParts(value: RlpValue, out: Uint8Array[]): number {
  if (value instanceof Uint8Array) {
    if (value.length === 1 && (value[0] as number) < 0x80) {
      out.push(value)
      return 1
    }
    const head = Uint8Array.from(header(value.length, 0x80))
    out.push(head, value)
    return head.length + value.length
  }
  const items: Uint8Array[] = []
  let length = 0
  for (const item of value) length += encodeParts(item, items)
  const head = Uint8Array.from(header(length, 0xc0))
  out.push(head, ...items)
  return head.length + length
}

export function encodeRlp(value: RlpValue): Uint8Array {
  const parts: Uint8Array[] = []
  const length = encodeParts(value, parts)
  const out = new Uint8Array(length)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

/** An unsigned integer as RLP wants it: minimal big-endian bytes, zero as the empty string. */
export function rlpUint(value: bigint | number): Uint8Array {
  return bigintToBytes(BigInt(value))
}

function bad(message: string): never {
  throw new CodecError(CodecErrorCode.invalidEncoding, `rlp: ${message}`)
}

function readLength(bytes: Uint8Array, offset: number, size: number): number {
  if (offset + size > bytes.length) bad('length runs past the end')
  if (bytes[offset] === 0) bad('length has a leading zero byte')
  let length = 0
  for (let i = 0; i < size; i++) length = length * 256 + (bytes[offset + i] as number)
  if (length < 56) bad('long form for a length under 56')
  return length
}

function decodeAt(bytes: Uint8Array, offset: number, depth: number): { value: RlpDecoded; end: number } {
  if (depth > MAX_DEPTH) bad(`nested deeper than ${MAX_DEPTH}`)
  const first = bytes[offset]
  if (first === undefined) bad('unexpected end')
  if (first < 0x80) return { value: bytes.subarray(offset, offset + 1), end: offset + 1 }
  if (first < 0xc0) {
    let start = offset + 1
    let length = first - 0x80
    if (first > 0xb7) {
      const size = first - 0xb7
      length = readLength(bytes, start, size)
      start += size
    }
    const end = start + length
    if (end > bytes.length) bad('string runs past the end')
    const value = bytes.subarray(start, end)
    if (length === 1 && (value[0] as number) < 0x80) bad('single byte below 0x80 must encode as itself')
    return { value, end }
  }
  let start = offset + 1
  let length = first - 0xc0
  if (first > 0xf7) {
    const size = first - 0xf7
    length = readLength(bytes, start, size)
    start += size
  }
  const end = start + length
  if (end > bytes.length) bad('list runs past the end')
  const items: RlpDecoded[] = []
  let cursor = start
  while (cursor < end) {
    const item = decodeAt(bytes, cursor, depth + 1)
    if (item.end > end) bad('item runs past its list')
    items.push(item.value)
    cursor = item.end
  }
  return { value: items, end }
}

/** Decodes exactly one RLP value filling `bytes`; throws CodecError on anything non-canonical. */
export function decodeRlp(bytes: Uint8Array): RlpDecoded {
  const { value, end } = decodeAt(bytes, 0, 0)
  if (end !== bytes.length) bad('trailing bytes')
  return value
}
