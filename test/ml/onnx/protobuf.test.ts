// The protobuf wire pieces: varint, int64, float, packed vectors; write/read round trips; malformed input.
import { deepStrictEqual, strictEqual } from 'node:assert'
import t from 'tap'
import fc from 'fast-check'
import { OnnxFormatError } from '../../../ml/onnx/errors.ts'
import { ProtoWriter, readFields, readVarint, repeatedVarints, toInt64, WireType } from '../../../ml/onnx/protobuf.ts'

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex')
const unhex = (text: string) => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'))

t.test('varint and int64 vectors (field 1)', async (t) => {
  const vectors: Array<[number | bigint, string]> = [
    [0, '0800'], [1, '0801'], [127, '087f'], [128, '088001'], [300, '08ac02'],
    [2 ** 32, '088080808010'], [Number.MAX_SAFE_INTEGER, '08ffffffffffffff0f'],
    [-1, '08ffffffffffffffffff01'], [-2n, '08feffffffffffffffff01'], [2n ** 63n, '0880808080808080808001'],
  ]
  for (const [value, expected] of vectors) t.equal(hex(new ProtoWriter().int64(1, value).finish()), expected, String(value))
})

t.test('tags, strings, floats, packed', async (t) => {
  t.equal(hex(new ProtoWriter().string(2, 'hi').finish()), '12026869')
  t.equal(hex(new ProtoWriter().varint(20, 2).finish()), 'a00102', 'two-byte tag')
  t.equal(hex(new ProtoWriter().float(2, 1.5).finish()), '150000c03f', 'fixed32 little-endian')
  t.equal(hex(new ProtoWriter().packedVarints(7, [3, -1, 300]).finish()), '3a0d03ffffffffffffffffff01ac02')
  t.equal(hex(new ProtoWriter().packedVarints(7, []).finish()), '', 'an empty packed field is omitted')
  const big = new Uint8Array(1000).fill(7)
  const bytes = new ProtoWriter().varint(1, 5).bytes(3, big).string(4, 'é').finish()
  t.equal(bytes.length, 2 + 3 + 1000 + 4)
  t.equal(hex(bytes.subarray(0, 5)), '0805' + '1ae807')
  t.equal(hex(bytes.subarray(1005)), '2202c3a9')
  t.throws(() => new ProtoWriter().varint(0, 1), RangeError)
  t.throws(() => new ProtoWriter().varint(1, 2 ** 60), RangeError, 'unsafe numbers must be bigint')
})

t.test('write then read gives back the fields', async (t) => {
  const field = fc.oneof(
    fc.record({ field: fc.integer({ min: 1, max: 2 ** 29 - 1 }), kind: fc.constant('varint' as const), value: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }) }),
    fc.record({ field: fc.integer({ min: 1, max: 2 ** 29 - 1 }), kind: fc.constant('bytes' as const), value: fc.uint8Array({ maxLength: 200 }) }),
    fc.record({ field: fc.integer({ min: 1, max: 2 ** 29 - 1 }), kind: fc.constant('float' as const), value: fc.float({ noNaN: true }) }),
  )
  fc.assert(fc.property(fc.array(field, { maxLength: 20 }), (fields) => {
    const writer = new ProtoWriter()
    for (const f of fields) {
      if (f.kind === 'varint') writer.int64(f.field, f.value)
      else if (f.kind === 'bytes') writer.bytes(f.field, f.value)
      else writer.float(f.field, f.value)
    }
    const read = readFields(writer.finish(), 'test')
    strictEqual(read.length, fields.length)
    fields.forEach((f, i) => {
      const r = read[i]
      if (r === undefined) throw new Error(`field ${i} missing`)
      strictEqual(r.field, f.field)
      if (f.kind === 'varint') strictEqual(r.wireType === WireType.varint ? toInt64(r.value) : undefined, f.value)
      else if (f.kind === 'bytes') deepStrictEqual(r.value, f.value)
      else strictEqual(r.wireType === WireType.fixed32 ? new DataView(r.value.buffer, r.value.byteOffset).getFloat32(0, true) : undefined, Math.fround(f.value))
    })
  }), { seed: 11, numRuns: 200 })
  t.pass('200 random messages')
})

t.test('repeated varints are read packed or unpacked', async (t) => {
  const bytes = new ProtoWriter().int64(1, 4).packedVarints(1, [5, 6]).int64(2, 9).int64(1, -1).finish()
  t.same(repeatedVarints(readFields(bytes, 'test'), 1, 'test').map(toInt64), [4n, 5n, 6n, -1n])
})

t.test('malformed input is an OnnxFormatError with a stable code', async (t) => {
  const cases: Array<[string, string]> = [
    ['08', 'ONNX_TRUNCATED'], // tag without value
    ['0880', 'ONNX_TRUNCATED'], // varint cut short
    ['08ffffffffffffffffff7f', 'ONNX_BAD_VARINT'], // more than 64 bits
    ['08ffffffffffffffffffff01', 'ONNX_BAD_VARINT'], // eleven bytes
    ['0a05616263', 'ONNX_TRUNCATED'], // length past the end
    ['15000000', 'ONNX_TRUNCATED'], // fixed32 cut short
    ['0b', 'ONNX_BAD_WIRE_TYPE'], // start group
    ['0e00', 'ONNX_BAD_WIRE_TYPE'], // wire type 6
    ['0001', 'ONNX_BAD_FIELD'], // field number 0
  ]
  for (const [input, code] of cases) t.throws(() => readFields(unhex(input), 'test'), { code, constructor: OnnxFormatError }, input)
  t.throws(() => readVarint(new Uint8Array(0), 0, 'test'), { code: 'ONNX_TRUNCATED' })
  t.throws(() => repeatedVarints(readFields(unhex('0d00000000'), 'test'), 1, 'test'), { code: 'ONNX_BAD_WIRE_TYPE' })
})

t.test('random bytes never escape as anything but OnnxFormatError', async (t) => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
    try {
      readFields(bytes, 'test')
    } catch (error) {
      if (!(error instanceof OnnxFormatError)) throw error
    }
  }), { seed: 12, numRuns: 2000 })
  t.pass()
})
