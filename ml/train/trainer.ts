// The deterministic trainer: AdamW over per-example gradients reduced in example order, seeded
// batches, checkpoint hashes and their Merkle root, resumption from any encoded state, and
// replayStep for disputes. How the per-example gradients are computed is pluggable (inline here,
// worker threads in node/workers/trainingPool.ts); the reduction and the update are not, so
// every backend gives the same bits.
import { concatBytes, keccak256, utf8 } from '../../runtime/crypto/hash.ts'
import { MlError } from '../errors.ts'
import { exampleGradient, type Example } from '../model/backward.ts'
import type { ModelConfig, Tensors } from '../model/config.ts'
import { Engine, gradientShapes, gradientViews, type GradientMode } from '../model/engine.ts'
import { checkConfig, expectTensors, initAdapter } from '../model/params.ts'
import { Rng, seedBytes } from '../random.ts'
import { checkTrainingData, sampleBatch, type TrainingData } from './data.ts'
import { ADAM_BETA1, ADAM_BETA2, ADAM_EPSILON, CLIP_NORM, checkHyperparameters, type Hyperparameters } from './hyperparameters.ts'
import { merkleRoot } from './merkle.ts'
import { cloneState, encodeTrainingState, makeState, stateShapes, stateSize, type StateLayout, type TrainingState } from './state.ts'

export interface TrainingJob {
  readonly config: ModelConfig
  /** 'lora': train an adapter on a frozen base; 'all': train every parameter (pre-training a base model) */
  readonly mode: GradientMode
  /** the frozen base ('lora') or the starting parameters ('all') */
  readonly base: Tensors
  readonly data: TrainingData
  readonly hyper: Hyperparameters
}

/** The part of a job a single step needs besides data and hyperparameters. */
export interface ModelSpec {
  readonly config: ModelConfig
  readonly mode: GradientMode
  readonly base: Tensors
}

export function jobLayout(job: { config: ModelConfig; mode: GradientMode; hyper: Hyperparameters }): StateLayout {
  return { config: job.config, mode: job.mode, rank: job.mode === 'lora' ? job.hyper.rank : 0 }
}

/** alpha / rank for a LoRA job, 1 otherwise (unused). */
export function loraScale(job: { mode: GradientMode; hyper: Hyperparameters }): number {
  return job.mode === 'lora' ? job.hyper.alpha / job.hyper.rank : 1
}

export function sequenceLength(config: ModelConfig, hyper: Hyperparameters): number {
  return hyper.sequenceLength ?? config.context
}

const BATCH_SEED_DOMAIN = utf8('openledger/ml/batches')

export function checkJob(job: TrainingJob): void {
  checkConfig(job.config)
  if (job.mode !== 'lora' && job.mode !== 'all') throw new MlError('INVALID_ARGUMENT', "mode must be 'lora' or 'all'")
  checkHyperparameters(job.hyper, job.config, job.mode === 'lora')
  checkTrainingData(job.config, job.data)
}

/** Step 0: a fresh adapter (seeded by hyper.seed) or a copy of the starting parameters, zero moments, the seeded sampler. */
export function initTrainingState(job: TrainingJob): TrainingState {
  checkJob(job)
  const layout = jobLayout(job)
  const shapes = stateShapes(layout)
  const source = job.mode === 'lora' ? initAdapter(job.config, { rank: job.hyper.rank, alpha: job.hyper.alpha }, job.hyper.seed, job.base) : job.base
  const tensors = expectTensors(shapes, source)
  const size = stateSize(layout)
  const weights = new Float32Array(size)
  let offset = 0
  for (const tensor of tensors) {
    weights.set(tensor, offset)
    offset += tensor.length
  }
  const rng = new Rng(concatBytes(BATCH_SEED_DOMAIN, seedBytes(job.hyper.seed)))
  return makeState(layout, 0, weights, new Float32Array(size), new Float32Array(size), rng.state())
}

/** The one reduction every backend shares: sum[i] = sum[i]! + gradient[i], called once per example in example order. */
export function addGradient(sum: Float64Array, gradient: Float32Array): void {
  for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! + gradient[i]!
}

/**
 * Computes a batch's per-example gradients for the given weights and reduces them with
 * addGradient in example order; returns the examples' losses in order.
 */
export interface GradientBackend {
  accumulate(weights: Float32Array, examples: readonly Example[], sum: Float64Array): Promise<Float64Array>
}

/** The per-example work of a job on this thread; the worker threads run the same class. */
export class ExampleGradients {
  readonly #engine: Engine
  readonly #mode: GradientMode
  readonly #layout: StateLayout
  readonly #scale: number
  readonly #base: Tensors
  readonly #gradient: Float32Array
  readonly #views: Map<string, Float32Array>

  constructor(spec: ModelSpec, rank: number, scale: number) {
    this.#mode = spec.mode
    this.#layout = { config: spec.config, mode: spec.mode, rank }
    this.#engine = new Engine(spec.config, spec.mode === 'lora' ? rank : 0)
    this.#scale = scale
    this.#base = spec.base
    if (spec.mode === 'lora') this.#engine.setBase(spec.base)
    const shapes = gradientShapes(spec.config, spec.mode, rank)
    this.#gradient = new Float32Array(stateSize(this.#layout))
    this.#views = gradientViews(shapes, this.#gradient)
  }

  get size(): number {
    return this.#gradient.length
  }

  /** Binds the weights being trained (flat, canonical order). */
  bind(weights: Float32Array): void {
    const tensors = gradientViews(stateShapes(this.#layout), weights)
    if (this.#mode === 'lora') this.#engine.setAdapter(tensors, this.#scale, this.#base)
    else this.#engine.setBase(tensors)
  }

  /** One example's loss; its gradient is left in `gradient` until the next call. */
  compute(example: Example): number {
    return exampleGradient(this.#engine, this.#mode, example, this.#views)
  }

  get gradient(): Float32Array {
    return this.#gradient
  }
}

/** The same-thread backend. */
export class InlineGradients implements GradientBackend {
  readonly #work: ExampleGradients

  constructor(spec: ModelSpec, rank: number, scale: number) {
    this.#work = new ExampleGradients(spec, rank, scale)
  }

  accumulateSync(weights: Float32Array, examples: readonly Example[], sum: Float64Array): Float64Array {
    this.#work.bind(weights)
    const losses = new Float64Array(examples.length)
    examples.forEach((example, i) => {
      losses[i] = this.#work.compute(example)
      addGradient(sum, this.#work.gradient)
    })
    return losses
  }

  async accumulate(weights: Float32Array, examples: readonly Example[], sum: Float64Array): Promise<Float64Array> {
    return this.accumulateSync(weights, examples, sum)
  }
}

/** β^t by square-and-multiply (multiplications only, fixed order). */
export function powerBySquaring(beta: number, t: number): number {
  let result = 1
  let base = beta
  let e = t
  while (e > 0) {
    if (e % 2 === 1) result *= base
    base *= base
    e = Math.floor(e / 2)
  }
  return result
}

/** Names of the trained tensors that take weight decay (matrices), as a per-element mask. */
function decayMask(layout: StateLayout): Uint8Array {
  const mask = new Uint8Array(stateSize(layout))
  let offset = 0
  for (const [, shape] of stateShapes(layout)) {
    const size = shape.reduce((a, b) => a * b, 1)
    if (shape.length === 2) mask.fill(1, offset, offset + size)
    offset += size
  }
  return mask
}

/** Draws the next batch from the state's sampler and advances it. */
export function nextBatch(job: { config: ModelConfig; data: TrainingData; hyper: Hyperparameters }, state: TrainingState): Example[] {
  const rng = Rng.fromState(state.rng)
  const batch = sampleBatch(job.data, job.hyper.batchSize, sequenceLength(job.config, job.hyper), rng)
  state.rng = rng.state()
  return batch
}

/**
 * The update for one step, given the sum of the batch's per-example gradients and losses: mean
 * over the batch, global-norm clipping to CLIP_NORM, AdamW with bias correction, learning-rate
 * warmup; moments and weights stored as float32. Returns the mean loss. Throws NON_FINITE.
 */
export function applyUpdate(layout: StateLayout, hyper: Hyperparameters, state: TrainingState, sum: Float64Array, losses: Float64Array, mask: Uint8Array = decayMask(layout)): number {
  const B = losses.length
  let lossSum = 0
  for (let i = 0; i < B; i++) lossSum += losses[i]!
  const loss = lossSum / B
  if (loss - loss !== 0) throw new MlError('NON_FINITE', 'the loss is not finite', { details: { step: state.step + 1 } })
  let norm2 = 0
  for (let i = 0; i < sum.length; i++) {
    const g = sum[i]! / B
    sum[i] = g
    norm2 += g * g
  }
  const norm = Math.sqrt(norm2)
  if (norm - norm !== 0) throw new MlError('NON_FINITE', 'the gradient is not finite', { details: { step: state.step + 1 } })
  const clip = norm > CLIP_NORM ? CLIP_NORM / norm : 1
  const t = state.step + 1
  const warmup = hyper.warmupSteps ?? 0
  const lr = warmup > 0 && t < warmup ? (hyper.learningRate * t) / warmup : hyper.learningRate
  const decay = hyper.weightDecay ?? 0
  const correction1 = 1 - powerBySquaring(ADAM_BETA1, t)
  const correction2 = 1 - powerBySquaring(ADAM_BETA2, t)
  const { weights, m, v } = state
  for (let i = 0; i < weights.length; i++) {
    const g = sum[i]! * clip
    m[i] = ADAM_BETA1 * m[i]! + (1 - ADAM_BETA1) * g
    v[i] = ADAM_BETA2 * v[i]! + (1 - ADAM_BETA2) * g * g
    const mHat = m[i]! / correction1
    const vHat = v[i]! / correction2
    const w = weights[i]!
    const update = mHat / (Math.sqrt(vHat) + ADAM_EPSILON) + (mask[i] === 1 ? decay * w : 0)
    weights[i] = w - lr * update
  }
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i]!
    if (w - w !== 0) throw new MlError('NON_FINITE', 'a weight became non-finite', { details: { step: t, index: i } })
  }
  state.step = t
  return loss
}

/** One step on this thread: sample, per-example gradients, reduce, update (mutates state). */
export function stepInline(job: TrainingJob, state: TrainingState, backend: InlineGradients): number {
  const layout = jobLayout(job)
  const examples = nextBatch(job, state)
  const sum = new Float64Array(state.weights.length)
  const losses = backend.accumulateSync(state.weights, examples, sum)
  return applyUpdate(layout, job.hyper, state, sum, losses)
}

/**
 * Replays one step from a state (not modified) and returns the next: a dispute recomputes the
 * steps between two checkpoints and compares the hashes.
 */
export function replayStep(state: TrainingState, data: TrainingData, hyper: Hyperparameters, model: ModelSpec): TrainingState {
  const job: TrainingJob = { ...model, data, hyper }
  checkJob(job)
  const layout = jobLayout(job)
  if (state.mode !== model.mode || state.weights.length !== stateSize(layout)) throw new MlError('STATE_MISMATCH', 'state does not belong to this job')
  const next = cloneState(layout, state)
  stepInline(job, next, new InlineGradients(model, layout.rank, loraScale(job)))
  return next
}

export interface Checkpoint {
  step: number
  hash: Uint8Array
  /** the encoded state, for the caller to persist */
  state: Uint8Array
}

export interface TrainOptions {
  /** continue from a saved state; `checkpoints` are the hashes recorded before it (so the root covers the whole job) */
  resume?: { state: TrainingState; checkpoints?: readonly Uint8Array[] }
  onProgress?: (step: number, loss: number) => void
  onCheckpoint?: (checkpoint: Checkpoint) => void | Promise<void>
  /** where per-example gradients are computed; default this thread */
  gradients?: GradientBackend
  signal?: AbortSignal
}

export interface TrainingResult {
  state: TrainingState
  /** the trained adapter ('lora') or parameters ('all'), by name */
  weights: Map<string, Float32Array>
  /** checkpoint hashes: the state at step 0, every checkpointEvery steps, and the last step */
  checkpoints: Uint8Array[]
  checkpointRoot: Uint8Array
  /** hash of the final state */
  finalHash: Uint8Array
  /** mean loss of each step run in this call */
  losses: number[]
}

/** Whether the state after `step` is a checkpoint: step 0, multiples of checkpointEvery, and the last step. */
export function isCheckpointStep(hyper: Hyperparameters, step: number): boolean {
  return step === 0 || step % hyper.checkpointEvery === 0 || step === hyper.steps
}

/** Runs (or resumes) a job to hyper.steps. */
export async function train(job: TrainingJob, options: TrainOptions = {}): Promise<TrainingResult> {
  checkJob(job)
  const layout = jobLayout(job)
  const state = options.resume === undefined ? initTrainingState(job) : cloneState(layout, options.resume.state)
  if (state.mode !== job.mode || state.weights.length !== stateSize(layout)) throw new MlError('STATE_MISMATCH', 'resume state does not belong to this job')
  if (state.step > job.hyper.steps) throw new MlError('STATE_MISMATCH', 'resume state is past the last step', { details: { step: state.step, steps: job.hyper.steps } })
  const checkpoints = [...(options.resume?.checkpoints ?? [])]
  const record = async () => {
    const bytes = encodeTrainingState(layout, state)
    const hash = keccak256(bytes)
    checkpoints.push(hash)
    await options.onCheckpoint?.({ step: state.step, hash, state: bytes })
    return hash
  }
  if (options.resume === undefined) await record()
  const backend = options.gradients ?? new InlineGradients(job, layout.rank, loraScale(job))
  const mask = decayMask(layout)
  const sum = new Float64Array(state.weights.length)
  const losses: number[] = []
  let finalHash: Uint8Array | undefined
  while (state.step < job.hyper.steps) {
    if (options.signal?.aborted === true) throw new MlError('INVALID_ARGUMENT', 'training was aborted', { cause: options.signal.reason })
    const examples = nextBatch(job, state)
    sum.fill(0)
    const exampleLosses = await backend.accumulate(state.weights, examples, sum)
    const loss = applyUpdate(layout, job.hyper, state, sum, exampleLosses, mask)
    losses.push(loss)
    options.onProgress?.(state.step, loss)
    if (isCheckpointStep(job.hyper, state.step)) finalHash = await record()
  }
  finalHash ??= keccak256(encodeTrainingState(layout, state))
  return {
    state,
    weights: new Map([...state.tensors].map(([name, tensor]) => [name, Float32Array.from(tensor)])),
    checkpoints,
    checkpointRoot: merkleRoot(checkpoints),
    finalHash,
    losses,
  }
}
