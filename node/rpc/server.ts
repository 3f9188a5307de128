// The JSON-RPC 2.0 server: HTTP (POST `/`, GET `/health`) and WebSocket on one port. This file
// owns the listening socket and the lifecycle; the transports are http.ts and websocket.ts, and
// what a message means (batches, methods, errors, metrics) is dispatch.ts, whose methods come from
// an RpcRegistry.
//
// Limits, each answered with a JSON-RPC error (errors.ts) and never with unbounded memory:
// - a body or message over `maxRequestBytes` → -32006 (HTTP 413); past 4× that the peer is
//   abusive: the HTTP connection is closed unread, the WebSocket closed with 1009;
// - a batch over `maxBatchSize` calls → -32005; more than `maxPendingPerConnection` calls in
//   flight on one socket → -32005; more than `maxSubscriptionsPerConnection` → -32005;
// - more than `maxConnections` WebSockets → the upgrade is refused with HTTP 503;
// - a socket whose unsent data passes `maxBufferedBytesPerConnection` (a slow consumer of
//   notifications) is terminated; sockets that stop answering pings are terminated too.
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { OpenLedgerError } from '../../runtime/errors.ts'
import { boundAddress, listenHttp } from '../../lib/httpListen.ts'
import type { Logger } from '../../lib/logger.ts'
import type { RpcMetrics } from '../metrics/metrics.ts'
import { ByteBudget, ConnectionGate, RateLimiter, ReadPacer } from './connections.ts'
import { RpcDispatcher } from './dispatch.ts'
import { RpcError } from './errors.ts'
import { RpcHttpHandler, type RpcServerState, type StaticSite } from './http.ts'
import type { RpcRegistry } from './registry.ts'
import { RpcWebSockets } from './websocket.ts'

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
  /** Most open connections to the port, HTTP and WebSocket together. */
  maxHttpConnections?: number
  /** Most open connections from one remote address. */
  maxConnectionsPerAddress?: number
  /** Time a client has to send a request's headers (ms), and the whole request with its body. */
  headersTimeoutMs?: number
  requestTimeoutMs?: number
  /** Bytes held for requests in flight on all connections (bodies read, answers unsent). */
  maxInFlightBytes?: number
  /** Request bytes read from all connections in one event-loop turn; past it sockets wait a turn (ReadPacer). */
  readBytesPerTurn?: number
  /** Largest answer to one call, and to one batch, in bytes. */
  maxResponseBytes?: number
  maxBatchResponseBytes?: number
  /** Host header names served (DNS-rebinding guard), '*' for any; the listening host is always allowed. */
  allowedHosts?: readonly string[] | '*'
  /** Calls per second one remote address may make (HTTP and WebSocket together); 0 for no limit. */
  rateLimitPerSecond?: number
  /** Calls one address may make at once after a pause. */
  rateLimitBurst?: number
  /** Addresses the rate limit spares; 'loopback' for this machine's. */
  rateLimitExempt?: readonly string[]
}

export interface RpcServerComponents {
  logger: Logger
  methods: RpcRegistry
  metrics?: RpcMetrics
  /** files served on GET (the explorer) */
  site?: StaticSite
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
  maxHttpConnections: 512,
  maxConnectionsPerAddress: 128,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  maxInFlightBytes: 512 * 1024 * 1024,
  readBytesPerTurn: 1024 * 1024,
  maxResponseBytes: 16 * 1024 * 1024,
  maxBatchResponseBytes: 32 * 1024 * 1024,
  allowedHosts: ['localhost', '127.0.0.1', '::1'] as readonly string[],
  rateLimitPerSecond: 500,
  rateLimitBurst: 1_000,
  rateLimitExempt: ['loopback'] as readonly string[],
} as const

/** How often Node checks connections against the header and request timeouts (ms). */
const TIMEOUT_CHECK_INTERVAL_MS = 1_000

/** Whether a listening host is reachable only from this machine. */
export function isLoopback(host: string): boolean {
  const name = host.toLowerCase().replace(/^\[|\]$/g, '')
  return name === 'localhost' || name === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name)
}

export type RpcServerErrorCode = 'LISTEN_FAILED' | 'NOT_STARTED' | 'UNSAFE_RPC_EXTERNAL'
export class RpcServerError extends OpenLedgerError<RpcServerErrorCode> {}

export class RpcServer implements RpcServerState {
  readonly #options: Required<RpcServerOptions>
  readonly #log: Logger
  readonly #dispatcher: RpcDispatcher
  readonly #http: RpcHttpHandler
  readonly #metrics: RpcMetrics | undefined
  readonly #inflight = new Set<Promise<unknown>>()
  readonly budget: ByteBudget
  readonly pacer: ReadPacer
  #controller = new AbortController()
  #server: Server | undefined
  #webSockets: RpcWebSockets | undefined
  #stopping = false
  #stopped: Promise<void> | undefined

  constructor(options: RpcServerOptions, components: RpcServerComponents) {
    this.#options = { ...RPC_SERVER_DEFAULTS, ...options }
    this.#log = components.logger.child('rpc')
    this.#metrics = components.metrics
    this.budget = new ByteBudget(this.#options.maxInFlightBytes)
    this.pacer = new ReadPacer(this.#options.readBytesPerTurn)
    this.#dispatcher = new RpcDispatcher(this.#options, { methods: components.methods, metrics: components.metrics, log: this.#log, budget: this.budget, limiter: new RateLimiter(this.#options) })
    this.#http = new RpcHttpHandler(this.#options, this.#dispatcher, this, this.#metrics, components.site)
  }

  get address(): { host: string; port: number } {
    const address = boundAddress(this.#server)
    if (address === undefined) throw new RpcServerError('NOT_STARTED', 'rpc server is not listening')
    return address
  }

  get stopping(): boolean {
    return this.#stopping
  }

  get signal(): AbortSignal {
    return this.#controller.signal
  }

  async start(): Promise<void> {
    if (this.#server !== undefined) return
    this.#stopping = false
    this.#controller = new AbortController()
    const { host, port } = this.#options
    const gate = new ConnectionGate(this.#options, this.#metrics)
    const server = createServer(
      { headersTimeout: this.#options.headersTimeoutMs, requestTimeout: this.#options.requestTimeoutMs, connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS },
      (req, res) => {
        if (!gate.refused(req.socket)) this.#http.onRequest(req, res)
      },
    )
    server.on('connection', (socket: Socket) => gate.onConnection(socket))
    server.on('clientError', (error: Error, socket: Duplex) => gate.onClientError(error, socket))
    // An idle keep-alive socket is closed by a timer; after an event-loop stall that timer fires
    // before the request a client already wrote on the socket is read, and the client sees
    // ECONNRESET for a call that was never processed. Keeping idle sockets well beyond any stall
    // we expect (clients reuse them up to the advertised timeout minus a second) closes that race.
    server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS
    const webSockets = new RpcWebSockets(this.#options, this.#dispatcher, this, { log: this.#log, metrics: this.#metrics })
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (!gate.refused(socket)) webSockets.onUpgrade(req, socket, head)
    })
    try {
      await listenHttp(server, host, port, (cause) => new RpcServerError('LISTEN_FAILED', `cannot listen on ${host}:${port}`, { cause }))
    } catch (error) {
      webSockets.shutdown(1001, 'not started')
      throw error
    }
    server.on('error', (error) => this.#log.error('rpc server error', { error }))
    this.#server = server
    this.#webSockets = webSockets
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

  track(promise: Promise<unknown>): void {
    const tracked = promise.catch((error: unknown) => this.#log.error('rpc message handling failed', { error, stack: error instanceof Error ? error.stack : undefined }))
    this.#inflight.add(tracked)
    void tracked.finally(() => this.#inflight.delete(tracked))
  }

  async #shutdown(server: Server): Promise<void> {
    this.#stopping = true
    const webSockets = this.#webSockets
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    const sockets = webSockets?.shutdown(1001, 'server shutting down') ?? []
    await settleWithin([...this.#inflight, ...sockets], this.#options.stopTimeoutMs)
    webSockets?.close()
    this.#controller.abort(new RpcError('LIMIT_EXCEEDED', 'server is shutting down'))
    server.closeAllConnections()
    await closed
    webSockets?.dispose()
    this.#server = undefined
    this.#webSockets = undefined
    this.#stopped = undefined
    this.#log.info('rpc server stopped')
  }
}

async function settleWithin(promises: Promise<unknown>[], ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms)
  })
  await Promise.race([Promise.allSettled(promises), timeout])
  clearTimeout(timer)
}
