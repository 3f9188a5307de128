// The seam between the serving engine (node/serving/engine/) and what sits on it (the HTTP API,
// adapter sources, the serving process, CLI). The engine works in token ids; tokenization, stop
// strings and chat templates belong to the API. See /work/wt/SERVING_CONTRACT.md for who owns what.
import type { Logger } from '../../lib/logger.ts'
import type { ModelConfig } from '../../ml/model/config.ts'

/** A published LoRA adapter's weights, already hash-checked against the chain by the source. */
export interface AdapterWeights {
  /** base model name, e.g. 'ol-lm-sotu-2m' */
  readonly base: string
  /** model version id as a decimal string, e.g. '7' */
  readonly id: string
  /** 1..64 (the chain's range) */
  readonly rank: number
  readonly alpha: number
  /** named as adapterShapes(config, { rank, alpha }) (ml/model/config.ts), same shapes */
  readonly tensors: ReadonlyMap<string, Float32Array>
  /** size of the tensors in bytes (what the adapter memory budget counts) */
  readonly bytes: number
}

/** A base model the engine serves: one onnxruntime session per base, built at start. */
export interface BaseModel {
  readonly name: string
  /** ml/model/config.ts */
  readonly config: ModelConfig
  /** named and shaped as paramShapes(config) */
  readonly weights: ReadonlyMap<string, Float32Array>
}

/** srvapi implements it; the engine calls it on a cache miss and to prefetch queued requests' adapters. */
export interface AdapterSource {
  /** throws ServingError ADAPTER_NOT_FOUND, ADAPTER_HASH_MISMATCH or ADAPTER_UNAVAILABLE */
  fetch(base: string, id: string, signal?: AbortSignal): Promise<AdapterWeights>
}

/**
 * One adapter a request uses and its weight. Several = LoRAX's per-request merge: the row adds
 * Σ weight_i · (alpha_i / rank_i) · x·A_i·B_i. One adapter with weight 1 is the plain adapter.
 */
export interface AdapterUse {
  readonly id: string
  readonly weight: number
}

/** At most this many adapters in one request's merge. */
export const MAX_ADAPTERS_PER_REQUEST = 8
/** The chain's adapter rank range. */
export const MAX_ADAPTER_RANK = 64

export interface SamplingParams {
  /** 0 = greedy (argmax, lowest id on ties); otherwise > 0, at most 100 */
  readonly temperature: number
  /** 0 = off; otherwise keep the k most likely tokens */
  readonly topK: number
  /** 1 = off; otherwise in (0, 1]: keep the smallest most-likely set whose probability reaches topP */
  readonly topP: number
  /** uint32; same request, same seed, same tokens */
  readonly seed: number
}

export interface GenerateRequest {
  readonly base: string
  /** [] = the base model alone */
  readonly adapters: readonly AdapterUse[]
  /** at least one token, at most the model's context */
  readonly promptTokens: readonly number[]
  /**
   * ≥ 1. Generation also stops at the context: prompt + output never passes config.context
   * (finishReason 'length').
   */
  readonly maxTokens: number
  readonly sampling: SamplingParams
  /** generation ends after emitting one of these (it is included in the output), e.g. end-of-text */
  readonly stopTokens?: readonly number[]
  /** report each chosen token's log-probability under the model's raw distribution (log-softmax of the logits, before temperature, top-k and top-p; vLLM's default) */
  readonly logprobs: boolean
}

export interface GeneratedToken {
  readonly token: number
  /** NaN when the request did not ask for logprobs */
  readonly logprob: number
}

export type FinishReason = 'stop' | 'length' | 'cancelled'

/** What a request used and produced: the input of verification (verify.ts) and attribution. */
export interface RequestRecord {
  /** engine-unique, e.g. 'req-17' */
  readonly id: string
  readonly base: string
  readonly adapters: readonly AdapterUse[]
  readonly promptTokens: readonly number[]
  readonly outputTokens: readonly number[]
  readonly sampling: SamplingParams
  readonly finishReason: FinishReason
  /** milliseconds from generate() to: the first token, the end */
  readonly timings: { readonly firstTokenMs: number; readonly totalMs: number }
}

export interface GenerationHandle {
  readonly id: string
  /** yields each token as it is produced; ends when generation ends; throws the request's error */
  readonly tokens: AsyncIterable<GeneratedToken>
  /** resolves when generation ends (also when cancelled); rejects with a ServingError */
  readonly done: Promise<RequestRecord>
  /** frees the batch slot at the next step; done resolves with finishReason 'cancelled' */
  cancel(): void
}

export interface ResidentAdapter {
  readonly base: string
  readonly id: string
  readonly rank: number
  readonly bytes: number
  readonly pinned: boolean
}

/** Counters only grow (Prometheus counters); the rest are gauges at the time of the call. */
export interface EngineStats {
  readonly queueDepth: number
  readonly runningRequests: number
  /** rows in the last step */
  readonly lastBatchSize: number
  readonly steps: number
  readonly requests: number
  readonly promptTokens: number
  readonly generatedTokens: number
  readonly rejectedOverloaded: number
  readonly adapterHits: number
  readonly adapterMisses: number
  readonly adapterEvictions: number
  readonly adapterLoadFailures: number
  readonly residentAdapters: number
  readonly residentAdapterBytes: number
  readonly adapterMemoryBudget: number
}

export interface ServingEngineOptions {
  readonly bases: readonly BaseModel[]
  readonly adapterSource: AdapterSource
  /** bytes of adapter tensors kept resident (LRU beyond that); default 256 MiB */
  readonly adapterMemoryBytes?: number
  /** adapters loaded at start and never evicted */
  readonly pins?: readonly { readonly base: string; readonly id: string }[]
  /** worker threads holding onnxruntime sessions (the thread cap); default 1 */
  readonly threads?: number
  /** onnxruntime execution provider, default 'cpu'; one this build lacks fails start() with EXECUTION_PROVIDER_UNAVAILABLE */
  readonly executionProvider?: string
  /** rows of one batch step; default 32 */
  readonly maxBatch?: number
  /** requests waiting beyond the running batch; more are refused with OVERLOADED; default 256 */
  readonly maxQueue?: number
  readonly logger?: Logger
}

export interface ServingEngine {
  start(): Promise<void>
  /** stops taking requests, cancels the running ones, drains the workers (no terminate() mid-native-call) */
  stop(): Promise<void>
  /**
   * Throws (synchronously) ServingError MODEL_NOT_FOUND, WRONG_MODEL_KIND, CONTEXT_LENGTH_EXCEEDED,
   * INVALID_PARAMETER, OVERLOADED, ENGINE_STOPPED; adapter errors (ADAPTER_NOT_FOUND,
   * ADAPTER_HASH_MISMATCH, ADAPTER_INVALID, ADAPTER_UNAVAILABLE, ADAPTER_MEMORY_EXHAUSTED) reject
   * `done` and the token iterator before any token.
   */
  generate(request: GenerateRequest, signal?: AbortSignal): GenerationHandle
  /** class logits of a classifier base (with its adapters' heads merged by weight) */
  classify(base: string, adapters: readonly AdapterUse[], tokens: readonly number[], signal?: AbortSignal): Promise<Float32Array>
  /** loads the adapter if needed and keeps it resident */
  pin(base: string, id: string, signal?: AbortSignal): Promise<void>
  unpin(base: string, id: string): void
  adapters(): readonly ResidentAdapter[]
  bases(): readonly { readonly name: string; readonly config: ModelConfig }[]
  stats(): EngineStats
}
