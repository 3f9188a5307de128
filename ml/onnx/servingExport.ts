// The serving export of a language model (ml/model/config.ts): one decode step per call with a KV
// cache, and heterogeneous multi-LoRA — every row of a batch picks its own adapters from a stack.
//
// Inputs (B rows, T new tokens per row, P past slots, N stacked adapters, R the stack's rank, M adapters per row):
//   input_ids     int64 [B, T]     the new tokens (rows shorter than T are right-padded; see last_index)
//   past_length   int64 [B]        tokens already in each row's cache; the new ones sit at positions past_length + t
//   last_index    int64 [B]        which of the T positions gives the row's logits (its last real token)
//   past_key.{i}  float [B, H, E, P]  layer i's cached keys, stored transposed so q·kᵀ reads them without a copy
//   past_value.{i} float [B, H, P, E] layer i's cached values; slots ≥ past_length are masked out (any content)
//   l{i}.attn.{wq,wv}.lora_a  float [N, D, R]   the adapter stack (zero-padded to rank R) — inputs, never initializers
//   l{i}.attn.{wq,wv}.lora_b  float [N, R, D]
//   lora_index    int64 [B, M]     per row, which stacked adapters it adds
//   lora_scale    float [B, M]     per row and adapter: weight · alpha / rank (0 for an unused entry)
// Outputs:
//   logits        float [B, V]     at last_index
//   present_key.{i}  float [B, H, E, T]  the new positions' keys (the caller writes them into its cache)
//   present_value.{i} float [B, H, T, E]
//
// Why this shape. The cache is the caller's fixed-size buffer: the graph reads it in place and returns
// only the T new positions, so no whole-cache Concat grows with the position (the attention scores of
// the past and of the new positions are concatenated instead: [T, P + T] per head). A decode step
// (T = 1) computes the projections of one position; the row-wise LoRA is Punica's BGMV: Gather the
// rows' adapters from the stack, then one batched MatMul pair, summed over the row's M adapters
// (LoRAX's weighted merge; a row without an adapter has scale 0). Numerics follow config.ts's math
// op for op, so outputs match the deterministic engine within float32 summation-order differences.
import { type ModelConfig, type Tensors, elementCount, paramShapes } from '../model/config.ts'
import { OnnxExportError } from './errors.ts'
import {
  checkConfig, CONSTANT_PREFIX, gelu, GraphBuilder, layerNorm, MASKED_SCORE, PRODUCER_NAME,
} from './export.ts'
import { encodeModel, IR_VERSION, OPSET_VERSION, type OnnxAttribute, type OnnxValueInfo } from './model.ts'

/** Bump when the serving graph changes. */
export const SERVING_PRODUCER_VERSION = 'serving-1'
export const SERVING_INPUT_IDS = 'input_ids'
export const SERVING_PAST_LENGTH = 'past_length'
export const SERVING_LAST_INDEX = 'last_index'
export const SERVING_LORA_INDEX = 'lora_index'
export const SERVING_LORA_SCALE = 'lora_scale'
export const SERVING_LOGITS = 'logits'
/** The projections the serving export puts a per-row adapter on (the model family's LoRA targets). */
export const SERVING_LORA_TARGETS = ['wq', 'wv'] as const
export const pastKeyName = (layer: number) => `past_key.${layer}`
export const pastValueName = (layer: number) => `past_value.${layer}`
export const presentKeyName = (layer: number) => `present_key.${layer}`
export const presentValueName = (layer: number) => `present_value.${layer}`
export const loraStackNames = (layer: number, target: string) => ({ a: `l${layer}.attn.${target}.lora_a`, b: `l${layer}.attn.${target}.lora_b` })

export function servingInterface(config: ModelConfig): { inputs: OnnxValueInfo[]; outputs: OnnxValueInfo[] } {
  checkConfig(config, undefined)
  if (config.kind !== 'lm') throw new OnnxExportError('ONNX_EXPORT_BAD_CONFIG', 'the serving export is for language models', { details: { kind: config.kind } })
  const { dim: D, heads: H, layers } = config
  const E = D / H
  const inputs: OnnxValueInfo[] = [
    { name: SERVING_INPUT_IDS, elemType: 'int64', shape: ['batch', 'new'] },
    { name: SERVING_PAST_LENGTH, elemType: 'int64', shape: ['batch'] },
    { name: SERVING_LAST_INDEX, elemType: 'int64', shape: ['batch'] },
  ]
  const outputs: OnnxValueInfo[] = [{ name: SERVING_LOGITS, elemType: 'float', shape: ['batch', config.vocab] }]
  for (let i = 0; i < layers; i++) {
    inputs.push({ name: pastKeyName(i), elemType: 'float', shape: ['batch', H, E, 'past'] }, { name: pastValueName(i), elemType: 'float', shape: ['batch', H, 'past', E] })
    outputs.push({ name: presentKeyName(i), elemType: 'float', shape: ['batch', H, E, 'new'] }, { name: presentValueName(i), elemType: 'float', shape: ['batch', H, 'new', E] })
    for (const target of SERVING_LORA_TARGETS) {
      const { a, b } = loraStackNames(i, target)
      inputs.push({ name: a, elemType: 'float', shape: ['adapters', D, 'rank'] }, { name: b, elemType: 'float', shape: ['adapters', 'rank', D] })
    }
  }
  inputs.push({ name: SERVING_LORA_INDEX, elemType: 'int64', shape: ['batch', 'merge'] }, { name: SERVING_LORA_SCALE, elemType: 'float', shape: ['batch', 'merge'] })
  return { inputs, outputs }
}

/** The canonical ONNX bytes of the serving graph of `config` with the `base` weights as initializers. */
export function exportServingModel(config: ModelConfig, base: Tensors): Uint8Array {
  const { inputs, outputs } = servingInterface(config)
  const g = new GraphBuilder()
  for (const [name, shape] of paramShapes(config)) {
    const data = base.get(name)
    if (data === undefined) throw new OnnxExportError('ONNX_EXPORT_MISSING_TENSOR', `base weights lack ${name}`, { details: { name } })
    if (data.length !== elementCount(shape)) throw new OnnxExportError('ONNX_EXPORT_BAD_TENSOR_SIZE', `base tensor ${name} has the wrong size`, { details: { name, shape, length: data.length } })
    g.initializers.push({ name, dataType: 'float', dims: shape, data })
  }
  buildServingForward(g, config)
  return encodeModel({
    irVersion: IR_VERSION,
    producerName: PRODUCER_NAME,
    producerVersion: SERVING_PRODUCER_VERSION,
    graph: { name: 'openledger-lm-serving', nodes: g.nodes, initializers: g.initializers, inputs, outputs },
    opsetImports: [{ domain: '', version: OPSET_VERSION }],
  })
}

const int = (name: string, value: number): OnnxAttribute => ({ name, type: 'int', value })
const perm = (value: number[]): OnnxAttribute => ({ name: 'perm', type: 'ints', value })

function buildServingForward(g: GraphBuilder, config: ModelConfig): void {
  const { dim, heads, context } = config
  const headDim = dim / heads

  g.enter('embed')
  const newLength = g.op('Shape', [SERVING_INPUT_IDS], [int('start', 1), int('end', 2)]) // [1] = T
  const pastExtent = g.op('Shape', [pastValueName(0)], [int('start', 2), int('end', 3)]) // [1] = P
  const arange = g.constant({ name: `${CONSTANT_PREFIX}arange`, dataType: 'int64', dims: [context], data: Array.from({ length: context }, (_, i) => BigInt(i)) })
  const zero = g.int64s('zero', [0])
  const axis0 = g.int64s('axis0', [0])
  const axis1 = g.int64s('axis1', [1])
  const pastLengthColumn = g.op('Unsqueeze', [SERVING_PAST_LENGTH, axis1]) // [B, 1]
  const positions = g.op('Add', [pastLengthColumn, g.op('Slice', [arange, zero, newLength, axis0])]) // [B, T]
  let x = g.op('Add', [g.op('Gather', ['tok_emb', SERVING_INPUT_IDS], [int('axis', 0)]), g.op('Gather', ['pos_emb', positions], [int('axis', 0)])])

  // past slot u of row b is visible iff u < past_length[b]; new position t sees new positions ≤ t
  const pastSlots = g.op('Slice', [arange, zero, pastExtent, axis0]) // [P]
  const visible = g.op('Less', [pastSlots, pastLengthColumn]) // [B, P]
  const pastMask2 = g.op('Where', [visible, g.floats('zero_f', [0]), g.floats('masked', [MASKED_SCORE])]) // [B, P]
  const pastMask = g.op('Unsqueeze', [pastMask2, g.int64s('axes12', [1, 2])]) // [B, 1, 1, P]
  const causalData = new Float32Array(context * context)
  for (let t = 0; t < context; t++) for (let u = t + 1; u < context; u++) causalData[t * context + u] = MASKED_SCORE
  const causal = g.constant({ name: `${CONSTANT_PREFIX}causal_mask`, dataType: 'float', dims: [context, context], data: causalData })
  const newMask = g.op('Slice', [causal, g.int64s('zero2', [0, 0]), g.op('Concat', [newLength, newLength], [int('axis', 0)]), g.int64s('axes01', [0, 1])]) // [T, T]
  const splitHeads = g.int64s('split_heads', [0, 0, heads, headDim])
  const mergeHeads = g.int64s('merge_heads', [0, 0, dim])
  const scale = g.floats('sqrt_head_dim', [Math.sqrt(headDim)])
  const totalExtent = g.op('Add', [pastExtent, newLength])
  const lastAxis = g.int64s('axis_last', [-1])
  const loraScale = g.op('Unsqueeze', [SERVING_LORA_SCALE, g.int64s('axes23', [2, 3])]) // [B, M, 1, 1]

  for (let i = 0; i < config.layers; i++) {
    const p = `l${i}`
    g.enter(`${p}.attn`)
    const h = layerNorm(g, x, `${p}.ln1.g`, `${p}.ln1.b`)
    const hRows = g.op('Unsqueeze', [h, axis1]) // [B, 1, T, D]
    const q = projectWithStack(g, h, hRows, i, 'wq', loraScale)
    const k = g.op('MatMul', [h, `${p}.attn.wk`])
    const v = projectWithStack(g, h, hRows, i, 'wv', loraScale)
    const qHeads = g.op('Transpose', [g.op('Reshape', [q, splitHeads])], [perm([0, 2, 1, 3])]) // [B, H, T, E]
    const kHeadsT = g.op('Transpose', [g.op('Reshape', [k, splitHeads])], [perm([0, 2, 3, 1])], presentKeyName(i)) // [B, H, E, T]
    const vHeads = g.op('Transpose', [g.op('Reshape', [v, splitHeads])], [perm([0, 2, 1, 3])], presentValueName(i)) // [B, H, T, E]
    const pastScores = g.op('Add', [g.op('Div', [g.op('MatMul', [qHeads, pastKeyName(i)]), scale]), pastMask]) // [B, H, T, P]
    const newScores = g.op('Add', [g.op('Div', [g.op('MatMul', [qHeads, kHeadsT]), scale]), newMask]) // [B, H, T, T]
    const weights = g.op('Softmax', [g.op('Concat', [pastScores, newScores], [int('axis', -1)])], [int('axis', -1)]) // [B, H, T, P + T]
    const pastWeights = g.op('Slice', [weights, zero, pastExtent, lastAxis])
    const newWeights = g.op('Slice', [weights, pastExtent, totalExtent, lastAxis])
    const heads4 = g.op('Add', [g.op('MatMul', [pastWeights, pastValueName(i)]), g.op('MatMul', [newWeights, vHeads])]) // [B, H, T, E]
    const attended = g.op('Transpose', [heads4], [perm([0, 2, 1, 3])]) // [B, T, H, E]
    x = g.op('Add', [x, g.op('MatMul', [g.op('Reshape', [attended, mergeHeads]), `${p}.attn.wo`])])

    g.enter(`${p}.mlp`)
    const h2 = layerNorm(g, x, `${p}.ln2.g`, `${p}.ln2.b`)
    const up = g.op('Add', [g.op('MatMul', [h2, `${p}.mlp.w1`]), `${p}.mlp.b1`])
    const down = g.op('Add', [g.op('MatMul', [gelu(g, up), `${p}.mlp.w2`]), `${p}.mlp.b2`])
    x = g.op('Add', [x, down])
  }

  g.enter('head')
  // each row's last real position: [B, 1, D] picked from [B, T, D], then the final LN and the tied head
  const pick = g.op('Expand', [g.op('Reshape', [SERVING_LAST_INDEX, g.int64s('rows_1_1', [-1, 1, 1])]), g.op('Concat', [g.op('Shape', [x], [int('end', 1)]), g.int64s('one_dim', [1, dim])], [int('axis', 0)])])
  const last = g.op('Squeeze', [g.op('GatherElements', [x, pick], [int('axis', 1)]), axis1]) // [B, D]
  const xf = layerNorm(g, last, 'lnf.g', 'lnf.b')
  const unembed = g.op('Transpose', ['tok_emb'], [perm([1, 0])])
  g.op('MatMul', [xf, unembed], undefined, SERVING_LOGITS)
}

/** h·W + Σ_m scale[b, m] · (h_b·A[index[b, m]])·B[index[b, m]]: Punica's BGMV over the stack. */
function projectWithStack(g: GraphBuilder, h: string, hRows: string, layer: number, target: string, loraScale: string): string {
  const base = g.op('MatMul', [h, `l${layer}.attn.${target}`])
  const { a, b } = loraStackNames(layer, target)
  const rowsA = g.op('Gather', [a, SERVING_LORA_INDEX], [int('axis', 0)]) // [B, M, D, R]
  const rowsB = g.op('Gather', [b, SERVING_LORA_INDEX], [int('axis', 0)]) // [B, M, R, D]
  const down = g.op('Mul', [g.op('MatMul', [hRows, rowsA]), loraScale]) // [B, M, T, R]
  const delta = g.op('ReduceSum', [g.op('MatMul', [down, rowsB]), g.int64s('axis1', [1])], [int('keepdims', 0)]) // [B, T, D]
  return g.op('Add', [base, delta])
}
