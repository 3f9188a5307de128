// Serves the metrics registry to Prometheus on its own port: `GET /metrics` in the text exposition
// format, 404 for any other path. Kept apart from the RPC port so it can stay on a private network.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Registry } from 'prom-client'
import { OpenLedgerError } from '../../runtime/errors.ts'
import { boundAddress, closeHttp, listenHttp } from '../../lib/httpListen.ts'
import type { Logger } from '../../lib/logger.ts'

export interface MetricsServerOptions {
  host?: string
  /** 0 picks a free port (tests). */
  port?: number
}

export interface MetricsServerComponents {
  logger: Logger
  registry: Registry
}

export const METRICS_SERVER_DEFAULTS = { host: '127.0.0.1', port: 9615 } as const

export type MetricsServerErrorCode = 'LISTEN_FAILED' | 'NOT_STARTED'
export class MetricsServerError extends OpenLedgerError<MetricsServerErrorCode> {}

export class MetricsServer {
  readonly #host: string
  readonly #port: number
  readonly #registry: Registry
  readonly #log: Logger
  #server: Server | undefined

  constructor(options: MetricsServerOptions, components: MetricsServerComponents) {
    this.#host = options.host ?? METRICS_SERVER_DEFAULTS.host
    this.#port = options.port ?? METRICS_SERVER_DEFAULTS.port
    this.#registry = components.registry
    this.#log = components.logger.child('metrics')
  }

  get address(): { host: string; port: number } {
    const address = boundAddress(this.#server)
    if (address === undefined) throw new MetricsServerError('NOT_STARTED', 'metrics server is not listening')
    return address
  }

  async start(): Promise<void> {
    if (this.#server !== undefined) return
    const server = createServer((req, res) => void this.#respond(req, res))
    await listenHttp(server, this.#host, this.#port, (cause) => new MetricsServerError('LISTEN_FAILED', `cannot listen on ${this.#host}:${this.#port}`, { cause }))
    server.on('error', (error) => this.#log.error('metrics server error', { error }))
    this.#server = server
    this.#log.info('metrics server listening', this.address)
  }

  async stop(): Promise<void> {
    const server = this.#server
    if (server === undefined) return
    this.#server = undefined
    await closeHttp(server)
    this.#log.info('metrics server stopped')
  }

  async #respond(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]
    if (path !== '/metrics') return void res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')
    if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n')
    try {
      const body = await this.#registry.metrics()
      res.writeHead(200, { 'content-type': this.#registry.contentType, 'content-length': Buffer.byteLength(body) })
      res.end(req.method === 'HEAD' ? undefined : body)
    } catch (error) {
      this.#log.error('collecting metrics failed', { error, stack: error instanceof Error ? error.stack : undefined })
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' })
      res.end('metrics collection failed\n')
    }
  }
}
