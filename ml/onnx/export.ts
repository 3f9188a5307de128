// The ONNX export of the project's model family (ml/model/config.ts): the forward pass written with
// primitive default-domain ops (opset 17) so any ONNX runtime can serve a base model or a base model
// with a LoRA adapter, and the check a node runs on an exported artifact it fetched. Base weights are
// initializers; with `lora`, the adapter tensors and `lora_scale` (alpha / rank) are graph inputs
// instead — never also initializers, since an initializer of an input's name silently replaces the
// fed value — so one file serves every adapter of that rank. The graph is built in a fixed order
// with fixed names, and the encoding is canonical (model.ts): same config and weights, same bytes.
import {
  adapterShapes, elementCount, GELU_C, GELU_K, LN_EPSILON, paramShapes, type LoraConfig, type ModelConfig, type Tensors,
} from '../model/config.ts'
import { OnnxExportError, OnnxFormatError } from './errors.ts'
import {
  encodeModel, IR_VERSION, OPSET_VERSION, readModelSummary, TensorDataType,
  type OnnxAttribute, type OnnxDim, type OnnxModelSummary, type OnnxNode, type OnnxTensor, type OnnxValueInfo,
} from './model.ts'

export interface ExportOptions {
  /** Export with the adapter tensors of this rank as graph inputs. */
  readonly lora?: LoraConfig
}

export const PRODUCER_NAME = 'openledger'
/** Bump when the graph the exporter builds changes: artifacts are identified by their bytes. */
export const PRODUCER_VERSION = '1'
export const INPUT_IDS = 'input_ids'
export const INPUT_MASK = 'mask'
export const INPUT_LORA_SCALE = 'lora_scale'
export const OUTPUT_LOGITS = 'logits'
const BATCH = 'batch'
const LENGTH = 'length'
/** Added to the attention scores of future positions: exp(−1e9 − max) is exactly 0 in float32. */
export const MASKED_SCORE = -1e9

/** The graph interface of an export: what a caller feeds and reads, and which tensors are baked in. */
export interface ExportInterface {
  readonly inputs: readonly OnnxValueInfo[]
  readonly outputs: readonly OnnxValueInfo[]
  /** the base weights stored in the file, in canonical order */
  readonly weights: ReadonlyArray<readonly [string, readonly number[]]>
}

export function exportInterface(config: ModelConfig, options: ExportOptions = {}): ExportInterface {
  checkConfig(config, options.lora)
  const inputs: OnnxValueInfo[] = [{ name: INPUT_IDS, elemType: 'int64', shape: [BATCH, LENGTH] }]
  if (config.kind === 'classifier') inputs.push({ name: INPUT_MASK, elemType: 'float', shape: [BATCH, LENGTH] })
  let weights = paramShapes(config)
  if (options.lora !== undefined) {
    const adapter = adapterShapes(config, options.lora)
    for (const [name, shape] of adapter) inputs.push({ name, elemType: 'float', shape })
    inputs.push({ name: INPUT_LORA_SCALE, elemType: 'float', shape: [1] })
    const adapterNames = new Set(adapter.map(([name]) => name))
    weights = weights.filter(([name]) => !adapterNames.has(name))
  }
  const logitsShape: OnnxDim[] = config.kind === 'lm' ? [BATCH, LENGTH, config.vocab] : [BATCH, config.classes]
  return { inputs, outputs: [{ name: OUTPUT_LOGITS, elemType: 'float', shape: logitsShape }], weights }
}

/** The canonical ONNX bytes of `config`'s forward pass with the `base` weights. */
export function exportModel(config: ModelConfig, base: Tensors, options: ExportOptions = {}): Uint8Array {
  const { inputs, outputs, weights } = exportInterface(config, options)
  const graph = new GraphBuilder()
  for (const [name, shape] of weights) {
    const data = base.get(name)
    if (data === undefined) throw new OnnxExportError('ONNX_EXPORT_MISSING_TENSOR', `base weights lack ${name}`, { details: { name } })
    if (data.length !== elementCount(shape)) {
      throw new OnnxExportError('ONNX_EXPORT_BAD_TENSOR_SIZE', `base tensor ${name} has the wrong size`, { details: { name, shape, length: data.length } })
    }
    graph.initializers.push({ name, dataType: 'float', dims: shape, data })
  }
  buildForward(graph, config, options.lora !== undefined)
  return encodeModel({
    irVersion: IR_VERSION,
    producerName: PRODUCER_NAME,
    producerVersion: PRODUCER_VERSION,
    graph: { name: `openledger-${config.kind}`, nodes: graph.nodes, initializers: graph.initializers, inputs, outputs },
    opsetImports: [{ domain: '', version: OPSET_VERSION }],
  })
}

/**
 * Checks that fetched bytes are a well-formed export of `config` (with `options`): the same graph
 * inputs, output and baked-in weight names and shapes, and no initializer shadowing an input.
 * Returns the parsed summary; throws OnnxFormatError otherwise. This checks the interface, not the
 * computation: what the file computes is vouched for by its hash matching the one recorded on chain.
 */
export function checkExport(bytes: Uint8Array, config: ModelConfig, options: ExportOptions = {}): OnnxModelSummary {
  const summary = readModelSummary(bytes)
  const expected = exportInterface(config, options)
  const { graph } = summary
  const valueKey = (v: { name: string; elemType: number; shape: readonly OnnxDim[] }) => `${v.name}:${v.elemType}[${v.shape.join(',')}]`
  const expectedKey = (v: OnnxValueInfo) => valueKey({ ...v, elemType: TensorDataType[v.elemType] })
  const expectedInputs = expected.inputs.map(expectedKey).join(' ')
  const expectedOutputs = expected.outputs.map(expectedKey).join(' ')
  const weightNames = new Set(expected.weights.map(([name]) => name))
  // constants the graph adds are initializers too; the weights must all be there with their shapes
  const initializers = new Map(graph.initializers.map((tensor) => [tensor.name, tensor]))
  const mismatch = (what: string, details: Record<string, unknown>) =>
    new OnnxFormatError('ONNX_INTERFACE_MISMATCH', `model file does not match the expected export: ${what}`, { details })
  if (graph.inputs.map(valueKey).join(' ') !== expectedInputs) throw mismatch('inputs', { expected: expectedInputs, found: graph.inputs.map(valueKey).join(' ') })
  if (graph.outputs.map(valueKey).join(' ') !== expectedOutputs) throw mismatch('outputs', { expected: expectedOutputs, found: graph.outputs.map(valueKey).join(' ') })
  for (const [name, shape] of expected.weights) {
    const tensor = initializers.get(name)
    if (tensor === undefined || tensor.dataType !== TensorDataType.float || tensor.dims.join(',') !== shape.join(',')) throw mismatch('weights', { name, shape })
  }
  for (const tensor of graph.initializers) {
    if (!weightNames.has(tensor.name) && !tensor.name.startsWith(CONSTANT_PREFIX)) throw mismatch('unexpected initializer', { name: tensor.name })
  }
  if (initializers.size !== graph.initializers.length) throw mismatch('duplicate initializer', {})
  for (const input of graph.inputs) if (initializers.has(input.name)) throw mismatch('an initializer shadows an input', { name: input.name })
  return summary
}

export function checkConfig(config: ModelConfig, lora: LoraConfig | undefined): void {
  const positive = (name: string, value: number) => {
    if (!Number.isSafeInteger(value) || value < 1) throw new OnnxExportError('ONNX_EXPORT_BAD_CONFIG', `${name} must be a positive integer`, { details: { [name]: value } })
  }
  positive('vocab', config.vocab)
  positive('context', config.context)
  positive('dim', config.dim)
  positive('layers', config.layers)
  positive('heads', config.heads)
  positive('hidden', config.hidden)
  if (config.dim % config.heads !== 0) throw new OnnxExportError('ONNX_EXPORT_BAD_CONFIG', 'dim must be a multiple of heads', { details: { dim: config.dim, heads: config.heads } })
  if (config.kind === 'classifier') positive('classes', config.classes)
  else if (config.kind !== 'lm') throw new OnnxExportError('ONNX_EXPORT_BAD_CONFIG', 'unknown model kind', { details: { kind: config.kind } })
  if (lora !== undefined) positive('rank', lora.rank)
}

export const CONSTANT_PREFIX = 'const.'

/** Appends nodes with generated, deterministic value names. */
export class GraphBuilder {
  readonly nodes: OnnxNode[] = []
  readonly initializers: OnnxTensor[] = []
  private readonly constants = new Set<string>()
  private scope = ''
  private counter = 0

  enter(scope: string): void {
    this.scope = scope
    this.counter = 0
  }

  op(opType: string, inputs: readonly string[], attributes?: readonly OnnxAttribute[], output?: string): string {
    const name = output ?? `${this.scope}/${opType}_${this.counter++}`
    this.nodes.push(attributes === undefined ? { opType, inputs, outputs: [name], name } : { opType, inputs, outputs: [name], name, attributes })
    return name
  }

  floats(label: string, values: readonly number[]): string {
    return this.constant({ name: `${CONSTANT_PREFIX}${label}`, dataType: 'float', dims: [values.length], data: Float32Array.from(values) })
  }

  int64s(label: string, values: readonly number[]): string {
    return this.constant({ name: `${CONSTANT_PREFIX}${label}`, dataType: 'int64', dims: [values.length], data: values.map(BigInt) })
  }

  constant(tensor: OnnxTensor): string {
    if (!this.constants.has(tensor.name)) {
      this.constants.add(tensor.name)
      this.initializers.push(tensor)
    }
    return tensor.name
  }
}

function buildForward(g: GraphBuilder, config: ModelConfig, withLora: boolean): void {
  const { dim, heads, context } = config
  const headDim = dim / heads

  g.enter('embed')
  const length = g.op('Shape', [INPUT_IDS], [{ name: 'start', type: 'int', value: 1 }, { name: 'end', type: 'int', value: 2 }])
  const positions = g.op('Slice', ['pos_emb', g.int64s('zero', [0]), length, g.int64s('axis0', [0])])
  let x = g.op('Add', [g.op('Gather', ['tok_emb', INPUT_IDS], [{ name: 'axis', type: 'int', value: 0 }]), positions])

  const mask = new Float32Array(context * context)
  for (let t = 0; t < context; t++) for (let u = t + 1; u < context; u++) mask[t * context + u] = MASKED_SCORE
  const causal = g.constant({ name: `${CONSTANT_PREFIX}causal_mask`, dataType: 'float', dims: [context, context], data: mask })
  const lengthSquare = g.op('Concat', [length, length], [{ name: 'axis', type: 'int', value: 0 }])
  const scoreMask = g.op('Slice', [causal, g.int64s('zero2', [0, 0]), lengthSquare, g.int64s('axes01', [0, 1])])
  const splitHeads = g.int64s('split_heads', [0, 0, heads, headDim])
  const mergeHeads = g.int64s('merge_heads', [0, 0, dim])
  const scale = g.floats('sqrt_head_dim', [Math.sqrt(headDim)])

  for (let i = 0; i < config.layers; i++) {
    const p = `l${i}`
    g.enter(`${p}.attn`)
    const h = layerNorm(g, x, `${p}.ln1.g`, `${p}.ln1.b`)
    const q = projectWithLora(g, h, `${p}.attn.wq`, withLora)
    const k = g.op('MatMul', [h, `${p}.attn.wk`])
    const v = projectWithLora(g, h, `${p}.attn.wv`, withLora)
    const perm = (value: number[]): OnnxAttribute => ({ name: 'perm', type: 'ints', value })
    const qHeads = g.op('Transpose', [g.op('Reshape', [q, splitHeads])], [perm([0, 2, 1, 3])]) // [B, H, T, E]
    const kHeadsT = g.op('Transpose', [g.op('Reshape', [k, splitHeads])], [perm([0, 2, 3, 1])]) // [B, H, E, T]
    const vHeads = g.op('Transpose', [g.op('Reshape', [v, splitHeads])], [perm([0, 2, 1, 3])]) // [B, H, T, E]
    const scores = g.op('Add', [g.op('Div', [g.op('MatMul', [qHeads, kHeadsT]), scale]), scoreMask])
    const weights = g.op('Softmax', [scores], [{ name: 'axis', type: 'int', value: -1 }])
    const attended = g.op('Transpose', [g.op('MatMul', [weights, vHeads])], [perm([0, 2, 1, 3])]) // [B, T, H, E]
    x = g.op('Add', [x, g.op('MatMul', [g.op('Reshape', [attended, mergeHeads]), `${p}.attn.wo`])])

    g.enter(`${p}.mlp`)
    const h2 = layerNorm(g, x, `${p}.ln2.g`, `${p}.ln2.b`)
    const up = g.op('Add', [g.op('MatMul', [h2, `${p}.mlp.w1`]), `${p}.mlp.b1`])
    const down = g.op('Add', [g.op('MatMul', [gelu(g, up), `${p}.mlp.w2`]), `${p}.mlp.b2`])
    x = g.op('Add', [x, down])
  }

  g.enter('head')
  x = layerNorm(g, x, 'lnf.g', 'lnf.b')
  if (config.kind === 'lm') {
    const unembed = g.op('Transpose', ['tok_emb'], [{ name: 'perm', type: 'ints', value: [1, 0] }])
    g.op('MatMul', [x, unembed], undefined, OUTPUT_LOGITS)
    return
  }
  const weight = g.op('Unsqueeze', [INPUT_MASK, g.int64s('axis_last', [-1])]) // [B, T, 1]
  const axisTime = g.int64s('axis1', [1])
  const total = g.op('ReduceSum', [g.op('Mul', [x, weight]), axisTime], [{ name: 'keepdims', type: 'int', value: 0 }]) // [B, D]
  const count = g.op('ReduceSum', [INPUT_MASK, axisTime], [{ name: 'keepdims', type: 'int', value: 1 }]) // [B, 1]
  const pooled = g.op('Div', [total, count])
  g.op('Add', [g.op('MatMul', [pooled, 'cls.w']), 'cls.b'], undefined, OUTPUT_LOGITS)
}

/** h·W, plus s·((h·A)·B) when the adapter is an input. */
function projectWithLora(g: GraphBuilder, h: string, weight: string, withLora: boolean): string {
  const base = g.op('MatMul', [h, weight])
  if (!withLora) return base
  const delta = g.op('MatMul', [g.op('MatMul', [h, `${weight}.lora_a`]), `${weight}.lora_b`])
  return g.op('Add', [base, g.op('Mul', [delta, INPUT_LORA_SCALE])])
}

/** (x − mean) / sqrt(var + ε) · g + b over the last axis, biased variance. */
export function layerNorm(g: GraphBuilder, x: string, gain: string, bias: string): string {
  const lastAxis: OnnxAttribute[] = [{ name: 'axes', type: 'ints', value: [-1] }, { name: 'keepdims', type: 'int', value: 1 }]
  const centered = g.op('Sub', [x, g.op('ReduceMean', [x], lastAxis)])
  const variance = g.op('ReduceMean', [g.op('Mul', [centered, centered])], lastAxis)
  const deviation = g.op('Sqrt', [g.op('Add', [variance, g.floats('ln_epsilon', [LN_EPSILON])])])
  return g.op('Add', [g.op('Mul', [g.op('Div', [centered, deviation]), gain]), bias])
}

/** 0.5·x·(1 + tanh(c·(x + k·x³))) */
export function gelu(g: GraphBuilder, x: string): string {
  const cube = g.op('Mul', [g.op('Mul', [x, x]), x])
  const inner = g.op('Mul', [g.op('Add', [x, g.op('Mul', [cube, g.floats('gelu_k', [GELU_K])])]), g.floats('gelu_c', [GELU_C])])
  const gate = g.op('Add', [g.op('Tanh', [inner]), g.floats('one', [1])])
  return g.op('Mul', [g.op('Mul', [x, gate]), g.floats('half', [0.5])])
}
