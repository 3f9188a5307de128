// JSON-RPC clients for the CLI, tests and benches: RpcClient over HTTP (global fetch) and
// WsRpcClient over WebSocket (calls and subscriptions). A server error becomes an RpcClientError
// with the server's numeric code (`rpcCode`), its string `data.code` (`code`) and its message;
// failures of the client's own have codes of their own:
//   RPC_UNREACHABLE   no connection (refused, DNS, reset) — the cause is kept
//   RPC_TIMEOUT       no answer within the timeout
//   RPC_ABORTED       the caller's signal aborted the call
//   RPC_BAD_RESPONSE  the answer is not a JSON-RPC response
//   RPC_CLOSED        the WebSocket closed before the answer came
//   RPC_ERROR         a server error without a string data.code
// Params are sent with bigints as decimal strings and Uint8Arrays as 0x-hex (json.ts).
import { WebSocket, type RawData } from 'ws'
import { OpenLedgerError } from '../../runtime/errors.ts'
import type { RpcMethodName, RpcParamsOf, RpcResult } from './contract.ts'
import { stringify } from './json.ts'

export type RpcClientLocalCode = 'RPC_UNREACHABLE' | 'RPC_TIMEOUT' | 'RPC_ABORTED' | 'RPC_BAD_RESPONSE' | 'RPC_CLOSED' | 'RPC_ERROR'

export class RpcClientError extends OpenLedgerError<string> {
  /** The server's numeric JSON-RPC code; undefined for failures of the client's own. */
  readonly rpcCode: number | undefined

  constructor(code: RpcClientLocalCode | (string & NonNullable<unknown>), message: string, options?: { rpcCode?: number; cause?: unknown; details?: Record<string, unknown> }) {
    super(code, message, options)
    this.rpcCode = options?.rpcCode
  }
}

export type RpcParams = readonly unknown[] | Readonly<Record<string, unknown>>

export interface RpcClientOptions {
  /** Per-call timeout in ms; default 30 s. */
  timeoutMs?: number
  headers?: Record<string, string>
}

export interface CallOptions {
  signal?: AbortSignal
  timeoutMs?: number
}

export type BatchResult = { ok: true; result: unknown } | { ok: false; error: RpcClientError }

const DEFAULT_TIMEOUT_MS = 30_000

export class RpcClient {
  readonly url: string
  readonly #timeoutMs: number
  readonly #headers: Record<string, string>
  #nextId = 1

  constructor(url: string, options: RpcClientOptions = {}) {
    this.url = url
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.#headers = { ...options.headers, 'content-type': 'application/json' }
  }

  /** A method of the contract (contract.ts) answers with its view; any other with the type asked for. */
  call<M extends RpcMethodName>(method: M, params?: RpcParamsOf<M>, options?: CallOptions): Promise<RpcResult<M>>
  call<T = unknown>(method: string, params?: RpcParams, options?: CallOptions): Promise<T>
  async call(method: string, params: RpcParams = [], options: CallOptions = {}): Promise<unknown> {
    const id = this.#nextId++
    const response = await this.#post(stringify({ jsonrpc: '2.0', id, method, params }), options)
    return readResponse(response, id)
  }

  /** Sends the calls as one batch; results come back in the order of `calls`. */
  async batch(calls: readonly { method: string; params?: RpcParams }[], options: CallOptions = {}): Promise<BatchResult[]> {
    const ids = calls.map(() => this.#nextId++)
    const body = stringify(calls.map((call, i) => ({ jsonrpc: '2.0', id: ids[i], method: call.method, params: call.params ?? [] })))
    const response = await this.#post(body, options)
    if (!Array.isArray(response)) {
      readResponse(response, null) // a batch-level error (limit, parse) throws here
      throw new RpcClientError('RPC_BAD_RESPONSE', 'expected an array in answer to a batch')
    }
    const byId = new Map<unknown, unknown>()
    for (const item of response) byId.set(typeof item === 'object' && item !== null ? (item as Record<string, unknown>)['id'] : undefined, item)
    return ids.map((id): BatchResult => {
      try {
        return { ok: true, result: readResponse(byId.get(id), id) }
      } catch (error) {
        if (error instanceof RpcClientError) return { ok: false, error }
        throw error
      }
    })
  }

  async #post(body: string, options: CallOptions): Promise<unknown> {
    const timeout = AbortSignal.timeout(options.timeoutMs ?? this.#timeoutMs)
    const signal = options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout])
    let status: number
    let text: string
    try {
      const response = await fetch(this.url, { method: 'POST', headers: this.#headers, body, signal })
      status = response.status
      text = await response.text()
    } catch (error) {
      if (timeout.aborted) throw new RpcClientError('RPC_TIMEOUT', `no answer from ${this.url} within ${options.timeoutMs ?? this.#timeoutMs} ms`, { cause: error })
      if (options.signal?.aborted === true) throw new RpcClientError('RPC_ABORTED', 'call aborted', { cause: error })
      throw new RpcClientError('RPC_UNREACHABLE', `cannot reach ${this.url}: ${describeCause(error)}`, { cause: error })
    }
    if (status === 204) throw new RpcClientError('RPC_BAD_RESPONSE', 'empty answer (HTTP 204)', { details: { status } })
    try {
      return JSON.parse(text) as unknown
    } catch (error) {
      throw new RpcClientError('RPC_BAD_RESPONSE', `HTTP ${status}: the answer is not JSON`, { cause: error, details: { status } })
    }
  }
}

// ---------------------------------------------------------------------------------------------

export interface RpcSubscription {
  readonly id: string
  /** Stops notifications locally at once, then tells the server; true if it had the subscription. */
  unsubscribe(): Promise<boolean>
}

export interface SubscribeOptions extends CallOptions {
  /** The unsubscribe method; default: the subscribe name with `_subscribe` → `_unsubscribe`. */
  unsubscribe?: string
}

interface PendingCall {
  resolve(result: unknown): void
  reject(error: RpcClientError): void
  /** Runs synchronously on success, before any later message (a first notification) is read. */
  onResult?: (result: unknown) => void
  timer: NodeJS.Timeout
}

export class WsRpcClient {
  readonly url: string
  /** Resolves when the socket has closed, for whatever reason. */
  readonly closed: Promise<{ code: number; reason: string }>
  readonly #ws: WebSocket
  readonly #timeoutMs: number
  readonly #pending = new Map<number, PendingCall>()
  readonly #subscriptions = new Map<string, (result: unknown) => void>()
  #nextId = 1

  private constructor(url: string, ws: WebSocket, timeoutMs: number) {
    this.url = url
    this.#ws = ws
    this.#timeoutMs = timeoutMs
    this.closed = new Promise((resolve) => {
      ws.once('close', (code, reason) => {
        this.#subscriptions.clear()
        for (const pending of [...this.#pending.values()]) {
          pending.reject(new RpcClientError('RPC_CLOSED', `connection closed (${code}) before the answer came`, { details: { closeCode: code } }))
        }
        resolve({ code, reason: reason.toString() })
      })
    })
    ws.on('message', (data) => this.#onMessage(data))
    ws.on('error', () => {}) // surfaced through 'close' and the pending calls
  }

  static async connect(url: string, options: RpcClientOptions = {}): Promise<WsRpcClient> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
    const ws = new WebSocket(url, { headers: options.headers ?? {}, handshakeTimeout: timeoutMs, perMessageDeflate: false })
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('unexpected-response', (_req, res) => {
        ws.terminate()
        reject(new RpcClientError('RPC_UNREACHABLE', `cannot open a WebSocket to ${url}: HTTP ${res.statusCode ?? '?'}`, { details: { status: res.statusCode } }))
      })
      ws.once('error', (error) => reject(new RpcClientError('RPC_UNREACHABLE', `cannot reach ${url}: ${describeCause(error)}`, { cause: error })))
    })
    return new WsRpcClient(url, ws, timeoutMs)
  }

  /** A method of the contract (contract.ts) answers with its view; any other with the type asked for. */
  call<M extends RpcMethodName>(method: M, params?: RpcParamsOf<M>, options?: CallOptions): Promise<RpcResult<M>>
  call<T = unknown>(method: string, params?: RpcParams, options?: CallOptions): Promise<T>
  call(method: string, params: RpcParams = [], options: CallOptions = {}): Promise<unknown> {
    return this.#request(method, params, options, undefined)
  }

  async subscribe<T = unknown>(method: string, params: RpcParams, onNotification: (result: T) => void, options: SubscribeOptions = {}): Promise<RpcSubscription> {
    const unsubscribeMethod = options.unsubscribe ?? (method.includes('_subscribe') ? method.replace('_subscribe', '_unsubscribe') : undefined)
    if (unsubscribeMethod === undefined) throw new RpcClientError('RPC_ERROR', `cannot guess the unsubscribe method of ${method}: pass options.unsubscribe`)
    const register = (result: unknown): void => {
      if (typeof result === 'string' || typeof result === 'number') this.#subscriptions.set(String(result), onNotification as (result: unknown) => void)
    }
    const result = await this.#request(method, params, options, register)
    if (typeof result !== 'string' && typeof result !== 'number') throw new RpcClientError('RPC_BAD_RESPONSE', `${method} did not answer with a subscription id`)
    const id = String(result)
    return {
      id,
      unsubscribe: async () => {
        this.#subscriptions.delete(id)
        return (await this.call<boolean>(unsubscribeMethod, [result], options)) === true
      },
    }
  }

  async close(): Promise<void> {
    if (this.#ws.readyState === WebSocket.OPEN || this.#ws.readyState === WebSocket.CONNECTING) this.#ws.close(1000)
    await this.closed
  }

  #request(method: string, params: RpcParams, options: CallOptions, onResult: ((result: unknown) => void) | undefined): Promise<unknown> {
    if (this.#ws.readyState !== WebSocket.OPEN) return Promise.reject(new RpcClientError('RPC_CLOSED', 'the connection is closed'))
    if (options.signal?.aborted === true) return Promise.reject(new RpcClientError('RPC_ABORTED', 'call aborted'))
    const id = this.#nextId++
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs
    return new Promise((resolve, reject) => {
      const settle = (error: RpcClientError | undefined, result?: unknown): void => {
        const pending = this.#pending.get(id)
        if (pending === undefined) return
        this.#pending.delete(id)
        clearTimeout(pending.timer)
        options.signal?.removeEventListener('abort', onAbort)
        if (error === undefined) resolve(result)
        else reject(error)
      }
      const onAbort = (): void => settle(new RpcClientError('RPC_ABORTED', 'call aborted'))
      const timer = setTimeout(() => settle(new RpcClientError('RPC_TIMEOUT', `no answer to ${method} within ${timeoutMs} ms`)), timeoutMs)
      this.#pending.set(id, {
        resolve: (result) => settle(undefined, result),
        reject: (error) => settle(error),
        ...(onResult === undefined ? {} : { onResult }),
        timer,
      })
      options.signal?.addEventListener('abort', onAbort, { once: true })
      this.#ws.send(stringify({ jsonrpc: '2.0', id, method, params }), (error) => {
        if (error !== undefined && error !== null) settle(new RpcClientError('RPC_CLOSED', `cannot send: ${error.message}`, { cause: error }))
      })
    })
  }

  #onMessage(data: RawData): void {
    let message: unknown
    try {
      message = JSON.parse(Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8'))
    } catch {
      return // not ours to answer; the server never sends this
    }
    for (const item of Array.isArray(message) ? (message as unknown[]) : [message]) this.#dispatch(item)
  }

  #dispatch(item: unknown): void {
    if (typeof item !== 'object' || item === null) return
    const record = item as Record<string, unknown>
    const params = record['params']
    if (typeof record['method'] === 'string' && typeof params === 'object' && params !== null) {
      const { subscription, result } = params as { subscription?: unknown; result?: unknown }
      const handler = this.#subscriptions.get(String(subscription))
      if (handler === undefined) return // unsubscribed locally, the server has not heard yet
      try {
        handler(result)
      } catch (error) {
        // A throwing callback is the caller's bug: report it without corrupting this client's state.
        queueMicrotask(() => {
          throw error
        })
      }
      return
    }
    const id = record['id']
    const pending = typeof id === 'number' ? this.#pending.get(id) : undefined
    if (pending === undefined) return
    try {
      const result = readResponse(item, id)
      pending.onResult?.(result)
      pending.resolve(result)
    } catch (error) {
      pending.reject(error instanceof RpcClientError ? error : new RpcClientError('RPC_BAD_RESPONSE', 'unreadable answer', { cause: error }))
    }
  }
}

// ---------------------------------------------------------------------------------------------

/** The result of a JSON-RPC response, or its error as an RpcClientError. */
function readResponse(response: unknown, id: unknown): unknown {
  if (typeof response !== 'object' || response === null || Array.isArray(response)) throw new RpcClientError('RPC_BAD_RESPONSE', 'the answer is not a JSON-RPC response')
  const record = response as Record<string, unknown>
  const error = record['error']
  if (typeof error === 'object' && error !== null) {
    const { code, message, data } = error as { code?: unknown; message?: unknown; data?: unknown }
    const dataCode = typeof data === 'object' && data !== null ? (data as Record<string, unknown>)['code'] : undefined
    return throwServerError(
      typeof dataCode === 'string' ? dataCode : 'RPC_ERROR',
      typeof message === 'string' ? message : 'server error',
      typeof code === 'number' ? code : undefined,
      typeof data === 'object' && data !== null ? { ...(data as Record<string, unknown>) } : undefined,
    )
  }
  if (record['id'] !== id || !Object.hasOwn(record, 'result')) throw new RpcClientError('RPC_BAD_RESPONSE', 'the answer does not match the call')
  return record['result']
}

function throwServerError(code: string, message: string, rpcCode: number | undefined, details: Record<string, unknown> | undefined): never {
  throw new RpcClientError(code, message, { ...(rpcCode === undefined ? {} : { rpcCode }), ...(details === undefined ? {} : { details }) })
}

function describeCause(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error
  if (cause instanceof Error) return (cause as NodeJS.ErrnoException).code ?? cause.message
  return String(cause)
}
