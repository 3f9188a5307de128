// The exported graph in onnxruntime against the project's deterministic engine (ml/model/forward.ts):
// both model kinds, with and without an adapter, on the engine's own initial weights (plus a trained-
// looking adapter, since a fresh one has lora_b = 0 and would change nothing).
import t from 'tap'
import type { LoraConfig, ModelConfig } from '../../../ml/model/config.ts'
import { forward } from '../../../ml/model/forward.ts'
import { initAdapter, initParams } from '../../../ml/model/params.ts'
import { exportModel } from '../../../ml/onnx/export.ts'
import { createOnnxSession, runOnnxForward } from '../../../ml/onnx/session.ts'
import { maxAbsDifference, randomIds, seededRandom } from './reference.ts'

const lm: ModelConfig = { kind: 'lm', vocab: 97, context: 16, dim: 32, layers: 2, heads: 4, hidden: 64, classes: 0 }
const classifier: ModelConfig = { ...lm, kind: 'classifier', classes: 5 }
const lora: LoraConfig = { rank: 4, alpha: 8 }
/** relative to the largest logit (at least 1) */
const TOLERANCE = 1e-4

for (const config of [lm, classifier]) {
  for (const withLora of [false, true]) {
    t.test(`${config.kind}${withLora ? ' with an adapter' : ''}: onnxruntime matches the engine`, async (t) => {
      const base = initParams(config, 21)
      // larger-than-initial weights so that every part of the network moves the logits
      const random = seededRandom(22)
      for (const tensor of base.values()) for (let i = 0; i < tensor.length; i++) tensor[i] = (tensor[i] as number) * 5 + (random() - 0.5) * 0.2
      const adapter = withLora ? initAdapter(config, lora, 23, base) : undefined
      if (adapter !== undefined) for (const [name, tensor] of adapter) if (name.endsWith('.lora_b')) for (let i = 0; i < tensor.length; i++) tensor[i] = (random() - 0.5) * 0.5
      const scale = lora.alpha / lora.rank
      const session = await createOnnxSession(exportModel(config, base, withLora ? { lora } : {}))
      t.teardown(() => session.release())
      for (const [batch, length] of [[3, 9], [2, config.context]] as const) {
        const ids = randomIds(config, batch * length, batch * 31 + length)
        const mask = config.kind === 'classifier' ? Float32Array.from({ length: batch * length }, (_, i) => (i % length <= length - 1 - (i % 4) ? 1 : 0)) : undefined
        const onnx = await runOnnxForward(session, config, {
          ids, batch, length, ...(mask === undefined ? {} : { mask }), ...(adapter === undefined ? {} : { adapter: { lora, tensors: adapter, scale } }),
        })
        const engine = forward(config, base, adapter, scale, ids, batch, length, mask)
        t.equal(onnx.length, engine.length, `${batch}x${length}: same size`)
        // both are float32 with different summation orders: the bound scales with the logits' size
        const bound = TOLERANCE * Math.max(1, maxAbsDifference(engine, new Float32Array(engine.length)))
        const error = maxAbsDifference(onnx, engine)
        t.ok(error < bound, `${batch}x${length}: max abs difference ${error.toExponential(2)} < ${bound.toExponential(2)}`)
      }
    })
  }
}
