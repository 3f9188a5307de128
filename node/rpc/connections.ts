// What one stranger can hold of the RPC port before any method runs: connections (all of them, and
// per remote address) and bytes in flight (request bodies being read, answers not yet sent), each
// refused with a stable code counted in `openledger_rpc_refusals_total{reason}`.
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { RpcMetrics } from '../metrics/metrics.ts'
import { RpcError } from './errors.ts'
import { stringify } from './json.ts'

/** How long a refused socket may take to read its answer before it is destroyed (ms). */
const REFUSAL_LINGER_MS = 2_000

/** Refusal reasons: permanent metric labels and `data.code`s. */
export type RpcRefusal =
  | 'TOO_MANY_CONNECTIONS'
  | 'TOO_MANY_CONNECTIONS_FROM_ADDRESS'
  | 'REQUEST_TIMEOUT'
  | 'HEADERS_TOO_LARGE'
  | 'BAD_HTTP_REQUEST'
  | 'HOST_NOT_ALLOWED'
  | 'ORIGIN_NOT_ALLOWED'
  | 'SERVER_BUSY'
  | 'RESPONSE_TOO_LARGE'
  | 'RATE_LIMITED'

export interface ConnectionLimits {
  /** Most open connections to the port (HTTP and WebSocket). */
  maxHttpConnections: number
  /** Most open connections from one remote address. */
  maxConnectionsPerAddress: number
}

/** Admits or refuses each new TCP connection; forgets it when it closes. */
export class ConnectionGate {
  readonly #limits: ConnectionLimits
  readonly #metrics: RpcMetrics | undefined
  readonly #byAddress = new Map<string, number>()
  readonly #refused = new WeakSet<Duplex>()
  #open = 0

  constructor(limits: ConnectionLimits, metrics: RpcMetrics | undefined) {
    this.#limits = limits
    this.#metrics = metrics
  }

  get open(): number {
    return this.#open
  }

  /** True when `socket` was refused at connect: nothing it sends is to be handled. */
  refused(socket: Duplex): boolean {
    return this.#refused.has(socket)
  }

  onConnection(socket: Socket): void {
    const address = socket.remoteAddress ?? '?'
    const fromAddress = this.#byAddress.get(address) ?? 0
    const reason: RpcRefusal | undefined =
      this.#open >= this.#limits.maxHttpConnections ? 'TOO_MANY_CONNECTIONS' : fromAddress >= this.#limits.maxConnectionsPerAddress ? 'TOO_MANY_CONNECTIONS_FROM_ADDRESS' : undefined
    if (reason !== undefined) {
      this.#refused.add(socket)
      const limit = reason === 'TOO_MANY_CONNECTIONS' ? this.#limits.maxHttpConnections : this.#limits.maxConnectionsPerAddress
      refuseRaw(socket, 503, new RpcError(reason, reason === 'TOO_MANY_CONNECTIONS' ? 'too many connections' : 'too many connections from this address', { rpcCode: -32005, details: { limit } }), this.#metrics)
      return
    }
    this.#open++
    this.#byAddress.set(address, fromAddress + 1)
    this.#metrics?.rpcHttpConnections.inc()
    socket.once('close', () => {
      this.#open--
      const left = (this.#byAddress.get(address) ?? 1) - 1
      if (left === 0) this.#byAddress.delete(address)
      else this.#byAddress.set(address, left)
      this.#metrics?.rpcHttpConnections.dec()
    })
  }

  /** Node's parser gave up on a connection: a read timeout, oversized headers or not HTTP. */
  onClientError(error: Error & { code?: string }, socket: Duplex): void {
    if (error.code === 'ECONNRESET' || !socket.writable || this.#refused.has(socket)) return void socket.destroy()
    const [status, reason]: [number, RpcRefusal] =
      error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'REQUEST_TIMEOUT'] : error.code === 'HPE_HEADER_OVERFLOW' ? [431, 'HEADERS_TOO_LARGE'] : [400, 'BAD_HTTP_REQUEST']
    const message = reason === 'REQUEST_TIMEOUT' ? 'request not received in time' : reason === 'HEADERS_TOO_LARGE' ? 'request headers too large' : 'malformed HTTP request'
    refuseRaw(socket, status, new RpcError(reason, message, { rpcCode: reason === 'REQUEST_TIMEOUT' ? -32005 : -32600 }), this.#metrics)
  }
}

/** Writes one complete HTTP answer on a socket the parser no longer owns, then closes it. */
export function refuseRaw(socket: Duplex, status: number, error: RpcError, metrics: RpcMetrics | undefined): void {
  metrics?.rpcRefusals.inc({ reason: error.code })
  socket.on('error', () => {})
  const body = stringify({ jsonrpc: '2.0', id: null, error: error.toJson() })
  // destroyed once flushed: a peer that neither reads nor closes keeps nothing
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`, () => socket.destroy())
  setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS).unref()
}

/**
 * Bytes the server holds for requests in flight, across every connection: bodies as they are read,
 * answers until they are sent. A reservation that would pass the budget is refused (SERVER_BUSY)
 * so many clients together cannot take the node's memory.
 */
export class ByteBudget {
  readonly #limit: number
  #used = 0

  constructor(limit: number) {
    this.#limit = limit
  }

  get used(): number {
    return this.#used
  }

  tryReserve(bytes: number): boolean {
    if (this.#used + bytes > this.#limit) return false
    this.#used += bytes
    return true
  }

  release(bytes: number): void {
    this.#used = Math.max(0, this.#used - bytes)
  }
}

/** A stream the pacer may hold back: an HTTP request's body, a WebSocket's socket. */
export interface PacedStream {
  pause(): unknown
  resume(): unknown
  isPaused(): boolean
  readonly destroyed: boolean
}

/**
 * Request bytes read per event-loop turn, across every connection. In one poll phase libuv drains
 * each readable socket (up to 32 reads of 64 KiB), so a few hundred clients uploading bodies at
 * once make a single turn read hundreds of MiB, and whatever else waits on I/O (block production
 * awaits one turn per store read) waits that long per step: partial 2 MiB bodies on 1,200
 * connections stalled a dev node's blocks 7–14 s. A stream that delivers a chunk once the turn's
 * allowance is spent is paused and resumed in a later turn, oldest first, as many as the allowance
 * covers; TCP flow control keeps the rest of its data in the peer's buffers at no cost to us.
 * What is paused is the stream its reader reads (an HTTP body, not its socket: Node resumes a
 * body's socket whenever the body wants data).
 */
export class ReadPacer {
  readonly #perTurn: number
  readonly #waiting: PacedStream[] = []
  #used = 0
  #scheduled = false

  constructor(perTurnBytes: number) {
    this.#perTurn = perTurnBytes
  }

  /** Streams paused for a later turn. */
  get waiting(): number {
    return this.#waiting.length
  }

  /**
   * Counts `bytes` just read from `stream`; pauses it when this turn's allowance is spent, unless
   * `pausable` is false (the first chunk of a message: a small call is never made to wait behind
   * the uploads, and what it adds to a turn is bounded by the connection count).
   */
  onRead(stream: PacedStream, bytes: number, pausable = true): void {
    this.#used += bytes
    this.#schedule()
    if (!pausable || this.#used <= this.#perTurn || stream.isPaused()) return
    stream.pause()
    this.#waiting.push(stream)
  }

  /** Forgets `stream`: its reader stopped reading it on purpose, it is not to be resumed. */
  forget(stream: PacedStream): void {
    const at = this.#waiting.indexOf(stream)
    if (at !== -1) this.#waiting.splice(at, 1)
  }

  #schedule(): void {
    if (this.#scheduled) return
    this.#scheduled = true
    // the check phase right after this poll phase: the next turn's reads start from zero
    setImmediate(() => this.#nextTurn())
  }

  #nextTurn(): void {
    this.#scheduled = false
    this.#used = 0
    // each resumed stream reads at least one chunk (64 KiB) before it can be paused again
    let allowance = this.#perTurn
    while (allowance > 0) {
      const stream = this.#waiting.shift()
      if (stream === undefined) break
      if (stream.destroyed) continue
      stream.resume()
      allowance -= PACER_CHUNK_BYTES
    }
    if (this.#waiting.length > 0) this.#schedule()
  }
}

/** What one socket read delivers at most (libuv's read buffer). */
const PACER_CHUNK_BYTES = 64 * 1024

/** Whether a remote address is this machine's (127.0.0.0/8, ::1, and IPv4-mapped 127.x). */
export function isLoopbackAddress(address: string): boolean {
  const name = address.startsWith('::ffff:') ? address.slice(7) : address
  return name === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name)
}

export interface RateLimits {
  /** calls per second one remote address may make, sustained; 0 turns the limit off */
  rateLimitPerSecond: number
  /** calls one address may make at once after a pause (the bucket's size) */
  rateLimitBurst: number
  /** addresses never limited; 'loopback' names this machine's (the operator's tools, or a reverse proxy in front) */
  rateLimitExempt: readonly string[]
}

/** Addresses a limiter remembers before it forgets the idle ones (a full bucket is an idle one). */
const MAX_TRACKED_CLIENTS = 4096

/**
 * Calls per remote address, over HTTP and WebSocket together: a token bucket per address that
 * refills at `rateLimitPerSecond` up to `rateLimitBurst`. A message (a call or a whole batch) that
 * the bucket cannot pay is refused whole with RATE_LIMITED and the wait that would let it through.
 */
export class RateLimiter {
  readonly #limits: RateLimits
  readonly #now: () => number
  readonly #buckets = new Map<string, { tokens: number; at: number }>()

  constructor(limits: RateLimits, now: () => number = () => performance.now()) {
    this.#limits = limits
    this.#now = now
  }

  /** Takes `calls` tokens of `client`'s bucket: 0 when they were there, else the ms until they would be. */
  take(client: string, calls: number): number {
    const { rateLimitPerSecond: rate, rateLimitBurst: burst, rateLimitExempt: exempt } = this.#limits
    if (rate <= 0 || exempt.includes(client) || (exempt.includes('loopback') && isLoopbackAddress(client))) return 0
    const now = this.#now()
    let bucket = this.#buckets.get(client)
    if (bucket === undefined) {
      if (this.#buckets.size >= MAX_TRACKED_CLIENTS) this.#forgetIdle(now)
      bucket = { tokens: burst, at: now }
      this.#buckets.set(client, bucket)
    } else {
      bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) * rate) / 1000)
      bucket.at = now
    }
    if (bucket.tokens >= calls) {
      bucket.tokens -= calls
      return 0
    }
    return Math.ceil(((Math.min(calls, burst) - bucket.tokens) * 1000) / rate)
  }

  #forgetIdle(now: number): void {
    const { rateLimitPerSecond: rate, rateLimitBurst: burst } = this.#limits
    for (const [client, bucket] of this.#buckets) if (bucket.tokens + ((now - bucket.at) * rate) / 1000 >= burst) this.#buckets.delete(client)
    // every one of them busy: the oldest go (they get a full bucket back, once)
    for (const client of this.#buckets.keys()) {
      if (this.#buckets.size < MAX_TRACKED_CLIENTS) break
      this.#buckets.delete(client)
    }
  }
}
