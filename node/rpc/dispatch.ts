// JSON-RPC 2.0 dispatch, independent of the transport: parses a message (one request or a batch),
// applies the batch and per-connection limits, resolves methods in the RpcRegistry, runs them with
// the caller's abort signal, maps thrown errors to JSON-RPC errors and counts every answer in the
// RPC metrics. Subscriptions are opened through the `RpcConnection` the transport hands in (only
// WebSockets have one). Results are serialized with bigints as decimal strings and Uint8Arrays as
// 0x-hex (json.ts).
import { performance } from 'node:perf_hooks'
import type { Logger } from '../../lib/logger.ts'
import type { RpcMetrics } from '../metrics/metrics.ts'
import type { ByteBudget, RateLimiter } from './connections.ts'
import { RpcError, toRpcError } from './errors.ts'
import { stringify } from './json.ts'
import { param, parseParams, type ResolvedMethod, type RpcRegistry, type RpcSubscriptionMethod } from './registry.ts'

export type RpcTransport = 'http' | 'ws'
export type JsonRpcId = string | number | null

/** One subscription of one connection, from its start to its end. */
export interface ActiveSubscription {
  readonly id: string
  readonly method: RpcSubscriptionMethod
  readonly controller: AbortController
  stop: (() => void) | undefined
  /** Notifications emitted before the subscription id was sent; undefined once active. */
  queue: unknown[] | undefined
  ended: boolean
}

/** What dispatch needs of a connection that can hold subscriptions (a WebSocket). */
export interface RpcConnection {
  /** Calls being handled for this connection. */
  pending: number
  readonly subscriptionCount: number
  open(method: RpcSubscriptionMethod): ActiveSubscription
  started(subscription: ActiveSubscription, stop: () => void): void
  discard(subscription: ActiveSubscription): void
  notify(subscription: ActiveSubscription, result: unknown): void
  unsubscribe(method: RpcSubscriptionMethod, id: string): boolean
}

export interface CallSession {
  transport: RpcTransport
  signal: AbortSignal
  connection: RpcConnection | undefined
  /** Subscriptions started while handling this message: they emit once its response is sent. */
  started: ActiveSubscription[]
  /** Bytes of this message's answers reserved in the server's budget: released once sent. */
  reserved: number
  /** The remote address of the connection the message came on. */
  client: string
  /** Set when the message was refused by the rate limit: how long the client should wait (ms). */
  retryAfterMs: number | undefined
}

/** A session for one incoming message. */
export function newSession(transport: RpcTransport, signal: AbortSignal, connection: RpcConnection | undefined, client: string): CallSession {
  return { transport, signal, connection, started: [], reserved: 0, client, retryAfterMs: undefined }
}

export interface RpcDispatchOptions {
  maxResponseBytes: number
  maxBatchResponseBytes: number
  maxBatchSize: number
  maxPendingPerConnection: number
  maxSubscriptionsPerConnection: number
}

type ParsedRequest =
  | { ok: true; id: JsonRpcId; notification: boolean; method: string; params: unknown }
  | { ok: false; id: JsonRpcId; error: RpcError }

const UNSUBSCRIBE_PARAMS = [param.string({ maxLength: 128 }).named('subscription')]

export class RpcDispatcher {
  readonly #options: RpcDispatchOptions
  readonly #registry: RpcRegistry
  readonly #metrics: RpcMetrics | undefined
  readonly #log: Logger
  readonly #builtin: ResolvedMethod

  readonly #budget: ByteBudget
  readonly #limiter: RateLimiter | undefined

  constructor(options: RpcDispatchOptions, components: { methods: RpcRegistry; metrics: RpcMetrics | undefined; log: Logger; budget: ByteBudget; limiter?: RateLimiter }) {
    this.#options = options
    this.#budget = components.budget
    this.#limiter = components.limiter
    this.#registry = components.methods
    this.#metrics = components.metrics
    this.#log = components.log
    this.#builtin = {
      kind: 'method',
      method: { name: 'rpc_methods', params: [], handler: () => ({ methods: [...new Set([...this.#registry.names(), 'rpc_methods'])].sort() }) },
    }
  }

  /** Answers one message (a request or a batch); undefined when nothing is to be sent back. */
  async handleMessage(text: string, session: CallSession): Promise<string | undefined> {
    let message: unknown
    try {
      message = JSON.parse(text)
    } catch {
      this.count('unknown', session.transport, 'PARSE_ERROR')
      return stringify(errorResponse(null, new RpcError('PARSE_ERROR', 'parse error: the message is not valid JSON')))
    }
    const batch = Array.isArray(message)
    const calls: unknown[] = Array.isArray(message) ? (message as unknown[]) : [message]
    const refuse = (error: RpcError): string => {
      this.count('unknown', session.transport, error.code)
      return stringify(errorResponse(batch ? null : idOf(message), error))
    }
    if (batch && calls.length === 0) return refuse(new RpcError('INVALID_REQUEST', 'invalid request: empty batch'))
    if (calls.length > this.#options.maxBatchSize) {
      return refuse(new RpcError('LIMIT_EXCEEDED', `batch of ${calls.length} calls exceeds the limit of ${this.#options.maxBatchSize}`, { details: { limit: this.#options.maxBatchSize } }))
    }
    // every call counts, a batch's each: the whole message is refused when its address cannot pay
    const wait = this.#limiter?.take(session.client, calls.length) ?? 0
    if (wait > 0) {
      session.retryAfterMs = wait
      this.#metrics?.rpcRefusals.inc({ reason: 'RATE_LIMITED' })
      return refuse(new RpcError('RATE_LIMITED', `too many calls from this address: retry in ${wait} ms`, { details: { retryAfterMs: wait } }))
    }
    const connection = session.connection
    if (connection !== undefined) {
      const limit = this.#options.maxPendingPerConnection
      if (connection.pending + calls.length > limit) return refuse(new RpcError('LIMIT_EXCEEDED', `too many calls in flight on this connection (limit ${limit})`, { details: { limit } }))
      connection.pending += calls.length
    }
    try {
      const responses = await Promise.all(calls.map((call) => this.#call(call, session)))
      const sent = responses.filter((response) => response !== undefined)
      if (!batch) return sent[0]
      if (sent.length === 0) return undefined
      return `[${sent.join(',')}]`
    } finally {
      if (connection !== undefined) connection.pending -= calls.length
    }
  }

  /** Counts one answer (or refusal) in the RPC metrics; `seconds` when a handler ran. */
  count(method: string, transport: RpcTransport, code: string, seconds?: number): void {
    if (this.#metrics === undefined) return
    this.#metrics.rpcRequests.inc({ method, transport, code })
    if (seconds !== undefined) this.#metrics.rpcRequestDuration.observe({ method, transport }, seconds)
  }

  async #call(value: unknown, session: CallSession): Promise<string | undefined> {
    const startedAt = performance.now()
    const request = parseRequest(value)
    if (!request.ok) {
      this.count('unknown', session.transport, request.error.code)
      return stringify(errorResponse(request.id, request.error))
    }
    const resolved = this.#registry.resolve(request.method) ?? (request.method === 'rpc_methods' ? this.#builtin : undefined)
    const label = resolved === undefined ? 'unknown' : request.method
    let response: Record<string, unknown>
    let code = 'OK'
    try {
      const result = await this.#execute(resolved, request, session)
      // the common answer (a hash, a hex value): the same text stringify() gives, without its replacer walk
      if (typeof result === 'string' && !request.notification) {
        const text = this.#bounded(`{"jsonrpc":"2.0","id":${JSON.stringify(request.id)},"result":${JSON.stringify(result)}}`, request.id, session)
        this.count(label, session.transport, text.code, (performance.now() - startedAt) / 1000)
        return text.text
      }
      response = { jsonrpc: '2.0', id: request.id, result: result ?? null }
    } catch (thrown) {
      const error = this.#toRpcError(thrown, request.method, session.signal)
      code = error.code
      response = errorResponse(request.id, error)
    }
    let text: string | undefined
    if (!request.notification) {
      try {
        text = stringify(response)
      } catch (error) {
        this.#log.error('rpc result is not serializable', { method: label, error, stack: error instanceof Error ? error.stack : undefined })
        code = 'INTERNAL_ERROR'
        text = stringify(errorResponse(request.id, new RpcError('INTERNAL_ERROR', 'internal error')))
      }
      const bounded = this.#bounded(text, request.id, session)
      text = bounded.text
      if (bounded.code !== 'OK') code = bounded.code
    }
    this.count(label, session.transport, code, (performance.now() - startedAt) / 1000)
    return text
  }

  /** One answer within the per-call limit and the server's in-flight budget, or the error saying why not. */
  #bounded(text: string, id: JsonRpcId, session: CallSession): { text: string; code: string } {
    let code = 'OK'
    if (text.length > this.#options.maxResponseBytes) {
      const limit = this.#options.maxResponseBytes
      code = 'RESPONSE_TOO_LARGE'
      text = stringify(errorResponse(id, new RpcError(code, `the answer exceeds ${limit} bytes: ask for less`, { details: { limit } })))
    } else if (session.reserved + text.length > this.#options.maxBatchResponseBytes) {
      // the answers of one batch together, in the order they complete: the ones past the limit fail
      const limit = this.#options.maxBatchResponseBytes
      code = 'RESPONSE_TOO_LARGE'
      text = stringify(errorResponse(id, new RpcError(code, `the batch's answers exceed ${limit} bytes: ask for less per batch`, { details: { limit } })))
    }
    if (!this.#budget.tryReserve(text.length)) {
      code = 'SERVER_BUSY'
      return { text: stringify(errorResponse(id, new RpcError(code, 'the server is busy: retry later'))), code }
    }
    session.reserved += text.length
    return { text, code }
  }

  async #execute(resolved: ResolvedMethod | undefined, request: { method: string; params: unknown; notification: boolean }, session: CallSession): Promise<unknown> {
    if (resolved === undefined) throw new RpcError('METHOD_NOT_FOUND', `the method ${truncate(request.method)} does not exist/is not available`)
    if (resolved.kind === 'method') {
      const params = parseParams(resolved.method.params, request.params)
      return await resolved.method.handler(params, { signal: session.signal, transport: session.transport, client: session.client })
    }
    const connection = session.connection
    if (connection === undefined) throw new RpcError('SUBSCRIPTIONS_NEED_WEBSOCKET', `${request.method} needs a WebSocket connection`)
    if (resolved.kind === 'unsubscribe') {
      const [id] = parseParams(UNSUBSCRIBE_PARAMS, request.params) as [string]
      return connection.unsubscribe(resolved.subscription, id)
    }
    const params = parseParams(resolved.subscription.params, request.params)
    // A subscription nobody can learn the id of would only leak until the socket closes.
    if (request.notification) return undefined
    const limit = this.#options.maxSubscriptionsPerConnection
    if (connection.subscriptionCount >= limit) throw new RpcError('LIMIT_EXCEEDED', `too many subscriptions on this connection (limit ${limit})`, { details: { limit } })
    const subscription = connection.open(resolved.subscription)
    try {
      const stop = await resolved.subscription.start(params, (result) => connection.notify(subscription, result), { signal: subscription.controller.signal, transport: 'ws' })
      connection.started(subscription, stop)
    } catch (error) {
      connection.discard(subscription)
      throw error
    }
    session.started.push(subscription)
    return subscription.id
  }

  #toRpcError(thrown: unknown, method: string, signal: AbortSignal): RpcError {
    const { error, bug } = toRpcError(thrown)
    if (!bug) return error
    if (signal.aborted) {
      this.#log.debug('rpc call aborted', { method: truncate(method) })
      return new RpcError('INTERNAL_ERROR', 'request aborted', { cause: thrown })
    }
    this.#log.error('rpc method failed', { method: truncate(method), error: thrown, stack: thrown instanceof Error ? thrown.stack : undefined })
    return error
  }
}

export function errorResponse(id: JsonRpcId, error: RpcError): Record<string, unknown> {
  return { jsonrpc: '2.0', id, error: error.toJson() }
}

function parseRequest(value: unknown): ParsedRequest {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, id: null, error: new RpcError('INVALID_REQUEST', 'invalid request: expected a JSON-RPC request object') }
  }
  const request = value as Record<string, unknown>
  const hasId = Object.hasOwn(request, 'id')
  const id = request['id']
  if (hasId && !isId(id)) return { ok: false, id: null, error: new RpcError('INVALID_REQUEST', 'invalid request: id must be a string, a number or null') }
  const responseId = hasId ? (id as JsonRpcId) : null
  if (request['jsonrpc'] !== '2.0') return { ok: false, id: responseId, error: new RpcError('INVALID_REQUEST', 'invalid request: jsonrpc must be "2.0"') }
  const method = request['method']
  if (typeof method !== 'string' || method.length === 0) return { ok: false, id: responseId, error: new RpcError('INVALID_REQUEST', 'invalid request: method must be a non-empty string') }
  const params = request['params']
  if (params !== undefined && params !== null && typeof params !== 'object') {
    return { ok: false, id: responseId, error: new RpcError('INVALID_REQUEST', 'invalid request: params must be an array or an object') }
  }
  return { ok: true, id: responseId, notification: !hasId, method, params }
}

function isId(value: unknown): value is JsonRpcId {
  return value === null || typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))
}

function idOf(message: unknown): JsonRpcId {
  if (typeof message !== 'object' || message === null) return null
  const id = (message as Record<string, unknown>)['id']
  return isId(id) ? id : null
}

function truncate(text: string): string {
  return text.length > 64 ? `${text.slice(0, 64)}…` : text
}
