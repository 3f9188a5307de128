// Typed readers over decoded values: every boundary names the field that is wrong.
import { bytesToBigint, CodecError, CodecErrorCode, type Decoded } from './canonical.ts'

function wrong(field: string, expected: string): never {
  throw new CodecError(CodecErrorCode.wrongType, `${field}: expected ${expected}`)
}

export function readArray(value: Decoded, field: string, length?: number): Decoded[] {
  if (!Array.isArray(value)) wrong(field, 'an array')
  if (length !== undefined && value.length !== length) wrong(field, `an array of ${length} items`)
  return value
}

export function readUint(value: Decoded, field: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > max) wrong(field, `an integer in [0, ${max}]`)
  return value
}

export function readBytes(value: Decoded, field: string, length?: number, maxLength?: number): Uint8Array {
  if (!(value instanceof Uint8Array)) wrong(field, 'bytes')
  if (length !== undefined && value.length !== length) wrong(field, `${length} bytes`)
  if (maxLength !== undefined && value.length > maxLength) wrong(field, `at most ${maxLength} bytes`)
  return value
}

export function readString(value: Decoded, field: string, maxLength = 1024): string {
  if (typeof value !== 'string' || value.length > maxLength) wrong(field, `a string of at most ${maxLength} characters`)
  return value
}

export function readBool(value: Decoded, field: string): boolean {
  if (typeof value !== 'boolean') wrong(field, 'a boolean')
  return value
}

/** Amounts are at most 2^128 - 1 base units (16 bytes). */
export function readAmount(value: Decoded, field: string): bigint {
  const bytes = readBytes(value, field, undefined, 16)
  return bytesToBigint(bytes)
}
