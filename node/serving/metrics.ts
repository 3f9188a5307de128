// The serving process's Prometheus metrics, on a private registry served at GET /metrics of the
// serving port (as vLLM does). The API counts requests, time to first token and tokens as they are
// streamed; the engine's own figures (queue, batch, adapter cache) are read from its stats() at
// each scrape. Label values are bounded: endpoints are the routes, codes the API's error codes.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { BlobVia } from './sources.ts'
import type { EngineStats } from './types.ts'

export interface ServingMetrics {
  readonly registry: Registry
  /** `code` is 'ok' or the error code answered */
  requests: Counter<'endpoint' | 'code'>
  requestDuration: Histogram<'endpoint'>
  timeToFirstToken: Histogram
  promptTokens: Counter
  generatedTokens: Counter
  inFlight: Gauge
  artifactReads: Counter<'via'>
  artifactReadBytes: Counter<'via'>
  artifactReadDuration: Histogram<'via'>
  /** called by the service once the engine exists */
  setEngineStats(stats: () => EngineStats): void
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] // seconds

export function createServingMetrics(options: { defaultMetrics?: boolean } = {}): ServingMetrics {
  const registry = new Registry()
  // includes nodejs_eventloop_lag_seconds: the event loop must stay responsive while workers infer
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry })
  const registers = [registry]
  let stats: (() => EngineStats) | undefined
  const engineGauge = (name: string, help: string, read: (s: EngineStats) => number): Gauge =>
    new Gauge({
      name, help, registers,
      collect() {
        if (stats !== undefined) this.set(read(stats()))
      },
    })
  // counters kept by the engine: the registry's counter follows the engine's total
  const engineCounter = (name: string, help: string, read: (s: EngineStats) => number): Counter => {
    let seen = 0
    return new Counter({
      name, help, registers,
      collect() {
        if (stats === undefined) return
        const now = read(stats())
        if (now > seen) this.inc(now - seen)
        seen = now
      },
    })
  }
  engineGauge('openledger_serving_queue_depth', 'Requests waiting for a batch slot', (s) => s.queueDepth)
  engineGauge('openledger_serving_running_requests', 'Requests in the running batch', (s) => s.runningRequests)
  engineGauge('openledger_serving_batch_size', 'Rows in the last batch step', (s) => s.lastBatchSize)
  engineGauge('openledger_serving_resident_adapters', 'Adapters resident in the adapter stack', (s) => s.residentAdapters)
  engineGauge('openledger_serving_resident_adapter_bytes', 'Bytes of the resident adapters (bounded by --adapter-memory)', (s) => s.residentAdapterBytes)
  engineGauge('openledger_serving_adapter_memory_budget_bytes', 'The adapter memory budget (--adapter-memory)', (s) => s.adapterMemoryBudget)
  engineCounter('openledger_serving_engine_steps_total', 'Batch steps run', (s) => s.steps)
  engineCounter('openledger_serving_overloaded_total', 'Requests refused because the queue was full (answered 429)', (s) => s.rejectedOverloaded)
  engineCounter('openledger_serving_adapter_cache_hits_total', 'Adapter uses that found it resident', (s) => s.adapterHits)
  engineCounter('openledger_serving_adapter_cache_misses_total', 'Adapter loads on a cache miss', (s) => s.adapterMisses)
  engineCounter('openledger_serving_adapter_cache_evictions_total', 'Adapters evicted from the stack (LRU under the memory budget)', (s) => s.adapterEvictions)
  engineCounter('openledger_serving_adapter_load_failures_total', 'Adapter loads that failed (not found, hash mismatch, unavailable)', (s) => s.adapterLoadFailures)
  const generatedTokens = new Counter({ name: 'openledger_serving_generated_tokens_total', help: 'Tokens generated and answered', registers })
  // tokens/s between two scrapes (rate() over the counter says the same over any window)
  let last = { at: performance.now(), tokens: 0 }
  new Gauge({
    name: 'openledger_serving_tokens_per_second', help: 'Generated tokens per second since the previous scrape', registers,
    async collect() {
      const tokens = (await generatedTokens.get()).values[0]?.value ?? 0
      const at = performance.now()
      if (at > last.at) this.set(((tokens - last.tokens) * 1000) / (at - last.at))
      last = { at, tokens }
    },
  })
  return {
    registry,
    requests: new Counter({ name: 'openledger_serving_requests_total', help: 'API requests by endpoint and result code', labelNames: ['endpoint', 'code'], registers }),
    requestDuration: new Histogram({ name: 'openledger_serving_request_duration_seconds', help: 'API request duration (to the last byte)', labelNames: ['endpoint'], buckets: LATENCY_BUCKETS, registers }),
    timeToFirstToken: new Histogram({ name: 'openledger_serving_time_to_first_token_seconds', help: 'Time from a generation request to its first token', buckets: LATENCY_BUCKETS, registers }),
    promptTokens: new Counter({ name: 'openledger_serving_prompt_tokens_total', help: 'Prompt tokens of accepted requests', registers }),
    generatedTokens,
    inFlight: new Gauge({ name: 'openledger_serving_requests_in_flight', help: 'Generation and classification requests being answered', registers }),
    artifactReads: new Counter({ name: 'openledger_serving_artifact_reads_total', help: 'Model and adapter artifacts read, by source (home: the node\'s blob files; rpc: downloaded)', labelNames: ['via'], registers }),
    artifactReadBytes: new Counter({ name: 'openledger_serving_artifact_read_bytes_total', help: 'Bytes of artifacts read, by source', labelNames: ['via'], registers }),
    artifactReadDuration: new Histogram({ name: 'openledger_serving_artifact_read_duration_seconds', help: 'Time to read one artifact, by source', labelNames: ['via'], buckets: LATENCY_BUCKETS, registers }),
    setEngineStats(read) {
      stats = read
    },
  }
}

/** The sources' read observer feeding the artifact metrics. */
export function observeReads(metrics: ServingMetrics): (via: BlobVia, bytes: number, seconds: number) => void {
  return (via, bytes, seconds) => {
    metrics.artifactReads.inc({ via })
    metrics.artifactReadBytes.inc({ via }, bytes)
    metrics.artifactReadDuration.observe({ via }, seconds)
  }
}
