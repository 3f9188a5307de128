// Running an exported model (export.ts) in onnxruntime-node: session creation with the options the
// project uses, and one forward call fed the same arguments as the deterministic engine's `forward`
// (token ids, batch × length, optional padding mask, optional adapter and scale).
import * as ort from 'onnxruntime-node'
import { adapterShapes, type LoraConfig, type ModelConfig, type Tensors } from '../model/config.ts'
import { OnnxFormatError } from './errors.ts'
import { INPUT_IDS, INPUT_LORA_SCALE, INPUT_MASK, OUTPUT_LOGITS } from './export.ts'

export interface OnnxSessionOptions {
  /** threads for one operator (default 1, so figures are per core and runs do not fight for cores) */
  readonly threads?: number
}

export async function createOnnxSession(model: Uint8Array, options: OnnxSessionOptions = {}): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(model, {
    intraOpNumThreads: options.threads ?? 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  })
}

export interface OnnxForwardInput {
  /** row-major [batch, length] */
  readonly ids: Int32Array
  readonly batch: number
  readonly length: number
  /** classifier: 1 for a real token, 0 for padding, [batch, length] */
  readonly mask?: Float32Array
  /** for a model exported with `lora`: the adapter tensors (by name) and the scale (alpha / rank) */
  readonly adapter?: { readonly lora: LoraConfig; readonly tensors: Tensors; readonly scale: number }
}

/** Logits: [batch, length, vocab] for a language model, [batch, classes] for a classifier. */
export async function runOnnxForward(session: ort.InferenceSession, config: ModelConfig, input: OnnxForwardInput): Promise<Float32Array> {
  const feeds: Record<string, ort.Tensor> = {
    [INPUT_IDS]: new ort.Tensor('int64', BigInt64Array.from(input.ids, (id) => BigInt(id)), [input.batch, input.length]),
  }
  if (input.mask !== undefined) feeds[INPUT_MASK] = new ort.Tensor('float32', input.mask, [input.batch, input.length])
  if (input.adapter !== undefined) {
    for (const [name, shape] of adapterShapes(config, input.adapter.lora)) {
      const data = input.adapter.tensors.get(name)
      if (data !== undefined) feeds[name] = new ort.Tensor('float32', data, shape)
    }
    feeds[INPUT_LORA_SCALE] = new ort.Tensor('float32', Float32Array.of(input.adapter.scale), [1])
  }
  const results = await session.run(feeds)
  const logits = results[OUTPUT_LOGITS]
  if (logits === undefined) throw new OnnxFormatError('ONNX_INTERFACE_MISMATCH', 'the model has no logits output', { details: { outputs: Object.keys(results) } })
  return logits.data as Float32Array
}
