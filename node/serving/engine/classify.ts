// Classification on a classifier base (the spam classifier), run in a serving worker with ml/'s
// deterministic engine: a classifier is small and is asked one text at a time, so the batching graph
// of the language models buys nothing here. Several weighted adapters merge as in generation
// (concatenated LoRA factors, merge.ts); their heads mix linearly: Σ w_i·head_i + (1 − Σ w_i)·base head.
import type { ModelConfig, Tensors } from '../../../ml/model/config.ts'
import { forward } from '../../../ml/model/forward.ts'
import { concatenateAdapters, type WeightedAdapter } from './merge.ts'

export function classifyWithEngine(config: ModelConfig, base: Tensors, adapters: readonly WeightedAdapter[], tokens: readonly number[]): Float32Array {
  const ids = Int32Array.from(tokens)
  if (adapters.length === 0) return forward(config, base, undefined, 1, ids, 1, ids.length)
  const { tensors } = concatenateAdapters(config, adapters)
  for (const name of ['cls.w', 'cls.b']) {
    const head = Float64Array.from(base.get(name)!)
    let total = 0
    for (const adapter of adapters) total += adapter.weight
    for (let i = 0; i < head.length; i++) head[i] = head[i]! * (1 - total)
    for (const adapter of adapters) {
      const own = adapter.tensors.get(name)!
      for (let i = 0; i < head.length; i++) head[i] = head[i]! + adapter.weight * own[i]!
    }
    tensors.set(name, Float32Array.from(head))
  }
  return forward(config, base, tensors, 1, ids, 1, ids.length)
}
