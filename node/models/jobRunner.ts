// Runs one training job in a worker thread (jobWorker.ts) and keeps what a crash
// must not lose: every checkpoint's encoded training state and the list of checkpoint hashes, under
// <dir>/job-<id>/ (state-<step>.bin, checkpoints.bin), written to a temporary file and renamed. A
// run of the same job after a restart resumes from the last checkpoint on disk and gives the same
// bits as an uninterrupted run (the engine's contract). The checkpoint states stay on disk while the
// job is open, so a dispute can replay any single step.
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { ModelConfig } from '../../ml/model/config.ts'
import { isCheckpointStep } from '../../ml/train/trainer.ts'
import { bytesEqual } from '../../runtime/codec/canonical.ts'
import { keccak256 } from '../../runtime/crypto/hash.ts'
import { OpenLedgerError } from '../../runtime/errors.ts'
import type { Row } from '../../runtime/modules/datanets/index.ts'
import type { Hyperparameters, Metrics } from '../../runtime/modules/models/index.ts'
import { ManagedWorker } from '../workers/managedWorker.ts'
import { engineHyperparameters } from './jobPlan.ts'

export interface JobWorkerRequest {
  readonly config: ModelConfig
  /** the base weights file (encodeTensors bytes) */
  readonly weights: Uint8Array
  readonly tokenizerTable: Int32Array
  readonly rows: readonly Row[]
  readonly hyper: Hyperparameters
  readonly threads: number
  readonly resume?: { state: Uint8Array; checkpoints: Uint8Array[] }
}

export interface JobOutcome {
  readonly adapter: Uint8Array
  readonly weightsHash: Uint8Array
  readonly checkpointRoot: Uint8Array
  readonly checkpoints: number
  readonly metrics: Metrics
  readonly baseLoss: number
  readonly adaptedLoss: number
  readonly baseAccuracy?: number
  readonly adaptedAccuracy?: number
}

export type JobWorkerReply =
  | { type: 'planned'; trainSize: number; heldOutSize: number }
  | { type: 'progress'; step: number; loss: number }
  | { type: 'checkpoint'; step: number; hash: Uint8Array; state: Uint8Array }
  | { type: 'evaluating' }
  | ({ type: 'done' } & JobOutcome)
  | { type: 'error'; code: string; message: string }

export type JobRunErrorCode = 'JOB_FAILED' | 'ABORTED' | 'WORKER_DIED'
export class JobRunError extends OpenLedgerError<string> {}

export interface JobRunEvents {
  onPlanned?(sizes: { trainSize: number; heldOutSize: number }): void
  onProgress?(step: number, loss: number): void
  onEvaluating?(): void
}

const HASH_BYTES = 32

/** Where one job's checkpoints live, and what they hold. */
export class JobCheckpoints {
  readonly dir: string
  constructor(root: string, job: number) {
    this.dir = join(root, `job-${job}`)
  }

  /**
   * The last persisted checkpoint (state and the hashes up to and including it), if any: the
   * newest state file whose hash is the last one in the list. A state written just before a
   * crash (its hash not yet listed), a damaged state or hash list give an older state or none, so
   * a resumed run can never record a checkpoint root other than an uninterrupted run's.
   */
  async latest(): Promise<{ state: Uint8Array; checkpoints: Uint8Array[]; step: number } | undefined> {
    let hashes: Uint8Array
    let files: string[]
    try {
      hashes = new Uint8Array(await readFile(join(this.dir, 'checkpoints.bin')))
      files = await readdir(this.dir)
    } catch {
      return undefined
    }
    if (hashes.length === 0 || hashes.length % HASH_BYTES !== 0) return undefined
    const list: Uint8Array[] = []
    for (let i = 0; i < hashes.length; i += HASH_BYTES) list.push(hashes.slice(i, i + HASH_BYTES))
    const last = list[list.length - 1] as Uint8Array
    const steps = files.map((f) => /^state-(\d+)\.bin$/.exec(f)?.[1]).filter((s): s is string => s !== undefined).map(Number).sort((a, b) => b - a)
    for (const step of steps) {
      const state = new Uint8Array(await readFile(join(this.dir, `state-${step}.bin`)))
      if (bytesEqual(keccak256(state), last)) return { state, checkpoints: list, step }
    }
    return undefined
  }

  /** Persists one checkpoint: its state first, then the extended hash list (each atomically). */
  async save(step: number, state: Uint8Array, hashes: readonly Uint8Array[]): Promise<void> {
    await mkdir(this.dir, { recursive: true })
    await atomicWrite(join(this.dir, `state-${step}.bin`), state)
    const all = new Uint8Array(hashes.length * HASH_BYTES)
    hashes.forEach((h, i) => all.set(h, i * HASH_BYTES))
    await atomicWrite(join(this.dir, 'checkpoints.bin'), all)
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true })
  }
}

/** Checkpoints a run records up to and including `step`: step 0, every checkpointEvery, the last. */
function checkpointCount(hyper: Hyperparameters, step: number): number {
  let count = 0
  const engine = engineHyperparameters(hyper)
  for (let s = 0; s <= step; s++) if (isCheckpointStep(engine, s)) count++
  return count
}

async function atomicWrite(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp`
  await writeFile(tmp, bytes, { flush: true })
  await rename(tmp, path)
}

/**
 * Runs the job in a fresh worker thread, resuming from `checkpoints` when they hold a state of
 * this job. Rejects with JobRunError (the worker's code, ABORTED or WORKER_DIED).
 */
export async function runJob(request: Omit<JobWorkerRequest, 'resume'>, checkpoints: JobCheckpoints, events: JobRunEvents = {}, signal?: AbortSignal): Promise<JobOutcome> {
  let saved = await checkpoints.latest()
  // the hashes must be exactly those of the checkpoint steps up to the saved one
  if (saved !== undefined && saved.checkpoints.length !== checkpointCount(request.hyper, saved.step)) saved = undefined
  // nothing usable on disk: start over, without leftovers a later resumption could pick up
  if (saved === undefined) await checkpoints.remove()
  const hashes: Uint8Array[] = saved?.checkpoints ?? []
  const full: JobWorkerRequest = saved === undefined ? request : { ...request, resume: { state: saved.state, checkpoints: saved.checkpoints } }
  let writes = Promise.resolve()
  let settle: { resolve(outcome: JobOutcome): void; reject(error: Error): void } | undefined
  // after 'done' the run's result waits for the last checkpoint writes: the thread's close (by the
  // finally below) is the expected end, not a death that would win the race to settle
  let finished = false
  const worker = new ManagedWorker<JobWorkerRequest, JobWorkerReply>({ name: 'training-job', script: new URL('./jobWorker.ts', import.meta.url) }, {
    onDied: (error) => finished || settle?.reject(new JobRunError('WORKER_DIED', `the training worker died: ${error.message}`, { cause: error })),
    onMessage: (reply) => {
      switch (reply.type) {
        case 'planned':
          events.onPlanned?.(reply)
          break
        case 'progress':
          events.onProgress?.(reply.step, reply.loss)
          break
        case 'checkpoint': {
          hashes.push(reply.hash)
          const snapshot = [...hashes]
          writes = writes.then(() => checkpoints.save(reply.step, reply.state, snapshot))
          break
        }
        case 'evaluating':
          events.onEvaluating?.()
          break
        case 'done': {
          finished = true
          const { type: _type, ...outcome } = reply
          writes.then(() => settle?.resolve(outcome), (error: Error) => settle?.reject(error))
          break
        }
        case 'error':
          settle?.reject(new JobRunError(reply.code, reply.message))
      }
    },
  })
  worker.hold()
  try {
    return await new Promise<JobOutcome>((resolve, reject) => {
      settle = { resolve, reject }
      const abort = () => reject(new JobRunError('ABORTED', 'the training job was stopped'))
      if (signal?.aborted === true) return abort()
      signal?.addEventListener('abort', abort, { once: true })
      worker.post(full)
    })
  } finally {
    // drained, not terminated: the thread stops its run at the next step and its own pool first
    await worker.close()
    await writes.catch(() => undefined)
  }
}
