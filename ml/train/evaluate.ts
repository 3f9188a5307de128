// Held-out evaluation of a job's result: mean next-token loss (LM, over consecutive windows) or
// loss and accuracy (classifier), for the base model and the adapted one.
import { MlError } from '../errors.ts'
import type { ModelConfig, Tensors } from '../model/config.ts'
import { engineFor, truncateIds } from '../model/forward.ts'
import { checkTrainingData, type TrainingData } from './data.ts'

export interface Evaluation {
  /** mean cross-entropy per target token (LM) or per example (classifier) */
  loss: number
  /** classifier only: fraction predicted correctly */
  accuracy?: number
  /** target tokens (LM) or examples (classifier) scored */
  count: number
}

/** Scores held-out data: LM streams are cut into consecutive windows of `length` tokens (the last may be shorter). */
export function evaluate(config: ModelConfig, base: Tensors, adapter: Tensors | undefined, scale: number, data: TrainingData, length = config.context): Evaluation {
  checkTrainingData(config, data)
  if (!Number.isSafeInteger(length) || length < 2 || length > config.context) throw new MlError('INVALID_ARGUMENT', 'length must be in [2, context]', { details: { length } })
  const engine = engineFor(config, base, adapter, scale)
  if (data.kind === 'lm') {
    let total = 0
    let count = 0
    for (let start = 0; start + 1 < data.tokens.length; start += length) {
      const window = data.tokens.subarray(start, Math.min(start + length, data.tokens.length))
      engine.forward(window)
      total += engine.lmLoss(false) * (window.length - 1)
      count += window.length - 1
    }
    return { loss: total / count, count }
  }
  let total = 0
  let correct = 0
  for (const example of data.examples) {
    engine.forward(truncateIds(example.ids, length))
    total += engine.classifierLoss(example.label, false)
    if (engine.predictedClass() === example.label) correct++
  }
  return { loss: total / data.examples.length, accuracy: correct / data.examples.length, count: data.examples.length }
}

/** The base model and the adapted one on the same held-out data. */
export function compareWithBase(config: ModelConfig, base: Tensors, adapter: Tensors, scale: number, data: TrainingData, length = config.context): { base: Evaluation; adapted: Evaluation } {
  return { base: evaluate(config, base, undefined, scale, data, length), adapted: evaluate(config, base, adapter, scale, data, length) }
}
