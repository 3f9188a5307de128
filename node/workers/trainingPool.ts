// Training on worker threads. `TrainingPool` is a GradientBackend for ml/train/trainer.ts: each
// step's examples are split into contiguous runs, one per thread (trainingWorker.ts), each thread
// returns its examples' float32 gradients, and the sum is reduced here in example order with the
// trainer's own addGradient — so 1, 2 or N threads, and the inline backend, give the same bits.
import { availableParallelism } from 'node:os'
import { MlError, type MlErrorCode } from '../../ml/errors.ts'
import type { Example } from '../../ml/model/backward.ts'
import { paramShapes, type ModelConfig } from '../../ml/model/config.ts'
import { expectTensors } from '../../ml/model/params.ts'
import { addGradient, jobLayout, loraScale, train, type GradientBackend, type TrainOptions, type TrainingJob, type TrainingResult } from '../../ml/train/trainer.ts'
import type { GradientMode } from '../../ml/model/engine.ts'
import { OpenLedgerError } from '../../runtime/errors.ts'
import { silentLogger, type Logger } from '../../lib/logger.ts'
import { ManagedWorker } from './managedWorker.ts'

export type TrainingPoolErrorCode = 'NOT_STARTED' | 'STOPPED' | 'WORKER_DIED'
export class TrainingPoolError extends OpenLedgerError<TrainingPoolErrorCode> {}

/** What a worker needs once: the model, and for 'lora' the frozen base (flat, canonical order). */
export interface TrainingWorkerInit {
  type: 'init'
  config: ModelConfig
  mode: GradientMode
  rank: number
  scale: number
  base: Float32Array | undefined
}

export interface TrainingWorkerStep {
  type: 'step'
  id: number
  weights: Float32Array
  examples: Array<{ ids: Int32Array; label: number }>
}

export type TrainingWorkerReply =
  | { id: number; losses: Float64Array; gradients: Float32Array }
  | { id: number; error: { code: string; message: string } }

export interface TrainingPoolOptions {
  /** worker threads; default os.availableParallelism() */
  threads?: number
  /** the worker script (tests may pass another); default ./trainingWorker.ts */
  workerScript?: URL
}

export interface TrainingPoolComponents {
  logger?: Logger
}

interface Pending {
  resolve(reply: { losses: Float64Array; gradients: Float32Array }): void
  reject(error: Error): void
}

interface Slot {
  index: number
  worker: ManagedWorker<TrainingWorkerInit | TrainingWorkerStep, TrainingWorkerReply>
  pending: Map<number, Pending>
  /** set when the thread died before it was ready (a broken script): not replaced, steps fail at once */
  died: TrainingPoolError | undefined
}

export class TrainingPool implements GradientBackend {
  readonly #threads: number
  readonly #script: URL
  readonly #log: Logger
  readonly #init: TrainingWorkerInit
  #slots: Slot[] = []
  #nextId = 1
  #running = false

  constructor(job: Pick<TrainingJob, 'config' | 'mode' | 'base' | 'hyper'>, options: TrainingPoolOptions = {}, components: TrainingPoolComponents = {}) {
    this.#threads = Math.max(1, Math.floor(options.threads ?? availableParallelism()))
    this.#script = options.workerScript ?? new URL('./trainingWorker.ts', import.meta.url)
    this.#log = (components.logger ?? silentLogger).child('training-pool')
    const layout = jobLayout(job)
    let base: Float32Array | undefined
    if (job.mode === 'lora') {
      const tensors = expectTensors(paramShapes(job.config), job.base)
      base = new Float32Array(tensors.reduce((n, t) => n + t.length, 0))
      let offset = 0
      for (const tensor of tensors) {
        base.set(tensor, offset)
        offset += tensor.length
      }
    }
    this.#init = { type: 'init', config: job.config, mode: job.mode, rank: layout.rank, scale: loraScale(job), base }
  }

  get threads(): number {
    return this.#threads
  }

  start(): void {
    if (this.#running) return
    this.#running = true
    this.#slots = Array.from({ length: this.#threads }, (_, index) => this.#spawn(index))
  }

  /**
   * A thread that dies fails the step it was computing (the trainer's run fails typed; the training
   * service resumes jobs from their checkpoints) and is replaced for the steps after it.
   */
  #spawn(index: number): Slot {
    const slot: Slot = {
      index,
      pending: new Map(),
      died: undefined,
      worker: new ManagedWorker(
        { name: `training-${index}`, script: this.#script },
        {
          onMessage: (reply) => {
            const pending = slot.pending.get(reply.id)
            if (pending === undefined) return
            slot.pending.delete(reply.id)
            if (slot.pending.size === 0) slot.worker.release()
            if ('error' in reply) pending.reject(new MlError(reply.error.code as MlErrorCode, reply.error.message))
            else pending.resolve(reply)
          },
          onDied: (cause) => {
            this.#log.warn('training worker died, replacing it', { thread: index, error: cause })
            const died = new TrainingPoolError('WORKER_DIED', 'a training worker died', { cause })
            for (const pending of slot.pending.values()) pending.reject(died)
            slot.pending.clear()
            const replace = this.#running && this.#slots[index] === slot && slot.worker.isReadyOnce
            if (replace) this.#slots[index] = this.#spawn(index)
            else slot.died = died
          },
        },
        this.#log,
      ),
    }
    slot.worker.post(this.#init)
    return slot
  }

  /** Fails the steps in flight (their answers are dropped) and drains every thread. */
  async stop(): Promise<void> {
    if (!this.#running) return
    this.#running = false
    const slots = this.#slots
    this.#slots = []
    for (const slot of slots) {
      for (const pending of slot.pending.values()) pending.reject(new TrainingPoolError('STOPPED', 'the training pool stopped'))
      slot.pending.clear()
    }
    await Promise.all(slots.map((slot) => slot.worker.close()))
  }

  async accumulate(weights: Float32Array, examples: readonly Example[], sum: Float64Array): Promise<Float64Array> {
    if (!this.#running) throw new TrainingPoolError('NOT_STARTED', 'the training pool is not running')
    const count = examples.length
    const runs = Math.min(this.#threads, count)
    const replies: Array<Promise<{ losses: Float64Array; gradients: Float32Array }>> = []
    let start = 0
    for (let r = 0; r < runs; r++) {
      const length = Math.floor(count / runs) + (r < count % runs ? 1 : 0)
      const part = examples.slice(start, start + length).map((example) => ({ ids: Int32Array.from(example.ids), label: example.kind === 'classifier' ? example.label : -1 }))
      start += length
      const slot = this.#slots[r]!
      const id = this.#nextId++
      replies.push(new Promise((resolve, reject) => {
        if (slot.died !== undefined) return reject(slot.died)
        slot.pending.set(id, { resolve, reject })
        if (slot.pending.size === 1) slot.worker.hold()
        const message: TrainingWorkerStep = { type: 'step', id, weights, examples: part }
        slot.worker.post(message)
      }))
    }
    const results = await Promise.all(replies)
    // The reduction, in example order, whatever the split.
    const losses = new Float64Array(count)
    const size = sum.length
    let index = 0
    for (const result of results) {
      for (let j = 0; j < result.losses.length; j++) {
        losses[index++] = result.losses[j]!
        addGradient(sum, result.gradients.subarray(j * size, (j + 1) * size))
      }
    }
    return losses
  }
}

/** train() with its per-example gradients on `threads` worker threads; the result equals train()'s bit for bit. */
export async function trainWithThreads(job: TrainingJob, options: TrainOptions & TrainingPoolOptions = {}, components: TrainingPoolComponents = {}): Promise<TrainingResult> {
  const pool = new TrainingPool(job, options, components)
  pool.start()
  try {
    return await train(job, { ...options, gradients: pool })
  } finally {
    await pool.stop()
  }
}
