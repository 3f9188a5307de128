// The serving process: the chain's models (sources.ts) → the engine (engine/, inference in worker
// threads) → the OpenAI-compatible HTTP API (http/) with its Prometheus metrics. Built in that order,
// stopped in reverse. It runs beside a node: `openledger serve --rpc URL` (its own process) or
// `openledger start … --serve` (in the node's process; the node's event loop only parses HTTP and
// tokenizes, onnxruntime runs in the engine's workers).
//
// Artifacts: with `home` (the node's home, shared), blobs are read from `<home>/blobs` directly;
// without it, or for a blob the home does not hold, they are downloaded over the node's JSON-RPC
// (chunked, checked). openledger_serving_artifact_reads_total{via} says which served each read.
// The chain is polled every `refreshMs` for new base models and published versions; an adapter
// published since is also found on its first request (looked up by id).
import { join } from 'node:path'
import { createServingEngine } from './engine/index.ts'
import type { Logger } from '../../lib/logger.ts'
import { RpcClient } from '../rpc/client.ts'
import { OpenLedgerError } from '../../runtime/errors.ts'
import { ServingHttpServer, type ServedModelInfo, type ServingHttpOptions, type ServingModels } from './http/server.ts'
import { createServingMetrics, observeReads, type ServingMetrics } from './metrics.ts'
import { homeBlobReader, ModelSources, rpcBlobReader, RpcChainModels, type BlobReader } from './sources.ts'
import type { AdapterUse, ServingEngine } from './types.ts'

export interface ServingServiceOptions {
  /** the node's JSON-RPC */
  readonly rpcUrl: string
  /** the node's home when this process shares its disk: artifacts are read from its blob files */
  readonly home?: string
  readonly http?: ServingHttpOptions
  /** base models to serve by name; default every one registered on chain */
  readonly models?: readonly string[]
  /** bytes of adapter tensors kept resident */
  readonly adapterMemoryBytes?: number
  /** `base:versionId` adapters loaded at start and never evicted */
  readonly pins?: readonly string[]
  /** engine worker threads */
  readonly threads?: number
  readonly executionProvider?: string
  readonly maxBatch?: number
  readonly maxQueue?: number
  /** ms between reads of the chain's new models (default 10 s) */
  readonly refreshMs?: number
}

export interface ServingServiceComponents {
  readonly logger: Logger
  /** tests may pass an engine built otherwise */
  readonly createEngine?: typeof createServingEngine
}

export type ServingServiceErrorCode = 'UNKNOWN_MODEL' | 'NO_MODELS' | 'BAD_PIN' | 'CHAIN_UNREACHABLE'
export class ServingServiceError extends OpenLedgerError<ServingServiceErrorCode> {}

export class ServingService {
  readonly metrics: ServingMetrics
  readonly #options: ServingServiceOptions
  readonly #c: ServingServiceComponents
  readonly #log: Logger
  readonly #sources: ModelSources
  #engine: ServingEngine | undefined
  #http: ServingHttpServer | undefined
  #timer: NodeJS.Timeout | undefined
  readonly #served = new Map<string, ServedModelInfo>()
  #client: RpcClient

  constructor(options: ServingServiceOptions, components: ServingServiceComponents) {
    this.#options = options
    this.#c = components
    this.#log = components.logger.child('serving')
    this.metrics = createServingMetrics()
    const client = new RpcClient(options.rpcUrl)
    this.#client = client
    const readers: BlobReader[] = [...(options.home === undefined ? [] : [homeBlobReader(join(options.home, 'blobs'))]), rpcBlobReader(client)]
    this.#sources = new ModelSources({ chain: new RpcChainModels(client), readers, logger: this.#log, observeRead: observeReads(this.metrics) })
  }

  /** the API's address once started */
  get url(): string {
    if (this.#http === undefined) throw new ServingServiceError('NO_MODELS', 'the serving service is not started')
    return this.#http.address.url
  }

  get engine(): ServingEngine | undefined {
    return this.#engine
  }

  async start(): Promise<void> {
    const sources = this.#sources
    try {
      await sources.refresh()
    } catch (cause) {
      throw new ServingServiceError('CHAIN_UNREACHABLE', `cannot read the chain's models from ${this.#options.rpcUrl} (is the node running? --rpc names it)`, { cause })
    }
    const names = this.#options.models ?? sources.bases().map((b) => b.name)
    if (names.length === 0) throw new ServingServiceError('NO_MODELS', 'the chain has no base model to serve')
    for (const name of names) if (sources.base(name) === undefined) throw new ServingServiceError('UNKNOWN_MODEL', `no base model named ${name} is registered on chain`, { details: { model: name } })
    const pins = (this.#options.pins ?? []).map((pin) => {
      const colon = pin.lastIndexOf(':')
      const base = pin.slice(0, colon)
      if (colon === -1 || !names.includes(base)) throw new ServingServiceError('BAD_PIN', `a pin is base:versionId of a served base, got ${pin}`)
      return { base, id: pin.slice(colon + 1) }
    })
    const created = Math.floor(Date.now() / 1000)
    const loaded = []
    for (const name of names) {
      const started = performance.now()
      const base = await sources.loadBase(name)
      this.#log.info('base model loaded', { model: name, kind: base.config.kind, ms: Math.round(performance.now() - started) })
      loaded.push(base)
      this.#served.set(name, { name, config: base.config, tokenizer: base.tokenizer, created })
    }
    const o = this.#options
    const engine = (this.#c.createEngine ?? createServingEngine)({
      bases: loaded.map((b) => ({ name: b.name, config: b.config, weights: b.weights })),
      adapterSource: sources,
      pins,
      logger: this.#log,
      ...(o.adapterMemoryBytes === undefined ? {} : { adapterMemoryBytes: o.adapterMemoryBytes }),
      ...(o.threads === undefined ? {} : { threads: o.threads }),
      ...(o.executionProvider === undefined ? {} : { executionProvider: o.executionProvider }),
      ...(o.maxBatch === undefined ? {} : { maxBatch: o.maxBatch }),
      ...(o.maxQueue === undefined ? {} : { maxQueue: o.maxQueue }),
    })
    await engine.start()
    this.#engine = engine
    this.metrics.setEngineStats(() => engine.stats())
    const http = new ServingHttpServer(o.http ?? {}, { engine, models: this.#catalog(), metrics: this.metrics, logger: this.#log, citations: (base, adapters, text) => this.#citations(base, adapters, text) })
    try {
      await http.start()
    } catch (error) {
      await engine.stop()
      this.#engine = undefined
      throw error
    }
    this.#http = http
    const refreshMs = o.refreshMs ?? 10_000
    this.#timer = setInterval(() => {
      sources.refresh().catch((error: unknown) => this.#log.warn('reading the chain\'s models failed', { error: (error as Error).message }))
    }, refreshMs)
    this.#timer.unref()
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer)
    this.#timer = undefined
    await this.#http?.stop()
    this.#http = undefined
    await this.#engine?.stop()
    this.#engine = undefined
  }

  /** The node's citations of an output (openledger_getCitations: its spans in the training data of the adapters' lineage). */
  async #citations(base: string, adapters: readonly AdapterUse[], text: string): Promise<unknown> {
    const served = this.#sources.base(base)
    if (served === undefined) throw new ServingServiceError('UNKNOWN_MODEL', `no base model named ${base}`)
    return this.#client.call('openledger_getCitations', [served.id, adapters.map((a) => Number(a.id)), text])
  }

  #catalog(): ServingModels {
    const sources = this.#sources
    return {
      base: (name) => this.#served.get(name),
      async checkAdapter(base, id, signal) {
        await sources.version(base, id, signal)
      },
      list: () => [
        ...[...this.#served.values()].map((m) => ({ id: m.name, parent: null, created: m.created, context: m.config.context })),
        ...sources
          .adapters()
          .filter((a) => this.#served.has(a.base))
          .map((a) => ({ id: `${a.base}:${a.version.id}`, parent: a.base, created: Math.floor(a.version.publishedAt / 1000), context: this.#served.get(a.base)?.config.context ?? 0 })),
      ],
    }
  }
}
