// Training data as the engine takes it (already tokenized), its checks, and the seeded batch
// sampler: LM windows cut from one token stream, classifier examples drawn with replacement.
import { MlError } from '../errors.ts'
import type { Example } from '../model/backward.ts'
import type { ModelConfig } from '../model/config.ts'
import type { ClassifierExample } from '../model/forward.ts'
import type { Rng } from '../random.ts'

export type TrainingData =
  | { readonly kind: 'lm'; readonly tokens: Int32Array }
  | { readonly kind: 'classifier'; readonly examples: readonly ClassifierExample[] }

export function checkTrainingData(config: ModelConfig, data: TrainingData): void {
  if (data.kind !== config.kind) throw new MlError('INVALID_DATA', 'data kind differs from the model kind', { details: { data: data.kind, model: config.kind } })
  const checkIds = (ids: Int32Array, where: string) => {
    if (!(ids instanceof Int32Array)) throw new MlError('INVALID_DATA', `${where}: token ids must be an Int32Array`)
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!
      if (id < 0 || id >= config.vocab) throw new MlError('INVALID_DATA', `${where}: token id out of the vocabulary`, { details: { index: i, id, vocab: config.vocab } })
    }
  }
  if (data.kind === 'lm') {
    if (!(data.tokens instanceof Int32Array) || data.tokens.length < 2) throw new MlError('INVALID_DATA', 'a token stream needs at least two tokens')
    checkIds(data.tokens, 'tokens')
    return
  }
  if (data.examples.length === 0) throw new MlError('INVALID_DATA', 'no classifier examples')
  data.examples.forEach((example, index) => {
    if (!(example.ids instanceof Int32Array) || example.ids.length === 0) throw new MlError('INVALID_DATA', 'a classifier example needs at least one token', { details: { index } })
    if (!Number.isInteger(example.label) || example.label < 0 || example.label >= config.classes) throw new MlError('INVALID_DATA', 'label out of range', { details: { index, label: example.label } })
    checkIds(example.ids, `example ${index}`)
  })
}

/** Draws one batch: LM windows of min(length, stream) tokens at uniform starts, or examples uniformly with replacement. */
export function sampleBatch(data: TrainingData, batchSize: number, length: number, rng: Rng): Example[] {
  const batch: Example[] = []
  if (data.kind === 'lm') {
    const T = Math.min(length, data.tokens.length)
    const starts = data.tokens.length - T + 1
    for (let b = 0; b < batchSize; b++) {
      const start = rng.below(starts)
      batch.push({ kind: 'lm', ids: data.tokens.subarray(start, start + T) })
    }
    return batch
  }
  for (let b = 0; b < batchSize; b++) {
    const example = data.examples[rng.below(data.examples.length)]!
    batch.push({ kind: 'classifier', ids: example.ids.length > length ? example.ids.subarray(0, length) : example.ids, label: example.label })
  }
  return batch
}
