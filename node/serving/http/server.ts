// The serving process's OpenAI-compatible HTTP API, on its own port:
//
//   POST /v1/completions        text completion (`prompt`: a string or token ids), SSE with stream
//   POST /v1/chat/completions   chat through the plain template (chatTemplate.ts), SSE with stream
//   POST /v1/classify           classifier bases (vLLM's shape: data[i].label, probs)
//   GET  /v1/models[/{id}]      base models and every published adapter, `parent` = its base (vLLM)
//   GET  /health                200 once serving
//   GET  /metrics               Prometheus (metrics.ts)
//   GET  /admin/adapters, POST /admin/adapters/pin|unpin   resident adapters; loopback clients only
//
// `model` is a base model's name or `base:versionId` for one of its adapters. The engine works in
// token ids: tokenizing, the chat template, stop strings and detokenizing are done here. A stream's
// headers are written at its first token, so an error before it (unknown adapter, hash mismatch,
// overload) still gets its HTTP status; after it, an error is one `data: {"error": …}` event before
// `data: [DONE]`. A client that disconnects cancels its request (the engine frees its batch slot).
// Context: a prompt of `context` tokens or more is refused (400 context_length_exceeded); otherwise
// generation stops at the context with finish_reason "length" (max_tokens is clamped to what fits).
import { randomBytes, randomInt } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { ModelConfig } from '../../../ml/model/config.ts'
import { END_OF_TEXT_ID, type Tokenizer } from '../../../ml/tokenizer.ts'
import { OpenLedgerError } from '../../../runtime/errors.ts'
import { boundAddress, closeHttp, listenHttp } from '../../../lib/httpListen.ts'
import type { Logger } from '../../../lib/logger.ts'
import { ServingError, type ServingErrorCode } from '../errors.ts'
import type { ServingMetrics } from '../metrics.ts'
import type { AdapterUse, FinishReason, GeneratedToken, GenerationHandle, ServingEngine } from '../types.ts'
import { CHAT_STOP, renderChat } from './chatTemplate.ts'
import { ApiError, invalid, parseChat, parseClassify, parseCompletion, parseModel, asObject, type ModelRef, type SamplingFields } from './requests.ts'
import { IncrementalDetokenizer, StopMatcher } from './textStream.ts'

/** a base model this process serves */
export interface ServedModelInfo {
  readonly name: string
  readonly config: ModelConfig
  readonly tokenizer: Tokenizer
  /** unix seconds (registration), for /v1/models */
  readonly created: number
}

/** what the HTTP layer needs of the model catalog (service.ts implements it over sources.ts) */
export interface ServingModels {
  base(name: string): ServedModelInfo | undefined
  /** throws ServingError ADAPTER_NOT_FOUND (or ARTIFACT_UNAVAILABLE) unless `base:id` is a published adapter of `base` */
  checkAdapter(base: string, id: string, signal?: AbortSignal): Promise<void>
  /** every served base and the adapters published on them */
  list(): Array<{ id: string; parent: string | null; created: number; context: number }>
}

export interface ServingHttpOptions {
  host?: string
  /** 0 picks a free port (tests) */
  port?: number
  /** bytes of a request body (default 1 MiB) */
  maxBodyBytes?: number
  /** generation and classification requests answered at once; more get 429 (default 256) */
  maxInFlight?: number
  /** seconds told to a client refused for load (default 1) */
  retryAfterSeconds?: number
}

export interface ServingHttpComponents {
  engine: ServingEngine
  models: ServingModels
  metrics: ServingMetrics
  logger: Logger
  /**
   * The `citations` extension: the spans of an output found in the training data of the adapters'
   * lineage, with their datanet, version and contribution (the node's openledger_getCitations).
   * Absent, a request asking for citations is refused.
   */
  citations?: ((base: string, adapters: readonly AdapterUse[], text: string, signal: AbortSignal) => Promise<unknown>) | undefined
}

export const SERVING_HTTP_DEFAULTS = { host: '127.0.0.1', port: 8000, maxBodyBytes: 1024 * 1024, maxInFlight: 256, retryAfterSeconds: 1 } as const
/** max_tokens of a completion that names none (OpenAI's default) */
const DEFAULT_COMPLETION_TOKENS = 16
/** a prompt longer than this many characters per context token cannot fit: refused before tokenizing */
const MAX_PROMPT_CHARS_PER_TOKEN = 64

export type ServingHttpErrorCode = 'LISTEN_FAILED' | 'NOT_STARTED'
export class ServingHttpError extends OpenLedgerError<ServingHttpErrorCode> {}

const STATUS_OF: Record<ServingErrorCode, [number, ApiError['type'], string]> = {
  MODEL_NOT_FOUND: [404, 'invalid_request_error', 'model_not_found'],
  ADAPTER_NOT_FOUND: [404, 'invalid_request_error', 'adapter_not_found'],
  ADAPTER_HASH_MISMATCH: [502, 'server_error', 'adapter_hash_mismatch'],
  ADAPTER_INVALID: [502, 'server_error', 'adapter_invalid'],
  ADAPTER_UNAVAILABLE: [503, 'service_unavailable_error', 'adapter_unavailable'],
  ADAPTER_MEMORY_EXHAUSTED: [503, 'service_unavailable_error', 'adapter_memory_exhausted'],
  CONTEXT_LENGTH_EXCEEDED: [400, 'invalid_request_error', 'context_length_exceeded'],
  INVALID_PARAMETER: [400, 'invalid_request_error', 'invalid_parameter'],
  WRONG_MODEL_KIND: [400, 'invalid_request_error', 'unsupported_model_kind'],
  OVERLOADED: [429, 'rate_limit_error', 'overloaded'],
  ENGINE_STOPPED: [503, 'service_unavailable_error', 'engine_stopped'],
  EXECUTION_PROVIDER_UNAVAILABLE: [500, 'server_error', 'execution_provider_unavailable'],
  ENGINE_FAILURE: [500, 'server_error', 'engine_failure'],
}

function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error
  if (error instanceof ServingError) {
    const [status, type, code] = STATUS_OF[error.code] ?? [500, 'server_error', 'internal_error']
    return new ApiError(status, type, code, error.message, null, { cause: error })
  }
  return new ApiError(500, 'server_error', 'internal_error', 'internal error', null, { cause: error })
}

const isLoopback = (address: string | undefined): boolean => address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1'

function requestId(prefix: string): string {
  return `${prefix}-${randomBytes(12).toString('hex')}`
}

/** OpenAI's seed is any integer; the engine's is a uint32 (mod 2^32). No seed: a random one, recorded. */
function seedOf(seed: number | undefined): number {
  return seed === undefined ? randomInt(0, 2 ** 32) : Number(BigInt.asUintN(32, BigInt(seed)))
}

interface GenerationPlan {
  readonly endpoint: 'completions' | 'chat'
  readonly ref: ModelRef
  readonly adapters: readonly AdapterUse[]
  readonly model: ServedModelInfo
  readonly promptTokens: readonly number[]
  readonly fields: SamplingFields
  readonly stops: readonly string[]
  readonly maxTokens: number
  readonly logprobs: boolean
  readonly citations?: boolean
}

interface Outcome {
  text: string
  tokens: GeneratedToken[]
  finishReason: Exclude<FinishReason, 'cancelled'>
}

export class ServingHttpServer {
  readonly #options: Required<ServingHttpOptions>
  readonly #c: ServingHttpComponents
  readonly #log: Logger
  #server: Server | undefined
  #inFlight = 0

  constructor(options: ServingHttpOptions, components: ServingHttpComponents) {
    this.#options = { ...SERVING_HTTP_DEFAULTS, ...options }
    this.#c = components
    this.#log = components.logger.child('serving-http')
  }

  get address(): { host: string; port: number; url: string } {
    const address = boundAddress(this.#server)
    if (address === undefined) throw new ServingHttpError('NOT_STARTED', 'the serving API is not listening')
    const { host, port } = address
    return { host, port, url: `http://${host.includes(':') ? `[${host}]` : host}:${port}` }
  }

  async start(): Promise<void> {
    if (this.#server !== undefined) return
    const server = createServer({ requestTimeout: 60_000, headersTimeout: 20_000 }, (req, res) => void this.#handle(req, res))
    server.keepAliveTimeout = 5_000
    await listenHttp(server, this.#options.host, this.#options.port, (cause) => new ServingHttpError('LISTEN_FAILED', `cannot listen on ${this.#options.host}:${this.#options.port}`, { cause }))
    server.on('error', (error) => this.#log.error('serving API error', { error }))
    this.#server = server
    this.#log.info('OpenAI-compatible API listening', { url: this.address.url })
  }

  async stop(): Promise<void> {
    const server = this.#server
    if (server === undefined) return
    this.#server = undefined
    await closeHttp(server)
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now()
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    const endpoint = ENDPOINTS[path] ?? (path.startsWith('/v1/models/') ? 'model' : 'unknown')
    let code = 'ok'
    try {
      await this.#route(endpoint, path, req, res)
    } catch (error) {
      const apiError = toApiError(error)
      code = apiError.code
      if (apiError.status >= 500) this.#log.warn('request failed', { endpoint, code, error: (error as Error).message })
      this.#sendError(res, apiError)
    } finally {
      this.#c.metrics.requests.inc({ endpoint, code })
      if (res.writableFinished) this.#c.metrics.requestDuration.observe({ endpoint }, (performance.now() - started) / 1000)
      else res.once('finish', () => this.#c.metrics.requestDuration.observe({ endpoint }, (performance.now() - started) / 1000))
    }
  }

  async #route(endpoint: string, path: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET'
    const allow = (...methods: string[]) => {
      if (!methods.includes(method)) throw new ApiError(405, 'invalid_request_error', 'method_not_allowed', `${path} accepts ${methods.join(', ')}`)
    }
    switch (endpoint) {
      case 'health':
        allow('GET', 'HEAD')
        return this.#sendJson(res, 200, { status: 'ok' })
      case 'metrics': {
        allow('GET')
        const body = await this.#c.metrics.registry.metrics()
        res.writeHead(200, { 'content-type': this.#c.metrics.registry.contentType, 'content-length': Buffer.byteLength(body) }).end(body)
        return
      }
      case 'models':
        allow('GET')
        return this.#sendJson(res, 200, { object: 'list', data: this.#c.models.list().map(modelCard) })
      case 'model': {
        allow('GET')
        const id = decodeURIComponent(path.slice('/v1/models/'.length))
        const card = this.#c.models.list().find((m) => m.id === id)
        if (card === undefined) throw new ApiError(404, 'invalid_request_error', 'model_not_found', `the model ${id} does not exist`, 'model')
        return this.#sendJson(res, 200, modelCard(card))
      }
      case 'completions':
      case 'chat':
        allow('POST')
        return this.#withSlot(() => this.#complete(endpoint, req, res))
      case 'classify':
        allow('POST')
        return this.#withSlot(() => this.#classify(req, res))
      case 'adminList':
      case 'adminPin':
      case 'adminUnpin':
        return this.#admin(endpoint, req, res, allow)
      default:
        throw new ApiError(404, 'invalid_request_error', 'not_found', `no route ${method} ${path}`)
    }
  }

  async #withSlot(work: () => Promise<void>): Promise<void> {
    if (this.#inFlight >= this.#options.maxInFlight) throw new ServingError('OVERLOADED', `the server is answering ${this.#inFlight} requests; retry later`)
    this.#inFlight++
    this.#c.metrics.inFlight.inc()
    try {
      await work()
    } finally {
      this.#inFlight--
      this.#c.metrics.inFlight.dec()
    }
  }

  async #readJson(req: IncomingMessage): Promise<unknown> {
    const limit = this.#options.maxBodyBytes
    const declared = Number(req.headers['content-length'] ?? 0)
    if (declared > limit) throw new ApiError(413, 'invalid_request_error', 'request_too_large', `the request body is over ${limit} bytes`)
    // read by events, not for-await: leaving a for-await early destroys the socket, and the 413
    // would never reach the client; past the limit the rest is read and dropped (requestTimeout
    // bounds how long), so memory stays bounded either way
    const { chunks, length } = await new Promise<{ chunks: Buffer[]; length: number }>((resolve, reject) => {
      const chunks: Buffer[] = []
      let length = 0
      req.on('data', (chunk: Buffer) => {
        length += chunk.length
        if (length <= limit) chunks.push(chunk)
        else chunks.length = 0
      })
      req.on('end', () => (length > limit ? reject(new ApiError(413, 'invalid_request_error', 'request_too_large', `the request body is over ${limit} bytes`)) : resolve({ chunks, length })))
      req.on('error', reject)
      // a client gone before the end of its body (after 'end' this settles nothing)
      req.on('close', () => reject(new ApiError(400, 'invalid_request_error', 'invalid_body', 'the request body ended early')))
    })
    try {
      return JSON.parse(Buffer.concat(chunks, length).toString('utf8'))
    } catch {
      throw new ApiError(400, 'invalid_request_error', 'invalid_json', 'the request body is not valid JSON')
    }
  }

  /** the served base a request names, which must be a language model or a classifier as asked */
  #served(ref: ModelRef, kind: 'lm' | 'classifier'): ServedModelInfo {
    const model = this.#c.models.base(ref.base)
    if (model === undefined) {
      throw new ApiError(404, 'invalid_request_error', 'model_not_found', `the model ${ref.adapter === undefined ? ref.base : `${ref.base}:${ref.adapter}`} does not exist (GET /v1/models lists them)`, 'model')
    }
    if (model.config.kind !== kind) {
      const use = model.config.kind === 'classifier' ? 'POST /v1/classify' : 'POST /v1/completions or /v1/chat/completions'
      throw new ApiError(400, 'invalid_request_error', 'unsupported_model_kind', `${ref.base} is a ${model.config.kind === 'lm' ? 'language model' : 'classifier'}: use ${use}`, 'model')
    }
    return model
  }

  #encode(model: ServedModelInfo, text: string, param: string): number[] {
    const context = model.config.context
    if (text.length > context * MAX_PROMPT_CHARS_PER_TOKEN) throw this.#tooLong(context, undefined, param)
    return Array.from(model.tokenizer.encode(text))
  }

  #tooLong(context: number, tokens: number | undefined, param: string): ApiError {
    const size = tokens === undefined ? 'far more' : `${tokens}`
    return new ApiError(400, 'invalid_request_error', 'context_length_exceeded', `this model's context is ${context} tokens; the prompt has ${size} tokens and leaves no room for a completion`, param)
  }

  async #complete(endpoint: 'completions' | 'chat', req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await this.#readJson(req)
    let plan: GenerationPlan
    if (endpoint === 'completions') {
      const body = parseCompletion(raw)
      const model = this.#served(body.model, 'lm')
      let promptTokens: number[]
      if (typeof body.prompt === 'string') promptTokens = this.#encode(model, body.prompt, 'prompt')
      else {
        if (body.prompt.some((id) => id >= model.config.vocab)) throw invalid('prompt', `token ids must be below the vocabulary size ${model.config.vocab}`)
        promptTokens = [...body.prompt]
      }
      plan = { ...this.#plan(endpoint, body.model, body.adapters, model, promptTokens, body, body.stop, body.logprobs !== undefined, 'prompt', DEFAULT_COMPLETION_TOKENS), citations: body.citations }
    } else {
      const body = parseChat(raw)
      const model = this.#served(body.model, 'lm')
      const promptTokens = this.#encode(model, renderChat(body.messages), 'messages')
      plan = { ...this.#plan(endpoint, body.model, body.adapters, model, promptTokens, body, [...body.stop, CHAT_STOP], body.logprobs, 'messages', undefined), citations: body.citations }
    }
    if (plan.citations === true) {
      if (this.#c.citations === undefined) throw invalid('citations', 'this server cites nothing: it runs without a node to read the training data from', 'unsupported_parameter')
    }
    for (const use of plan.adapters) await this.#c.models.checkAdapter(plan.ref.base, use.id)
    await this.#run(plan, req, res)
  }

  #plan(endpoint: 'completions' | 'chat', ref: ModelRef, adapters: readonly AdapterUse[], model: ServedModelInfo, promptTokens: number[], fields: SamplingFields, stops: readonly string[], logprobs: boolean, param: string, defaultTokens: number | undefined): GenerationPlan {
    const context = model.config.context
    if (promptTokens.length === 0) throw invalid(param, 'the prompt is empty')
    if (promptTokens.length >= context) throw this.#tooLong(context, promptTokens.length, param)
    const room = context - promptTokens.length
    const maxTokens = Math.min(fields.maxTokens ?? defaultTokens ?? room, room)
    return { endpoint, ref, adapters, model, promptTokens, fields, stops, maxTokens, logprobs }
  }

  async #run(plan: GenerationPlan, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { fields, model, ref } = plan
    const started = performance.now()
    const abort = new AbortController()
    res.on('close', () => {
      if (!res.writableFinished) abort.abort()
    })
    req.on('error', () => abort.abort())
    const handle = this.#c.engine.generate(
      {
        base: ref.base,
        adapters: plan.adapters,
        promptTokens: plan.promptTokens,
        maxTokens: plan.maxTokens,
        sampling: { temperature: fields.temperature, topK: fields.topK, topP: fields.topP, seed: seedOf(fields.seed) },
        stopTokens: [END_OF_TEXT_ID],
        logprobs: plan.logprobs,
      },
      abort.signal,
    )
    abort.signal.addEventListener('abort', () => handle.cancel(), { once: true })
    this.#c.metrics.promptTokens.inc(plan.promptTokens.length)
    const id = requestId(plan.endpoint === 'chat' ? 'chatcmpl' : 'cmpl')
    const created = Math.floor(Date.now() / 1000)
    const name = ref.adapter === undefined ? ref.base : `${ref.base}:${ref.adapter}`
    const stream = fields.stream ? new SseWriter(res, plan.endpoint, { id, created, model: name }, plan.logprobs, model.tokenizer) : undefined
    let outcome: Outcome
    try {
      outcome = await this.#consume(plan, handle, abort.signal, stream, () => this.#c.metrics.timeToFirstToken.observe((performance.now() - started) / 1000))
    } catch (error) {
      handle.cancel()
      if (stream === undefined || !stream.started) throw error
      const apiError = toApiError(error)
      this.#log.warn('stream failed', { code: apiError.code, error: (error as Error).message })
      await stream.error(apiError)
      return
    }
    if (abort.signal.aborted) return
    const usage = { prompt_tokens: plan.promptTokens.length, completion_tokens: outcome.tokens.length, total_tokens: plan.promptTokens.length + outcome.tokens.length }
    if (stream !== undefined) {
      // streamed, the citations come in a last chunk of their own (choices empty), as OpenAI's usage chunk
      const citations = plan.citations === true ? await this.#cite(plan, outcome.text, abort.signal) : undefined
      if (abort.signal.aborted) return
      await stream.finish(outcome.finishReason, fields.includeUsage ? usage : undefined, citations)
      return
    }
    const logprobs = plan.logprobs ? logprobsJson(plan.endpoint, outcome.tokens, model.tokenizer) : null
    const choice =
      plan.endpoint === 'chat'
        ? { index: 0, message: { role: 'assistant', content: outcome.text }, logprobs, finish_reason: outcome.finishReason }
        : { index: 0, text: outcome.text, logprobs, finish_reason: outcome.finishReason }
    const citations = plan.citations === true ? await this.#cite(plan, outcome.text, abort.signal) : undefined
    this.#sendJson(res, 200, { id, object: plan.endpoint === 'chat' ? 'chat.completion' : 'text_completion', created, model: name, choices: [choice], usage, ...citations })
  }

  /** The citations of a finished completion; a failure to get them is reported beside the completion, which is not lost. */
  async #cite(plan: GenerationPlan, text: string, signal: AbortSignal): Promise<{ citations: unknown } | { citations: null; citations_error: string }> {
    try {
      return { citations: await (this.#c.citations as NonNullable<ServingHttpComponents['citations']>)(plan.ref.base, plan.adapters, text, signal) }
    } catch (error) {
      this.#log.warn('citations failed', { error: (error as Error).message })
      return { citations: null, citations_error: (error as Error).message }
    }
  }

  /** Reads the generation to its end, applying stop strings; streams each piece when `stream` is given. */
  async #consume(plan: GenerationPlan, handle: GenerationHandle, signal: AbortSignal, stream: SseWriter | undefined, onFirst: () => void): Promise<Outcome> {
    const detokenizer = new IncrementalDetokenizer(plan.model.tokenizer)
    const stop = new StopMatcher(plan.stops)
    const tokens: GeneratedToken[] = []
    let pending: GeneratedToken[] = [] // tokens whose text is not streamed yet
    let text = ''
    for await (const token of handle.tokens) {
      if (signal.aborted) break
      if (tokens.length === 0) onFirst()
      tokens.push(token)
      pending.push(token)
      this.#c.metrics.generatedTokens.inc()
      const piece = stop.push(detokenizer.push(token.token))
      text += piece
      if (stream !== undefined && (piece !== '' || stop.stopped)) {
        await stream.piece(piece, pending)
        pending = []
      }
      if (stop.stopped) {
        handle.cancel()
        break
      }
    }
    // after a stop string or a disconnect the request was cancelled: its record says so, not how it ended
    const record = stop.stopped || signal.aborted ? undefined : await handle.done
    if (!stop.stopped) {
      const rest = stop.push(detokenizer.flush()) + stop.flush()
      text += rest
      if (stream !== undefined && (rest !== '' || pending.length > 0)) await stream.piece(rest, pending)
    }
    const finishReason = record?.finishReason === 'length' ? 'length' : 'stop'
    return { text, tokens, finishReason }
  }

  async #classify(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = parseClassify(await this.#readJson(req))
    const model = this.#served(body.model, 'classifier')
    for (const use of body.adapters) await this.#c.models.checkAdapter(body.model.base, use.id)
    const adapters = body.adapters
    const abort = new AbortController()
    res.on('close', () => {
      if (!res.writableFinished) abort.abort()
    })
    const inputs = body.input.map((text, i) => {
      const tokens = this.#encode(model, text, `input[${i}]`)
      if (tokens.length === 0) throw invalid(`input[${i}]`, 'the input is empty')
      if (tokens.length > model.config.context) throw this.#tooLong(model.config.context, tokens.length, `input[${i}]`)
      return tokens
    })
    const logits = await Promise.all(inputs.map((tokens) => this.#c.engine.classify(body.model.base, adapters, tokens, abort.signal)))
    const promptTokens = inputs.reduce((n, t) => n + t.length, 0)
    this.#c.metrics.promptTokens.inc(promptTokens)
    const data = logits.map((row, index) => {
      const probs = softmax(row)
      let best = 0
      for (let i = 1; i < probs.length; i++) if ((probs[i] as number) > (probs[best] as number)) best = i
      return { index, label: String(best), probs, num_classes: probs.length }
    })
    const name = body.model.adapter === undefined ? body.model.base : `${body.model.base}:${body.model.adapter}`
    this.#sendJson(res, 200, { id: requestId('classify'), object: 'list', created: Math.floor(Date.now() / 1000), model: name, data, usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } })
  }

  async #admin(endpoint: string, req: IncomingMessage, res: ServerResponse, allow: (...methods: string[]) => void): Promise<void> {
    if (!isLoopback(req.socket.remoteAddress)) throw new ApiError(403, 'invalid_request_error', 'forbidden', 'the admin routes answer loopback clients only')
    if (endpoint === 'adminList') {
      allow('GET')
      return this.#sendJson(res, 200, { object: 'list', data: this.#c.engine.adapters().map((a) => ({ id: `${a.base}:${a.id}`, rank: a.rank, bytes: a.bytes, pinned: a.pinned })) })
    }
    allow('POST')
    const body = asObject(await this.#readJson(req))
    const ref = parseModel(body['model'])
    if (ref.adapter === undefined) throw invalid('model', 'name an adapter as base:versionId')
    if (this.#c.models.base(ref.base) === undefined) throw new ApiError(404, 'invalid_request_error', 'model_not_found', `the model ${ref.base} is not served here`, 'model')
    await this.#c.models.checkAdapter(ref.base, ref.adapter)
    if (endpoint === 'adminPin') await this.#c.engine.pin(ref.base, ref.adapter)
    else this.#c.engine.unpin(ref.base, ref.adapter)
    this.#sendJson(res, 200, { id: `${ref.base}:${ref.adapter}`, pinned: endpoint === 'adminPin' })
  }

  #sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body)
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers }).end(text)
  }

  #sendError(res: ServerResponse, error: ApiError): void {
    if (res.headersSent) {
      res.destroy()
      return
    }
    const headers: Record<string, string> = error.status === 429 || error.status === 503 ? { 'retry-after': String(this.#options.retryAfterSeconds) } : {}
    if (error.status === 413) headers['connection'] = 'close'
    this.#sendJson(res, error.status, error.body(), headers)
  }
}

const ENDPOINTS: Record<string, string> = {
  '/health': 'health',
  '/metrics': 'metrics',
  '/v1/models': 'models',
  '/v1/completions': 'completions',
  '/v1/chat/completions': 'chat',
  '/v1/classify': 'classify',
  '/classify': 'classify',
  '/admin/adapters': 'adminList',
  '/admin/adapters/pin': 'adminPin',
  '/admin/adapters/unpin': 'adminUnpin',
}

function modelCard(m: { id: string; parent: string | null; created: number; context: number }): Record<string, unknown> {
  return { id: m.id, object: 'model', created: m.created, owned_by: 'openledger', root: m.id, parent: m.parent, max_model_len: m.context, permission: [] }
}

function softmax(logits: Float32Array): number[] {
  let max = -Infinity
  for (const v of logits) if (v > max) max = v
  const exps = Array.from(logits, (v) => Math.exp(v - max))
  const sum = exps.reduce((a, b) => a + b, 0)
  return exps.map((e) => e / sum)
}

function logprobsJson(endpoint: 'completions' | 'chat', tokens: readonly GeneratedToken[], tokenizer: Tokenizer, offset = 0): unknown {
  const texts = tokens.map((t) => tokenizer.decode([t.token]))
  if (endpoint === 'chat') return { content: tokens.map((t, i) => ({ token: texts[i], logprob: t.logprob, bytes: null, top_logprobs: [] })) }
  const textOffset: number[] = []
  let at = offset
  for (const text of texts) {
    textOffset.push(at)
    at += (text as string).length
  }
  return { tokens: texts, token_logprobs: tokens.map((t) => t.logprob), top_logprobs: null, text_offset: textOffset }
}

/** One response's server-sent events, in OpenAI's chunk shapes; headers at the first write. */
class SseWriter {
  readonly #res: ServerResponse
  readonly #endpoint: 'completions' | 'chat'
  readonly #head: { id: string; created: number; model: string }
  readonly #logprobs: boolean
  readonly #tokenizer: Tokenizer
  #offset = 0
  started = false

  constructor(res: ServerResponse, endpoint: 'completions' | 'chat', head: { id: string; created: number; model: string }, logprobs: boolean, tokenizer: Tokenizer) {
    this.#res = res
    this.#endpoint = endpoint
    this.#head = head
    this.#logprobs = logprobs
    this.#tokenizer = tokenizer
  }

  #object(): string {
    return this.#endpoint === 'chat' ? 'chat.completion.chunk' : 'text_completion'
  }

  async #write(data: string): Promise<void> {
    if (!this.started) {
      this.started = true
      this.#res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' })
      if (this.#endpoint === 'chat') await this.#write(JSON.stringify({ ...this.#head, object: this.#object(), choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }] }))
    }
    if (this.#res.destroyed) return
    // a slow reader: wait for the socket to drain rather than buffering without bound
    if (!this.#res.write(`data: ${data}\n\n`)) await new Promise<void>((resolve) => {
      const done = () => {
        this.#res.off('drain', done)
        this.#res.off('close', done)
        resolve()
      }
      this.#res.on('drain', done)
      this.#res.on('close', done)
    })
  }

  async piece(text: string, tokens: readonly GeneratedToken[]): Promise<void> {
    const logprobs = this.#logprobs && tokens.length > 0 ? logprobsJson(this.#endpoint, tokens, this.#tokenizer, this.#offset) : null
    this.#offset += text.length
    const choice = this.#endpoint === 'chat' ? { index: 0, delta: { content: text }, logprobs, finish_reason: null } : { index: 0, text, logprobs, finish_reason: null }
    await this.#write(JSON.stringify({ ...this.#head, object: this.#object(), choices: [choice] }))
  }

  /** The finish chunk, the usage chunk if asked, the citations chunk if asked (choices empty in both), then [DONE]. */
  async finish(finishReason: string, usage: Record<string, number> | undefined, citations: Record<string, unknown> | undefined): Promise<void> {
    const choice = this.#endpoint === 'chat' ? { index: 0, delta: {}, logprobs: null, finish_reason: finishReason } : { index: 0, text: '', logprobs: null, finish_reason: finishReason }
    await this.#write(JSON.stringify({ ...this.#head, object: this.#object(), choices: [choice] }))
    if (usage !== undefined) await this.#write(JSON.stringify({ ...this.#head, object: this.#object(), choices: [], usage }))
    if (citations !== undefined) await this.#write(JSON.stringify({ ...this.#head, object: this.#object(), choices: [], ...citations }))
    await this.#write('[DONE]')
    this.#res.end()
  }

  async error(error: ApiError): Promise<void> {
    await this.#write(JSON.stringify(error.body()))
    await this.#write('[DONE]')
    this.#res.end()
  }
}
