// JSON-RPC over HTTP: POST `/` with an application/json body, GET `/health`, CORS preflights, and
// GET of a static site's files when one is given (the explorer: `/` is its index.html). Reads
// bodies within `maxRequestBytes` (past ABUSIVE_FACTOR times that the connection is closed unread),
// aborts a call's signal when its client disconnects, and hands the text to the dispatcher.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { RpcError } from './errors.ts'
import { stringify } from './json.ts'
import { errorResponse, type CallSession, type JsonRpcId, type RpcDispatcher } from './dispatch.ts'

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
}

export interface RpcHttpOptions {
  maxRequestBytes: number
  corsOrigins: readonly string[] | '*'
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

export class RpcHttpHandler {
  readonly #options: RpcHttpOptions
  readonly #dispatcher: RpcDispatcher
  readonly #server: RpcServerState
  readonly #site: StaticSite | undefined

  constructor(options: RpcHttpOptions, dispatcher: RpcDispatcher, server: RpcServerState, site?: StaticSite) {
    this.#options = options
    this.#dispatcher = dispatcher
    this.#server = server
    this.#site = site
  }

  onRequest(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0]
    const origin = req.headers.origin
    if (origin !== undefined) {
      if (!originAllowed(this.#options.corsOrigins, origin, req.headers.host)) {
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
    const body = await readBody(req, limit, ABUSIVE_FACTOR * limit)
    if (body === 'aborted') return
    if (body === 'too-large' || body === 'too-large-unread') {
      this.#dispatcher.count('unknown', 'http', 'PAYLOAD_TOO_LARGE')
      const error = new RpcError('PAYLOAD_TOO_LARGE', `request body exceeds ${limit} bytes`, { details: { limit } })
      return sendError(res, 413, null, error, body === 'too-large-unread' ? { connection: 'close' } : {})
    }
    const request = new AbortController()
    res.once('close', () => {
      if (!res.writableFinished) request.abort(new RpcError('INTERNAL_ERROR', 'client disconnected'))
    })
    const session: CallSession = { transport: 'http', signal: AbortSignal.any([this.#server.signal, request.signal]), connection: undefined, started: [] }
    const response = await this.#dispatcher.handleMessage(body.toString('utf8'), session)
    if (response === undefined) return void res.writeHead(204).end()
    sendJson(res, 200, response)
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
