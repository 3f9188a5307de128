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
  const fast = encodeWithoutStrings(value)
  return fast ?? msgpackReference.encode(value)
}

/**
 * msgpackr itself: the definition of the encoding. encode() and decodeTrusted() take their own
 * shorter paths for the values they see most and fall back to this one for the rest; the tests
 * check that both give exactly the same bytes and values.
 */
export const msgpackReference = {
  encode(value: Encodable): Uint8Array {
    const bytes = packr.pack(normalize(value, 0))
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  },
  decodeTrusted(bytes: Uint8Array): Decoded {
    let value: unknown
    try {
      value = packr.unpack(bytes)
    } catch (cause) {
      throw new CodecError(CodecErrorCode.invalidEncoding, 'malformed msgpack', { cause })
    }
    return checkDecoded(value, 0)
  },
  /** decode() by the definition: msgpackr's value, accepted only if msgpackr re-encodes it to the input. */
  decode(bytes: Uint8Array): Decoded {
    const checked = msgpackReference.decodeTrusted(bytes)
    let again: Uint8Array
    try {
      again = msgpackReference.encode(checked)
    } catch (cause) {
      throw new CodecError(CodecErrorCode.nonCanonical, 'value cannot be re-encoded', { cause })
    }
    if (!bytesEqual(again, bytes)) throw new CodecError(CodecErrorCode.nonCanonical, 'encoding is not canonical')
    return checked
  },
}

// ---------------------------------------------------------------------------------------------
// The short paths. Every state read and write, receipt, event and transaction goes through the
// codec, so it is worth a writer and a reader of our own for the value set without strings:
// nil, booleans, safe integers, byte strings, amounts and arrays. They make msgpackr's exact
// choices (header sizes, integer forms: see msgpackr/pack.js) and give way to msgpackr for
// anything else (a string, an error to report), so the bytes and the errors stay msgpackr's.

const INITIAL_SCRATCH_BYTES = 4096
const MAX_KEPT_SCRATCH_BYTES = 1024 * 1024
let scratch = new Uint8Array(INITIAL_SCRATCH_BYTES)
let scratchView = new DataView(scratch.buffer)
let at = 0
/** a string was met: the value goes to msgpackr */
const GIVE_WAY = Symbol('give way')

/** A block body may have grown the scratch to megabytes: do not keep that for state values. */
function releaseLargeScratch(): void {
  if (scratch.length <= MAX_KEPT_SCRATCH_BYTES) return
  scratch = new Uint8Array(INITIAL_SCRATCH_BYTES)
  scratchView = new DataView(scratch.buffer)
}

function room(bytes: number): void {
  if (at + bytes <= scratch.length) return
  const grown = new Uint8Array(Math.max(scratch.length * 2, at + bytes))
  grown.set(scratch.subarray(0, at))
  scratch = grown
  scratchView = new DataView(grown.buffer)
}

function writeLength(length: number, small: number, smallLimit: number, op16: number, op32: number): void {
  room(5)
  if (length < smallLimit) scratch[at++] = small | length
  else if (length < 0x10000) {
    scratch[at++] = op16
    scratch[at++] = length >> 8
    scratch[at++] = length & 0xff
  } else {
    scratch[at++] = op32
    scratchView.setUint32(at, length)
    at += 4
  }
}

function writeBytes(bytes: Uint8Array): void {
  const length = bytes.length
  room(5 + length)
  if (length < 0x100) {
    scratch[at++] = 0xc4
    scratch[at++] = length
  } else writeLength(length, 0, 0, 0xc5, 0xc6)
  scratch.set(bytes, at)
  at += length
}

function writeNumber(value: number): void {
  if (!Number.isSafeInteger(value)) throw new CodecError(CodecErrorCode.wrongType, `number ${value} is not a safe integer`)
  room(9)
  if (value >>> 0 === value) {
    if (value < 0x80) scratch[at++] = value
    else if (value < 0x100) {
      scratch[at++] = 0xcc
      scratch[at++] = value
    } else if (value < 0x10000) {
      scratch[at++] = 0xcd
      scratch[at++] = value >> 8
      scratch[at++] = value & 0xff
    } else {
      scratch[at++] = 0xce
      scratchView.setUint32(at, value)
      at += 4
    }
  } else if (value >> 0 === value) {
    if (value >= -0x20) scratch[at++] = 0x100 + value
    else if (value >= -0x80) {
      scratch[at++] = 0xd0
      scratch[at++] = value + 0x100
    } else if (value >= -0x8000) {
      scratch[at++] = 0xd1
      scratchView.setInt16(at, value)
      at += 2
    } else {
      scratch[at++] = 0xd2
      scratchView.setInt32(at, value)
      at += 4
    }
  } else {
    // beyond 32 bits msgpackr writes a float64 (it holds every safe integer exactly)
    scratch[at++] = 0xcb
    scratchView.setFloat64(at, value)
    at += 8
  }
}

function writeValue(value: Encodable, depth: number): void {
  if (depth > MAX_DEPTH) throw new CodecError(CodecErrorCode.tooLarge, `value nested deeper than ${MAX_DEPTH}`)
  if (value instanceof Uint8Array) return writeBytes(value)
  switch (typeof value) {
    case 'number':
      return writeNumber(value)
    case 'bigint':
      return writeBytes(bigintToBytes(value))
    case 'boolean':
      room(1)
      scratch[at++] = value ? 0xc3 : 0xc2
      return
    case 'string':
      throw GIVE_WAY
  }
  if (value === null) {
    room(1)
    scratch[at++] = 0xc0
    return
  }
  if (Array.isArray(value)) {
    const items = value as readonly Encodable[]
    writeLength(items.length, 0x90, 0x10, 0xdc, 0xdd)
    for (let i = 0; i < items.length; i++) writeValue(items[i] as Encodable, depth + 1)
    return
  }
  throw new CodecError(CodecErrorCode.wrongType, `cannot encode ${typeof value}`)
}

/** The encoding of a value without strings, or undefined for msgpackr to encode it. */
function encodeWithoutStrings(value: Encodable): Uint8Array | undefined {
  at = 0
  try {
    writeValue(value, 0)
    return scratch.slice(0, at)
  } catch (error) {
    if (error === GIVE_WAY) return undefined
    throw error
  } finally {
    releaseLargeScratch()
  }
}

// The reader's input and position: module state like the writer's scratch (decoding never
// re-enters), so a value read allocates only what it returns, not a cursor, view or closure.
const EMPTY_INPUT = new Uint8Array(0)
let input: Uint8Array = EMPTY_INPUT
let pos = 0

/** Where `n` more input bytes start; gives way past the end. */
function take(n: number): number {
  if (pos + n > input.length) throw GIVE_WAY
  const start = pos
  pos += n
  return start
}

const u16 = (p: number): number => (((input[p] as number) << 8) | (input[p + 1] as number)) >>> 0
const u32 = (p: number): number => (((input[p] as number) << 24) | ((input[p + 1] as number) << 16) | ((input[p + 2] as number) << 8) | (input[p + 3] as number)) >>> 0

/** Reads one value of the string-free set at `pos`, or gives way (strings, floats, maps, bad input). */
function readValue(depth: number): Decoded {
  if (depth > MAX_DEPTH || pos >= input.length) throw GIVE_WAY
  const type = input[pos++] as number
  if (type < 0x80) return type
  if (type >= 0xe0) return type - 0x100
  if (type >= 0x90 && type <= 0x9f) return readItems(depth, type & 0x0f)
  switch (type) {
    case 0xc0:
      return null
    case 0xc2:
      return false
    case 0xc3:
      return true
    case 0xc4:
    case 0xc5:
    case 0xc6: {
      const size = type === 0xc4 ? 1 : type === 0xc5 ? 2 : 4
      const p = take(size)
      const length = size === 1 ? (input[p] as number) : size === 2 ? u16(p) : u32(p)
      const start = take(length)
      return new Uint8Array(input.buffer, input.byteOffset + start, length) // a plain view, as checkDecoded gives
    }
    case 0xcc:
      return input[take(1)] as number
    case 0xcd:
      return u16(take(2))
    case 0xce:
      return u32(take(4))
    case 0xd0:
      return ((input[take(1)] as number) << 24) >> 24
    case 0xd1:
      return (u16(take(2)) << 16) >> 16
    case 0xd2:
      return u32(take(4)) | 0
    case 0xcb: {
      const p = take(8)
      const value = new DataView(input.buffer, input.byteOffset + p, 8).getFloat64(0)
      if (!Number.isSafeInteger(value)) throw GIVE_WAY
      return value
    }
    case 0xdc:
      return readItems(depth, u16(take(2)))
    case 0xdd:
      return readItems(depth, u32(take(4)))
  }
  throw GIVE_WAY
}

function readItems(depth: number, count: number): Decoded[] {
  if (count > input.length - pos) throw GIVE_WAY // every item takes at least one byte
  const items = new Array<Decoded>(count)
  for (let i = 0; i < count; i++) items[i] = readValue(depth + 1)
  return items
}

/** Reads all of `bytes` as one value; undefined when it gives way or leaves bytes unread. */
function readWhole(bytes: Uint8Array): Decoded | undefined {
  input = bytes
  pos = 0
  try {
    const value = readValue(0)
    return pos === bytes.length ? value : undefined
  } catch (error) {
    if (error === GIVE_WAY) return undefined
    throw error
  } finally {
    input = EMPTY_INPUT
  }
}

/** Decode canonical bytes; throws CodecError for anything that is not exactly what encode() writes. */
export function decode(bytes: Uint8Array, maxBytes = 4 * 1024 * 1024): Decoded {
  if (!(bytes instanceof Uint8Array)) throw new CodecError(CodecErrorCode.wrongType, 'bytes must be a Uint8Array')
  if (bytes.length > maxBytes) throw new CodecError(CodecErrorCode.tooLarge, `encoding is ${bytes.length} bytes, limit ${maxBytes}`)
  if (bytes.length === 0) throw new CodecError(CodecErrorCode.invalidEncoding, 'empty input')
  return readCanonical(bytes) ?? msgpackReference.decode(bytes)
}

/**
 * The short path of decode(): a string-free value read by our reader, accepted when our writer
 * (msgpackr's exact bytes) writes the input back. Anything else (a string, trailing bytes, a
 * non-canonical form, malformed input) goes to msgpackr, so every refusal is the reference's.
 */
function readCanonical(bytes: Uint8Array): Decoded | undefined {
  const value = readWhole(bytes)
  return value !== undefined && writesBack(value, bytes) ? value : undefined
}

/** Whether encode(value) is exactly `bytes`, compared in the scratch buffer without a copy. */
function writesBack(value: Decoded, bytes: Uint8Array): boolean {
  at = 0
  try {
    writeValue(value, 0)
    if (at !== bytes.length) return false
    for (let i = 0; i < at; i++) if (scratch[i] !== bytes[i]) return false
    return true
  } catch (error) {
    if (error === GIVE_WAY || error instanceof CodecError) return false
    throw error
  } finally {
    releaseLargeScratch()
  }
}

/**
 * Decodes bytes this node wrote itself (its own state and database records): the same value
 * checks as decode() but without the canonical re-encoding, which only untrusted input needs.
 */
export function decodeTrusted(bytes: Uint8Array): Decoded {
  const value = bytes.length > 0 ? readWhole(bytes) : undefined
  return value !== undefined ? value : msgpackReference.decodeTrusted(bytes)
}

function checkDecoded(value: unknown, depth: number): Decoded {
  if (depth > MAX_DEPTH) throw new CodecError(CodecErrorCode.tooLarge, `value nested deeper than ${MAX_DEPTH}`)
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value
  if (typeof value === 'number') {
    if (Number.isInteger(value)) {
      // msgpack's uint 64 / int 64 reach here as a rounded double: name the limit, not a float
      if (!Number.isSafeInteger(value)) throw new CodecError(CodecErrorCode.nonCanonical, `integer ${value > 0 ? 'above 2^53 − 1' : 'below −(2^53 − 1)'} is not allowed (integers are at most ${Number.MAX_SAFE_INTEGER}; larger amounts are byte strings)`)
      return value
    }
    throw new CodecError(CodecErrorCode.nonCanonical, 'floats are not allowed')
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
