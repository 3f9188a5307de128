// The ONNX model encoder: a hand-derived byte-level golden, determinism, the reader's round trip and
// its rejection of malformed files.
import t from 'tap'
import fc from 'fast-check'
import { OnnxFormatError } from '../../../ml/onnx/errors.ts'
import { encodeModel, readModelSummary, type OnnxModel } from '../../../ml/onnx/model.ts'
import { ProtoWriter } from '../../../ml/onnx/protobuf.ts'

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex')

const tiny: OnnxModel = {
  irVersion: 8,
  producerName: 'p',
  producerVersion: '1',
  graph: {
    name: 'g',
    nodes: [{ opType: 'Softmax', inputs: ['x'], outputs: ['y'], attributes: [{ name: 'axis', type: 'int', value: -1 }] }],
    initializers: [
      { name: 'c', dataType: 'int64', dims: [2], data: [3n, -1n] },
      { name: 'w', dataType: 'float', dims: [1], data: Float32Array.of(1.5) },
    ],
    inputs: [{ name: 'x', elemType: 'float', shape: ['n', 2] }],
    outputs: [{ name: 'y', elemType: 'float', shape: ['n', 2] }],
  },
  opsetImports: [{ domain: '', version: 17 }],
}

// Derived by hand from onnx.proto, field by field (tag = field << 3 | wire type).
const TINY_GOLDEN = [
  '0808', // ModelProto.ir_version = 8
  '120170', // producer_name 'p'
  '1a0131', // producer_version '1'
  '3a7b', // graph, 123 bytes
  '0a25', //   node, 37 bytes
  '0a0178', '120179', //     input 'x', output 'y'
  '2207536f66746d6178', //     op_type 'Softmax'
  '2a14', '0a0461786973', '18ffffffffffffffffff01', 'a00102', //     attribute axis: i = -1, type INT
  '120167', //   name 'g'
  '2a14', '0802', '1007', '3a0b03ffffffffffffffffff01', '420163', //   initializer c: dims [2], INT64, int64_data packed [3, -1]
  '2a0d', '0801', '1001', '420177', '4a040000c03f', //   initializer w: dims [1], FLOAT, raw_data 1.5 LE
  '5a14', '0a0178', '120f', '0a0d', '0801', '1209', '0a0312016e', '0a020802', //   input x: float ['n', 2]
  '6214', '0a0179', '120f', '0a0d', '0801', '1209', '0a0312016e', '0a020802', //   output y
  '42040a001011', // opset_import { domain '', version 17 }
].join('')

t.test('byte-level golden of a tiny model', async (t) => {
  t.equal(hex(encodeModel(tiny)), TINY_GOLDEN)
})

t.test('deterministic: equal models give equal bytes', async (t) => {
  const copy: OnnxModel = structuredClone(tiny)
  t.equal(hex(encodeModel(copy)), hex(encodeModel(tiny)))
  t.equal(hex(encodeModel(tiny)), hex(encodeModel(tiny)))
  const big = new Float32Array(10_000).map((_, i) => Math.sin(i))
  const withBig: OnnxModel = { ...tiny, graph: { ...tiny.graph, initializers: [{ name: 'big', dataType: 'float', dims: [100, 100], data: big }] } }
  const bytes = encodeModel(withBig)
  t.equal(hex(encodeModel(withBig)), hex(bytes))
  t.ok(Buffer.from(bytes).includes(Buffer.from(big.buffer)), 'raw_data holds the float32 bytes as they are (little-endian host)')
})

t.test('the reader gives back names, types and shapes', async (t) => {
  const summary = readModelSummary(encodeModel(tiny))
  t.same(summary, {
    irVersion: 8,
    producerName: 'p',
    opsetImports: [{ domain: '', version: 17 }],
    graph: {
      name: 'g',
      nodes: [{ opType: 'Softmax', domain: '', inputs: ['x'], outputs: ['y'] }],
      initializers: [{ name: 'c', dataType: 7, dims: [2] }, { name: 'w', dataType: 1, dims: [1] }],
      inputs: [{ name: 'x', elemType: 1, shape: ['n', 2] }],
      outputs: [{ name: 'y', elemType: 1, shape: ['n', 2] }],
    },
  })
})

t.test('the encoder refuses a tensor whose data does not fit its dims', async (t) => {
  const bad: OnnxModel = { ...tiny, graph: { ...tiny.graph, initializers: [{ name: 'w', dataType: 'float', dims: [2], data: Float32Array.of(1) }] } }
  t.throws(() => encodeModel(bad), RangeError)
})

t.test('malformed files are rejected with stable codes', async (t) => {
  const bytes = encodeModel(tiny)
  t.throws(() => readModelSummary(new Uint8Array(0)), { code: 'ONNX_MISSING_FIELD' })
  t.throws(() => readModelSummary(bytes.subarray(0, 20)), { code: 'ONNX_TRUNCATED' })
  t.throws(() => readModelSummary(new ProtoWriter().int64(1, 8).finish()), { code: 'ONNX_MISSING_FIELD', details: { field: 'graph' } })
  t.throws(() => readModelSummary(new ProtoWriter().string(1, 'x').finish()), { code: 'ONNX_BAD_WIRE_TYPE' })
  // an initializer with one float of raw data but dims [3]
  const tensor = new ProtoWriter().int64(1, 3).varint(2, 1).string(8, 'w').bytes(9, new Uint8Array(4)).finish()
  const graph = new ProtoWriter().message(5, tensor).finish()
  t.throws(() => readModelSummary(new ProtoWriter().int64(1, 8).message(7, graph).finish()), { code: 'ONNX_BAD_TENSOR', details: { name: 'w' } })
  const badName = new ProtoWriter().message(11, new ProtoWriter().bytes(1, Uint8Array.of(0xff, 0xfe)).finish()).finish()
  t.throws(() => readModelSummary(new ProtoWriter().int64(1, 8).message(7, badName).finish()), { code: 'ONNX_BAD_UTF8' })
  t.throws(() => readModelSummary(Uint8Array.from(Buffer.from('not an onnx file'))), OnnxFormatError)
})

t.test('every truncation and byte flip either parses or is an OnnxFormatError', async (t) => {
  const bytes = encodeModel(tiny)
  let rejected = 0
  for (let end = 0; end < bytes.length; end++) {
    try {
      readModelSummary(bytes.subarray(0, end))
    } catch (error) {
      if (!(error instanceof OnnxFormatError)) throw error
      rejected++
    }
  }
  t.ok(rejected > bytes.length * 0.9, `${rejected} of ${bytes.length} prefixes rejected`)
  fc.assert(fc.property(fc.integer({ min: 0, max: bytes.length - 1 }), fc.integer({ min: 0, max: 255 }), (index, value) => {
    const flipped = Uint8Array.from(bytes)
    flipped[index] = value
    try {
      readModelSummary(flipped)
    } catch (error) {
      if (!(error instanceof OnnxFormatError)) throw error
    }
  }), { seed: 13, numRuns: 3000 })
  t.pass('no other exception')
})
