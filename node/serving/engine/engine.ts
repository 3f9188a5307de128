// The serving engine: requests in, tokens out, with onnxruntime kept off the event loop.
//
// - Workers: `threads` worker threads (the cap); each base model lives in one of them (round robin)
//   with its KV cache and resident adapter tensors (modelRunner.ts).
// - Continuous batching, per base: each step decodes every running request (one token each) and,
//   in the same round trip, prefills newly admitted ones (right-padded together), so requests join
//   and leave at every step. Running requests occupy KV slots 0..n−1; one that leaves is replaced by
//   the last (a single slot move), which lets a decode step feed the cache without copying it.
// - Queue: bounded (maxQueue waiting requests per engine; beyond → OVERLOADED, the API's 429), served
//   in arrival order; a request whose adapters are still loading keeps its place while ready ones
//   behind it are admitted, so a cold adapter never stalls the batch.
// - Adapters: an LRU of resident adapters under a byte budget with pinning (adapterCache.ts); the
//   first `maxBatch` waiting requests' adapters are fetched ahead (prefetch), a miss calls the
//   AdapterSource, and the tensors are checked against the base's shapes before use.
import { adapterShapes, elementCount, type ModelConfig } from '../../../ml/model/config.ts'
import { silentLogger, type Logger } from '../../../lib/logger.ts'
import { ManagedWorker } from '../../workers/managedWorker.ts'
import { ServingError, type ServingErrorCode } from '../errors.ts'
import {
  MAX_ADAPTER_RANK, MAX_ADAPTERS_PER_REQUEST,
  type AdapterUse, type AdapterWeights, type BaseModel, type EngineStats, type GeneratedToken, type GenerateRequest,
  type GenerationHandle, type RequestRecord, type ResidentAdapter, type ServingEngine, type ServingEngineOptions,
} from '../types.ts'
import { AdapterCache, type CacheEntry } from './adapterCache.ts'
import { checkExecutionProvider, type RunnerCounters, type StepResult, type StepRow } from './modelRunner.ts'
import { TokenChannel } from './tokenChannel.ts'
import type { WorkerReply, WorkerRequest } from './worker.ts'

const DEFAULT_ADAPTER_MEMORY = 256 * 1024 * 1024 // bytes
const DEFAULT_MAX_BATCH = 32
const DEFAULT_MAX_QUEUE = 256
/** prompt tokens one step prefills at most (beside decoding), so admissions never stall decoding for long */
const PREFILL_TOKENS_PER_STEP = 2048

type WorkerCall = { [K in WorkerRequest['type']]: Omit<Extract<WorkerRequest, { type: K }>, 'id'> }[WorkerRequest['type']]

class WorkerClient {
  private readonly thread: ManagedWorker<WorkerRequest, WorkerReply>
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>()
  private nextId = 1
  private failure: ServingError | undefined

  constructor(index: number, logger: Logger) {
    this.thread = new ManagedWorker<WorkerRequest, WorkerReply>({ name: `serving-worker-${index}`, script: new URL('./worker.ts', import.meta.url) }, {
      onMessage: (reply) => {
        const waiter = this.pending.get(reply.id)
        if (waiter === undefined) return
        this.pending.delete(reply.id)
        if (this.pending.size === 0) this.thread.release()
        if (reply.ok) waiter.resolve(reply.result)
        else waiter.reject(new ServingError(reply.error.code as ServingErrorCode, reply.error.message, { ...(reply.error.details === undefined ? {} : { details: reply.error.details }) }))
      },
      onDied: (cause) => {
        this.failure = new ServingError('ENGINE_FAILURE', 'serving worker stopped', { cause })
        for (const waiter of this.pending.values()) waiter.reject(this.failure)
        this.pending.clear()
      },
    }, logger)
  }

  call<T>(message: WorkerCall, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.failure !== undefined) return Promise.reject(this.failure)
    const id = this.nextId++
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject })
      // the process stays up while this thread owes an answer
      this.thread.hold()
      this.thread.post({ ...message, id } as WorkerRequest, transfer)
    })
  }

  /** Drains the thread after the step in flight (node/workers/managedWorker.ts). */
  close(): Promise<void> {
    return this.thread.close()
  }
}

interface Request {
  readonly id: string
  readonly base: BaseState
  readonly request: GenerateRequest
  readonly stop: ReadonlySet<number>
  readonly channel: TokenChannel
  readonly output: number[]
  readonly created: number
  firstToken: number
  entries: CacheEntry[] | undefined
  acquiring: boolean
  /** set when a load was refused because every resident adapter was held: cache.freed at that time */
  memoryWait: number | undefined
  cancelled: boolean
  finished: boolean
  resolve(record: RequestRecord): void
  reject(error: Error): void
}

interface BaseState {
  readonly model: BaseModel
  readonly worker: WorkerClient
  readonly waiting: Request[]
  /** index = KV slot */
  readonly running: Request[]
  stepping: boolean
}

export class Engine implements ServingEngine {
  private readonly options: Required<Omit<ServingEngineOptions, 'logger' | 'pins'>> & { readonly pins: ServingEngineOptions['pins'] | undefined }
  private readonly log: Logger
  private readonly baseStates = new Map<string, BaseState>()
  private workers: WorkerClient[] = []
  private readonly cache: AdapterCache
  private state: 'new' | 'started' | 'stopping' | 'stopped' = 'new'
  private requestCounter = 0
  private waitingTotal = 0
  private lastBatchSize = 0
  private readonly counters = { steps: 0, requests: 0, promptTokens: 0, generatedTokens: 0, rejectedOverloaded: 0 }
  /** the worker-measured byte and run counters, refreshed by runnerCounters() */
  private readonly stopController = new AbortController()

  constructor(options: ServingEngineOptions) {
    this.options = {
      bases: options.bases,
      adapterSource: options.adapterSource,
      adapterMemoryBytes: options.adapterMemoryBytes ?? DEFAULT_ADAPTER_MEMORY,
      threads: Math.max(1, options.threads ?? 1),
      executionProvider: options.executionProvider ?? 'cpu',
      maxBatch: options.maxBatch ?? DEFAULT_MAX_BATCH,
      maxQueue: options.maxQueue ?? DEFAULT_MAX_QUEUE,
      pins: options.pins,
    }
    this.log = (options.logger ?? silentLogger).child('serving-engine')
    this.cache = new AdapterCache(this.options.adapterMemoryBytes, {
      fetch: (base, id, signal) => this.fetchAdapter(base, id, signal),
      install: async (entry, weights) => {
        const state = this.baseStates.get(entry.base)!
        if (state.model.config.kind === 'lm') await state.worker.call({ type: 'load', base: entry.base, key: entry.key, rank: weights.rank, tensors: new Map(weights.tensors) })
      },
      drop: (entry) => {
        const state = this.baseStates.get(entry.base)!
        if (state.model.config.kind === 'lm') void state.worker.call({ type: 'drop', base: entry.base, key: entry.key }).catch(() => undefined)
      },
    })
  }

  async start(): Promise<void> {
    if (this.state !== 'new') throw new ServingError('ENGINE_STOPPED', 'the engine was already started')
    checkExecutionProvider(this.options.executionProvider)
    const threads = Math.min(this.options.threads, Math.max(1, this.options.bases.length))
    this.workers = Array.from({ length: threads }, (_, i) => new WorkerClient(i, this.log))
    const assigned: BaseModel[][] = this.workers.map(() => [])
    this.options.bases.forEach((model, i) => {
      const worker = this.workers[i % threads]!
      assigned[i % threads]!.push(model)
      this.baseStates.set(model.name, { model, worker, waiting: [], running: [], stepping: false })
    })
    try {
      await Promise.all(this.workers.map((worker, i) => worker.call({
        type: 'init',
        bases: assigned[i]!.map((model) => ({ name: model.name, config: model.config, weights: new Map(model.weights) })),
        maxBatch: this.options.maxBatch,
        executionProvider: this.options.executionProvider,
        intraOpThreads: 1,
      })))
    } catch (error) {
      await this.closeWorkers()
      throw error
    }
    this.state = 'started'
    for (const pin of this.options.pins ?? []) await this.pin(pin.base, pin.id)
    this.log.info('serving engine started', { bases: this.options.bases.map((b) => b.name), threads, executionProvider: this.options.executionProvider })
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return
    const wasStarted = this.state === 'started'
    this.state = 'stopping'
    this.stopController.abort()
    for (const base of this.baseStates.values()) {
      for (const request of [...base.waiting, ...base.running]) request.cancelled = true
      for (const request of base.waiting.splice(0)) this.finish(request, 'cancelled')
    }
    this.waitingTotal = 0
    // let the step in flight finish (its rows end as cancelled), then drain the workers
    while ([...this.baseStates.values()].some((base) => base.stepping)) await new Promise((resolve) => setImmediate(resolve))
    for (const base of this.baseStates.values()) for (const request of base.running.splice(0)) this.finish(request, 'cancelled')
    if (wasStarted) await this.closeWorkers()
    this.state = 'stopped'
  }

  private async closeWorkers(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.close()))
  }

  bases(): readonly { name: string; config: ModelConfig }[] {
    return this.options.bases.map((model) => ({ name: model.name, config: model.config }))
  }

  generate(request: GenerateRequest, signal?: AbortSignal): GenerationHandle {
    if (this.state !== 'started') throw new ServingError('ENGINE_STOPPED', 'the serving engine is not running')
    const base = this.baseStates.get(request.base)
    if (base === undefined) throw new ServingError('MODEL_NOT_FOUND', `no base model ${request.base}`, { details: { base: request.base } })
    if (base.model.config.kind !== 'lm') throw new ServingError('WRONG_MODEL_KIND', `${request.base} is a classifier: use classification`, { details: { base: request.base } })
    checkGenerateRequest(request, base.model.config)
    if (this.waitingTotal >= this.options.maxQueue) {
      this.counters.rejectedOverloaded++
      throw new ServingError('OVERLOADED', 'the request queue is full', { details: { queued: this.waitingTotal } })
    }
    const channel = new TokenChannel()
    let resolve!: (record: RequestRecord) => void
    let reject!: (error: Error) => void
    const done = new Promise<RequestRecord>((res, rej) => { resolve = res; reject = rej })
    done.catch(() => undefined) // the caller may only read the token stream
    const entry: Request = {
      id: `req-${++this.requestCounter}`, base, request, stop: new Set(request.stopTokens ?? []), channel, output: [],
      created: performance.now(), firstToken: NaN, entries: undefined, acquiring: false, memoryWait: undefined, cancelled: false, finished: false, resolve, reject,
    }
    this.counters.requests++
    this.counters.promptTokens += request.promptTokens.length
    base.waiting.push(entry)
    this.waitingTotal++
    const cancel = () => this.cancel(entry)
    if (signal !== undefined) {
      if (signal.aborted) cancel()
      else signal.addEventListener('abort', cancel, { once: true })
    }
    this.pump(base)
    return { id: entry.id, tokens: channel, done, cancel }
  }

  private cancel(request: Request): void {
    if (request.finished || request.cancelled) return
    request.cancelled = true
    const index = request.base.waiting.indexOf(request)
    if (index >= 0) {
      request.base.waiting.splice(index, 1)
      this.waitingTotal--
      this.finish(request, 'cancelled')
    }
    // a running request leaves at the next step boundary
    this.pump(request.base)
  }

  private finish(request: Request, reason: RequestRecord['finishReason'] | ServingError): void {
    if (request.finished) return
    request.finished = true
    if (request.entries !== undefined) {
      for (const entry of request.entries) this.cache.release(entry)
      // memory freed: requests that waited for it may load now
      if (request.entries.length > 0) for (const base of this.baseStates.values()) if (base !== request.base && base.waiting.length > 0) this.pump(base)
    }
    request.entries = undefined
    if (reason instanceof ServingError) {
      request.channel.fail(reason)
      request.reject(reason)
      return
    }
    const now = performance.now()
    const { request: r } = request
    const record: RequestRecord = {
      id: request.id, base: r.base, adapters: r.adapters.map((use) => ({ id: use.id, weight: use.weight })),
      promptTokens: [...r.promptTokens], outputTokens: [...request.output], sampling: { ...r.sampling }, finishReason: reason,
      timings: { firstTokenMs: Number.isNaN(request.firstToken) ? now - request.created : request.firstToken - request.created, totalMs: now - request.created },
    }
    request.channel.end()
    request.resolve(record)
  }

  /** Starts adapter loads for the head of the queue (prefetch) and a step when there is work. */
  private pump(base: BaseState): void {
    if (this.state !== 'started' && this.state !== 'stopping') return
    let window = 0
    for (const request of base.waiting) {
      if (window++ >= this.options.maxBatch) break
      // a request refused for memory retries (and refetches) only once something was released
      if (request.entries === undefined && !request.acquiring && (request.memoryWait === undefined || this.cache.freed > request.memoryWait)) this.acquire(request)
    }
    if (base.stepping) return
    const hasWork = base.running.length > 0 || base.waiting.some((request) => request.entries !== undefined)
    if (!hasWork) return
    base.stepping = true
    setImmediate(() => {
      this.step(base).catch((error: unknown) => this.log.error('serving step failed', { base: base.model.name, error }))
        .finally(() => { base.stepping = false; this.pump(base) })
    })
  }

  private acquire(request: Request): void {
    request.acquiring = true
    const freedBefore = this.cache.freed
    const keys = request.request.adapters.map((use) => use.id)
    this.cache.acquireAll(request.base.model.name, keys, this.stopController.signal).then((entries) => {
      request.acquiring = false
      if (request.finished) { for (const entry of entries) this.cache.release(entry); return }
      request.entries = entries
      this.pump(request.base)
    }, (error: unknown) => {
      request.acquiring = false
      if (error instanceof ServingError && error.code === 'ADAPTER_MEMORY_EXHAUSTED' && error.details?.retry === true) {
        request.memoryWait = freedBefore // waits for memory to free
        if (this.cache.freed > freedBefore) this.pump(request.base)
        return
      }
      const index = request.base.waiting.indexOf(request)
      if (index >= 0) { request.base.waiting.splice(index, 1); this.waitingTotal-- }
      this.finish(request, error instanceof ServingError ? error : new ServingError('ADAPTER_UNAVAILABLE', 'adapter load failed', { cause: error }))
      this.pump(request.base)
    })
  }

  private async step(base: BaseState): Promise<void> {
    const { config } = base.model
    const name = base.model.name
    // leavers: cancelled running requests free their slot
    for (let slot = base.running.length - 1; slot >= 0; slot--) {
      const request = base.running[slot]!
      if (request.cancelled) { await this.removeRunning(base, slot); this.finish(request, 'cancelled') }
    }
    // joiners: ready requests in arrival order, while slots and the prefill budget last
    const admitted: Request[] = []
    let prefillTokens = 0
    for (let i = 0; i < base.waiting.length && base.running.length + admitted.length < this.options.maxBatch;) {
      const request = base.waiting[i]!
      const length = request.request.promptTokens.length
      if (request.entries === undefined || (admitted.length > 0 && prefillTokens + length > PREFILL_TOKENS_PER_STEP)) { i++; continue }
      base.waiting.splice(i, 1)
      this.waitingTotal--
      admitted.push(request)
      prefillTokens += length
    }
    const decoding = [...base.running]
    if (decoding.length === 0 && admitted.length === 0) return
    const rowOf = (request: Request, slot: number, tokens: readonly number[], pastLength: number): StepRow => ({
      slot, tokens, pastLength,
      adapters: {
        keys: request.entries!.map((entry) => entry.key),
        scales: request.entries!.map((entry, m) => request.request.adapters[m]!.weight * entry.alpha / entry.rank),
      },
      sampling: request.request.sampling, outputIndex: request.output.length, logprobs: request.request.logprobs,
    })
    const decodeRows = decoding.map((request, slot) => rowOf(request, slot, [request.output.at(-1)!], request.request.promptTokens.length + request.output.length - 1))
    const firstSlot = decoding.length
    const prefillRows = admitted.map((request, i) => rowOf(request, firstSlot + i, request.request.promptTokens, 0))
    // both calls go out at once: the worker runs them back to back
    const calls: Promise<StepResult>[] = []
    if (decodeRows.length > 0) calls.push(base.worker.call<StepResult>({ type: 'step', base: name, mode: 'decode', rows: decodeRows, keepLogits: false }))
    if (prefillRows.length > 0) calls.push(base.worker.call<StepResult>({ type: 'step', base: name, mode: 'prefill', rows: prefillRows, keepLogits: false }))
    base.running.push(...admitted)
    let results: StepResult[]
    try {
      results = await Promise.all(calls)
    } catch (error) {
      const failure = error instanceof ServingError ? error : new ServingError('ENGINE_FAILURE', 'serving step failed', { cause: error })
      for (const request of base.running.splice(0)) this.finish(request, failure)
      throw failure
    }
    this.counters.steps++
    this.lastBatchSize = decodeRows.length + prefillRows.length
    const now = performance.now()
    const emitted: Array<[Request, number, number]> = []
    if (decodeRows.length > 0) { const r = results.shift()!; decoding.forEach((request, b) => emitted.push([request, r.tokens[b]!, r.logprobs[b]!])) }
    if (prefillRows.length > 0) { const r = results.shift()!; admitted.forEach((request, b) => emitted.push([request, r.tokens[b]!, r.logprobs[b]!])) }
    for (const [request, token, logprob] of emitted) {
      if (request.cancelled) continue
      if (request.output.length === 0) request.firstToken = now
      request.output.push(token)
      this.counters.generatedTokens++
      request.channel.push({ token, logprob } satisfies GeneratedToken)
    }
    // leavers after this step: stopped, at max tokens, at the context, or cancelled meanwhile
    for (let slot = base.running.length - 1; slot >= 0; slot--) {
      const request = base.running[slot]!
      const { output } = request
      let reason: RequestRecord['finishReason'] | undefined
      if (request.cancelled) reason = 'cancelled'
      else if (request.stop.has(output.at(-1)!)) reason = 'stop'
      else if (output.length >= request.request.maxTokens || request.request.promptTokens.length + output.length >= config.context) reason = 'length'
      if (reason === undefined) continue
      await this.removeRunning(base, slot)
      this.finish(request, reason)
    }
  }

  /** Frees a KV slot: the last running request moves into it. */
  private async removeRunning(base: BaseState, slot: number): Promise<void> {
    const last = base.running.length - 1
    if (slot !== last) {
      const moved = base.running[last]!
      // its cache holds prompt + output − 1 positions (the newest token is not fed yet)
      const length = moved.request.promptTokens.length + moved.output.length - 1
      base.running[slot] = moved
      await base.worker.call({ type: 'move', base: base.model.name, from: last, to: slot, length })
    }
    base.running.pop()
  }

  private async fetchAdapter(base: string, id: string, signal: AbortSignal): Promise<{ weights: AdapterWeights; bytes: number; keepTensors: boolean }> {
    const state = this.baseStates.get(base)
    if (state === undefined) throw new ServingError('MODEL_NOT_FOUND', `no base model ${base}`, { details: { base } })
    const weights = await this.options.adapterSource.fetch(base, id, signal)
    return { weights, bytes: checkAdapter(weights, state.model, id), keepTensors: state.model.config.kind !== 'lm' }
  }

  async classify(base: string, adapters: readonly AdapterUse[], tokens: readonly number[], signal?: AbortSignal): Promise<Float32Array> {
    if (this.state !== 'started') throw new ServingError('ENGINE_STOPPED', 'the serving engine is not running')
    const state = this.baseStates.get(base)
    if (state === undefined) throw new ServingError('MODEL_NOT_FOUND', `no base model ${base}`, { details: { base } })
    const { config } = state.model
    if (config.kind !== 'classifier') throw new ServingError('WRONG_MODEL_KIND', `${base} is a language model: use completions`, { details: { base } })
    checkTokens(tokens, config)
    checkAdapterUses(adapters)
    const entries = await this.cache.acquireAll(base, adapters.map((use) => use.id), signal ?? this.stopController.signal)
    try {
      const weighted = entries.map((entry, i) => ({ rank: entry.rank, alpha: entry.alpha, tensors: new Map(entry.tensors!), weight: adapters[i]!.weight }))
      return await state.worker.call<Float32Array>({ type: 'classify', base, adapters: weighted, tokens: [...tokens] })
    } finally {
      for (const entry of entries) this.cache.release(entry)
    }
  }

  async pin(base: string, id: string, signal?: AbortSignal): Promise<void> {
    if (!this.baseStates.has(base)) throw new ServingError('MODEL_NOT_FOUND', `no base model ${base}`, { details: { base } })
    await this.cache.pin(base, id, signal ?? this.stopController.signal)
  }

  unpin(base: string, id: string): void {
    this.cache.unpin(base, id)
  }

  adapters(): readonly ResidentAdapter[] {
    return this.cache.resident()
  }

  stats(): EngineStats {
    let running = 0
    for (const base of this.baseStates.values()) running += base.running.length
    const cache = this.cache.stats()
    return {
      queueDepth: this.waitingTotal, runningRequests: running, lastBatchSize: this.lastBatchSize, ...this.counters,
      adapterHits: cache.hits, adapterMisses: cache.misses, adapterEvictions: cache.evictions, adapterLoadFailures: cache.loadFailures,
      residentAdapters: cache.residentAdapters, residentAdapterBytes: cache.residentBytes, adapterMemoryBudget: this.options.adapterMemoryBytes,
    }
  }

  /** The workers' own counters per base (runs, bytes copied into the cache and stack): for benchmarks. */
  async runnerCounters(): Promise<Record<string, RunnerCounters>> {
    const all = await Promise.all(this.workers.map((worker) => worker.call<Record<string, RunnerCounters>>({ type: 'counters' })))
    return Object.assign({}, ...all) as Record<string, RunnerCounters>
  }
}

export function createServingEngine(options: ServingEngineOptions): Engine {
  return new Engine(options)
}

const invalid = (message: string, details: Record<string, unknown>) => new ServingError('INVALID_PARAMETER', message, { details })

function checkTokens(tokens: readonly number[], config: ModelConfig): void {
  if (!Array.isArray(tokens) || tokens.length === 0) throw invalid('the prompt must hold at least one token', { field: 'promptTokens' })
  if (tokens.length > config.context) throw new ServingError('CONTEXT_LENGTH_EXCEEDED', `the prompt has ${tokens.length} tokens; the model's context is ${config.context}`, { details: { promptTokens: tokens.length, context: config.context } })
  for (const token of tokens) if (!Number.isInteger(token) || token < 0 || token >= config.vocab) throw invalid('token id out of the vocabulary', { field: 'promptTokens', token })
}

function checkAdapterUses(adapters: readonly AdapterUse[]): void {
  if (!Array.isArray(adapters) || adapters.length > MAX_ADAPTERS_PER_REQUEST) throw invalid(`at most ${MAX_ADAPTERS_PER_REQUEST} adapters per request`, { field: 'adapters' })
  const seen = new Set<string>()
  for (const use of adapters) {
    if (typeof use.id !== 'string' || !/^[0-9]{1,20}$/.test(use.id)) throw invalid('adapter id must be a model version id', { field: 'adapters', id: use.id })
    if (!Number.isFinite(use.weight) || use.weight < -16 || use.weight > 16) throw invalid('adapter weight must be finite, within ±16', { field: 'adapters', weight: use.weight })
    if (seen.has(use.id)) throw invalid('an adapter is named twice', { field: 'adapters', id: use.id })
    seen.add(use.id)
  }
}

function checkGenerateRequest(request: GenerateRequest, config: ModelConfig): void {
  checkTokens(request.promptTokens, config)
  checkAdapterUses(request.adapters)
  if (!Number.isSafeInteger(request.maxTokens) || request.maxTokens < 1 || request.maxTokens > config.context) throw invalid(`maxTokens must be in 1..${config.context}`, { field: 'maxTokens', value: request.maxTokens })
  const s = request.sampling
  if (!Number.isFinite(s.temperature) || s.temperature < 0 || s.temperature > 100) throw invalid('temperature must be in [0, 100]', { field: 'temperature', value: s.temperature })
  if (!Number.isSafeInteger(s.topK) || s.topK < 0) throw invalid('topK must be a non-negative integer', { field: 'topK', value: s.topK })
  if (!Number.isFinite(s.topP) || s.topP <= 0 || s.topP > 1) throw invalid('topP must be in (0, 1]', { field: 'topP', value: s.topP })
  if (!Number.isSafeInteger(s.seed) || s.seed < 0 || s.seed > 0xffffffff) throw invalid('seed must be a uint32', { field: 'seed', value: s.seed })
  for (const token of request.stopTokens ?? []) if (!Number.isInteger(token) || token < 0 || token >= config.vocab) throw invalid('stop token out of the vocabulary', { field: 'stopTokens', token })
}

/** An adapter's tensors must fit its base exactly (names, shapes, finite values) before it is used. */
function checkAdapter(weights: AdapterWeights, model: BaseModel, id: string): number {
  const bad = (message: string, details: Record<string, unknown>) => new ServingError('ADAPTER_INVALID', message, { details: { base: model.name, id, ...details } })
  if (weights.base !== model.name || weights.id !== id) throw bad('the source answered another adapter', { answered: `${weights.base}:${weights.id}` })
  if (!Number.isSafeInteger(weights.rank) || weights.rank < 1 || weights.rank > MAX_ADAPTER_RANK) throw bad(`rank must be in 1..${MAX_ADAPTER_RANK}`, { rank: weights.rank })
  if (!Number.isFinite(weights.alpha)) throw bad('alpha must be finite', { alpha: weights.alpha })
  let bytes = 0
  for (const [name, shape] of adapterShapes(model.config, { rank: weights.rank, alpha: weights.alpha })) {
    const tensor = weights.tensors.get(name)
    if (tensor === undefined || tensor.length !== elementCount(shape)) throw bad(`tensor ${name} is missing or has the wrong size`, { name, shape })
    for (let i = 0; i < tensor.length; i++) if (!Number.isFinite(tensor[i]!)) throw bad(`tensor ${name} holds a non-finite value`, { name })
    bytes += tensor.byteLength
  }
  if (weights.tensors.size !== adapterShapes(model.config, { rank: weights.rank, alpha: weights.alpha }).length) throw bad('unexpected tensors', {})
  return bytes
}
