// An in-process stand-in for the serving engine, for the HTTP layer's unit tests only (the e2e
// tests use the real engine): it answers each request with the tokens `script` chooses, one per
// macrotask, honours maxTokens, stop tokens and cancel(), and refuses past `capacity` requests.
import { ServingError } from '../../../node/serving/errors.ts'
import type { ModelConfig } from '../../../ml/model/config.ts'
import type { AdapterUse, EngineStats, GeneratedToken, GenerateRequest, GenerationHandle, RequestRecord, ResidentAdapter, ServingEngine } from '../../../node/serving/types.ts'

export interface FakeEngineOptions {
  /** the tokens a request produces (before maxTokens and stop tokens cut them) */
  script: (request: GenerateRequest) => readonly number[]
  /** requests running at once before OVERLOADED */
  capacity?: number
  /** ms between tokens (0: one macrotask) */
  tokenDelayMs?: number
  /** thrown from generate's token stream before the first token */
  failWith?: (request: GenerateRequest) => Error | undefined
  classify?: (tokens: readonly number[]) => Float32Array
}

export class FakeEngine implements ServingEngine {
  readonly requests: GenerateRequest[] = []
  readonly records: RequestRecord[] = []
  cancelled = 0
  running = 0
  readonly pinned = new Set<string>()
  readonly #options: FakeEngineOptions

  constructor(options: FakeEngineOptions) {
    this.#options = options
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  generate(request: GenerateRequest, signal?: AbortSignal): GenerationHandle {
    if (this.running >= (this.#options.capacity ?? Infinity)) throw new ServingError('OVERLOADED', 'queue full')
    this.requests.push(request)
    this.running++
    let cancel = false
    const outputs: number[] = []
    const failure = this.#options.failWith?.(request)
    let finish: RequestRecord['finishReason'] = 'length'
    let resolveDone!: (record: RequestRecord) => void
    let rejectDone!: (error: unknown) => void
    const done = new Promise<RequestRecord>((resolve, reject) => {
      resolveDone = resolve
      rejectDone = reject
    })
    done.catch(() => undefined)
    const script = this.#options.script(request)
    const delay = this.#options.tokenDelayMs ?? 0
    const ended = (record: RequestRecord) => {
      this.records.push(record)
      this.running--
    }
    const id = `req-${this.requests.length}`
    async function* tokens(): AsyncGenerator<GeneratedToken> {
      try {
        if (failure !== undefined) throw failure
        for (const token of script) {
          await new Promise((resolve) => setTimeout(resolve, delay))
          if (cancel || signal?.aborted) {
            finish = 'cancelled'
            break
          }
          if (outputs.length >= request.maxTokens) break
          outputs.push(token)
          yield { token, logprob: -0.5 }
          if (request.stopTokens?.includes(token)) {
            finish = 'stop'
            break
          }
        }
      } catch (error) {
        rejectDone(error)
        throw error
      } finally {
        // also when the consumer stops reading (return() at a yield)
        if (cancel) finish = 'cancelled'
        const record: RequestRecord = { id, base: request.base, adapters: request.adapters, promptTokens: request.promptTokens, outputTokens: outputs, sampling: request.sampling, finishReason: finish, timings: { firstTokenMs: 0, totalMs: 0 } }
        resolveDone(record)
        ended(record)
      }
    }
    return {
      id,
      tokens: tokens(),
      done,
      cancel: () => {
        if (!cancel) this.cancelled++
        cancel = true
      },
    }
  }

  bases(): readonly { name: string; config: ModelConfig }[] {
    return []
  }

  async classify(_base: string, _adapters: readonly AdapterUse[], tokens: readonly number[]): Promise<Float32Array> {
    return this.#options.classify?.(tokens) ?? Float32Array.of(0, 1)
  }

  async pin(base: string, id: string): Promise<void> {
    this.pinned.add(`${base}:${id}`)
  }

  unpin(base: string, id: string): void {
    this.pinned.delete(`${base}:${id}`)
  }

  adapters(): readonly ResidentAdapter[] {
    return [...this.pinned].map((key) => ({ base: key.split(':')[0] as string, id: key.split(':')[1] as string, rank: 4, bytes: 1024, pinned: true }))
  }

  stats(): EngineStats {
    return {
      queueDepth: 0, runningRequests: this.running, lastBatchSize: this.running, steps: 0, requests: this.requests.length, promptTokens: 0, generatedTokens: 0, rejectedOverloaded: 0,
      adapterHits: 3, adapterMisses: 1, adapterEvictions: 0, adapterLoadFailures: 0, residentAdapters: this.pinned.size, residentAdapterBytes: 1024 * this.pinned.size, adapterMemoryBudget: 1 << 20,
    }
  }
}
