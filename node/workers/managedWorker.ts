// The one way the node starts and stops a worker thread; every pool (signatures, training, serving,
// attribution) builds on it. `ManagedWorker` is the parent's handle, `serveParent` the thread's side.
//
// The rule it enforces (ARCHITECTURE.md, "Worker threads"): a thread is stopped by draining, never
// by `terminate()` while it may still be evaluating its modules or inside a native call.
// - A thread says `ready` once its module graph has finished evaluating. Until then it keeps the
//   process alive (ref'd), so the process cannot exit under it, and close() waits for it.
// - close() raises a shared flag (long synchronous work polls `closing()`), sends a close message;
//   the thread finishes or abandons what it is doing, closes its port and exits by itself.
// - terminate() only as a last resort, for a ready thread that has not exited `closeTimeoutMs`
//   after being asked.
// Why: V8 aborts the whole process (`Check failed: (location_) != nullptr` in
// SourceTextModule::AsyncModuleExecutionFulfilled) when a thread is terminated while a module
// with a top-level await (runtime/crypto/hash.ts awaits its WebAssembly keccak) is settling.
import { parentPort, workerData, Worker, type Transferable } from 'node:worker_threads'
import { OpenLedgerError } from '../../runtime/errors.ts'
import { silentLogger, type Logger } from '../../lib/logger.ts'

export type ManagedWorkerErrorCode = 'WORKER_EXITED'
export class ManagedWorkerError extends OpenLedgerError<ManagedWorkerErrorCode> {}

/** Control messages travel beside a pool's own protocol under this key. */
const CONTROL = '__openledgerWorkerControl'
type Control = { [CONTROL]: 'ready' | 'close' }
/** workerData key of the close flag: an Int32Array(1) on shared memory, 1 once close() was called. */
const CLOSE_FLAG = '__openledgerCloseFlag'

/** Default wait for a thread asked to close before it is terminated (ms). */
export const DEFAULT_CLOSE_TIMEOUT_MS = 10_000

function isControl(message: unknown, kind: Control[typeof CONTROL]): boolean {
  return typeof message === 'object' && message !== null && (message as Record<string, unknown>)[CONTROL] === kind
}

export interface ManagedWorkerOptions {
  /** Thread name (shown by the kernel and debuggers, 15 characters of it). */
  name: string
  script: URL
  /** Passed to the thread as `threadData()`. */
  data?: unknown
  /** Wait for the thread to exit after close() before terminating it (ms). */
  closeTimeoutMs?: number
}

export interface ManagedWorkerEvents<Reply> {
  onMessage(reply: Reply): void
  /** The thread exited without being asked to (a crash, process.exit, an uncaught error). */
  onDied?(error: ManagedWorkerError): void
}

export class ManagedWorker<Request, Reply> {
  readonly name: string
  /** Resolves once the thread's modules have evaluated; rejects if it exits first. */
  readonly ready: Promise<void>
  /** Resolves when the thread has exited, whatever the reason. */
  readonly exited: Promise<number>
  readonly #worker: Worker
  readonly #closeFlag = new Int32Array(new SharedArrayBuffer(4))
  readonly #closeTimeoutMs: number
  readonly #log: Logger
  #isReady = false
  #isExited = false
  #closing: Promise<void> | undefined
  #lastError: unknown
  #held = false

  constructor(options: ManagedWorkerOptions, events: ManagedWorkerEvents<Reply>, logger: Logger = silentLogger) {
    this.name = options.name
    this.#closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS
    this.#log = logger
    this.#worker = new Worker(options.script, { name: options.name, workerData: { [CLOSE_FLAG]: this.#closeFlag, data: options.data } })
    let markReady: () => void = () => undefined
    let failReady: (error: ManagedWorkerError) => void = () => undefined
    this.ready = new Promise<void>((resolve, reject) => {
      markReady = resolve
      failReady = reject
    })
    this.ready.catch(() => undefined) // a thread that never got ready is reported through onDied
    this.exited = new Promise<number>((resolve) => {
      this.#worker.on('exit', (code) => {
        this.#isExited = true
        resolve(code)
        const error = new ManagedWorkerError('WORKER_EXITED', `worker ${this.name} exited (code ${code})`, {
          cause: this.#lastError,
          details: { worker: this.name, exitCode: code },
        })
        failReady(error)
        if (this.#closing === undefined) events.onDied?.(error)
      })
    })
    this.#worker.on('error', (error) => {
      this.#lastError = error
    })
    this.#worker.on('message', (message: unknown) => {
      if (isControl(message, 'ready')) {
        this.#isReady = true
        if (!this.#held) this.#worker.unref()
        markReady()
        return
      }
      events.onMessage(message as Reply)
    })
  }

  /** The thread reached ready at some point (it may have died or be closing since). */
  get isReadyOnce(): boolean {
    return this.#isReady
  }

  get isReady(): boolean {
    return this.#isReady && !this.#isExited && this.#closing === undefined
  }

  /** Keep the process alive while this thread owes an answer; release() when it does not. */
  hold(): void {
    this.#held = true
    this.#worker.ref()
  }

  release(): void {
    this.#held = false
    if (this.#isReady) this.#worker.unref()
  }

  post(message: Request, transfer: readonly Transferable[] = []): void {
    this.#worker.postMessage(message, transfer)
  }

  /** Drains the thread: waits for it to be ready (or gone), asks it to close, waits for its exit. */
  close(): Promise<void> {
    this.#closing ??= this.#drain()
    return this.#closing
  }

  async #drain(): Promise<void> {
    Atomics.store(this.#closeFlag, 0, 1)
    this.#worker.ref() // the process waits for the thread's own exit
    await this.ready.catch(() => undefined)
    if (this.#isExited) return
    this.#worker.postMessage({ [CONTROL]: 'close' } satisfies Control)
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.#closeTimeoutMs)
    })
    const outcome = await Promise.race([this.exited, timedOut])
    clearTimeout(timer)
    if (outcome === 'timeout') {
      // ready, so its modules have evaluated: terminating it now cannot hit the V8 abort above
      this.#log.warn('worker did not exit when asked, terminating it', { worker: this.name, waitedMs: this.#closeTimeoutMs })
      await this.#worker.terminate()
    }
  }
}

// ---- the thread's side ----

export interface ServeOptions {
  /** Called on close before the port closes: stop long work, release nested workers. */
  onClose?(): void | Promise<void>
}

/** The data given to ManagedWorker's `data`. */
export function threadData<T>(): T {
  return (workerData as { data: T } | null)?.data as T
}

/** True once the parent asked this thread to close: long synchronous work polls it between steps. */
export function closing(): boolean {
  const flag = (workerData as Record<string, unknown> | null)?.[CLOSE_FLAG]
  return flag instanceof Int32Array && Atomics.load(flag, 0) === 1
}

/**
 * The thread's message loop. Call it from the worker script's top level; it says `ready` once the
 * module graph has finished evaluating, and closes the port (so the thread exits) on close.
 */
export function serveParent<Request>(onMessage: (request: Request, reply: (message: unknown, transfer?: readonly Transferable[]) => void) => void, options: ServeOptions = {}): { exit(): void } {
  const port = parentPort
  if (port === null) return { exit: () => undefined }
  const reply = (message: unknown, transfer: readonly Transferable[] = []): void => port.postMessage(message, transfer)
  port.on('message', (message: unknown) => {
    if (isControl(message, 'close')) {
      void new Promise<void>((resolve) => resolve(options.onClose?.())).catch(() => undefined).finally(() => port.close())
      return
    }
    onMessage(message as Request, reply)
  })
  // setImmediate: after the evaluation of this module (and its async dependencies) has settled
  setImmediate(() => port.postMessage({ [CONTROL]: 'ready' } satisfies Control))
  // a thread whose work is over (one job) ends by itself: the same clean exit as a close
  return { exit: () => port.close() }
}
