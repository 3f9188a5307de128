// Shared by verify.test.ts and its child process verifyJob.ts: the shipped LM, adapters made from a
// seed (so the child rebuilds the very same tensors), and another base of the same shape.
import type { ModelConfig, Tensors } from '../../../ml/model/config.ts'
import { initParams } from '../../../ml/model/params.ts'
import { loadBaseModel } from '../../../node/models/assets.ts'
import type { AdapterWeights } from '../../../node/serving/types.ts'
import { randomAdapter } from '../../ml/onnx/reference.ts'

export const LM = 'ol-lm-sotu-2m'

export async function shippedLm(): Promise<{ config: ModelConfig; weights: Map<string, Float32Array>; encode(text: string): number[] }> {
  const loaded = await loadBaseModel(LM)
  return { config: loaded.entry.config, weights: loaded.weights, encode: (text) => Array.from(loaded.tokenizer.encode(text)) }
}

/** An adapter strong enough to change greedy outputs; its tensors are a function of (id). */
export function seededAdapter(config: ModelConfig, id: string): AdapterWeights {
  const rank = Number(id) % 2 === 0 ? 8 : 4
  const tensors = randomAdapter(config, { rank, alpha: rank }, 1000 + Number(id))
  for (const tensor of tensors.values()) for (let i = 0; i < tensor.length; i++) tensor[i] = tensor[i]! * 1.2
  let bytes = 0
  for (const tensor of tensors.values()) bytes += tensor.byteLength
  return { base: LM, id, rank, alpha: rank, tensors, bytes }
}

/** Another base model of the same shape (freshly initialised weights). */
export function otherBase(config: ModelConfig): Tensors {
  return initParams(config, 77)
}

export const PROMPTS = [
  'My fellow citizens',
  'The state of the Union is',
  'Congress must act to',
  'Call me Ishmael. Some years ago',
  'We the people of the United States',
  'The whale rose from the sea and',
]
