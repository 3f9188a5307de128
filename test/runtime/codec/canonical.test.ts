import t from 'tap'
import fc from 'fast-check'
import { decode, encode, CodecError, bigintToBytes, bytesToBigint, type Encodable } from '../../../runtime/codec/canonical.ts'

const encodable: fc.Arbitrary<Encodable> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.maxSafeNat(),
    fc.integer({ min: -(2 ** 31), max: 2 ** 31 }),
    fc.string({ unit: 'grapheme', maxLength: 300 }),
    fc.uint8Array({ maxLength: 300 }),
    fc.array(tie('value'), { maxLength: 5 }),
  ),
})).value as fc.Arbitrary<Encodable>

t.test('encode/decode round-trips and re-encodes to the same bytes', async (t) => {
  fc.assert(fc.property(encodable, (value) => {
    const bytes = encode(value)
    const again = encode(decode(bytes))
    t.same(Buffer.from(again), Buffer.from(bytes))
  }), { seed: 42, numRuns: 500 })
})

t.test('amount bytes are minimal and round-trip up to 1e27', async (t) => {
  fc.assert(fc.property(fc.bigInt({ min: 0n, max: 10n ** 27n }), (amount) => {
    const bytes = bigintToBytes(amount)
    t.equal(bytesToBigint(bytes), amount)
    if (bytes.length > 0) t.not(bytes[0], 0)
  }), { seed: 7, numRuns: 300 })
  t.throws(() => bytesToBigint(Uint8Array.of(0, 1)), CodecError)
})

t.test('amount conversions agree with the byte-by-byte definition on both sides of the fast paths', async (t) => {
  const reference = (bytes: Uint8Array): bigint => bytes.reduce((value, byte) => (value << 8n) | BigInt(byte), 0n)
  const referenceBytes = (value: bigint): number[] => {
    const out: number[] = []
    for (let rest = value; rest > 0n; rest >>= 8n) out.unshift(Number(rest & 0xffn))
    return out
  }
  const edges = [0n, 1n, 255n, 256n, 2n ** 48n - 1n, 2n ** 48n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 56n, 2n ** 64n - 1n, 2n ** 64n, 10n ** 27n, 2n ** 101n - 1n, 2n ** 101n, 2n ** 101n + 1n, 2n ** 200n + 5n]
  for (const amount of edges) {
    t.same([...bigintToBytes(amount)], referenceBytes(amount), `bytes of ${amount}`)
    t.equal(bytesToBigint(Uint8Array.from(referenceBytes(amount))), amount, `value of ${amount}`)
  }
  fc.assert(fc.property(fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 60n }), fc.bigInt({ min: 0n, max: 2n ** 100n }), fc.bigInt({ min: 2n ** 53n, max: 2n ** 110n }), fc.bigInt({ min: 0n, max: 2n ** 256n })), (amount) => {
    t.same([...bigintToBytes(amount)], referenceBytes(amount))
  }), { seed: 11, numRuns: 1000 })
  fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 20 }).filter((bytes) => bytes[0] !== 0), (bytes) => {
    t.equal(bytesToBigint(bytes), reference(bytes))
  }), { seed: 12, numRuns: 300 })
})

t.test('non-canonical bytes are rejected', async (t) => {
  const cases: Array<[string, number[]]> = [
    ['5 as uint8', [0xcc, 0x05]],
    ['5 as float64', [0xcb, 0x40, 0x14, 0, 0, 0, 0, 0, 0]],
    ['1.5 as float64', [0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]],
    ['short string as str8', [0xd9, 0x01, 0x61]],
    ['array16 of one item', [0xdc, 0x00, 0x01, 0x01]],
    ['map', [0x81, 0xa1, 0x61, 0x01]],
    ['trailing byte', [0x01, 0x02]],
    ['truncated bin', [0xc4, 0x05, 0x01]],
    ['reserved byte', [0xc1]],
    ['empty', []],
  ]
  for (const [name, bytes] of cases) {
    t.throws(() => decode(Uint8Array.from(bytes)), CodecError, name)
  }
})

t.test('encode refuses what has no canonical form', async (t) => {
  t.throws(() => encode(1.5), CodecError)
  t.throws(() => encode(-1n), CodecError)
  t.throws(() => encode({} as unknown as Encodable), CodecError)
})

t.test('random bytes never crash the decoder with anything but CodecError', async (t) => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
    try {
      decode(bytes)
    } catch (error) {
      if (!(error instanceof CodecError)) throw error
    }
  }), { seed: 3, numRuns: 2000 })
  t.pass('no foreign exception')
})
