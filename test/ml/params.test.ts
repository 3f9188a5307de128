import t from 'tap'
import fc from 'fast-check'
import { adapterShapes, paramShapes, type ModelConfig } from '../../ml/model/config.ts'
import { decodeTensors, encodeTensors, initAdapter, initParams, tensorsHash } from '../../ml/model/params.ts'

const lm: ModelConfig = { kind: 'lm', vocab: 13, context: 8, dim: 8, layers: 2, heads: 2, hidden: 16, classes: 0 }
const classifier: ModelConfig = { ...lm, kind: 'classifier', classes: 3 }

const code = (c: string) => ({ name: 'MlError', code: c })

t.test('initialisation: shapes, GPT-2 statistics, determinism', async (t) => {
  const params = initParams(lm, 1)
  t.same([...params.keys()], paramShapes(lm).map(([name]) => name))
  t.ok(params.get('l0.ln1.g')!.every((x) => x === 1))
  t.ok(params.get('l1.mlp.b1')!.every((x) => x === 0))
  const emb = params.get('tok_emb')!
  const std = Math.sqrt(emb.reduce((s, x) => s + x * x, 0) / emb.length)
  t.ok(std > 0.012 && std < 0.028, `std ${std}`)
  t.same(tensorsHash(paramShapes(lm), initParams(lm, 1)), tensorsHash(paramShapes(lm), params))
  t.notSame(tensorsHash(paramShapes(lm), initParams(lm, 2)), tensorsHash(paramShapes(lm), params))

  const base = initParams(classifier, 3)
  const adapter = initAdapter(classifier, { rank: 2, alpha: 4 }, 9, base)
  t.same([...adapter.keys()], adapterShapes(classifier, { rank: 2, alpha: 4 }).map(([name]) => name))
  t.ok(adapter.get('l0.attn.wq.lora_b')!.every((x) => x === 0))
  t.ok(adapter.get('l0.attn.wq.lora_a')!.every((x) => Math.abs(x) <= 1 / Math.sqrt(8)))
  t.same(adapter.get('cls.w'), base.get('cls.w'))
  t.throws(() => initParams({ ...lm, heads: 3 }, 1), code('INVALID_ARGUMENT'))
  t.throws(() => initAdapter(lm, { rank: 0, alpha: 1 }, 1), code('INVALID_ARGUMENT'))
})

t.test('encode/decode round-trips any finite tensors', async () => {
  const shapes: Array<[string, number[]]> = [['a', [2, 3]], ['b.c', [4]], ['empty', [0]]]
  fc.assert(fc.property(fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), { minLength: 10, maxLength: 10 }), (values) => {
    const tensors = new Map([['a', Float32Array.from(values.slice(0, 6))], ['b.c', Float32Array.from(values.slice(6))], ['empty', new Float32Array(0)]])
    const bytes = encodeTensors(shapes, tensors)
    const back = decodeTensors(bytes, shapes)
    return [...tensors].every(([name, tensor]) => {
      const other = back.get(name)!
      return other.length === tensor.length && tensor.every((x, i) => Object.is(x, other[i]))
    }) && Buffer.from(encodeTensors(shapes, back)).equals(bytes)
  }), { seed: 1, numRuns: 300 })
})

t.test('the byte layout is fixed: header, then float32 little-endian', async (t) => {
  const bytes = encodeTensors([['w', [2]]], new Map([['w', Float32Array.of(1, -2)]]))
  t.equal(Buffer.from(bytes).toString('hex'), '4f4c544e' + '01' + '01000000' + '0100' + '77' + '01' + '02000000' + '000000' + '0000803f' + '000000c0')
})

t.test('corrupted or mismatched bytes are rejected with a typed error', async (t) => {
  const shapes = paramShapes(lm)
  const params = initParams(lm, 4)
  const bytes = encodeTensors(shapes, params)
  t.same(decodeTensors(bytes, shapes).get('lnf.b'), params.get('lnf.b'))
  const flip = (at: number) => {
    const copy = Uint8Array.from(bytes)
    copy[at] = copy[at]! ^ 0xff
    return copy
  }
  t.throws(() => decodeTensors(flip(0), shapes), code('INVALID_MAGIC'))
  t.throws(() => decodeTensors(flip(4), shapes), code('INVALID_MAGIC'))
  t.throws(() => decodeTensors(flip(12), shapes), code('SHAPE_MISMATCH'))
  t.throws(() => decodeTensors(bytes.subarray(0, bytes.length - 4), shapes), code('INVALID_SIZE'))
  t.throws(() => decodeTensors(Uint8Array.from([...bytes, 0, 0, 0, 0]), shapes), code('INVALID_SIZE'))
  t.throws(() => decodeTensors(bytes, paramShapes({ ...lm, hidden: 12 })), code('SHAPE_MISMATCH'))
  t.throws(() => decodeTensors(bytes.subarray(0, 40), shapes), code('INVALID_SIZE'))
  const nan = Uint8Array.from(bytes)
  nan.set([0, 0, 0xc0, 0x7f], bytes.length - 8) // a float32 NaN in lnf.b
  t.throws(() => decodeTensors(nan, shapes), code('NON_FINITE'))
  const inf = Uint8Array.from(bytes)
  inf.set([0, 0, 0x80, 0x7f], bytes.length - 4)
  t.throws(() => decodeTensors(inf, shapes), code('NON_FINITE'))
  const missing = new Map(params)
  missing.delete('lnf.g')
  t.throws(() => encodeTensors(shapes, missing), code('MISSING_TENSOR'))
  t.throws(() => encodeTensors(shapes, new Map([...params, ['lnf.g', new Float32Array(3)]])), code('SHAPE_MISMATCH'))
})
