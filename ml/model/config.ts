// The model family every base model, adapter, training job and ONNX export of the project shares.
// One description (`ModelConfig`, owned by the runtime's `models` module, which keeps it as the
// canonical JSON of a base model's `architecture`), read by the deterministic engine (ml/) and
// the ONNX writer (ml/onnx/).
//
// A pre-LN decoder-only transformer (GPT-2 shape, no dropout):
//
//   x      = tok_emb[ids] + pos_emb[0..T)                                   [B, T, D]
//   layer i, for i in 0..layers:
//     h    = LN(x; l{i}.ln1.g, l{i}.ln1.b)
//     q    = h·wq + s·((h·wq.lora_a)·wq.lora_b)       (LoRA on wq and wv only; s = alpha / rank)
//     k    = h·wk
//     v    = h·wv + s·((h·wv.lora_a)·wv.lora_b)
//     per head (head dim E = D / heads, head j uses columns j·E .. j·E+E):
//       a  = softmax over u ≤ t of (q_t · k_u) / sqrt(E)      (causal; positions u > t get weight 0)
//       o_t = Σ_u a_u · v_u
//     x    = x + o·wo
//     h2   = LN(x; l{i}.ln2.g, l{i}.ln2.b)
//     x    = x + GELU(h2·w1 + b1)·w2 + b2
//   x      = LN(x; lnf.g, lnf.b)
//   lm:          logits = x·tok_embᵀ                                        [B, T, vocab]  (tied head)
//   classifier:  pooled = Σ_t mask_t·x_t / Σ_t mask_t;  logits = pooled·cls.w + cls.b   [B, classes]
//
//   LN(x; g, b) = (x − mean) / sqrt(var + 1e-5) · g + b     (biased variance over the last axis)
//   GELU(x)     = 0.5·x·(1 + tanh(0.7978845608028654·(x + 0.044715·x³)))
//
// Every matrix W is stored row-major with shape [in, out], so y = x·W (ONNX MatMul(x, W)).
// Tensors are float32; names are exactly those above (`tok_emb`, `pos_emb`, `l0.attn.wq`,
// `l0.attn.wq.lora_a`, `l0.mlp.b1`, `lnf.g`, `cls.w`, …). An adapter holds `l{i}.attn.wq.lora_a`
// [D, r], `l{i}.attn.wq.lora_b` [r, D], the same for wv, and — for a classifier — its own `cls.w`
// and `cls.b`, which replace the base's head.

// The schema itself (kind and sizes) belongs to the runtime, which registers base models with it
// and checks it; the engine computes with it.
import type { ModelConfig } from '../../runtime/modules/models/index.ts'
export type { ModelConfig, ModelKind } from '../../runtime/modules/models/index.ts'

export interface LoraConfig {
  readonly rank: number
  readonly alpha: number
}

export const LN_EPSILON = 1e-5
export const GELU_C = 0.7978845608028654
export const GELU_K = 0.044715

/** The parameter names and shapes of a base model, in canonical order (the order of its weights file and hash). */
export function paramShapes(config: ModelConfig): Array<[string, number[]]> {
  const { vocab, context, dim, layers, hidden, classes } = config
  const shapes: Array<[string, number[]]> = [['tok_emb', [vocab, dim]], ['pos_emb', [context, dim]]]
  for (let i = 0; i < layers; i++) {
    shapes.push(
      [`l${i}.ln1.g`, [dim]], [`l${i}.ln1.b`, [dim]],
      [`l${i}.attn.wq`, [dim, dim]], [`l${i}.attn.wk`, [dim, dim]], [`l${i}.attn.wv`, [dim, dim]], [`l${i}.attn.wo`, [dim, dim]],
      [`l${i}.ln2.g`, [dim]], [`l${i}.ln2.b`, [dim]],
      [`l${i}.mlp.w1`, [dim, hidden]], [`l${i}.mlp.b1`, [hidden]], [`l${i}.mlp.w2`, [hidden, dim]], [`l${i}.mlp.b2`, [dim]],
    )
  }
  shapes.push(['lnf.g', [dim]], ['lnf.b', [dim]])
  if (config.kind === 'classifier') shapes.push(['cls.w', [dim, classes]], ['cls.b', [classes]])
  return shapes
}

/** The tensors of a LoRA adapter for this model, in canonical order. */
export function adapterShapes(config: ModelConfig, lora: LoraConfig): Array<[string, number[]]> {
  const { dim, layers, classes } = config
  const shapes: Array<[string, number[]]> = []
  for (let i = 0; i < layers; i++) {
    for (const w of ['wq', 'wv']) shapes.push([`l${i}.attn.${w}.lora_a`, [dim, lora.rank]], [`l${i}.attn.${w}.lora_b`, [lora.rank, dim]])
  }
  if (config.kind === 'classifier') shapes.push(['cls.w', [dim, classes]], ['cls.b', [classes]])
  return shapes
}

/** Named float32 tensors (row-major). */
export type Tensors = ReadonlyMap<string, Float32Array>

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1)
}
