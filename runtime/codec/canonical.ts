// Canonical encoding for everything that is hashed or signed.
//
// Values are msgpack, written by msgpackr, restricted to: nil, booleans, safe integers, UTF-8
// strings, byte strings and arrays (fixed field order; no maps, no floats, no extensions).
// Amounts (bigints up to 1e27 base units, beyond 64 bits) are byte strings holding the minimal
// big-endian magnitude (zero is the empty string), so they never depend on msgpack's 64-bit limit.
// Canonical means: decoding and re-encoding gives the same bytes. Anything else is rejected, which
// also rejects non-minimal headers, floats that hold integers, trailing bytes and maps.
import { Packr } from 'msgpackr'

export type Encodable = null | boolean | number | string | Uint8Array | bigint | readonly Encodable[]
/** What decoding produces: the encodable set with bigints turned into byte strings. */
export type Decoded = null | boolean | number | string | Uint8Array | Decoded[]

export const CodecErrorCode = {
  invalidEncoding: 'INVALID_ENCODING',
  nonCanonical: 'NON_CANONICAL',
  tooLarge: 'TOO_LARGE',
  wrongType: 'WRONG_TYPE',
} as const
export type CodecErrorCode = (typeof CodecErrorCode)[keyof typeof CodecErrorCode]

export class CodecError extends Error {
  readonly code: CodecErrorCode
  constructor(code: CodecErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'CodecError'
    this.code = code
  }
}

const packr = new Packr({ useRecords: false, moreTypes: false, bundleStrings: false, int64AsType: 'number', mapsAsObjects: true })

const MAX_DEPTH = 32

function normalize(value: Encodable, depth: number): unknown {
  if (depth > MAX_DEPTH) throw new CodecError(CodecErrorCode.tooLarge, `value nested deeper than ${MAX_DEPTH}`)
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new CodecError(CodecErrorCode.wrongType, `number ${value} is not a safe integer`)
    return value
  }
  if (typeof value === 'bigint') return bigintToBytes(value)
  if (value instanceof Uint8Array) return value
  if (Array.isArray(value)) return value.map((item) => normalize(item, depth + 1))
  throw new CodecError(CodecErrorCode.wrongType, `cannot encode ${typeof value}`)
}

export function encode(value: Encodable): Uint8Array {
  const bytes = packr.pack(normalize(value, 0))
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** Decode canonical bytes; throws CodecError for anything that is not exactly what encode() writes. */
export function decode(bytes: Uint8Array, maxBytes = 4 * 1024 * 1024): Decoded {
  if (!(bytes instanceof Uint8Array)) throw new CodecError(CodecErrorCode.wrongType, 'bytes must be a Uint8Array')
  if (bytes.length > maxBytes) throw new CodecError(CodecErrorCode.tooLarge, `encoding is ${bytes.length} bytes, limit ${maxBytes}`)
  if (bytes.length === 0) throw new CodecError(CodecErrorCode.invalidEncoding, 'empty input')
  let value: unknown
  try {
    value = packr.unpack(bytes)
  } catch (cause) {
    throw new CodecError(CodecErrorCode.invalidEncoding, 'malformed msgpack', { cause })
  }
  const checked = checkDecoded(value, 0)
  let again: Uint8Array
  try {
    again = encode(checked)
  } catch (cause) {
    throw new CodecError(CodecErrorCode.nonCanonical, 'value cannot be re-encoded', { cause })
  }
  if (!bytesEqual(again, bytes)) throw new CodecError(CodecErrorCode.nonCanonical, 'encoding is not canonical')
  return checked
}

/**
 * Decodes bytes this node wrote itself (its own state and database records): the same value
 * checks as decode() but without the canonical re-encoding, which only untrusted input needs.
 */
export function decodeTrusted(bytes: Uint8Array): Decoded {
  let value: unknown
  try {
    value = packr.unpack(bytes)
  } catch (cause) {
    throw new CodecError(CodecErrorCode.invalidEncoding, 'malformed msgpack', { cause })
  }
  return checkDecoded(value, 0)
}

function checkDecoded(value: unknown, depth: number): Decoded {
  if (depth > MAX_DEPTH) throw new CodecError(CodecErrorCode.tooLarge, `value nested deeper than ${MAX_DEPTH}`)
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new CodecError(CodecErrorCode.nonCanonical, 'floats are not allowed')
    return value
  }
  if (value instanceof Uint8Array) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
  if (Array.isArray(value)) return value.map((item) => checkDecoded(item, depth + 1))
  throw new CodecError(CodecErrorCode.nonCanonical, `unsupported msgpack type ${value === undefined ? 'undefined' : typeof value}`)
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

const MAX_SAFE_BIGINT = BigInt(Number.MAX_SAFE_INTEGER)
/** bytes that always fit a double exactly (6 × 8 = 48 bits) */
const SAFE_BYTES = 6

/** Minimal big-endian magnitude of a non-negative bigint; 0n is the empty byte string. */
export function bigintToBytes(value: bigint): Uint8Array {
  if (value < 0n) throw new CodecError(CodecErrorCode.wrongType, 'negative amounts cannot be encoded')
  if (value === 0n) return new Uint8Array(0)
  // amounts are read and written by every transaction (fees, balances): small ones without a string
  if (value <= MAX_SAFE_BIGINT) {
    let rest = Number(value)
    let length = 0
    for (let m = rest; m >= 1; m = Math.floor(m / 256)) length++
    const out = new Uint8Array(length)
    for (let i = length - 1; i >= 0; i--) {
      out[i] = rest % 256
      rest = Math.floor(rest / 256)
    }
    return out
  }
  const hex = value.toString(16)
  const bytes = Buffer.from(hex.length % 2 === 1 ? '0' + hex : hex, 'hex')
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

export function bytesToBigint(bytes: Uint8Array): bigint {
  if (bytes.length > 0 && bytes[0] === 0) throw new CodecError(CodecErrorCode.nonCanonical, 'amount has a leading zero byte')
  if (bytes.length <= SAFE_BYTES) {
    let value = 0
    for (let i = 0; i < bytes.length; i++) value = value * 256 + (bytes[i] as number)
    return BigInt(value)
  }
  // one native parse instead of a bigint shift per byte
  return BigInt('0x' + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex'))
}
