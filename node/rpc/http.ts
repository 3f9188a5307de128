// JSON-RPC over HTTP: POST `/` with an application/json body, GET `/health`, CORS preflights, and
// GET of a static site's files when one is given (the explorer: `/` is its index.html). Reads
// bodies within `maxRequestBytes` (past ABUSIVE_FACTOR times that the connection is closed unread),
// aborts a call's signal when its client disconnects, and hands the text to the dispatcher.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { RpcError } from './errors.ts'
import { stringify } from './json.ts'
import type { RpcMetrics } from '../metrics/metrics.ts'
import type { ByteBudget, ReadPacer } from './connections.ts'
import { errorResponse, newSession, type JsonRpcId, type RpcDispatcher } from './dispatch.ts'

/** Beyond this many times `maxRequestBytes` a peer is not mistaken but abusive: it is cut off. */
export const ABUSIVE_FACTOR = 4
const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8' }

/** What the transports share with the server that owns them. */
export interface RpcServerState {
  /** stop() has begun: new calls and connections are refused. */
  readonly stopping: boolean
  /** Aborted when the server gives up on in-flight calls. */
  readonly signal: AbortSignal
  /** Keeps a message's handling in the set stop() waits for. */
  track(promise: Promise<unknown>): void
  /** Bytes in flight on every connection (bodies read, answers unsent). */
  readonly budget: ByteBudget
  /** Request bytes read per event-loop turn, across every connection. */
  readonly pacer: ReadPacer
}

export interface RpcHttpOptions {
  maxRequestBytes: number
  corsOrigins: readonly string[] | '*'
  allowedHosts: readonly string[] | '*'
  host: string
}

/** Static files served on GET (the explorer); only the paths it lists exist. */
export interface StaticSite {
  file(path: string): { body: Buffer; contentType: string } | undefined
}

const IP_OR_LOCALHOST = /^(?:localhost|\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\])(?::\d+)?$/

/**
 * Whether a browser page from `origin` may call. Besides the configured origins, a page this
 * server served itself (the explorer: same scheme-less host as the request's Host) may, when that
 * host is an IP address or localhost: a DNS name could be an attacker's rebinding to 127.0.0.1,
 * so a node served under a name lists it in `corsOrigins`.
 */
export function originAllowed(allowed: readonly string[] | '*', origin: string, host?: string): boolean {
  if (allowed === '*' || allowed.includes(origin)) return true
  return host !== undefined && IP_OR_LOCALHOST.test(host) && origin === `http://${host}`
}

const STATIC_HEADERS = {
  'cache-control': 'no-cache',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
}

/**
 * The `Host` header's name is one we serve (geth's vhosts): a page on another site that rebinds its
 * DNS name to 127.0.0.1 still sends its own name, and is refused. No header (HTTP/1.0 tools): served.
 */
export function hostAllowed(options: Pick<RpcHttpOptions, 'allowedHosts' | 'host'>, header: string | undefined): boolean {
  if (header === undefined || options.allowedHosts === '*') return true
  const name = hostName(header)
  return name === options.host.toLowerCase() || options.allowedHosts.some((allowed) => allowed.toLowerCase() === name)
}

function hostName(header: string): string {
  const value = header.trim().toLowerCase()
  if (value.startsWith('[')) return value.slice(1, value.indexOf(']') === -1 ? undefined : value.indexOf(']'))
  const colon = value.indexOf(':')
  return colon === -1 || value.indexOf(':', colon + 1) !== -1 ? value : value.slice(0, colon)
}

export class RpcHttpHandler {
  readonly #options: RpcHttpOptions
  readonly #dispatcher: RpcDispatcher
  readonly #server: RpcServerState
  readonly #site: StaticSite | undefined
  readonly #metrics: RpcMetrics | undefined

  constructor(options: RpcHttpOptions, dispatcher: RpcDispatcher, server: RpcServerState, metrics: RpcMetrics | undefined, site?: StaticSite) {
    this.#options = options
    this.#dispatcher = dispatcher
    this.#server = server
    this.#metrics = metrics
    this.#site = site
  }

  onRequest(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0]
    if (!hostAllowed(this.#options, req.headers.host)) {
      req.resume()
      return this.#refuse(res, 403, new RpcError('HOST_NOT_ALLOWED', 'host not allowed: start the node with --rpc-hosts naming it', { rpcCode: -32600 }))
    }
    const origin = req.headers.origin
    if (origin !== undefined) {
      if (!originAllowed(this.#options.corsOrigins, origin, req.headers.host)) {
        if (req.method === 'POST' || req.method === 'OPTIONS') {
          req.resume()
          return this.#refuse(res, 403, new RpcError('ORIGIN_NOT_ALLOWED', 'origin not allowed: start the node with --rpc-cors naming it', { rpcCode: -32600 }))
        }
      } else {
        res.setHeader('access-control-allow-origin', origin)
        res.setHeader('vary', 'origin')
      }
    }
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { 'access-control-allow-methods': 'POST, GET, OPTIONS', 'access-control-allow-headers': 'content-type', 'access-control-max-age': '600' })
      return void res.end()
    }
    const stopping = this.#server.stopping
    if (path === '/health' && (req.method === 'GET' || req.method === 'HEAD')) {
      return sendJson(res, stopping ? 503 : 200, JSON.stringify({ status: stopping ? 'stopping' : 'ok' }))
    }
    if ((req.method === 'GET' || req.method === 'HEAD') && this.#site !== undefined) {
      const file = this.#site.file(path === '/' ? '/index.html' : (path ?? ''))
      if (file !== undefined) {
        res.writeHead(200, { ...STATIC_HEADERS, 'content-type': file.contentType, 'content-length': file.body.length })
        return void res.end(req.method === 'HEAD' ? undefined : file.body)
      }
    }
    if (path !== '/') return sendJson(res, 404, JSON.stringify({ error: 'not found' }))
    if (req.method !== 'POST') return sendJson(res, 405, JSON.stringify({ error: 'use POST for JSON-RPC, or a WebSocket' }), { allow: 'POST, OPTIONS' })
    this.#server.track(this.#onPost(req, res))
  }

  async #onPost(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.#server.stopping) return sendError(res, 503, null, new RpcError('LIMIT_EXCEEDED', 'server is shutting down'), { connection: 'close' })
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase()
    if (contentType !== 'application/json') {
      req.resume()
      return sendError(res, 415, null, new RpcError('INVALID_REQUEST', 'content-type must be application/json'))
    }
    const limit = this.#options.maxRequestBytes
    const budget = this.#server.budget
    const read = await readBody(req, limit, ABUSIVE_FACTOR * limit, budget, this.#server.pacer)
    const body = read.body
    // the body's bytes stay reserved until its answer is sent
    let reserved = read.reserved
    const release = (): void => {
      budget.release(reserved)
      reserved = 0
    }
    if (body === 'aborted') return release()
    if (body === 'busy') {
      release()
      return this.#refuse(res, 503, new RpcError('SERVER_BUSY', 'the server is busy: retry later'), { connection: 'close' })
    }
    if (body === 'too-large' || body === 'too-large-unread') {
      release()
      this.#dispatcher.count('unknown', 'http', 'PAYLOAD_TOO_LARGE')
      const error = new RpcError('PAYLOAD_TOO_LARGE', `request body exceeds ${limit} bytes`, { details: { limit } })
      return sendError(res, 413, null, error, body === 'too-large-unread' ? { connection: 'close' } : {})
    }
    const request = new AbortController()
    res.once('close', () => {
      if (!res.writableFinished) request.abort(new RpcError('INTERNAL_ERROR', 'client disconnected'))
    })
    const session = newSession('http', AbortSignal.any([this.#server.signal, request.signal]), undefined, req.socket.remoteAddress ?? '?')
    res.once('close', () => {
      release()
      budget.release(session.reserved)
      session.reserved = 0
    })
    const response = await this.#dispatcher.handleMessage(body.toString('utf8'), session)
    if (session.retryAfterMs !== undefined) return sendJson(res, 429, response ?? '', { 'retry-after': String(Math.ceil(session.retryAfterMs / 1000)) })
    if (response === undefined) return void res.writeHead(204).end()
    sendJson(res, 200, response)
  }

  #refuse(res: ServerResponse, status: number, error: RpcError, headers: Record<string, string> = {}): void {
    this.#metrics?.rpcRefusals.inc({ reason: error.code })
    sendError(res, status, null, error, headers)
  }
}

function sendJson(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return
  res.writeHead(status, { ...JSON_HEADERS, 'content-length': Buffer.byteLength(body), ...headers })
  res.end(body)
}

function sendError(res: ServerResponse, status: number, id: JsonRpcId, error: RpcError, headers: Record<string, string> = {}): void {
  sendJson(res, status, stringify(errorResponse(id, error)), headers)
}

/**
 * Reads a body of at most `limit` bytes. A larger one is read and dropped up to `hardLimit`, so the
 * client can read our 413; past that (or when Content-Length says so) it is left unread and the
 * connection is to be closed.
 */
function readBody(req: IncomingMessage, limit: number, hardLimit: number, budget: ByteBudget, pacer: ReadPacer): Promise<{ body: Buffer | 'too-large' | 'too-large-unread' | 'aborted' | 'busy'; reserved: number }> {
  return new Promise((resolve) => {
    const declared = Number(req.headers['content-length'])
    if (declared > hardLimit) return resolve({ body: 'too-large-unread', reserved: 0 })
    let chunks: Buffer[] = []
    let total = 0
    let reserved = 0
    const stop = (body: 'too-large-unread' | 'busy'): void => {
      req.off('data', onData)
      req.pause()
      pacer.forget(req)
      resolve({ body, reserved })
    }
    const onData = (chunk: Buffer): void => {
      // a body's first chunk is never held back (most calls are one chunk: they go straight on)
      pacer.onRead(req, chunk.length, total > 0)
      total += chunk.length
      if (total > hardLimit) return stop('too-large-unread')
      if (total <= limit) {
        if (!budget.tryReserve(chunk.length)) return stop('busy')
        reserved += chunk.length
        chunks.push(chunk)
      } else if (chunks.length > 0) {
        // past the limit the body is only drained for the 413: what was kept goes back
        chunks = []
        budget.release(reserved)
        reserved = 0
      }
    }
    req.on('data', onData)
    req.once('end', () => resolve({ body: total > limit ? 'too-large' : Buffer.concat(chunks, total), reserved }))
    req.once('error', () => resolve({ body: 'aborted', reserved }))
    req.once('close', () => resolve({ body: 'aborted', reserved }))
  })
}
