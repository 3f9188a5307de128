// JSON-RPC over WebSocket: the upgrade on `/` (path, Origin and connection-count checks), one
// WsConnection per socket with its calls in flight, its subscriptions and backpressure on what it
// is sent, and the ping that drops sockets which stop answering.
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
import { refuseRaw } from './connections.ts'
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
}

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
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#onConnection(ws, req))
  }

  /** Starts the close handshake on every socket (ending their subscriptions); resolves per socket. */
  shutdown(code: number, reason: string): Promise<void>[] {
    clearInterval(this.#pingTimer)
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

  #onConnection(ws: WebSocket, req: IncomingMessage): void {
    const connection = new WsConnection(ws, this.#server.signal, {
      maxBufferedBytes: this.#options.maxBufferedBytesPerConnection,
      log: this.#log,
      metrics: this.#metrics,
    })
    this.#connections.add(connection)
    this.#metrics?.rpcWsConnections.inc()
    const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`
    this.#log.debug('websocket opened', { remote, connections: this.#connections.size })
    const client = req.socket.remoteAddress ?? '?'
    ws.on('message', (data) => this.#onMessage(connection, data, client))
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

  #onMessage(connection: WsConnection, data: RawData, client: string): void {
    const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)
    if (bytes.length > this.#options.maxRequestBytes) {
      this.#dispatcher.count('unknown', 'ws', 'PAYLOAD_TOO_LARGE')
      const error = new RpcError('PAYLOAD_TOO_LARGE', `message exceeds ${this.#options.maxRequestBytes} bytes`, { details: { limit: this.#options.maxRequestBytes } })
      return connection.send(stringify(errorResponse(null, error)))
    }
    const session = newSession('ws', connection.signal, connection, client)
    const budget = this.#server.budget
    const handled = this.#dispatcher.handleMessage(bytes.toString('utf8'), session).then((response) => {
      if (response !== undefined) connection.send(response, () => budget.release(session.reserved))
      else budget.release(session.reserved)
      for (const subscription of session.started) connection.activate(subscription)
    })
    this.#server.track(handled)
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

function refuseUpgrade(socket: Duplex, status: number, message: string): void {
  socket.on('error', () => {})
  const body = JSON.stringify({ error: message })
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
}
