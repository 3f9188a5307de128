// Gradient influence of training examples on a LoRA adapter trained on chain, per example, then
// summed per contribution (aggregate.ts):
//
//   TracIn-CP (Pruthi et al. 2020)   helpfulness(z) = Σ over checkpoints c of η_c · ⟨v_c, ∇ℓ(z; θ_c)⟩,
//                                    v_c = Σ_test ∇ℓ(test; θ_c), each test gradient scaled to unit
//                                    norm by default (TestWeighting below)
//   DataInf  (Kwon et al. 2024)     at the final adapter, per tensor block l (each lora_a, lora_b,
//                                    and a classifier's cls.w, cls.b), with v_l the test vector's block,
//                                    g_il = ∇ℓ_l(z_i), λ_l = DAMPING · mean_i ‖g_il‖² and
//                                    u_l = Σ_i (v_lᵀg_il) / (λ_l + ‖g_il‖²) · g_il:
//                                    helpfulness(z_k) = Σ_l (v_lᵀg_kl − u_lᵀg_kl / n) / λ_l
//                                    — the Sherman–Morrison closed form of −v_lᵀ H_l⁻¹ g_kl with
//                                    H_l ≈ (1/n) Σ_i (λ_l I + g_il g_ilᵀ), so no Hessian is formed.
//
// Positive helpfulness: a gradient step on the example lowers the test loss; negative: harmful
// (the penalty signal). θ_c are the job's checkpoints (step 0, every checkpointEvery steps and the
// last), which re-executing the job regenerates bit for bit (ml/train) and its checkpointRoot
// checks; η_c is the learning rate of the steps that follow checkpoint c.
//
// Bits: gradients come from ml's engine (float32, identical on every kernel and thread count);
// dot products and sums are float64 in a fixed order (example, then tensor element; no FMA in
// JavaScript), so they are the same on every machine; each example's score is then rounded to a
// Q32 integer (clamped to ±(2^53 − 1)) — the form receipts and aggregation use.
import { exampleGradient, type Example } from '../ml/model/backward.ts'
import type { ModelConfig, Tensors } from '../ml/model/config.ts'
import { gradientShapes, gradientViews } from '../ml/model/engine.ts'
import { engineFor } from '../ml/model/forward.ts'
import { AttributionError } from './errors.ts'

/** 1.0 in the influence scores' fixed point (Q32) */
export const INFLUENCE_ONE = 4_294_967_296
/** DataInf's damping: λ_l = 0.1 · mean squared gradient norm of the block (the paper's choice) */
export const DATAINF_DAMPING = 0.1

export interface LoraModel {
  readonly config: ModelConfig
  /** the frozen base weights */
  readonly base: Tensors
  /** alpha / rank */
  readonly scale: number
}

export interface InfluenceCheckpoint {
  /** the adapter at this checkpoint (the training state's tensors) */
  readonly adapter: Tensors
  /** the learning rate of the steps after it */
  readonly learningRate: number
}

interface Gradients {
  /** [examples, size] row-major */
  readonly flat: Float32Array
  readonly size: number
  /** [start, end) of each tensor block */
  readonly blocks: ReadonlyArray<readonly [number, number]>
}

/** Every example's LoRA gradient at this adapter (its loss's, from ml's engine). */
export function loraGradients(model: LoraModel, adapter: Tensors, examples: readonly Example[]): Gradients {
  if (examples.length === 0) throw new AttributionError('EMPTY', 'no examples')
  const engine = engineFor(model.config, model.base, adapter, model.scale)
  const shapes = gradientShapes(model.config, 'lora', engine.rank)
  const blocks: Array<[number, number]> = []
  let size = 0
  for (const [, shape] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1)
    blocks.push([size, size + n])
    size += n
  }
  const buffer = new Float32Array(size)
  const views = gradientViews(shapes, buffer)
  const flat = new Float32Array(examples.length * size)
  for (const [i, example] of examples.entries()) {
    buffer.fill(0)
    exampleGradient(engine, 'lora', example, views)
    flat.set(buffer, i * size)
  }
  for (let i = 0; i < flat.length; i++) if (!Number.isFinite(flat[i]!)) throw new AttributionError('INVALID_ARGUMENT', 'a gradient is not finite')
  return { flat, size, blocks }
}

/**
 * How the test gradients combine into v: 'sum' (Σ ∇ℓ(test): v·g predicts the change of the total
 * test loss) or 'unit' (Σ ∇ℓ(test)/‖∇ℓ(test)‖: every test example weighs the same whatever its
 * loss — otherwise the few test examples the model gets wrong dominate v, and a mislabeled training
 * example that pushes toward them looks helpful: measured on the SpamAssassin bench, 'sum' ranks
 * the poisoned contributors last, AUC 0.00–0.02).
 */
export type TestWeighting = 'sum' | 'unit'

/** Σ over the test gradients (each scaled to unit norm for 'unit'), in example order. */
function testVector(g: Gradients, weighting: TestWeighting): Float64Array {
  const sum = new Float64Array(g.size)
  const rows = g.flat.length / g.size
  for (let i = 0; i < rows; i++) {
    const o = i * g.size
    let scale = 1
    if (weighting === 'unit') {
      let norm2 = 0
      for (let j = 0; j < g.size; j++) norm2 += g.flat[o + j]! * g.flat[o + j]!
      if (norm2 === 0) continue
      scale = 1 / Math.sqrt(norm2)
    }
    for (let j = 0; j < g.size; j++) sum[j]! += g.flat[o + j]! * scale
  }
  return sum
}

function dot(v: Float64Array, g: Gradients, row: number, start: number, end: number): number {
  let s = 0
  for (let j = start, o = row * g.size; j < end; j++) s += v[j]! * g.flat[o + j]!
  return s
}

function toFixed(x: number): number {
  const q = Math.round(x * INFLUENCE_ONE)
  return Math.max(-Number.MAX_SAFE_INTEGER, Math.min(Number.MAX_SAFE_INTEGER, q))
}

/** TracIn-CP helpfulness of each training example for the test examples (Q32 integers). */
export function tracInCp(model: LoraModel, checkpoints: readonly InfluenceCheckpoint[], train: readonly Example[], test: readonly Example[], weighting: TestWeighting = 'unit'): Float64Array {
  if (checkpoints.length === 0) throw new AttributionError('EMPTY', 'no checkpoints')
  for (const c of checkpoints) if (!(Number.isFinite(c.learningRate) && c.learningRate >= 0)) throw new AttributionError('INVALID_ARGUMENT', 'a checkpoint learning rate must be finite and ≥ 0')
  const total = new Float64Array(train.length)
  for (const checkpoint of checkpoints) {
    const v = testVector(loraGradients(model, checkpoint.adapter, test), weighting)
    const g = loraGradients(model, checkpoint.adapter, train)
    for (let i = 0; i < train.length; i++) total[i]! += checkpoint.learningRate * dot(v, g, i, 0, g.size)
  }
  return total.map(toFixed)
}

/** DataInf helpfulness of each training example for the test examples at the final adapter (Q32 integers). */
export function dataInf(model: LoraModel, adapter: Tensors, train: readonly Example[], test: readonly Example[], options: { readonly damping?: number; readonly weighting?: TestWeighting } = {}): Float64Array {
  const damping = options.damping ?? DATAINF_DAMPING
  if (!(Number.isFinite(damping) && damping > 0)) throw new AttributionError('INVALID_ARGUMENT', 'damping must be positive')
  const v = testVector(loraGradients(model, adapter, test), options.weighting ?? 'unit')
  const g = loraGradients(model, adapter, train)
  const n = train.length
  const result = new Float64Array(n)
  for (const [start, end] of g.blocks) {
    const norms = new Float64Array(n)
    let mean = 0
    for (let i = 0; i < n; i++) {
      let s = 0
      for (let j = start, o = i * g.size; j < end; j++) s += g.flat[o + j]! * g.flat[o + j]!
      norms[i] = s
      mean += s
    }
    mean /= n
    if (mean === 0) continue // a block no example moves (e.g. lora_a while lora_b is still zero)
    const lambda = damping * mean
    const u = new Float64Array(end - start)
    const vg = new Float64Array(n)
    for (let i = 0; i < n; i++) {
      vg[i] = dot(v, g, i, start, end)
      const c = vg[i]! / (lambda + norms[i]!)
      for (let j = start, o = i * g.size; j < end; j++) u[j - start]! += c * g.flat[o + j]!
    }
    for (let k = 0; k < n; k++) {
      let ug = 0
      for (let j = start, o = k * g.size; j < end; j++) ug += u[j - start]! * g.flat[o + j]!
      result[k]! += (vg[k]! - ug / n) / lambda
    }
  }
  return result.map(toFixed)
}

/**
 * TracIn's per-pair term at one adapter: ⟨∇ℓ(test_t), ∇ℓ(train_i)⟩ for every pair, [test, train]
 * row-major, Q32 integers — per-test attributions (what a linear datamodel of the test losses
 * needs); Σ_t row t equals tracInCp with one checkpoint, η = 1 and 'sum' up to rounding.
 */
export function gradientDotMatrix(model: LoraModel, adapter: Tensors, train: readonly Example[], test: readonly Example[]): Float64Array {
  const g = loraGradients(model, adapter, train)
  const gt = loraGradients(model, adapter, test)
  const out = new Float64Array(test.length * train.length)
  const v = new Float64Array(g.size)
  for (let t = 0; t < test.length; t++) {
    for (let j = 0; j < g.size; j++) v[j] = gt.flat[t * g.size + j]!
    for (let i = 0; i < train.length; i++) out[t * train.length + i] = toFixed(dot(v, g, i, 0, g.size))
  }
  return out
}
