// A training job's hyperparameters and their checks. The optimizer constants are fixed by the
// engine version, not per job.
import { MlError } from '../errors.ts'
import type { ModelConfig } from '../model/config.ts'

export interface Hyperparameters {
  /** LoRA rank (mode 'lora') */
  rank: number
  /** LoRA alpha; the adapter's output is scaled by alpha / rank */
  alpha: number
  steps: number
  /** examples per step */
  batchSize: number
  /** AdamW learning rate (any finite positive double) */
  learningRate: number
  /** seeds the adapter's initialisation and the batch sampler */
  seed: number
  /** a checkpoint hash every this many steps */
  checkpointEvery: number
  /** decoupled AdamW weight decay on matrices (rank-2 tensors); default 0 */
  weightDecay?: number
  /** steps of linear learning-rate warmup from lr/warmupSteps to lr; default 0 (none) */
  warmupSteps?: number
  /** tokens per example; default (and at most) the model's context */
  sequenceLength?: number
}

export const ADAM_BETA1 = 0.9
export const ADAM_BETA2 = 0.999
export const ADAM_EPSILON = 1e-8
/** Gradients are scaled down to this global L2 norm when above it. */
export const CLIP_NORM = 1.0

function isCount(value: unknown, min: number): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= min
}

export function checkHyperparameters(hyper: Hyperparameters, config: ModelConfig, needsLora: boolean): void {
  const bad = (field: string, message: string) => new MlError('INVALID_ARGUMENT', `hyperparameter ${field} ${message}`, { details: { field, value: (hyper as unknown as Record<string, unknown>)[field] } })
  if (needsLora) {
    if (!isCount(hyper.rank, 1) || hyper.rank > config.dim) throw bad('rank', 'must be an integer in [1, dim]')
    if (!Number.isFinite(hyper.alpha) || hyper.alpha <= 0) throw bad('alpha', 'must be positive')
  }
  if (!isCount(hyper.steps, 0)) throw bad('steps', 'must be a non-negative integer')
  if (!isCount(hyper.batchSize, 1)) throw bad('batchSize', 'must be a positive integer')
  if (!Number.isFinite(hyper.learningRate) || hyper.learningRate <= 0) throw bad('learningRate', 'must be positive')
  if (!isCount(hyper.seed, 0)) throw bad('seed', 'must be a non-negative safe integer')
  if (!isCount(hyper.checkpointEvery, 1)) throw bad('checkpointEvery', 'must be a positive integer')
  if (hyper.weightDecay !== undefined && !(Number.isFinite(hyper.weightDecay) && hyper.weightDecay >= 0)) throw bad('weightDecay', 'must be ≥ 0')
  if (hyper.warmupSteps !== undefined && !isCount(hyper.warmupSteps, 0)) throw bad('warmupSteps', 'must be a non-negative integer')
  if (hyper.sequenceLength !== undefined && !(isCount(hyper.sequenceLength, 1) && hyper.sequenceLength <= config.context)) throw bad('sequenceLength', 'must be in [1, context]')
}
