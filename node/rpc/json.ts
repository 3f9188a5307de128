// How RPC values travel as JSON, both ways: bigints as decimal strings and byte arrays as 0x-hex —
// the forms `param.decimal()` and `param.hex()` read back.
import { toHex } from '../../runtime/crypto/hash.ts'

export function stringify(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string, converted: unknown) {
    // `this[key]` is the value before toJSON, so a Buffer is seen as bytes, not as { type, data }.
    const raw = this[key]
    if (typeof raw === 'bigint') return raw.toString()
    if (raw instanceof Uint8Array) return toHex(raw)
    return converted
  })
}
