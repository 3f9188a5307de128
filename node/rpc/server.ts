// The JSON-RPC 2.0 server: HTTP (POST `/`, GET `/health`) and WebSocket on one port. Owns the
// transport, request validation, batches, limits, subscriptions (WebSocket only), CORS, error
// mapping and RPC metrics; the methods themselves come from an RpcRegistry.
//
// Limits, each answered with a JSON-RPC error (errors.ts) and never with unbounded memory:
// - a body or message over `maxRequestBytes` → -32006 (HTTP 413); past 4× that the peer is
//   abusive: the HTTP connection is closed unread, the WebSocket closed with 1009;
// - a batch over `maxBatchSize` calls → -32005; more than `maxPendingPerConnection` calls in
//   flight on one socket → -32005; more than `maxSubscriptionsPerConnection` → -32005;
// - more than `maxConnections` WebSockets → the upgrade is refused with HTTP 503;
// - a socket whose unsent data passes `maxBufferedBytesPerConnection` (a slow consumer of
//   notifications) is terminated; sockets that stop answering pings are terminated too.
// Results are serialized with bigints as decimal strings and Uint8Arrays as 0x-hex.
import { randomBytes } from 'node:crypto'
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import type { Duplex } from 'node:stream'
import { WebSocket, WebSocketServer, type RawData } from 'ws'
import { toHex } from '../../runtime/crypto/hash.ts'
import { OpenLedgerError } from '../../runtime/errors.ts'
import type { Logger } from '../../lib/logger.ts'
import type { RpcMetrics } from '../metrics/metrics.ts'
import { RpcError, toRpcError } from './errors.ts'
import { stringify } from './json.ts'
import { param, parseParams, type ResolvedMethod, type RpcRegistry, type RpcSubscriptionMethod } from './registry.ts'

/** How long an idle HTTP keep-alive connection stays open (ms). */
const KEEP_ALIVE_TIMEOUT_MS = 30_000

export interface RpcServerOptions {
  host?: string
  /** 0 picks a free port (tests). */
  port?: number
  /** Largest HTTP body or WebSocket message, in bytes. */
  maxRequestBytes?: number
  /** Most calls in one batch. */
  maxBatchSize?: number
  /** Most open WebSocket connections. */
  maxConnections?: number
  maxSubscriptionsPerConnection?: number
  /** Most calls being handled at once for one WebSocket. */
  maxPendingPerConnection?: number
  /** Unsent bytes a WebSocket may hold before it is dropped as a slow consumer. */
  maxBufferedBytesPerConnection?: number
  /** Browser origins allowed to call (CORS, and the Origin of WebSocket upgrades); '*' for any. */
  corsOrigins?: readonly string[] | '*'
  /** How often WebSockets are pinged (ms); one missed pong drops the socket. 0 disables. */
  pingIntervalMs?: number
  /** How long stop() lets in-flight calls and closing sockets finish (ms). */
  stopTimeoutMs?: number
}

export interface RpcServerComponents {
  logger: Logger
  methods: RpcRegistry
  metrics?: RpcMetrics
}

export const RPC_SERVER_DEFAULTS = {
  host: '127.0.0.1',
  port: 9944,
  maxRequestBytes: 2 * 1024 * 1024,
  maxBatchSize: 100,
  maxConnections: 256,
  maxSubscriptionsPerConnection: 1024,
  maxPendingPerConnection: 256,
  maxBufferedBytesPerConnection: 16 * 1024 * 1024,
  corsOrigins: [] as readonly string[],
  pingIntervalMs: 30_000,
  stopTimeoutMs: 5_000,
} as const

export type RpcServerErrorCode = 'LISTEN_FAILED' | 'NOT_STARTED'
export class RpcServerError extends OpenLedgerError<RpcServerErrorCode> {}

/** Beyond this many times `maxRequestBytes` a peer is not mistaken but abusive: it is cut off. */
const ABUSIVE_FACTOR = 4
/** Notifications a subscription may emit before its id has been sent. */
const MAX_QUEUED_NOTIFICATIONS = 1024
const UNSUBSCRIBE_PARAMS = [param.string({ maxLength: 128 }).named('subscription')]
const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8' }

type JsonRpcId = string | number | null

interface CallSession {
  transport: 'http' | 'ws'
  signal: AbortSignal
  connection: WsConnection | undefined
  /** Subscriptions started while handling this message: they emit once its response is sent. */
  started: ActiveSubscription[]
}

type ParsedRequest =
  | { ok: true; id: JsonRpcId; notification: boolean; method: string; params: unknown }
  | { ok: false; id: JsonRpcId; error: RpcError }

export class RpcServer {
  readonly #options: Required<RpcServerOptions>
  readonly #registry: RpcRegistry
  readonly #metrics: RpcMetrics | undefined
  readonly #log: Logger
  readonly #builtin: ResolvedMethod
  readonly #connections = new Set<WsConnection>()
  readonly #inflight = new Set<Promise<unknown>>()
  #controller = new AbortController()
  #server: Server | undefined
  #wss: WebSocketServer | undefined
  #pingTimer: NodeJS.Timeout | undefined
  #stopping = false
  #stopped: Promise<void> | undefined

  constructor(options: RpcServerOptions, components: RpcServerComponents) {
    this.#options = { ...RPC_SERVER_DEFAULTS, ...options }
    this.#registry = components.methods
    this.#metrics = components.metrics
    this.#log = components.logger.child('rpc')
    this.#builtin = {
      kind: 'method',
      method: { name: 'rpc_methods', params: [], handler: () => ({ methods: [...new Set([...this.#registry.names(), 'rpc_methods'])].sort() }) },
    }
  }

  get address(): { host: string; port: number } {
    const address = this.#server?.address()
    if (address === undefined || address === null || typeof address === 'string') throw new RpcServerError('NOT_STARTED', 'rpc server is not listening')
    return { host: (address as AddressInfo).address, port: (address as AddressInfo).port }
  }

  async start(): Promise<void> {
    if (this.#server !== undefined) return
    this.#stopping = false
    this.#controller = new AbortController()
    const { host, port, maxRequestBytes } = this.#options
    const server = createServer((req, res) => this.#onRequest(req, res))
    // An idle keep-alive socket is closed by a timer; after an event-loop stall that timer fires
    // before the request a client already wrote on the socket is read, and the client sees
    // ECONNRESET for a call that was never processed. Keeping idle sockets well beyond any stall
    // we expect (clients reuse them up to the advertised timeout minus a second) closes that race.
    server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS
    const wss = new WebSocketServer({ noServer: true, maxPayload: ABUSIVE_FACTOR * maxRequestBytes, perMessageDeflate: false, clientTracking: false })
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#onUpgrade(wss, req, socket, head))
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) => reject(new RpcServerError('LISTEN_FAILED', `cannot listen on ${host}:${port}`, { cause: error })))
      server.listen(port, host, () => resolve())
    })
    server.on('error', (error) => this.#log.error('rpc server error', { error }))
    this.#server = server
    this.#wss = wss
    if (this.#options.pingIntervalMs > 0) {
      this.#pingTimer = setInterval(() => this.#pingAll(), this.#options.pingIntervalMs)
      this.#pingTimer.unref()
    }
    this.#log.info('rpc server listening', this.address)
  }

  /** Stops accepting, closes WebSockets with 1001 (ending their subscriptions), lets in-flight
   * calls finish within `stopTimeoutMs`, then aborts what is left and closes every connection. */
  async stop(): Promise<void> {
    const server = this.#server
    if (server === undefined) return
    this.#stopped ??= this.#shutdown(server)
    await this.#stopped
  }

  async #shutdown(server: Server): Promise<void> {
    this.#stopping = true
    clearInterval(this.#pingTimer)
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    const sockets = [...this.#connections].map((connection) => connection.shutdown(1001, 'server shutting down'))
    await settleWithin([...this.#inflight, ...sockets], this.#options.stopTimeoutMs)
    for (const connection of this.#connections) connection.terminate()
    this.#controller.abort(new RpcError('LIMIT_EXCEEDED', 'server is shutting down'))
    server.closeAllConnections()
    await closed
    this.#wss?.close()
    this.#server = undefined
    this.#wss = undefined
    this.#stopped = undefined
    this.#log.info('rpc server stopped')
  }

  // -------------------------------------------------------------------------------------------
  // HTTP

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0]
    const origin = req.headers.origin
    if (origin !== undefined) {
      if (!this.#originAllowed(origin)) {
        if (req.method === 'POST' || req.method === 'OPTIONS') return sendError(res, 403, null, new RpcError('INVALID_REQUEST', 'origin not allowed'))
      } else {
        res.setHeader('access-control-allow-origin', origin)
        res.setHeader('vary', 'origin')
      }
    }
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { 'access-control-allow-methods': 'POST, GET, OPTIONS', 'access-control-allow-headers': 'content-type', 'access-control-max-age': '600' })
      return void res.end()
    }
    if (path === '/health' && (req.method === 'GET' || req.method === 'HEAD')) {
      return sendJson(res, this.#stopping ? 503 : 200, JSON.stringify({ status: this.#stopping ? 'stopping' : 'ok' }))
    }
    if (path !== '/') return sendJson(res, 404, JSON.stringify({ error: 'not found' }))
    if (req.method !== 'POST') return sendJson(res, 405, JSON.stringify({ error: 'use POST for JSON-RPC, or a WebSocket' }), { allow: 'POST, OPTIONS' })
    this.#track(this.#onPost(req, res))
  }

  async #onPost(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.#stopping) return sendError(res, 503, null, new RpcError('LIMIT_EXCEEDED', 'server is shutting down'), { connection: 'close' })
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase()
    if (contentType !== 'application/json') {
      req.resume()
      return sendError(res, 415, null, new RpcError('INVALID_REQUEST', 'content-type must be application/json'))
    }
    const limit = this.#options.maxRequestBytes
    const body = await readBody(req, limit, ABUSIVE_FACTOR * limit)
    if (body === 'aborted') return
    if (body === 'too-large' || body === 'too-large-unread') {
      this.#count('unknown', 'http', 'PAYLOAD_TOO_LARGE')
      const error = new RpcError('PAYLOAD_TOO_LARGE', `request body exceeds ${limit} bytes`, { details: { limit } })
      return sendError(res, 413, null, error, body === 'too-large-unread' ? { connection: 'close' } : {})
    }
    const request = new AbortController()
    res.once('close', () => {
      if (!res.writableFinished) request.abort(new RpcError('INTERNAL_ERROR', 'client disconnected'))
    })
    const session: CallSession = { transport: 'http', signal: AbortSignal.any([this.#controller.signal, request.signal]), connection: undefined, started: [] }
    const response = await this.#handleMessage(body.toString('utf8'), session)
    if (response === undefined) return void res.writeHead(204).end()
    sendJson(res, 200, response)
  }

  #originAllowed(origin: string): boolean {
    const allowed = this.#options.corsOrigins
    return allowed === '*' || allowed.includes(origin)
  }

  // -------------------------------------------------------------------------------------------
  // WebSocket

  #onUpgrade(wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? '/').split('?')[0]
    const origin = req.headers.origin
    if (path !== '/') return refuseUpgrade(socket, 404, 'not found')
    if (this.#stopping) return refuseUpgrade(socket, 503, 'server is shutting down')
    if (origin !== undefined && !this.#originAllowed(origin)) return refuseUpgrade(socket, 403, 'origin not allowed')
    if (this.#connections.size >= this.#options.maxConnections) {
      this.#log.warn('refusing websocket: too many connections', { limit: this.#options.maxConnections })
      return refuseUpgrade(socket, 503, 'too many connections')
    }
    // With no verifyClient, ws completes the upgrade synchronously: the count above cannot race.
    wss.handleUpgrade(req, socket, head, (ws) => this.#onConnection(ws, req))
  }

  #onConnection(ws: WebSocket, req: IncomingMessage): void {
    const connection = new WsConnection(ws, this.#controller.signal, {
      maxBufferedBytes: this.#options.maxBufferedBytesPerConnection,
      log: this.#log,
      metrics: this.#metrics,
    })
    this.#connections.add(connection)
    this.#metrics?.rpcWsConnections.inc()
    const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`
    this.#log.debug('websocket opened', { remote, connections: this.#connections.size })
    ws.on('message', (data) => this.#onMessage(connection, data))
    ws.on('pong', () => {
      connection.alive = true
    })
    ws.on('error', (error) => this.#log.debug('websocket error', { remote, error }))
    ws.once('close', (code) => {
      connection.end()
      this.#connections.delete(connection)
      this.#metrics?.rpcWsConnections.dec()
      this.#log.debug('websocket closed', { remote, code })
    })
  }

  #onMessage(connection: WsConnection, data: RawData): void {
    const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)
    if (bytes.length > this.#options.maxRequestBytes) {
      this.#count('unknown', 'ws', 'PAYLOAD_TOO_LARGE')
      const error = new RpcError('PAYLOAD_TOO_LARGE', `message exceeds ${this.#options.maxRequestBytes} bytes`, { details: { limit: this.#options.maxRequestBytes } })
      return connection.send(stringify(errorResponse(null, error)))
    }
    const session: CallSession = { transport: 'ws', signal: connection.signal, connection, started: [] }
    const handled = this.#handleMessage(bytes.toString('utf8'), session).then((response) => {
      if (response !== undefined) connection.send(response)
      for (const subscription of session.started) connection.activate(subscription)
    })
    this.#track(handled)
  }

  #pingAll(): void {
    for (const connection of this.#connections) {
      if (!connection.alive) {
        this.#log.debug('websocket missed a ping, terminating')
        connection.terminate()
        continue
      }
      connection.alive = false
      connection.ping()
    }
  }

  // -------------------------------------------------------------------------------------------
  // JSON-RPC

  /** Answers one message (a request or a batch); undefined when nothing is to be sent back. */
  async #handleMessage(text: string, session: CallSession): Promise<string | undefined> {
    let message: unknown
    try {
      message = JSON.parse(text)
    } catch {
      this.#count('unknown', session.transport, 'PARSE_ERROR')
      return stringify(errorResponse(null, new RpcError('PARSE_ERROR', 'parse error: the message is not valid JSON')))
    }
    const batch = Array.isArray(message)
    const calls: unknown[] = Array.isArray(message) ? (message as unknown[]) : [message]
    const refuse = (error: RpcError): string => {
      this.#count('unknown', session.transport, error.code)
      return stringify(errorResponse(batch ? null : idOf(message), error))
    }
    if (batch && calls.length === 0) return refuse(new RpcError('INVALID_REQUEST', 'invalid request: empty batch'))
    if (calls.length > this.#options.maxBatchSize) {
      return refuse(new RpcError('LIMIT_EXCEEDED', `batch of ${calls.length} calls exceeds the limit of ${this.#options.maxBatchSize}`, { details: { limit: this.#options.maxBatchSize } }))
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
      return sent.length === 0 ? undefined : `[${sent.join(',')}]`
    } finally {
      if (connection !== undefined) connection.pending -= calls.length
    }
  }

  async #call(value: unknown, session: CallSession): Promise<string | undefined> {
    const startedAt = performance.now()
    const request = parseRequest(value)
    if (!request.ok) {
      this.#count('unknown', session.transport, request.error.code)
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
        this.#count(label, session.transport, code, (performance.now() - startedAt) / 1000)
        return `{"jsonrpc":"2.0","id":${JSON.stringify(request.id)},"result":${JSON.stringify(result)}}`
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
    }
    this.#count(label, session.transport, code, (performance.now() - startedAt) / 1000)
    return text
  }

  async #execute(resolved: ResolvedMethod | undefined, request: { method: string; params: unknown; notification: boolean }, session: CallSession): Promise<unknown> {
    if (resolved === undefined) throw new RpcError('METHOD_NOT_FOUND', `method not found: ${truncate(request.method)}`)
    if (resolved.kind === 'method') {
      const params = parseParams(resolved.method.params, request.params)
      return await resolved.method.handler(params, { signal: session.signal, transport: session.transport })
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

  #count(method: string, transport: 'http' | 'ws', code: string, seconds?: number): void {
    if (this.#metrics === undefined) return
    this.#metrics.rpcRequests.inc({ method, transport, code })
    if (seconds !== undefined) this.#metrics.rpcRequestDuration.observe({ method, transport }, seconds)
  }

  #track(promise: Promise<unknown>): void {
    const tracked = promise.catch((error: unknown) => this.#log.error('rpc message handling failed', { error, stack: error instanceof Error ? error.stack : undefined }))
    this.#inflight.add(tracked)
    void tracked.finally(() => this.#inflight.delete(tracked))
  }
}

// ---------------------------------------------------------------------------------------------
// One WebSocket: its calls in flight, its subscriptions, and backpressure on what it is sent.

interface ActiveSubscription {
  readonly id: string
  readonly method: RpcSubscriptionMethod
  readonly controller: AbortController
  stop: (() => void) | undefined
  /** Notifications emitted before the subscription id was sent; undefined once active. */
  queue: unknown[] | undefined
  ended: boolean
}

class WsConnection {
  readonly signal: AbortSignal
  pending = 0
  alive = true
  readonly #ws: WebSocket
  readonly #controller = new AbortController()
  readonly #subscriptions = new Map<string, ActiveSubscription>()
  readonly #maxBufferedBytes: number
  readonly #log: Logger
  readonly #metrics: RpcMetrics | undefined
  #closed: Promise<void>

  constructor(ws: WebSocket, serverSignal: AbortSignal, options: { maxBufferedBytes: number; log: Logger; metrics: RpcMetrics | undefined }) {
    this.#ws = ws
    this.signal = AbortSignal.any([serverSignal, this.#controller.signal])
    this.#maxBufferedBytes = options.maxBufferedBytes
    this.#log = options.log
    this.#metrics = options.metrics
    this.#closed = new Promise((resolve) => ws.once('close', () => resolve()))
  }

  get subscriptionCount(): number {
    return this.#subscriptions.size
  }

  /** Checked before sending, so one large answer passes but a peer that does not drain is dropped:
   * a socket never holds more than the limit plus one message. */
  send(text: string): void {
    if (this.#ws.readyState !== WebSocket.OPEN) return
    if (this.#ws.bufferedAmount > this.#maxBufferedBytes) {
      this.#log.warn('dropping slow websocket consumer', { bufferedBytes: this.#ws.bufferedAmount, limit: this.#maxBufferedBytes })
      this.terminate()
      return
    }
    this.#ws.send(text)
  }

  ping(): void {
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.ping()
  }

  open(method: RpcSubscriptionMethod): ActiveSubscription {
    const controller = new AbortController()
    const subscription: ActiveSubscription = { id: toHex(randomBytes(16)), method, controller, stop: undefined, queue: [], ended: false }
    this.#subscriptions.set(subscription.id, subscription)
    this.#metrics?.rpcSubscriptions.inc({ method: method.subscribe })
    // The socket went away (or the server stopped) while the request was being parsed.
    if (this.signal.aborted) this.#end(subscription)
    return subscription
  }

  /** The handler's start() returned: keep its stop function, or call it if the socket went away. */
  started(subscription: ActiveSubscription, stop: () => void): void {
    subscription.stop = stop
    if (subscription.ended) this.#callStop(subscription)
  }

  /** start() failed: forget the subscription. */
  discard(subscription: ActiveSubscription): void {
    this.#end(subscription)
  }

  /** The subscription id has been sent: flush what was emitted meanwhile, then send as it comes. */
  activate(subscription: ActiveSubscription): void {
    const queued = subscription.queue ?? []
    subscription.queue = undefined
    for (const result of queued) this.notify(subscription, result)
  }

  notify(subscription: ActiveSubscription, result: unknown): void {
    if (subscription.ended) return
    if (subscription.queue !== undefined) {
      subscription.queue.push(result)
      if (subscription.queue.length > MAX_QUEUED_NOTIFICATIONS) {
        this.#log.warn('subscription emitted too much before it was confirmed, dropping the connection', { method: subscription.method.subscribe })
        this.terminate()
      }
      return
    }
    let text: string
    try {
      text = stringify({ jsonrpc: '2.0', method: subscription.method.notification, params: { subscription: subscription.id, result: result ?? null } })
    } catch (error) {
      this.#log.error('subscription notification is not serializable', { method: subscription.method.subscribe, error })
      return
    }
    this.send(text)
  }

  /** True if this socket had the subscription (of that kind) and it is now ended. */
  unsubscribe(method: RpcSubscriptionMethod, id: string): boolean {
    const subscription = this.#subscriptions.get(id)
    if (subscription === undefined || subscription.method !== method) return false
    this.#end(subscription)
    return true
  }

  /** The socket closed: abort its calls and end every subscription. */
  end(): void {
    this.#controller.abort(new RpcError('INTERNAL_ERROR', 'connection closed'))
    for (const subscription of [...this.#subscriptions.values()]) this.#end(subscription)
  }

  /** Ends everything and starts the close handshake; resolves once the socket is closed. */
  shutdown(code: number, reason: string): Promise<void> {
    this.end()
    if (this.#ws.readyState === WebSocket.OPEN || this.#ws.readyState === WebSocket.CONNECTING) this.#ws.close(code, reason)
    return this.#closed
  }

  terminate(): void {
    this.end()
    this.#ws.terminate()
  }

  #end(subscription: ActiveSubscription): void {
    if (subscription.ended) return
    subscription.ended = true
    subscription.queue = undefined
    this.#subscriptions.delete(subscription.id)
    subscription.controller.abort(new RpcError('INTERNAL_ERROR', 'subscription ended'))
    this.#metrics?.rpcSubscriptions.dec({ method: subscription.method.subscribe })
    this.#callStop(subscription)
  }

  #callStop(subscription: ActiveSubscription): void {
    const stop = subscription.stop
    if (stop === undefined) return
    subscription.stop = undefined
    try {
      stop()
    } catch (error) {
      this.#log.error('subscription stop failed', { method: subscription.method.subscribe, error, stack: error instanceof Error ? error.stack : undefined })
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

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

function errorResponse(id: JsonRpcId, error: RpcError): Record<string, unknown> {
  return { jsonrpc: '2.0', id, error: error.toJson() }
}

function truncate(text: string): string {
  return text.length > 64 ? `${text.slice(0, 64)}…` : text
}

function sendJson(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return
  res.writeHead(status, { ...JSON_HEADERS, 'content-length': Buffer.byteLength(body), ...headers })
  res.end(body)
}

function sendError(res: ServerResponse, status: number, id: JsonRpcId, error: RpcError, headers: Record<string, string> = {}): void {
  sendJson(res, status, stringify(errorResponse(id, error)), headers)
}

function refuseUpgrade(socket: Duplex, status: number, message: string): void {
  socket.on('error', () => {})
  const body = JSON.stringify({ error: message })
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
}

/**
 * Reads a body of at most `limit` bytes. A larger one is read and dropped up to `hardLimit`, so the
 * client can read our 413; past that (or when Content-Length says so) it is left unread and the
 * connection is to be closed.
 */
function readBody(req: IncomingMessage, limit: number, hardLimit: number): Promise<Buffer | 'too-large' | 'too-large-unread' | 'aborted'> {
  return new Promise((resolve) => {
    const declared = Number(req.headers['content-length'])
    if (declared > hardLimit) return resolve('too-large-unread')
    let chunks: Buffer[] = []
    let total = 0
    const onData = (chunk: Buffer): void => {
      total += chunk.length
      if (total > hardLimit) {
        req.off('data', onData)
        req.pause()
        return resolve('too-large-unread')
      }
      if (total <= limit) chunks.push(chunk)
      else chunks = []
    }
    req.on('data', onData)
    req.once('end', () => resolve(total > limit ? 'too-large' : Buffer.concat(chunks, total)))
    req.once('error', () => resolve('aborted'))
    req.once('close', () => resolve('aborted'))
  })
}

async function settleWithin(promises: Promise<unknown>[], ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms)
  })
  await Promise.race([Promise.allSettled(promises), timeout])
  clearTimeout(timer)
}
