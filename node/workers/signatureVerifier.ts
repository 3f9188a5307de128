// Transaction signature checks off the main thread. `SignatureVerifier` is the port the mempool
// and block import use; `WorkerPoolVerifier` spreads batches over worker_threads (signatureWorker.ts)
// and `InlineVerifier` is its same-thread twin for tests and tiny setups. Both run
// runtime/crypto/secp256k1.ts `recoverAddress`, so they share its one acceptance rule.
import { availableParallelism } from 'node:os'
import { ADDRESS_BYTES, SIGNATURE_BYTES, recoverAddress, type Address } from '../../runtime/crypto/secp256k1.ts'
import { OpenLedgerError } from '../../runtime/errors.ts'
import { silentLogger, type Logger } from '../../lib/logger.ts'
import { ManagedWorker } from './managedWorker.ts'

export interface SignedDigest {
  digest: Uint8Array
  signature: Uint8Array
}

export interface SignatureVerifier {
  /** The 20-byte address that signed each digest, or undefined where the signature is unacceptable. */
  recoverSigners(items: readonly SignedDigest[], options?: { signal?: AbortSignal }): Promise<(Address | undefined)[]>
  start(): void
  stop(): Promise<void>
}

export type VerifierErrorCode = 'NOT_STARTED' | 'ABORTED' | 'STOPPED' | 'WORKER_DIED'
export class VerifierError extends OpenLedgerError<VerifierErrorCode> {}

const DIGEST_BYTES = 32
/** Per result: one flag byte (1 = recovered) and the address. */
export const RESULT_BYTES = 1 + ADDRESS_BYTES

/** A batch as it crosses to a worker: digests and signatures packed back to back. */
export interface RecoverRequest {
  id: number
  count: number
  digests: ArrayBuffer
  signatures: ArrayBuffer
}
export interface RecoverResponse {
  id: number
  results: ArrayBuffer
}

function hasRecoverableShape(item: SignedDigest): boolean {
  return item.digest instanceof Uint8Array && item.digest.length === DIGEST_BYTES
    && item.signature instanceof Uint8Array && item.signature.length === SIGNATURE_BYTES
}

/** The worker's whole job, here so that it is plain code any thread can run and test. */
export function recoverPackedBatch(request: RecoverRequest): RecoverResponse {
  const digests = new Uint8Array(request.digests)
  const signatures = new Uint8Array(request.signatures)
  const results = new Uint8Array(request.count * RESULT_BYTES)
  for (let i = 0; i < request.count; i++) {
    const address = recoverAddress(
      digests.subarray(i * DIGEST_BYTES, (i + 1) * DIGEST_BYTES),
      signatures.subarray(i * SIGNATURE_BYTES, (i + 1) * SIGNATURE_BYTES),
    )
    if (address === undefined) continue
    results[i * RESULT_BYTES] = 1
    results.set(address, i * RESULT_BYTES + 1)
  }
  return { id: request.id, results: results.buffer }
}

function abortError(signal: AbortSignal): VerifierError {
  return new VerifierError('ABORTED', 'signature recovery was aborted', { cause: signal.reason })
}

/** Same thread, same results: for tests, and for a node with nothing to spare a thread for. */
export class InlineVerifier implements SignatureVerifier {
  #running = false

  start(): void {
    this.#running = true
  }

  async stop(): Promise<void> {
    this.#running = false
  }

  async recoverSigners(items: readonly SignedDigest[], options: { signal?: AbortSignal } = {}): Promise<(Address | undefined)[]> {
    if (!this.#running) throw new VerifierError('NOT_STARTED', 'the signature verifier is not running')
    if (options.signal?.aborted === true) throw abortError(options.signal)
    return items.map((item) => (hasRecoverableShape(item) ? recoverAddress(item.digest, item.signature) : undefined))
  }
}

export interface WorkerPoolVerifierOptions {
  /** Worker threads; default os.availableParallelism(). */
  threads?: number
  /** Most items sent to a worker in one message; default 256. */
  batchSize?: number
  /** The worker script; tests pass a misbehaving one. Default ./signatureWorker.ts. */
  workerScript?: URL
}

export interface WorkerPoolVerifierComponents {
  logger?: Logger
}

const DEFAULT_BATCH_SIZE = 256
/** Fewest items worth a message of their own, when splitting a call across workers. */
const MIN_SPLIT_SIZE = 32
/** Batches queued at a worker at once: the next one is ready when the current one returns. */
const MAX_IN_FLIGHT_PER_WORKER = 2
/** Restart delay after consecutive crashes (ms), doubling up to the cap, so a broken script does not spin. */
const RESTART_DELAY_MS = 50
const MAX_RESTART_DELAY_MS = 5000
/** A batch whose worker dies this many times fails WORKER_DIED instead of killing the next one. */
const MAX_DEATHS_PER_BATCH = 2

interface Job {
  results: (Address | undefined)[]
  remaining: number
  settled: boolean
  resolve(results: (Address | undefined)[]): void
  reject(error: VerifierError): void
}

interface Batch {
  id: number
  job: Job
  indices: number[]
  /** The packed inputs, kept (copied at each send) so that a batch whose worker died can be retried. */
  digests: Uint8Array
  signatures: Uint8Array
  /** Workers that died holding this batch: one is a crash to retry elsewhere, two a batch that kills. */
  deaths: number
}

interface Slot {
  index: number
  worker: ManagedWorker<RecoverRequest, RecoverResponse> | undefined
  inFlight: Map<number, Batch>
  crashes: number
}

export class WorkerPoolVerifier implements SignatureVerifier {
  readonly #threads: number
  readonly #batchSize: number
  readonly #script: URL
  readonly #log: Logger
  #slots: Slot[] = []
  #queue: Batch[] = []
  #nextBatchId = 1
  #running = false
  readonly #restartTimers = new Set<NodeJS.Timeout>()

  constructor(options: WorkerPoolVerifierOptions = {}, components: WorkerPoolVerifierComponents = {}) {
    this.#threads = Math.max(1, Math.floor(options.threads ?? availableParallelism()))
    this.#batchSize = Math.max(1, Math.floor(options.batchSize ?? DEFAULT_BATCH_SIZE))
    this.#script = options.workerScript ?? new URL('./signatureWorker.ts', import.meta.url)
    this.#log = (components.logger ?? silentLogger).child('signature-verifier')
  }

  get threads(): number {
    return this.#threads
  }

  start(): void {
    if (this.#running) return
    this.#running = true
    this.#slots = Array.from({ length: this.#threads }, (_, index) => ({ index, worker: undefined, inFlight: new Map(), crashes: 0 }))
    for (const slot of this.#slots) this.#spawn(slot)
    this.#log.debug('started', { threads: this.#threads, batchSize: this.#batchSize })
  }

  /** Fails what is queued or in flight (their answers are dropped), then drains every thread. */
  async stop(): Promise<void> {
    if (!this.#running) return
    this.#running = false
    for (const timer of this.#restartTimers) clearTimeout(timer)
    this.#restartTimers.clear()
    const stopped = new VerifierError('STOPPED', 'the signature verifier stopped')
    for (const batch of this.#queue) this.#fail(batch.job, stopped)
    this.#queue = []
    const closing: Promise<void>[] = []
    for (const slot of this.#slots) {
      for (const batch of slot.inFlight.values()) this.#fail(batch.job, stopped)
      slot.inFlight.clear()
      if (slot.worker !== undefined) closing.push(slot.worker.close())
      slot.worker = undefined
    }
    this.#slots = []
    await Promise.all(closing)
    this.#log.debug('stopped')
  }

  recoverSigners(items: readonly SignedDigest[], options: { signal?: AbortSignal } = {}): Promise<(Address | undefined)[]> {
    if (!this.#running) return Promise.reject(new VerifierError('NOT_STARTED', 'the signature verifier is not running'))
    const { signal } = options
    if (signal?.aborted === true) return Promise.reject(abortError(signal))

    const indices: number[] = []
    items.forEach((item, index) => {
      if (hasRecoverableShape(item)) indices.push(index)
    })
    const results = new Array<Address | undefined>(items.length).fill(undefined)
    if (indices.length === 0) return Promise.resolve(results)

    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        if (signal !== undefined) this.#fail(job, abortError(signal))
      }
      const job: Job = {
        results,
        remaining: indices.length,
        settled: false,
        resolve: (value) => {
          signal?.removeEventListener('abort', onAbort)
          resolve(value)
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort)
          reject(error)
        },
      }
      signal?.addEventListener('abort', onAbort, { once: true })

      const chunk = Math.min(this.#batchSize, Math.max(MIN_SPLIT_SIZE, Math.ceil(indices.length / this.#threads)))
      for (let start = 0; start < indices.length; start += chunk) {
        this.#queue.push(this.#pack(job, indices.slice(start, start + chunk), items))
      }
      this.#dispatch()
    })
  }

  #pack(job: Job, indices: number[], items: readonly SignedDigest[]): Batch {
    const digests = new Uint8Array(indices.length * DIGEST_BYTES)
    const signatures = new Uint8Array(indices.length * SIGNATURE_BYTES)
    indices.forEach((itemIndex, i) => {
      const item = items[itemIndex] as SignedDigest
      digests.set(item.digest, i * DIGEST_BYTES)
      signatures.set(item.signature, i * SIGNATURE_BYTES)
    })
    return { id: this.#nextBatchId++, job, indices, digests, signatures, deaths: 0 }
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      let best: Slot | undefined
      for (const slot of this.#slots) {
        if (slot.worker?.isReady !== true || slot.inFlight.size >= MAX_IN_FLIGHT_PER_WORKER) continue
        if (best === undefined || slot.inFlight.size < best.inFlight.size) best = slot
      }
      if (best === undefined || best.worker === undefined) return
      const batch = this.#queue.shift() as Batch
      if (batch.job.settled) continue
      best.inFlight.set(batch.id, batch)
      if (best.inFlight.size === 1) best.worker.hold()
      // copies, transferred: the batch keeps its own for a retry
      const request: RecoverRequest = { id: batch.id, count: batch.indices.length, digests: batch.digests.slice().buffer, signatures: batch.signatures.slice().buffer }
      best.worker.post(request, [request.digests, request.signatures])
    }
  }

  #spawn(slot: Slot): void {
    const worker: ManagedWorker<RecoverRequest, RecoverResponse> = new ManagedWorker(
      { name: `signature-verifier-${slot.index}`, script: this.#script },
      {
        onMessage: (response) => this.#onResponse(slot, worker, response),
        onDied: (error) => this.#onDied(slot, worker, error),
      },
      this.#log,
    )
    slot.worker = worker
    void worker.ready.then(() => this.#dispatch(), () => undefined)
  }

  #onResponse(slot: Slot, worker: ManagedWorker<RecoverRequest, RecoverResponse>, response: RecoverResponse): void {
    if (slot.worker !== worker) return
    slot.crashes = 0
    const batch = slot.inFlight.get(response.id)
    if (batch === undefined) return
    slot.inFlight.delete(response.id)
    if (slot.inFlight.size === 0) worker.release()
    const { job } = batch
    if (!job.settled) {
      const results = new Uint8Array(response.results)
      batch.indices.forEach((itemIndex, i) => {
        const offset = i * RESULT_BYTES
        if (results[offset] === 1) job.results[itemIndex] = results.slice(offset + 1, offset + RESULT_BYTES)
      })
      job.remaining -= batch.indices.length
      if (job.remaining === 0) {
        job.settled = true
        job.resolve(job.results)
      }
    }
    this.#dispatch()
  }

  /** A thread that died is replaced; its batches go back to the queue once, then fail WORKER_DIED. */
  #onDied(slot: Slot, worker: ManagedWorker<RecoverRequest, RecoverResponse>, cause: Error & { details?: unknown }): void {
    if (slot.worker !== worker || !this.#running) return
    slot.worker = undefined
    const retry: Batch[] = []
    for (const batch of slot.inFlight.values()) {
      batch.deaths++
      if (batch.deaths < MAX_DEATHS_PER_BATCH) retry.push(batch)
      else {
        this.#fail(batch.job, new VerifierError('WORKER_DIED', `signature worker ${slot.index} died twice on the same batch`, { cause, details: { worker: slot.index } }))
      }
    }
    slot.inFlight.clear()
    this.#queue.unshift(...retry)
    const delay = slot.crashes === 0 ? 0 : Math.min(MAX_RESTART_DELAY_MS, RESTART_DELAY_MS * 2 ** (slot.crashes - 1))
    slot.crashes++
    this.#log.warn('signature worker died, restarting', { worker: slot.index, delayMs: delay, retried: retry.length, error: cause })
    const timer = setTimeout(() => {
      this.#restartTimers.delete(timer)
      if (!this.#running) return
      this.#spawn(slot)
    }, delay)
    this.#restartTimers.add(timer)
    this.#dispatch()
  }

  #fail(job: Job, error: VerifierError): void {
    if (job.settled) return
    job.settled = true
    job.reject(error)
  }
}
