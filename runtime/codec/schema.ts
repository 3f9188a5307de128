// Field schemas: one description of a value gives its canonical encoding, its checked decoding,
// its JSON form (RPC, CLI) and its parsing from JSON. Call arguments, events and storage values
// are all described with these, so no module writes a codec by hand.
import { fromHex, toHex } from '../crypto/hash.ts'
import { CodecError, CodecErrorCode, type Decoded, type Encodable } from './canonical.ts'
import { readAmount, readArray, readBool, readBytes, readString, readUint } from './read.ts'

export interface Kind<T> {
  readonly name: string
  encode(value: T): Encodable
  decode(value: Decoded, field: string): T
  toJson(value: T): unknown
  fromJson(value: unknown, field: string): T
}

export type Infer<K> = K extends Kind<infer T> ? T : never

/**
 * The JSON form `toJson` gives a decoded value: bytes and hashes as 0x-hex strings, amounts as
 * decimal strings, an absent optional as null, structs as objects. The RPC's views are typed with
 * it (node/rpc/contract.ts), so a field added to a schema appears in the view's type at once.
 */
export type Json<T> = unknown extends T ? unknown
  : T extends Uint8Array ? string
  : T extends bigint ? string
  : T extends string | number | boolean | null ? T
  : T extends undefined ? null
  : T extends ReadonlyArray<infer I> ? Array<Json<I>>
  : T extends object ? { [K in keyof T]: Json<T[K]> }
  : never

/** `kind.toJson(value)` typed as the JSON form of the value (every kind here keeps to `Json`). */
export function toJsonOf<T>(kind: Kind<T>, value: T): Json<T> {
  return kind.toJson(value) as Json<T>
}

function wrongJson(field: string, expected: string): never {
  throw new CodecError(CodecErrorCode.wrongType, `${field}: expected ${expected}`)
}

function fixedBytes(name: string, length: number): Kind<Uint8Array> {
  return {
    name,
    encode: (value) => value,
    decode: (value, field) => readBytes(value, field, length),
    toJson: (value) => toHex(value),
    fromJson(value, field) {
      const bytes = typeof value === 'string' ? fromHex(value) : undefined
      if (bytes === undefined || bytes.length !== length) wrongJson(field, `0x-prefixed ${length}-byte hex`)
      return bytes
    },
  }
}

export const address = fixedBytes('address', 20)
export const hash = fixedBytes('hash', 32)

export const amount: Kind<bigint> = {
  name: 'amount',
  encode: (value) => value,
  decode: (value, field) => readAmount(value, field),
  toJson: (value) => value.toString(),
  fromJson(value, field) {
    if (typeof value === 'string' && /^(0|[1-9][0-9]{0,38})$/.test(value)) {
      const parsed = BigInt(value)
      if (parsed < 1n << 128n) return parsed
    }
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value)
    return wrongJson(field, 'a decimal string amount in base units')
  },
}

export const uint: Kind<number> = {
  name: 'uint',
  encode: (value) => value,
  decode: (value, field) => readUint(value, field),
  toJson: (value) => value,
  fromJson(value, field) {
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value
    if (typeof value === 'string' && /^[0-9]{1,15}$/.test(value)) return Number(value)
    return wrongJson(field, 'a non-negative integer')
  },
}

export const bool: Kind<boolean> = {
  name: 'bool',
  encode: (value) => value,
  decode: (value, field) => readBool(value, field),
  toJson: (value) => value,
  fromJson: (value, field) => (typeof value === 'boolean' ? value : wrongJson(field, 'a boolean')),
}

export function string(maxLength: number): Kind<string> {
  return {
    name: 'string',
    encode: (value) => value,
    decode: (value, field) => readString(value, field, maxLength),
    toJson: (value) => value,
    fromJson: (value, field) => (typeof value === 'string' && value.length <= maxLength ? value : wrongJson(field, `a string of at most ${maxLength} characters`)),
  }
}

export function bytes(maxLength: number): Kind<Uint8Array> {
  return {
    name: 'bytes',
    encode: (value) => value,
    decode: (value, field) => readBytes(value, field, undefined, maxLength),
    toJson: (value) => toHex(value),
    fromJson(value, field) {
      const parsed = typeof value === 'string' ? fromHex(value) : undefined
      if (parsed === undefined || parsed.length > maxLength) wrongJson(field, `0x-prefixed hex of at most ${maxLength} bytes`)
      return parsed
    },
  }
}

export function list<T>(item: Kind<T>, maxLength: number): Kind<T[]> {
  return {
    name: `list<${item.name}>`,
    encode: (values) => values.map((value) => item.encode(value)),
    decode(value, field) {
      const items = readArray(value, field)
      if (items.length > maxLength) wrongJson(field, `at most ${maxLength} items`)
      return items.map((entry, i) => item.decode(entry, `${field}[${i}]`))
    },
    toJson: (values) => values.map((value) => item.toJson(value)),
    fromJson(value, field) {
      if (!Array.isArray(value) || value.length > maxLength) wrongJson(field, `an array of at most ${maxLength} items`)
      return value.map((entry, i) => item.fromJson(entry, `${field}[${i}]`))
    },
  }
}

/** A value or nothing: encoded as [] or [value], so absence is never confused with a value. */
export function optional<T>(item: Kind<T>): Kind<T | undefined> {
  return {
    name: `optional<${item.name}>`,
    encode: (value) => (value === undefined ? [] : [item.encode(value)]),
    decode(value, field) {
      const items = readArray(value, field)
      if (items.length > 1) wrongJson(field, 'an optional value ([] or [value])')
      return items.length === 0 ? undefined : item.decode(items[0] ?? null, field)
    },
    toJson: (value) => (value === undefined ? null : item.toJson(value)),
    fromJson: (value, field) => (value === null || value === undefined ? undefined : item.fromJson(value, field)),
  }
}

export type Fields = Record<string, Kind<unknown>>
export type StructOf<F extends Fields> = { [K in keyof F]: Infer<F[K]> }

/** A fixed-order array on the wire, an object in JSON. */
export function struct<F extends Fields>(fields: F): Kind<StructOf<F>> & { readonly fields: F } {
  const entries = Object.entries(fields)
  return {
    name: 'struct',
    fields,
    encode: (value) => entries.map(([key, kind]) => kind.encode((value as Record<string, unknown>)[key])),
    decode(value, field) {
      const items = readArray(value, field, entries.length)
      const out: Record<string, unknown> = {}
      entries.forEach(([key, kind], i) => {
        out[key] = kind.decode(items[i] ?? null, field === '' ? key : `${field}.${key}`)
      })
      return out as StructOf<F>
    },
    toJson(value) {
      const out: Record<string, unknown> = {}
      for (const [key, kind] of entries) out[key] = kind.toJson((value as Record<string, unknown>)[key])
      return out
    },
    fromJson(value, field) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) wrongJson(field, 'an object')
      const input = value as Record<string, unknown>
      for (const key of Object.keys(input)) if (!(key in fields)) wrongJson(field === '' ? key : `${field}.${key}`, 'no such field')
      const out: Record<string, unknown> = {}
      for (const [key, kind] of entries) out[key] = kind.fromJson(input[key], field === '' ? key : `${field}.${key}`)
      return out as StructOf<F>
    },
  }
}
