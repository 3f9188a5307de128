// The classifier's own penultimate-layer features: the pooled vector before cls.w, computed by
// ml's deterministic engine (bit-exact on every kernel and thread count), for KNN-Shapley.
import type { ModelConfig, Tensors } from '../ml/model/config.ts'
import { engineFor, truncateIds } from '../ml/model/forward.ts'
import { AttributionError } from './errors.ts'

/** [examples, dim] row-major pooled vectors of the examples (each cut to the model's context). */
export function classifierFeatures(config: ModelConfig, base: Tensors, adapter: Tensors | undefined, scale: number, examples: ReadonlyArray<{ readonly ids: Int32Array }>): Float32Array {
  if (config.kind !== 'classifier') throw new AttributionError('INVALID_ARGUMENT', 'features come from a classifier')
  const engine = engineFor(config, base, adapter, scale)
  const out = new Float32Array(examples.length * config.dim)
  for (const [i, example] of examples.entries()) {
    if (example.ids.length === 0) throw new AttributionError('INVALID_ARGUMENT', `example ${i} has no tokens`)
    engine.forward(truncateIds(example.ids, config.context))
    out.set(engine.pooled, i * config.dim)
  }
  return out
}
