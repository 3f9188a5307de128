// Typed storage values, decoded once.
//
// A storage item's value is the canonical encoding of its schema (`Kind`). Executing a block reads
// the same few items over and over (the sender's account, the treasury, total issuance), and the
// mempool reads every sender's nonce and balance again on admission: decoding the bytes each time
// and encoding every intermediate write cost more than the modules' own logic. So:
// - the decoded form of a value's bytes is remembered by the identity of those bytes (the committed
//   state's cache and the overlay hand out the same Uint8Array for the same stored value), and the
//   bytes an encode produced are remembered with the value they came from, so the next block and the
//   mempool read them without decoding;
// - the overlay keeps writes typed and encodes each key once, when the block's changes are taken.
// Modules read a value, change it in place and store it (staking's validators, models' jobs), so a
// remembered value is never handed out: a read gets its own copy (objects and arrays copied, byte
// arrays and bigints shared as the immutable leaves they are), and a write stores a copy. Copying
// a small record costs a few allocations; decoding it costs a msgpack parse and a schema walk.
import { decodeTrusted, encode } from '../codec/canonical.ts'
import type { Kind } from '../codec/schema.ts'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyKind = Kind<any>

interface Remembered {
  readonly kind: AnyKind
  readonly value: unknown
}

const decodedByBytes = new WeakMap<Uint8Array, Remembered>()

/**
 * A copy of a decoded value that shares nothing its holder could change: plain objects and arrays
 * are copied, byte arrays (never changed in place by the runtime) and primitives are shared.
 */
export function copyValue<T>(value: T): T {
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return value
  if (Array.isArray(value)) return value.map(copyValue) as T
  const copy: Record<string, unknown> = {}
  for (const field in value) copy[field] = copyValue(value[field])
  return copy as T
}

/** The decoded value of stored `bytes` of `kind`, the caller's own copy; decoded once per bytes object. */
export function decodeStored<T>(bytes: Uint8Array, kind: Kind<T>): T {
  const remembered = decodedByBytes.get(bytes)
  if (remembered !== undefined && remembered.kind === kind) return copyValue(remembered.value as T)
  const value = kind.decode(decodeTrusted(bytes), 'storage')
  decodedByBytes.set(bytes, { kind, value: copyValue(value) })
  return value
}

/**
 * The canonical encoding of `value` of `kind`, remembered so reading these bytes back needs no
 * decode. `value` is kept as it is: the caller hands over a copy nobody changes afterwards.
 */
export function encodeStored<T>(kind: Kind<T>, value: T): Uint8Array {
  const bytes = encode(kind.encode(value))
  decodedByBytes.set(bytes, { kind, value })
  return bytes
}

/** A copy of stored bytes that reads back like the original (its decoded value, if remembered, carries over). */
export function copyStored(bytes: Uint8Array): Uint8Array {
  const copy = bytes.slice()
  const remembered = decodedByBytes.get(bytes)
  if (remembered !== undefined) decodedByBytes.set(copy, remembered)
  return copy
}
