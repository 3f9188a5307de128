// A real RpcServer on 127.0.0.1:0 with test methods, and raw HTTP/WebSocket probes that talk to it
// the way an outside client would.
import { createHash } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { WebSocket } from 'ws'
import { OpenLedgerError } from '../../../runtime/errors.ts'
import { createLogger, type Logger } from '../../../lib/logger.ts'
import { createMetrics, type NodeMetrics } from '../../../node/metrics/metrics.ts'
import { defineMethod, defineSubscription, param, RpcRegistry } from '../../../node/rpc/registry.ts'
import { RpcServer, type RpcServerOptions } from '../../../node/rpc/server.ts'

export interface Teardown {
  teardown(fn: () => unknown): void
}

/** Emits to every active `test_subscribeTicks` subscription; counts starts and stops. */
export class Ticker {
  readonly #listeners = new Set<(value: unknown) => void>()
  started = 0
  stopped = 0
  get active(): number {
    return this.#listeners.size
  }
  emit(value: unknown): void {
    for (const listener of this.#listeners) listener(value)
  }
  add(listener: (value: unknown) => void): () => void {
    this.started++
    this.#listeners.add(listener)
    return () => {
      this.stopped++
      this.#listeners.delete(listener)
    }
  }
}

export interface Fixture {
  server: RpcServer
  registry: RpcRegistry
  metrics: NodeMetrics
  ticker: Ticker
  /** JSON log records written by the server. */
  logs: Array<Record<string, unknown>>
  /** What test_notify and test_wait saw. */
  seen: { notified: string[]; aborted: number; waiting: number; sleeping: number }
  url: string
  wsUrl: string
}

export function testRegistry(ticker: Ticker, seen: Fixture['seen']): RpcRegistry {
  const registry = new RpcRegistry()
  // what a large body carried: its text's length and SHA-256
  registry.add(defineMethod({ name: 'test_digest', params: [param.string({ maxLength: 2_000_000 }).named('text')], handler: ([text]) => `${text.length}:${createHash('sha256').update(text).digest('hex')}` }))
  registry.add(defineMethod({ name: 'test_echo', params: [param.string({ maxLength: 100 }).named('text')], handler: ([text]) => text }))
  registry.add(defineMethod({
    name: 'test_add',
    params: [param.uint().named('a'), param.uint().named('b')],
    handler: ([a, b]) => a + b,
  }))
  registry.add(defineMethod({
    name: 'test_balance',
    params: [param.address().named('address'), param.optional(param.hash()).named('at')],
    handler: ([address, at]) => ({ address, at: at ?? null, free: 10n ** 27n }),
  }))
  registry.add(defineMethod({ name: 'test_positional', params: [param.boolean(), param.optional(param.decimal())], handler: ([flag, amount]) => ({ flag, amount: amount ?? null }) }))
  registry.add(defineMethod({
    name: 'test_fail',
    params: [],
    handler: () => {
      throw new OpenLedgerError('NONCE_TOO_LOW', 'nonce too low: expected 5', { details: { expected: 5, amount: 7n } })
    },
  }))
  registry.add(defineMethod({
    name: 'test_bug',
    params: [],
    handler: () => {
      throw new TypeError('secret internal detail')
    },
  }))
  registry.add(defineMethod({ name: 'test_undefined', params: [], handler: () => undefined }))
  registry.add(defineMethod({
    name: 'test_notify',
    params: [param.string({ maxLength: 20 })],
    handler: ([text]) => {
      seen.notified.push(text)
      return 'ignored'
    },
  }))
  registry.add(defineMethod({
    name: 'test_sleep',
    params: [param.uint({ max: 10_000 }).named('ms')],
    handler: async ([ms]) => {
      seen.sleeping++
      await sleep(ms)
      return ms
    },
  }))
  // Waits until its signal aborts (client gone, server stopping).
  registry.add(defineMethod({
    name: 'test_wait',
    params: [],
    handler: (_params, { signal }) => {
      seen.waiting++
      return new Promise((_resolve, reject) => {
        signal.addEventListener('abort', () => {
          seen.aborted++
          reject(signal.reason)
        }, { once: true })
      })
    },
  }))
  registry.add(defineMethod({ name: 'test_big', params: [param.uint({ max: 10_000_000 })], handler: ([size]) => 'x'.repeat(size) }))
  registry.addSubscription(defineSubscription({
    subscribe: 'test_subscribeTicks',
    unsubscribe: 'test_unsubscribeTicks',
    notification: 'test_tick',
    params: [param.optional(param.uint()).named('first')],
    // Emits `first` (when given) before the subscription id is even sent: the server must hold it.
    start: async ([first], emit) => {
      const stop = ticker.add(emit)
      if (first !== undefined) emit(first)
      await sleep(1)
      return stop
    },
  }))
  registry.addSubscription(defineSubscription({
    subscribe: 'test_subscribeBroken',
    unsubscribe: 'test_unsubscribeBroken',
    notification: 'test_broken',
    params: [],
    start: () => {
      throw new OpenLedgerError('NOT_READY', 'the chain is not ready')
    },
  }))
  return registry
}

export async function startServer(t: Teardown, options: RpcServerOptions = {}): Promise<Fixture> {
  const ticker = new Ticker()
  const seen = { notified: [] as string[], aborted: 0, waiting: 0, sleeping: 0 }
  const registry = testRegistry(ticker, seen)
  const metrics = createMetrics({ defaultMetrics: false })
  const logs: Array<Record<string, unknown>> = []
  const logger: Logger = createLogger({ level: 'debug', format: 'json', write: (line) => void logs.push(JSON.parse(line) as Record<string, unknown>) })
  const server = new RpcServer({ port: 0, pingIntervalMs: 0, stopTimeoutMs: 2_000, ...options }, { logger, methods: registry, metrics })
  await server.start()
  t.teardown(() => server.stop())
  const { host, port } = server.address
  return { server, registry, metrics, ticker, logs, seen, url: `http://${host}:${port}/`, wsUrl: `ws://${host}:${port}/` }
}

export interface HttpAnswer {
  status: number
  headers: Headers
  text: string
  json: unknown
}

/** POSTs a body (a value is JSON-encoded, a string is sent as is). */
export async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await response.text()
  let json: unknown
  try {
    json = text === '' ? undefined : JSON.parse(text)
  } catch {
    json = undefined
  }
  return { status: response.status, headers: response.headers, text, json }
}

let nextProbeId = 1_000_000

/** A raw WebSocket that keeps every message it receives, to be awaited in order. */
export class WsProbe {
  readonly ws: WebSocket
  readonly closed: Promise<{ code: number; reason: string }>
  readonly #messages: unknown[] = []
  #wake: (() => void) | undefined

  private constructor(ws: WebSocket) {
    this.ws = ws
    ws.on('message', (data) => {
      this.#messages.push(JSON.parse(String(data)))
      this.#wake?.()
    })
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => {
      this.#wake?.()
      resolve({ code, reason: reason.toString() })
    }))
    ws.on('error', () => {})
  }

  static async open(url: string, options: { origin?: string } = {}): Promise<WsProbe> {
    const ws = new WebSocket(url, options.origin === undefined ? {} : { origin: options.origin })
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
    })
    return new WsProbe(ws)
  }

  send(value: unknown): void {
    this.ws.send(typeof value === 'string' ? value : JSON.stringify(value))
  }

  /** The next message (in arrival order); fails after `ms`. */
  async next(ms = 5_000): Promise<unknown> {
    const deadline = Date.now() + ms
    while (this.#messages.length === 0) {
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error('socket closed while waiting for a message')
      const left = deadline - Date.now()
      if (left <= 0) throw new Error('no message within the time limit')
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.#wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
    }
    return this.#messages.shift()
  }

  /** Sends a request and waits for the message with its id (others stay queued in order). */
  async call(method: string, params: unknown = [], id: number | string = nextProbeId++): Promise<Record<string, unknown>> {
    this.send({ jsonrpc: '2.0', id, method, params })
    const skipped: unknown[] = []
    try {
      while (true) {
        const message = (await this.next()) as Record<string, unknown>
        if (message['id'] === id) return message
        skipped.push(message)
      }
    } finally {
      this.#messages.unshift(...skipped)
    }
  }

  /** Resolves true if no message arrives within `ms`. */
  async quiet(ms: number): Promise<boolean> {
    await sleep(ms)
    return this.#messages.length === 0
  }

  get pendingMessages(): number {
    return this.#messages.length
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000)
    await this.closed
  }
}

/** Polls until `check` is true; fails after `ms`. */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await sleep(5)
  }
}
