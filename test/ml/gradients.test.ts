// Backward vs central finite differences on tiny configs: both kinds (lm, classifier), both modes
// (lora, all). Activations are float32, so the check is on the whole gradient (relative L2 error)
// plus a loose per-element bound.
import t from 'tap'
import { gradient, type Example } from '../../ml/model/backward.ts'
import type { ModelConfig, Tensors } from '../../ml/model/config.ts'
import { classifierLoss, lmLoss } from '../../ml/model/forward.ts'
import { initAdapter, initParams } from '../../ml/model/params.ts'
import { Rng } from '../../ml/random.ts'

const SCALE = 2
const EPS = 1e-2

function lossOf(config: ModelConfig, base: Tensors, adapter: Tensors | undefined, example: Example): number {
  if (example.kind === 'lm') return lmLoss(config, base, adapter, SCALE, example.ids, 1, example.ids.length)
  return classifierLoss(config, base, adapter, SCALE, [example])
}

for (const kind of ['lm', 'classifier'] as const) {
  for (const mode of ['all', 'lora'] as const) {
    t.test(`${kind}, mode ${mode}: backward matches finite differences`, async (t) => {
      const config: ModelConfig = { kind, vocab: 11, context: 6, dim: 8, layers: 2, heads: 2, hidden: 12, classes: kind === 'lm' ? 0 : 3 }
      const rng = new Rng(5)
      // Larger-than-GPT-2 weights so every nonlinearity is exercised.
      const base = initParams(config, 1)
      for (const [name, tensor] of base) {
        if (name.endsWith('.g')) continue
        for (let i = 0; i < tensor.length; i++) tensor[i] = tensor[i]! * 10 + 0.05 * rng.normal()
      }
      let adapter: Map<string, Float32Array> | undefined
      if (mode === 'lora') {
        adapter = initAdapter(config, { rank: 2, alpha: 4 }, 3, base)
        for (const [name, tensor] of adapter) if (name.endsWith('lora_b')) for (let i = 0; i < tensor.length; i++) tensor[i] = 0.3 * rng.normal()
      }
      const ids = Int32Array.from([1, 5, 3, 9, 2, 7])
      const example: Example = kind === 'lm' ? { kind, ids } : { kind, ids, label: 2 }
      const { loss, gradients } = gradient(config, mode, base, adapter, SCALE, example)
      t.ok(Math.abs(loss - lossOf(config, base, adapter, example)) < 1e-12, 'loss equals the forward loss')
      const trained = mode === 'all' ? base : adapter!
      const expectedNames = mode === 'all' ? [...base.keys()] : [...adapter!.keys()]
      t.same([...gradients.keys()], expectedNames)
      let errorSq = 0
      let normSq = 0
      let elementFailures = 0
      for (const [name, analytic] of gradients) {
        const weights = trained.get(name)!
        const copy = Float32Array.from(analytic)
        for (let i = 0; i < weights.length; i++) {
          const original = weights[i]!
          weights[i] = original + EPS
          const up = weights[i]!
          const lossUp = lossOf(config, base, adapter, example)
          weights[i] = original - EPS
          const down = weights[i]!
          const lossDown = lossOf(config, base, adapter, example)
          weights[i] = original
          const numeric = (lossUp - lossDown) / (up - down)
          errorSq += (numeric - copy[i]!) ** 2
          normSq += numeric ** 2
          if (Math.abs(numeric - copy[i]!) > 2e-3 + 0.1 * Math.abs(numeric)) {
            elementFailures++
            t.comment(`${name}[${i}]: numeric ${numeric}, analytic ${copy[i]}`)
          }
        }
      }
      const relative = Math.sqrt(errorSq / normSq)
      t.ok(normSq > 0, 'the gradient is not trivially zero')
      t.ok(relative < 5e-3, `relative L2 error ${relative.toExponential(2)}`)
      t.equal(elementFailures, 0, 'no element far off')
    })
  }
}
