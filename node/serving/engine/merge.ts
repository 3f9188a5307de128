// Folding LoRA adapters into base weights: the reference the per-row adapter path is checked against
// (an adapter's output equals the merged model's), the naive serving baseline of the benchmark (a
// merged model per adapter), and the single adapter verification feeds the deterministic engine.
import { adapterShapes, type ModelConfig, type Tensors } from '../../../ml/model/config.ts'
import { SERVING_LORA_TARGETS } from '../../../ml/onnx/servingExport.ts'

export interface WeightedAdapter {
  readonly rank: number
  readonly alpha: number
  readonly tensors: Tensors
  readonly weight: number
}

/** base with W += Σ weight · (alpha / rank) · A·B on every LoRA target (float64 sums, rounded once). */
export function mergeAdapters(config: ModelConfig, base: Tensors, adapters: readonly WeightedAdapter[]): Map<string, Float32Array> {
  const merged = new Map(base)
  const D = config.dim
  for (let l = 0; l < config.layers; l++) {
    for (const target of SERVING_LORA_TARGETS) {
      const name = `l${l}.attn.${target}`
      const w = base.get(name)!
      const sum = Float64Array.from(w)
      for (const adapter of adapters) {
        const a = adapter.tensors.get(`${name}.lora_a`)!
        const b = adapter.tensors.get(`${name}.lora_b`)!
        const s = adapter.weight * adapter.alpha / adapter.rank
        const r = adapter.rank
        for (let i = 0; i < D; i++) for (let k = 0; k < r; k++) {
          const aik = a[i * r + k]! * s
          for (let j = 0; j < D; j++) sum[i * D + j] = sum[i * D + j]! + aik * b[k * D + j]!
        }
      }
      merged.set(name, Float32Array.from(sum))
    }
  }
  return merged
}

/**
 * One adapter equivalent to a weighted sum of adapters, for an engine that takes a single adapter
 * with scale 1: A = [A_1 | A_2 | …] and B = [s_1·B_1; s_2·B_2; …] with s_i = weight_i · alpha_i / rank_i,
 * so h·A·B = Σ s_i · (h·A_i)·B_i exactly (up to rounding). Rank = Σ rank_i.
 */
export function concatenateAdapters(config: ModelConfig, adapters: readonly WeightedAdapter[]): { rank: number; tensors: Map<string, Float32Array> } {
  const rank = adapters.reduce((total, adapter) => total + adapter.rank, 0)
  const D = config.dim
  const tensors = new Map<string, Float32Array>()
  for (const [name] of adapterShapes(config, { rank, alpha: rank })) {
    if (name.endsWith('.lora_a')) {
      const out = new Float32Array(D * rank)
      let offset = 0
      for (const adapter of adapters) {
        const a = adapter.tensors.get(name)!
        for (let i = 0; i < D; i++) for (let k = 0; k < adapter.rank; k++) out[i * rank + offset + k] = a[i * adapter.rank + k]!
        offset += adapter.rank
      }
      tensors.set(name, out)
    } else if (name.endsWith('.lora_b')) {
      const out = new Float32Array(rank * D)
      let offset = 0
      for (const adapter of adapters) {
        const b = adapter.tensors.get(name)!
        const s = adapter.weight * adapter.alpha / adapter.rank
        for (let i = 0; i < b.length; i++) out[offset * D + i] = b[i]! * s
        offset += adapter.rank
      }
      tensors.set(name, out)
    }
  }
  return { rank, tensors }
}
