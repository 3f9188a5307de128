// The forward pass for callers: logits for a batch, and the losses and accuracy a job reports.
// Each sequence runs alone through a cached Engine (one per config and adapter rank), so a batch's
// results never depend on how it was grouped.
import { MlError } from '../errors.ts'
import type { ModelConfig, Tensors } from './config.ts'
import { Engine, configKey } from './engine.ts'
import { elementCount } from './config.ts'

/** A labelled classifier example: token ids (truncated to the sequence length) and its class. */
export interface ClassifierExample {
  readonly ids: Int32Array
  readonly label: number
}

/** Engines kept for reuse (their workspaces are large); a few configs at most, the oldest dropped first. */
const MAX_CACHED_ENGINES = 4
const engines = new Map<string, Engine>()

/** A ready engine for this config and adapter rank (0: no adapter) with the weights bound. */
export function engineFor(config: ModelConfig, base: Tensors, adapter: Tensors | undefined, scale: number): Engine {
  const rank = adapter === undefined ? 0 : adapterRank(config, adapter)
  const key = configKey(config, rank)
  let engine = engines.get(key)
  if (engine === undefined) {
    engine = new Engine(config, rank)
    if (engines.size >= MAX_CACHED_ENGINES) engines.delete(engines.keys().next().value as string)
    engines.set(key, engine)
  }
  engine.setBase(base)
  engine.setAdapter(adapter, scale, base)
  return engine
}

/** The rank of an adapter, read from the shape of l0.attn.wq.lora_a [dim, rank]. */
export function adapterRank(config: ModelConfig, adapter: Tensors): number {
  const a = adapter.get('l0.attn.wq.lora_a')
  if (a === undefined) throw new MlError('MISSING_TENSOR', 'adapter tensor l0.attn.wq.lora_a is missing', { details: { name: 'l0.attn.wq.lora_a' } })
  const rank = a.length / config.dim
  if (!Number.isInteger(rank) || rank < 1) throw new MlError('SHAPE_MISMATCH', 'adapter lora_a is not [dim, rank]', { details: { length: a.length } })
  return rank
}

function checkBatch(config: ModelConfig, ids: Int32Array, batch: number, length: number): void {
  if (!Number.isSafeInteger(batch) || batch < 1 || !Number.isSafeInteger(length) || length < 1 || length > config.context) {
    throw new MlError('INVALID_ARGUMENT', 'batch must be ≥ 1 and length in [1, context]', { details: { batch, length, context: config.context } })
  }
  if (ids.length !== batch * length) throw new MlError('INVALID_ARGUMENT', 'ids must hold batch × length tokens', { details: { ids: ids.length, batch, length } })
}

/**
 * Logits of a batch of sequences (ids row-major [batch, length]): an LM gives [batch, length,
 * vocab], a classifier [batch, classes] (mean-pooled over mask [batch, length], default all ones).
 * scale = alpha / rank; ignored without an adapter.
 */
export function forward(config: ModelConfig, base: Tensors, adapter: Tensors | undefined, scale: number, ids: Int32Array, batch: number, length: number, mask?: Float32Array): Float32Array {
  checkBatch(config, ids, batch, length)
  if (mask !== undefined && mask.length !== batch * length) throw new MlError('INVALID_ARGUMENT', 'mask must be [batch, length]', { details: { mask: mask.length } })
  const engine = engineFor(config, base, adapter, scale)
  if (config.kind === 'lm') {
    const size = elementCount([length, config.vocab])
    const out = new Float32Array(batch * size)
    for (let b = 0; b < batch; b++) {
      engine.forward(ids.subarray(b * length, (b + 1) * length))
      out.set(engine.logits, b * size)
    }
    return out
  }
  const out = new Float32Array(batch * config.classes)
  for (let b = 0; b < batch; b++) {
    engine.forward(ids.subarray(b * length, (b + 1) * length), mask?.subarray(b * length, (b + 1) * length))
    out.set(engine.classLogits, b * config.classes)
  }
  return out
}

/** Mean next-token cross-entropy over a batch (each sequence's mean over its length − 1 targets, then the mean over sequences). */
export function lmLoss(config: ModelConfig, base: Tensors, adapter: Tensors | undefined, scale: number, ids: Int32Array, batch: number, length: number): number {
  if (config.kind !== 'lm') throw new MlError('INVALID_ARGUMENT', 'lmLoss needs a language model')
  checkBatch(config, ids, batch, length)
  const engine = engineFor(config, base, adapter, scale)
  let total = 0
  for (let b = 0; b < batch; b++) {
    engine.forward(ids.subarray(b * length, (b + 1) * length))
    total += engine.lmLoss(false)
  }
  return total / batch
}

/** An example's ids cut to the sequence length. */
export function truncateIds(ids: Int32Array, length: number): Int32Array {
  return ids.length > length ? ids.subarray(0, length) : ids
}

function classifierPass(config: ModelConfig, base: Tensors, adapter: Tensors | undefined, scale: number, examples: readonly ClassifierExample[], length: number): { loss: number; accuracy: number } {
  if (config.kind !== 'classifier') throw new MlError('INVALID_ARGUMENT', 'needs a classifier')
  if (examples.length === 0) throw new MlError('INVALID_DATA', 'no examples')
  const engine = engineFor(config, base, adapter, scale)
  let loss = 0
  let correct = 0
  for (const example of examples) {
    // Causal attention: positions past an example's end never influence it, so running the
    // unpadded prefix gives the same bits as padding it with mask 0.
    engine.forward(truncateIds(example.ids, length))
    loss += engine.classifierLoss(example.label, false)
    if (engine.predictedClass() === example.label) correct++
  }
  return { loss: loss / examples.length, accuracy: correct / examples.length }
}

/** Mean cross-entropy of labelled examples. */
export function classifierLoss(config: ModelConfig, base: Tensors, adapter: Tensors | undefined, scale: number, examples: readonly ClassifierExample[], length = config.context): number {
  return classifierPass(config, base, adapter, scale, examples, length).loss
}

/** Fraction of examples whose largest logit is their label. */
export function accuracy(config: ModelConfig, base: Tensors, adapter: Tensors | undefined, scale: number, examples: readonly ClassifierExample[], length = config.context): number {
  return classifierPass(config, base, adapter, scale, examples, length).accuracy
}
