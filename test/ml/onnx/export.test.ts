// The exported forward graph run in onnxruntime-node against a float64 reference of config.ts's math,
// for both model kinds, with and without an adapter; determinism of the bytes; the artifact check.
import t from 'tap'
import type { LoraConfig, ModelConfig } from '../../../ml/model/config.ts'
import { keccak256, toHex } from '../../../runtime/crypto/hash.ts'
import { OnnxExportError, OnnxFormatError } from '../../../ml/onnx/errors.ts'
import { checkExport, exportModel } from '../../../ml/onnx/export.ts'
import { createOnnxSession, runOnnxForward } from '../../../ml/onnx/session.ts'
import { maxAbsDifference, randomAdapter, randomBase, randomIds, referenceForward } from './reference.ts'

const lm: ModelConfig = { kind: 'lm', vocab: 37, context: 12, dim: 16, layers: 2, heads: 4, hidden: 24, classes: 0 }
const classifier: ModelConfig = { ...lm, kind: 'classifier', classes: 3 }
const lora: LoraConfig = { rank: 4, alpha: 8 }
const TOLERANCE = 1e-4

for (const config of [lm, classifier]) {
  for (const withLora of [false, true]) {
    t.test(`${config.kind}${withLora ? ' with an adapter' : ''}: onnxruntime matches the float64 reference`, async (t) => {
      const base = randomBase(config, 1)
      const adapter = withLora ? randomAdapter(config, lora, 2) : undefined
      const scale = lora.alpha / lora.rank
      const model = exportModel(config, base, withLora ? { lora } : {})
      checkExport(model, config, withLora ? { lora } : {})
      const session = await createOnnxSession(model)
      t.teardown(() => session.release())
      // two shapes through the same session: the dims really are dynamic
      for (const [batch, length] of [[3, 7], [2, config.context]] as const) {
        const ids = randomIds(config, batch * length, batch * 100 + length)
        const mask = config.kind === 'classifier' ? Float32Array.from({ length: batch * length }, (_, i) => (i % length < length - (i % 3) ? 1 : 0)) : undefined
        const logits = await runOnnxForward(session, config, {
          ids, batch, length, ...(mask === undefined ? {} : { mask }), ...(adapter === undefined ? {} : { adapter: { lora, tensors: adapter, scale } }),
        })
        const expected = referenceForward(config, base, adapter, scale, ids, batch, length, mask)
        t.equal(logits.length, batch * (config.kind === 'lm' ? length * config.vocab : config.classes), `${batch}x${length}: logits size`)
        const error = maxAbsDifference(logits, expected)
        t.ok(error < TOLERANCE, `${batch}x${length}: max abs error ${error.toExponential(2)} < ${TOLERANCE}`)
      }
    })
  }
}

t.test('the adapter changes the output, and a zero scale gives the base model', async (t) => {
  const base = randomBase(lm, 3)
  const adapter = randomAdapter(lm, lora, 4)
  const plain = await createOnnxSession(exportModel(lm, base))
  const adapted = await createOnnxSession(exportModel(lm, base, { lora }))
  t.teardown(() => Promise.all([plain.release(), adapted.release()]))
  const input = { ids: randomIds(lm, 10, 5), batch: 2, length: 5 }
  const baseLogits = await runOnnxForward(plain, lm, input)
  const zero = await runOnnxForward(adapted, lm, { ...input, adapter: { lora, tensors: adapter, scale: 0 } })
  const scaled = await runOnnxForward(adapted, lm, { ...input, adapter: { lora, tensors: adapter, scale: 2 } })
  t.ok(maxAbsDifference(baseLogits, zero) < 1e-5, 'scale 0 is the base model')
  t.ok(maxAbsDifference(baseLogits, scaled) > 1e-3, 'scale 2 moves the logits')
})

t.test('export is deterministic and depends on every weight', async (t) => {
  const base = randomBase(classifier, 6)
  const first = exportModel(classifier, base, { lora })
  t.same(Buffer.from(exportModel(classifier, new Map(base), { lora })), Buffer.from(first), 'same bytes twice')
  const changed = new Map(base)
  const w = Float32Array.from(base.get('l1.mlp.w2') ?? [])
  w[5] = (w[5] ?? 0) + 1e-3
  changed.set('l1.mlp.w2', w)
  t.notSame(Buffer.from(exportModel(classifier, changed, { lora })), Buffer.from(first), 'a changed weight changes the bytes')
})

t.test('pinned keccak of two exports: a change to the graph must bump PRODUCER_VERSION', async (t) => {
  // artifacts are identified on chain by this hash; if this test fails, the exporter's output changed
  t.equal(toHex(keccak256(exportModel(lm, randomBase(lm, 1)))), '0x55aaf0a62c92a9422bb30040a596e50269ba28855b674c653c032dcf9622dba6')
  t.equal(toHex(keccak256(exportModel(classifier, randomBase(classifier, 1), { lora }))), '0xd77c320e16493c0b0f0f8be7b0e1f01fe5c1f287b78c0f2f2e40d503db3b1a1d')
})

t.test('with an adapter, its tensors are inputs and never initializers', async (t) => {
  const base = randomBase(classifier, 7)
  const summary = checkExport(exportModel(classifier, base, { lora }), classifier, { lora })
  const inputs = summary.graph.inputs.map((input) => input.name)
  t.same(inputs.slice(0, 4), ['input_ids', 'mask', 'l0.attn.wq.lora_a', 'l0.attn.wq.lora_b'])
  t.same(inputs.slice(-3), ['cls.w', 'cls.b', 'lora_scale'])
  const initializers = new Set(summary.graph.initializers.map((tensor) => tensor.name))
  t.notOk(inputs.some((name) => initializers.has(name)), 'no input is shadowed')
  t.ok(initializers.has('l1.attn.wq') && !initializers.has('cls.w'), 'base weights baked in, the head is the adapter\'s')
  t.same(summary.graph.inputs[0]?.shape, ['batch', 'length'])
  t.same(summary.graph.outputs, [{ name: 'logits', elemType: 1, shape: ['batch', 3] }])
})

t.test('checkExport rejects a file exported for another configuration', async (t) => {
  const plain = exportModel(lm, randomBase(lm, 8))
  t.throws(() => checkExport(plain, lm, { lora }), { code: 'ONNX_INTERFACE_MISMATCH' })
  t.throws(() => checkExport(plain, { ...lm, vocab: 38 }), { code: 'ONNX_INTERFACE_MISMATCH' })
  t.throws(() => checkExport(plain.subarray(0, plain.length - 3), lm), OnnxFormatError)
})

t.test('bad configurations and weights are typed errors', async (t) => {
  const base = randomBase(lm, 9)
  t.throws(() => exportModel({ ...lm, heads: 5 }, base), { code: 'ONNX_EXPORT_BAD_CONFIG' })
  t.throws(() => exportModel(lm, base, { lora: { rank: 0, alpha: 1 } }), { code: 'ONNX_EXPORT_BAD_CONFIG' })
  const missing = new Map(base)
  missing.delete('l1.ln2.b')
  t.throws(() => exportModel(lm, missing), { code: 'ONNX_EXPORT_MISSING_TENSOR', details: { name: 'l1.ln2.b' } })
  const short = new Map(base)
  short.set('pos_emb', new Float32Array(3))
  t.throws(() => exportModel(lm, short), OnnxExportError)
})
