// encode(), decode() and decodeTrusted() take short paths of their own for string-free values; msgpackr
// (msgpackReference) is the definition. These tests hold the two to the same bytes, values and errors.
import t from 'tap'
import fc from 'fast-check'
import { CodecError, decode, decodeTrusted, encode, msgpackReference, type Decoded, type Encodable } from '../../../runtime/codec/canonical.ts'

const EDGE_INTEGERS = [
  0, -0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 2 ** 32 - 1, 2 ** 32, 2 ** 48, Number.MAX_SAFE_INTEGER,
  -1, -0x20, -0x21, -0x80, -0x81, -0x8000, -0x8001, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 40), Number.MIN_SAFE_INTEGER,
]

const value: fc.Arbitrary<Encodable> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.constantFrom(...EDGE_INTEGERS),
    fc.maxSafeInteger(),
    fc.integer({ min: -(2 ** 31) - 5, max: 2 ** 32 + 5 }),
    fc.bigInt({ min: 0n, max: 10n ** 27n }),
    fc.uint8Array({ maxLength: 300 }),
    fc.string({ maxLength: 40 }),
    fc.array(tie('value'), { maxLength: 6 }),
  ),
})).value as fc.Arbitrary<Encodable>

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b))

function outcome(run: () => unknown): unknown {
  try {
    return { value: run() }
  } catch (error) {
    return error instanceof CodecError ? { code: error.code, message: error.message } : { other: String(error) }
  }
}

t.test('encode gives msgpackr bytes for every value', async (t) => {
  fc.assert(fc.property(value, (v) => same(encode(v), msgpackReference.encode(v))), { seed: 21, numRuns: 3000 })
  t.pass()
})

t.test('encode: header boundaries of byte strings and arrays', async (t) => {
  for (const length of [0, 15, 16, 255, 256, 65_535, 65_536]) {
    const bytes = new Uint8Array(length).fill(7)
    t.ok(same(encode(bytes), msgpackReference.encode(bytes)), `${length} bytes`)
    const list = Array.from({ length }, (_, i) => i)
    t.ok(same(encode(list), msgpackReference.encode(list)), `${length} items`)
  }
  t.ok(same(encode(Buffer.from([1, 2, 3])), msgpackReference.encode(Buffer.from([1, 2, 3]))), 'a Buffer is a byte string')
  const large = [new Uint8Array(3 * 1024 * 1024).fill(9), 5]
  t.ok(same(encode(large), msgpackReference.encode(large)), 'a value larger than the kept scratch')
  t.ok(same(encode([1, 10n ** 21n]), msgpackReference.encode([1, 10n ** 21n])), 'and a small one after it')
})

t.test('encode refuses what msgpackr refuses, with the same error', async (t) => {
  let deep: Encodable = 1
  for (let i = 0; i < 40; i++) deep = [deep]
  const bad: unknown[] = [1.5, NaN, Infinity, 2 ** 53, -(2 ** 53), -1n, undefined, {}, [1, 2.5], ['x', 1.5], [1.5, 'x'], deep, () => 1]
  for (const v of bad) t.same(outcome(() => encode(v as Encodable)), outcome(() => msgpackReference.encode(v as Encodable)), String(v))
})

t.test('decodeTrusted gives msgpackr values for encodings', async (t) => {
  fc.assert(fc.property(value, (v) => {
    const bytes = msgpackReference.encode(v)
    t.same(decodeTrusted(bytes) as Decoded, msgpackReference.decodeTrusted(bytes))
  }), { seed: 22, numRuns: 1000 })
})

t.test('decodeTrusted matches msgpackr on arbitrary bytes (values or errors)', async (t) => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 40 }), (bytes) => {
    t.same(outcome(() => decodeTrusted(bytes)), outcome(() => msgpackReference.decodeTrusted(bytes)))
  }), { seed: 23, numRuns: 3000 })
  const cases = [[0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0], [0xcb, 0x43, 0x40, 0, 0, 0, 0, 0, 0], [0xcb, 0x80, 0, 0, 0, 0, 0, 0, 0], [0x91, 0xc4, 0x05, 1], [0x92, 0x01], [0x01, 0x02], [0xdc, 0, 2, 1, 2], [0xc5, 0, 1, 9]]
  for (const bytes of cases) t.same(outcome(() => decodeTrusted(Uint8Array.from(bytes))), outcome(() => msgpackReference.decodeTrusted(Uint8Array.from(bytes))), bytes.join(','))
})

t.test('decodeTrusted byte strings are plain views of the input', async (t) => {
  const bytes = Buffer.from(encode([Uint8Array.of(1, 2, 3)]))
  const [inner] = decodeTrusted(bytes) as [Uint8Array]
  t.equal(Object.getPrototypeOf(inner), Uint8Array.prototype)
  t.equal(inner.buffer, bytes.buffer)
})

t.test('decode gives the reference values for encodings', async (t) => {
  fc.assert(fc.property(value, (v) => {
    const bytes = msgpackReference.encode(v)
    t.same(decode(bytes) as Decoded, msgpackReference.decode(bytes))
  }), { seed: 24, numRuns: 1000 })
})

t.test('decode matches the reference on arbitrary and on damaged bytes (values or errors)', async (t) => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 40 }), (bytes) => {
    t.same(outcome(() => decode(bytes)), outcome(() => msgpackReference.decode(bytes)))
  }), { seed: 25, numRuns: 3000 })
  // encodings with one byte changed, cut short or extended: mostly non-canonical or malformed
  fc.assert(fc.property(value, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('flip', 'cut', 'extend'), (v, position, byte, how) => {
    const bytes = msgpackReference.encode(v)
    const at = position % bytes.length
    const damaged = how === 'flip' ? bytes.map((b, i) => (i === at ? byte : b)) : how === 'cut' ? bytes.slice(0, at) : Uint8Array.from([...bytes, byte])
    if (damaged.length === 0) return
    t.same(outcome(() => decode(damaged)), outcome(() => msgpackReference.decode(damaged)))
  }), { seed: 26, numRuns: 3000 })
  // non-minimal forms of values the short path reads: each refused like the reference refuses it
  const cases = [[0xcc, 0x05], [0xcd, 0x00, 0x05], [0xce, 0, 0, 0, 5], [0xd0, 0x05], [0xcb, 0x40, 0x14, 0, 0, 0, 0, 0, 0], [0xc5, 0, 1, 9], [0xdc, 0, 1, 1], [0x91, 0x01, 0x01], [0xcb, 0x80, 0, 0, 0, 0, 0, 0, 0]]
  for (const bytes of cases) {
    const input = Uint8Array.from(bytes)
    const result = outcome(() => decode(input))
    t.same(result, outcome(() => msgpackReference.decode(input)), bytes.join(','))
    t.notOk('value' in (result as object), `${bytes.join(',')} is refused`)
  }
})

t.test('decode byte strings are plain views of the input', async (t) => {
  const bytes = Buffer.from(encode([Uint8Array.of(1, 2, 3), 10n ** 20n]))
  const [inner] = decode(bytes) as [Uint8Array]
  t.equal(Object.getPrototypeOf(inner), Uint8Array.prototype)
  t.equal(inner.buffer, bytes.buffer)
})
