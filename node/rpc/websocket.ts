// JSON-RPC over WebSocket: the upgrade on `/` (path, Origin and connection-count checks), one
// WsConnection per socket with its calls in flight, its subscriptions and backpressure on what it
// is sent, and the ping that drops sockets which stop answering.
//
// A message being received is held by `ws` until its last frame arrives (up to its maxPayload):
// those bytes are reserved in the server's ByteBudget as they arrive (a socket the budget cannot
// take is closed with 1013), stay reserved until the message's answer is sent, and a message must
// be complete within `requestTimeoutMs` of its first byte (closed with 1008 otherwise), so a client
// trickling half a frame holds neither memory outside the budget nor the socket for long.
import { randomBytes } from 'node:crypto'
import { STATUS_CODES, type IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocket, WebSocketServer, type RawData } from 'ws'
import { toHex } from '../../runtime/crypto/hash.ts'
import type { Logger } from '../../lib/logger.ts'
import type { RpcMetrics } from '../metrics/metrics.ts'
import { RpcError } from './errors.ts'
import { stringify } from './json.ts'
import type { RpcSubscriptionMethod } from './registry.ts'
import { refuseRaw, type ByteBudget } from './connections.ts'
import { errorResponse, newSession, type ActiveSubscription, type RpcConnection, type RpcDispatcher } from './dispatch.ts'
import { ABUSIVE_FACTOR, hostAllowed, originAllowed, type RpcServerState } from './http.ts'

/** Notifications a subscription may emit before its id has been sent. */
const MAX_QUEUED_NOTIFICATIONS = 1024

export interface RpcWebSocketOptions {
  host: string
  allowedHosts: readonly string[] | '*'
  maxRequestBytes: number
  maxConnections: number
  maxBufferedBytesPerConnection: number
  corsOrigins: readonly string[] | '*'
  pingIntervalMs: number
  requestTimeoutMs: number
}

/** How often partial messages are checked against `requestTimeoutMs` (ms). */
const RECEIVE_CHECK_INTERVAL_MS = 1_000

/** Every WebSocket of one RPC server. */
export class RpcWebSockets {
  readonly #options: RpcWebSocketOptions
  readonly #dispatcher: RpcDispatcher
  readonly #server: RpcServerState
  readonly #log: Logger
  readonly #metrics: RpcMetrics | undefined
  readonly #connections = new Set<WsConnection>()
  readonly #wss: WebSocketServer
  #pingTimer: NodeJS.Timeout | undefined
  readonly #receiveTimer: NodeJS.Timeout

  constructor(options: RpcWebSocketOptions, dispatcher: RpcDispatcher, server: RpcServerState, components: { log: Logger; metrics: RpcMetrics | undefined }) {
    this.#options = options
    this.#dispatcher = dispatcher
    this.#server = server
    this.#log = components.log
    this.#metrics = components.metrics
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: ABUSIVE_FACTOR * options.maxRequestBytes, perMessageDeflate: false, clientTracking: false })
    if (options.pingIntervalMs > 0) {
      this.#pingTimer = setInterval(() => this.#pingAll(), options.pingIntervalMs)
      this.#pingTimer.unref()
    }
    this.#receiveTimer = setInterval(() => this.#checkReceiving(), RECEIVE_CHECK_INTERVAL_MS)
    this.#receiveTimer.unref()
  }

  onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? '/').split('?')[0]
    const origin = req.headers.origin
    if (path !== '/') return refuseUpgrade(socket, 404, 'not found')
    if (this.#server.stopping) return refuseUpgrade(socket, 503, 'server is shutting down')
    if (!hostAllowed(this.#options, req.headers.host)) return refuseRaw(socket, 403, new RpcError('HOST_NOT_ALLOWED', 'host not allowed: start the node with --rpc-hosts naming it', { rpcCode: -32600 }), this.#metrics)
    if (origin !== undefined && !originAllowed(this.#options.corsOrigins, origin, req.headers.host)) return refuseUpgrade(socket, 403, 'origin not allowed')
    if (this.#connections.size >= this.#options.maxConnections) {
      this.#log.warn('refusing websocket: too many connections', { limit: this.#options.maxConnections })
      return refuseUpgrade(socket, 503, 'too many connections')
    }
    // With no verifyClient, ws completes the upgrade synchronously: the count above cannot race.
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#onConnection(ws, req, socket))
  }

  /** Starts the close handshake on every socket (ending their subscriptions); resolves per socket. */
  shutdown(code: number, reason: string): Promise<void>[] {
    clearInterval(this.#pingTimer)
    clearInterval(this.#receiveTimer)
    return [...this.#connections].map((connection) => connection.shutdown(code, reason))
  }

  /** Drops what shutdown() did not close in time. */
  close(): void {
    for (const connection of this.#connections) connection.terminate()
  }

  /** After the HTTP server has closed. */
  dispose(): void {
    this.#wss.close()
  }

  #onConnection(ws: WebSocket, req: IncomingMessage, socket: Duplex): void {
    const connection = new WsConnection(ws, this.#server.signal, {
      maxBufferedBytes: this.#options.maxBufferedBytesPerConnection,
      log: this.#log,
      metrics: this.#metrics,
      budget: this.#server.budget,
    })
    // before ws's own listener: a chunk is counted before ws parses it, so the message it
    // completes takes its bytes along (ws emits 'message' synchronously while parsing)
    socket.prependListener('data', (chunk: Buffer) => connection.received(chunk.length))
    this.#connections.add(connection)
    this.#metrics?.rpcWsConnections.inc()
    const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`
    this.#log.debug('websocket opened', { remote, connections: this.#connections.size })
    const client = req.socket.remoteAddress ?? '?'
    ws.on('message', (data) => this.#onMessage(connection, data, client))
    ws.on('pong', () => {
      connection.alive = true
      if (receiverIdle(ws)) connection.releaseReceived()
    })
    ws.on('ping', () => {
      if (receiverIdle(ws)) connection.releaseReceived()
    })
    ws.on('error', (error) => this.#log.debug('websocket error', { remote, error }))
    ws.once('close', (code) => {
      connection.end()
      this.#connections.delete(connection)
      this.#metrics?.rpcWsConnections.dec()
      this.#log.debug('websocket closed', { remote, code })
    })
  }

  #onMessage(connection: WsConnection, data: RawData, client: string): void {
    // the message's bytes stay reserved until its answer is sent, as an HTTP body's do
    const held = connection.takeReceived()
    const budget = this.#server.budget
    const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)
    if (bytes.length > this.#options.maxRequestBytes) {
      this.#dispatcher.count('unknown', 'ws', 'PAYLOAD_TOO_LARGE')
      const error = new RpcError('PAYLOAD_TOO_LARGE', `message exceeds ${this.#options.maxRequestBytes} bytes`, { details: { limit: this.#options.maxRequestBytes } })
      return connection.send(stringify(errorResponse(null, error)), () => budget.release(held))
    }
    const session = newSession('ws', connection.signal, connection, client)
    const handled = this.#dispatcher.handleMessage(bytes.toString('utf8'), session).then((response) => {
      if (response !== undefined) connection.send(response, () => budget.release(session.reserved + held))
      else budget.release(session.reserved + held)
      for (const subscription of session.started) connection.activate(subscription)
    })
    this.#server.track(handled)
  }

  #checkReceiving(): void {
    const now = performance.now()
    for (const connection of this.#connections) {
      if (connection.receivingSince === undefined || now - connection.receivingSince <= this.#options.requestTimeoutMs) continue
      this.#metrics?.rpcRefusals.inc({ reason: 'REQUEST_TIMEOUT' })
      this.#log.debug('websocket message not completed in time, closing', { limitMs: this.#options.requestTimeoutMs })
      connection.refuse(1008, 'message not completed in time')
    }
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
}

/** One WebSocket: its calls in flight, its subscriptions, and backpressure on what it is sent. */
class WsConnection implements RpcConnection {
  readonly signal: AbortSignal
  pending = 0
  alive = true
  readonly #ws: WebSocket
  readonly #controller = new AbortController()
  readonly #subscriptions = new Map<string, ActiveSubscription>()
  readonly #maxBufferedBytes: number
  readonly #log: Logger
  readonly #metrics: RpcMetrics | undefined
  readonly #budget: ByteBudget
  #closed: Promise<void>
  /** bytes of the message being received, reserved in the budget */
  #receiving = 0
  /** when its first byte came (performance.now()), while one is being received */
  receivingSince: number | undefined

  constructor(ws: WebSocket, serverSignal: AbortSignal, options: { maxBufferedBytes: number; log: Logger; metrics: RpcMetrics | undefined; budget: ByteBudget }) {
    this.#ws = ws
    this.#budget = options.budget
    this.signal = AbortSignal.any([serverSignal, this.#controller.signal])
    this.#maxBufferedBytes = options.maxBufferedBytes
    this.#log = options.log
    this.#metrics = options.metrics
    this.#closed = new Promise((resolve) => ws.once('close', () => resolve()))
  }

  get subscriptionCount(): number {
    return this.#subscriptions.size
  }

  /** A chunk of a frame arrived: its bytes are held until the message (or control frame) is whole. */
  received(bytes: number): void {
    if (this.#ws.readyState !== WebSocket.OPEN) return
    if (!this.#budget.tryReserve(bytes)) {
      this.#metrics?.rpcRefusals.inc({ reason: 'SERVER_BUSY' })
      this.#log.debug('websocket message refused: the in-flight budget is spent', { receiving: this.#receiving + bytes })
      return this.refuse(1013, 'server busy: retry later')
    }
    this.#receiving += bytes
    this.receivingSince ??= performance.now()
  }

  /** A message is whole: what its frames held passes to the caller, to release once it is answered. */
  takeReceived(): number {
    const bytes = this.#receiving
    this.#receiving = 0
    this.receivingSince = undefined
    return bytes
  }

  /** A control frame is whole: nothing is held for it any more. */
  releaseReceived(): void {
    this.#budget.release(this.takeReceived())
  }

  /** Closes the socket for what it sent (1008 policy, 1013 try later); dropped if it does not close at once. */
  refuse(code: number, reason: string): void {
    this.releaseReceived()
    this.end()
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.close(code, reason)
    // a peer that does not answer the close keeps nothing: ws's own close timer (30 s) is too long
    setTimeout(() => this.#ws.terminate(), 1_000).unref()
  }

  /** Checked before sending, so one large answer passes but a peer that does not drain is dropped:
   * a socket never holds more than the limit plus one message. */
  send(text: string, sent?: () => void): void {
    if (this.#ws.readyState !== WebSocket.OPEN) return sent?.()
    if (this.#ws.bufferedAmount > this.#maxBufferedBytes) {
      this.#log.warn('dropping slow websocket consumer', { bufferedBytes: this.#ws.bufferedAmount, limit: this.#maxBufferedBytes })
      this.terminate()
      return sent?.()
    }
    // ws calls back once written, or with the error when the socket closed first
    this.#ws.send(text, sent === undefined ? undefined : () => sent())
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
    this.releaseReceived()
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

/**
 * Whether ws's receiver holds nothing after the control frame it just parsed: no fragments of a
 * message (control frames may come between them) and no unparsed bytes. Read from ws's internals
 * (`_receiver`, ws 8); test/node/rpc/websocket.test.ts fails if they change.
 */
function receiverIdle(ws: WebSocket): boolean {
  const receiver = (ws as unknown as { _receiver?: { _fragments?: unknown[]; _bufferedBytes?: number } })._receiver
  return receiver?._fragments?.length === 0 && receiver._bufferedBytes === 0
}

function refuseUpgrade(socket: Duplex, status: number, message: string): void {
  socket.on('error', () => {})
  const body = JSON.stringify({ error: message })
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
}
