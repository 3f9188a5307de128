// Gradients by hand (no autograd): per example, for mode 'lora' (the adapter's lora_a/lora_b and a
// classifier's cls.w/cls.b) or 'all' (every base parameter, for pre-training base models). A
// gradient is flat float32 in the canonical order of gradientShapes; a batch's gradient is the sum
// of its examples' in example order (the trainer), so how examples are spread over threads never
// shows in the bits.
import { MlError } from '../errors.ts'
import type { ModelConfig, Tensors } from './config.ts'
import { gradientShapes, gradientViews, type Engine, type GradientMode } from './engine.ts'
import { engineFor, truncateIds } from './forward.ts'

export { gradientShapes, gradientViews, type GradientMode } from './engine.ts'

/** One training example: a token window (LM, targets are the window shifted by one) or a labelled sequence. */
export type Example =
  | { readonly kind: 'lm'; readonly ids: Int32Array }
  | { readonly kind: 'classifier'; readonly ids: Int32Array; readonly label: number }

/** Runs one example forward and back, writing its gradient into `views`; returns its loss. */
export function exampleGradient(engine: Engine, mode: GradientMode, example: Example, views: ReadonlyMap<string, Float32Array>): number {
  if (example.kind !== engine.config.kind) throw new MlError('INVALID_DATA', 'example kind differs from the model kind', { details: { example: example.kind, model: engine.config.kind } })
  let loss: number
  if (example.kind === 'lm') {
    engine.forward(example.ids)
    loss = engine.lmLoss(true)
  } else {
    engine.forward(truncateIds(example.ids, engine.config.context))
    loss = engine.classifierLoss(example.label, true)
  }
  engine.backward(mode, views)
  return loss
}

/** The loss and named gradients of one example (allocates; for tests and tools, the trainer reuses buffers). */
export function gradient(config: ModelConfig, mode: GradientMode, base: Tensors, adapter: Tensors | undefined, scale: number, example: Example): { loss: number; gradients: Map<string, Float32Array> } {
  if ((mode === 'lora') !== (adapter !== undefined)) throw new MlError('INVALID_ARGUMENT', "mode 'lora' needs an adapter and mode 'all' none")
  const engine = engineFor(config, base, adapter, scale)
  const shapes = gradientShapes(config, mode, engine.rank)
  let size = 0
  for (const [, shape] of shapes) size += shape.reduce((a, b) => a * b, 1)
  const gradients = gradientViews(shapes, new Float32Array(size))
  const loss = exampleGradient(engine, mode, example, gradients)
  return { loss, gradients }
}
