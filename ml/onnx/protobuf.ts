// The few protobuf wire-format pieces the ONNX writer and its checking reader need: a writer of
// varints, fixed32, length-delimited and packed fields that emits exactly the fields it is told to, in
// the order it is told (so callers that write in ascending field-number order get canonical,
// reproducible bytes), and a reader that splits a message into its fields, rejecting truncated or
// malformed input with an OnnxFormatError instead of reading past the end.
import { OnnxFormatError } from './errors.ts'

export const WireType = { varint: 0, fixed64: 1, lengthDelimited: 2, fixed32: 5 } as const
export type WireType = (typeof WireType)[keyof typeof WireType]

const MAX_FIELD_NUMBER = 2 ** 29 - 1
const UINT64_MASK = (1n << 64n) - 1n
const utf8Encoder = new TextEncoder()
const utf8Decoder = new TextDecoder('utf-8', { fatal: true })

/** Accumulates one message; nested messages are encoded first and added with `message()`. */
export class ProtoWriter {
  private readonly chunks: Uint8Array[] = []
  private scratch = new Uint8Array(256)
  private used = 0
  private length = 0

  /** An unsigned varint field (int32 enums and non-negative int64 alike). */
  varint(field: number, value: number | bigint): this {
    this.tag(field, WireType.varint)
    this.rawVarint(value)
    return this
  }

  /** An int64 field: negative values take ten bytes (two's complement), as protobuf's int64 does. */
  int64(field: number, value: number | bigint): this {
    return this.varint(field, value)
  }

  /** A `float` field (fixed32, little-endian). */
  float(field: number, value: number): this {
    this.tag(field, WireType.fixed32)
    this.reserve(4)
    new DataView(this.scratch.buffer).setFloat32(this.used, value, true)
    this.used += 4
    this.length += 4
    return this
  }

  string(field: number, value: string): this {
    return this.bytes(field, utf8Encoder.encode(value))
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WireType.lengthDelimited)
    this.rawVarint(value.length)
    this.append(value)
    return this
  }

  /** An encoded sub-message (the output of another writer's `finish()`). */
  message(field: number, encoded: Uint8Array): this {
    return this.bytes(field, encoded)
  }

  /** A packed repeated varint field (`[packed = true]` int64 / int32); nothing is written for an empty list. */
  packedVarints(field: number, values: ReadonlyArray<number | bigint>): this {
    if (values.length === 0) return this
    const inner = new ProtoWriter()
    for (const value of values) inner.rawVarint(value)
    return this.bytes(field, inner.finish())
  }

  finish(): Uint8Array {
    this.flush()
    if (this.chunks.length === 1) return this.chunks[0] as Uint8Array
    const out = new Uint8Array(this.length)
    let offset = 0
    for (const chunk of this.chunks) {
      out.set(chunk, offset)
      offset += chunk.length
    }
    return out
  }

  private tag(field: number, wireType: WireType): void {
    if (!Number.isInteger(field) || field < 1 || field > MAX_FIELD_NUMBER) throw new RangeError(`invalid protobuf field number ${field}`)
    this.rawVarint(field * 8 + wireType)
  }

  private rawVarint(value: number | bigint): void {
    this.reserve(10)
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) {
      let rest = value
      while (rest >= 0x80) {
        this.scratch[this.used++] = (rest % 0x80) | 0x80
        rest = Math.floor(rest / 0x80)
        this.length++
      }
      this.scratch[this.used++] = rest
      this.length++
      return
    }
    if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new RangeError(`varint value ${value} is not a safe integer`)
    let rest = BigInt.asUintN(64, BigInt(value))
    while (rest >= 0x80n) {
      this.scratch[this.used++] = Number(rest & 0x7fn) | 0x80
      rest >>= 7n
      this.length++
    }
    this.scratch[this.used++] = Number(rest)
    this.length++
  }

  private append(bytes: Uint8Array): void {
    if (bytes.length <= 64) {
      this.reserve(bytes.length)
      this.scratch.set(bytes, this.used)
      this.used += bytes.length
    } else {
      this.flush()
      this.chunks.push(bytes)
    }
    this.length += bytes.length
  }

  private reserve(count: number): void {
    if (this.used + count <= this.scratch.length) return
    this.flush()
    if (count > this.scratch.length) this.scratch = new Uint8Array(count)
  }

  private flush(): void {
    if (this.used === 0) return
    this.chunks.push(this.scratch.slice(0, this.used))
    this.used = 0
  }
}

/** One field as read from the wire: varints as bigint, fixed32/64 and length-delimited payloads as bytes. */
export type ProtoField =
  | { readonly field: number; readonly wireType: typeof WireType.varint; readonly value: bigint }
  | { readonly field: number; readonly wireType: typeof WireType.fixed64 | typeof WireType.fixed32 | typeof WireType.lengthDelimited; readonly value: Uint8Array }

/** Splits one encoded message into its fields, in wire order. Payloads are views into `bytes`. */
export function readFields(bytes: Uint8Array, context: string): ProtoField[] {
  const fields: ProtoField[] = []
  let offset = 0
  while (offset < bytes.length) {
    const [key, afterKey] = readVarint(bytes, offset, context)
    offset = afterKey
    const field = Number(key >> 3n)
    const wireType = Number(key & 7n)
    if (field < 1 || field > MAX_FIELD_NUMBER) throw new OnnxFormatError('ONNX_BAD_FIELD', `${context}: invalid field number`, { details: { context, field } })
    switch (wireType) {
      case WireType.varint: {
        const [value, next] = readVarint(bytes, offset, context)
        fields.push({ field, wireType, value })
        offset = next
        break
      }
      case WireType.fixed64:
      case WireType.fixed32: {
        const size = wireType === WireType.fixed64 ? 8 : 4
        fields.push({ field, wireType, value: take(bytes, offset, size, context) })
        offset += size
        break
      }
      case WireType.lengthDelimited: {
        const [length, next] = readVarint(bytes, offset, context)
        if (length > BigInt(bytes.length - next)) throw truncated(context, next)
        fields.push({ field, wireType, value: bytes.subarray(next, next + Number(length)) })
        offset = next + Number(length)
        break
      }
      default:
        throw new OnnxFormatError('ONNX_BAD_WIRE_TYPE', `${context}: unsupported wire type ${wireType}`, { details: { context, field, wireType, offset } })
    }
  }
  return fields
}

/** Reads an unsigned varint (at most ten bytes, at most 64 bits); returns it and the offset after it. */
export function readVarint(bytes: Uint8Array, start: number, context: string): [bigint, number] {
  let value = 0n
  let shift = 0n
  for (let offset = start; offset < start + 10; offset++) {
    if (offset >= bytes.length) throw truncated(context, start)
    const byte = bytes[offset] as number
    value |= BigInt(byte & 0x7f) << shift
    if ((byte & 0x80) === 0) {
      if (value > UINT64_MASK) break
      return [value, offset + 1]
    }
    shift += 7n
  }
  throw new OnnxFormatError('ONNX_BAD_VARINT', `${context}: varint longer than 64 bits`, { details: { context, offset: start } })
}

/** Reinterprets a 64-bit varint as a signed int64, as protobuf's int64 does. */
export function toInt64(value: bigint): bigint {
  return BigInt.asIntN(64, value)
}

/** Decodes all values of a repeated varint field, accepting both packed and unpacked occurrences. */
export function repeatedVarints(fields: readonly ProtoField[], field: number, context: string): bigint[] {
  const values: bigint[] = []
  for (const entry of fields) {
    if (entry.field !== field) continue
    if (entry.wireType === WireType.varint) values.push(entry.value)
    else if (entry.wireType === WireType.lengthDelimited) {
      let offset = 0
      while (offset < entry.value.length) {
        const [value, next] = readVarint(entry.value, offset, context)
        values.push(value)
        offset = next
      }
    } else throw wrongWireType(context, field, entry.wireType)
  }
  return values
}

/** The payload of every length-delimited occurrence of `field`. */
export function repeatedBytes(fields: readonly ProtoField[], field: number, context: string): Uint8Array[] {
  const values: Uint8Array[] = []
  for (const entry of fields) {
    if (entry.field !== field) continue
    if (entry.wireType !== WireType.lengthDelimited) throw wrongWireType(context, field, entry.wireType)
    values.push(entry.value)
  }
  return values
}

/** The last occurrence of a length-delimited field (protobuf's rule for a repeated singular field), if any. */
export function optionalBytes(fields: readonly ProtoField[], field: number, context: string): Uint8Array | undefined {
  return repeatedBytes(fields, field, context).at(-1)
}

export function optionalString(fields: readonly ProtoField[], field: number, context: string): string | undefined {
  const bytes = optionalBytes(fields, field, context)
  if (bytes === undefined) return undefined
  try {
    return utf8Decoder.decode(bytes)
  } catch (cause) {
    throw new OnnxFormatError('ONNX_BAD_UTF8', `${context}: field ${field} is not valid UTF-8`, { cause, details: { context, field } })
  }
}

export function optionalVarint(fields: readonly ProtoField[], field: number, context: string): bigint | undefined {
  let found: bigint | undefined
  for (const entry of fields) {
    if (entry.field !== field) continue
    if (entry.wireType !== WireType.varint) throw wrongWireType(context, field, entry.wireType)
    found = entry.value
  }
  return found
}

function take(bytes: Uint8Array, offset: number, size: number, context: string): Uint8Array {
  if (offset + size > bytes.length) throw truncated(context, offset)
  return bytes.subarray(offset, offset + size)
}

function truncated(context: string, offset: number): OnnxFormatError {
  return new OnnxFormatError('ONNX_TRUNCATED', `${context}: input ends inside a field`, { details: { context, offset } })
}

function wrongWireType(context: string, field: number, wireType: number): OnnxFormatError {
  return new OnnxFormatError('ONNX_BAD_WIRE_TYPE', `${context}: field ${field} has the wrong wire type`, { details: { context, field, wireType } })
}
