// Request/response, shared by both network implementations: the response frame, the serving path
// (rate limit, size limits, handler, error statuses) and the calling side's checks.
//
// Wire format (libp2p): one stream per call; the caller writes one length-prefixed request frame
// and closes its side; the server writes one length-prefixed response frame, whose first byte is
// a status and the rest the payload (the response, or a UTF-8 error message of at most 256 bytes),
// and closes. Status numbers are permanent: never renumber or reuse one.
//
//   0 OK                    1 INVALID_REQUEST (the caller is scored down)
//   2 SERVER_ERROR          3 RATE_LIMITED (the caller is scored down)
//   4 RESOURCE_UNAVAILABLE
import type { Logger } from '../lib/logger.ts'
import { P2pError, type P2pErrorCode } from './errors.ts'
import type { PenaltyReason, RequestHandler } from './interface.ts'
import type { P2pMetrics } from './metrics.ts'
import { protocolLabel, type NetworkPolicy, type ProtocolLimits, type WireProtocol } from './options.ts'
import { RateLimiter } from './rateLimiter.ts'

export const ResponseStatus = { ok: 0, invalidRequest: 1, serverError: 2, rateLimited: 3, resourceUnavailable: 4 } as const
export type ResponseStatus = (typeof ResponseStatus)[keyof typeof ResponseStatus]

const STATUS_ERROR_CODE: Readonly<Record<number, P2pErrorCode>> = {
  [ResponseStatus.invalidRequest]: 'INVALID_REQUEST',
  [ResponseStatus.serverError]: 'REMOTE_ERROR',
  [ResponseStatus.rateLimited]: 'RATE_LIMITED',
  [ResponseStatus.resourceUnavailable]: 'RESOURCE_UNAVAILABLE',
}

const MAX_ERROR_MESSAGE_BYTES = 256

export function encodeResponse(status: ResponseStatus, payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(1 + payload.length)
  frame[0] = status
  frame.set(payload, 1)
  return frame
}

function errorFrame(status: ResponseStatus, message: string): Uint8Array {
  return encodeResponse(status, Buffer.from(message, 'utf8').subarray(0, MAX_ERROR_MESSAGE_BYTES))
}

/**
 * The payload of a response frame, or the `P2pError` its status stands for. A frame that is not a
 * response is INVALID_RESPONSE (the caller scores the peer down).
 */
export function decodeResponse(frame: Uint8Array, protocol: WireProtocol, peer: string): Uint8Array {
  const status = frame[0]
  if (status === ResponseStatus.ok) return frame.subarray(1)
  const code = status === undefined ? undefined : STATUS_ERROR_CODE[status]
  if (code === undefined) throw new P2pError('INVALID_RESPONSE', `peer ${peer} answered ${protocol} with ${status === undefined ? 'an empty frame' : `unknown status ${status}`}`)
  const message = Buffer.from(frame.subarray(1, 1 + MAX_ERROR_MESSAGE_BYTES)).toString('utf8').replace(/[^\x20-\x7e]/g, '?')
  throw new P2pError(code, `peer ${peer} answered ${protocol}: ${message}`, { details: { peer, protocol } })
}

/** Checks an outgoing request against the protocol's limit. */
export function checkRequest(limits: ProtocolLimits, protocol: WireProtocol, request: Uint8Array): void {
  if (!(request instanceof Uint8Array)) throw new P2pError('INVALID_REQUEST', 'request must be a Uint8Array')
  if (request.length > limits.maxRequestBytes) {
    throw new P2pError('REQUEST_TOO_LARGE', `request of ${request.length} bytes exceeds ${protocol}'s limit of ${limits.maxRequestBytes}`)
  }
}

/**
 * Runs one outgoing call: counts it by result and scores down a peer that answered outside the
 * protocol (RESPONSE_TOO_LARGE, INVALID_RESPONSE).
 */
export async function observeCall(
  context: { metrics: P2pMetrics | undefined; penalize: (peer: string, reason: PenaltyReason) => void },
  peer: string,
  protocol: WireProtocol,
  call: () => Promise<Uint8Array>,
): Promise<Uint8Array> {
  try {
    const response = await call()
    context.metrics?.reqRespRequests.inc({ protocol: protocolLabel(protocol), direction: 'outbound', result: 'OK' })
    return response
  } catch (error) {
    context.metrics?.reqRespRequests.inc({ protocol: protocolLabel(protocol), direction: 'outbound', result: error instanceof P2pError ? error.code : 'INTERNAL' })
    if (error instanceof P2pError && (error.code === 'RESPONSE_TOO_LARGE' || error.code === 'INVALID_RESPONSE')) context.penalize(peer, 'invalidResponse')
    throw error
  }
}

/**
 * A signal that aborts at the caller's signal or after `timeoutMs`, and a mapping of the error a
 * call failed with to ABORTED / REQUEST_TIMEOUT when one of them was the cause. The timer is a
 * referenced one (a pending call keeps the process alive, as an open socket would); `clear()` it
 * when the call is over.
 */
export function callSignal(timeoutMs: number, signal: AbortSignal | undefined): { signal: AbortSignal; explain(error: unknown, what: string): unknown; clear(): void } {
  const timeout = new AbortController()
  const timer = setTimeout(() => timeout.abort(new P2pError('REQUEST_TIMEOUT', `timed out after ${timeoutMs} ms`)), timeoutMs)
  return {
    signal: signal === undefined ? timeout.signal : AbortSignal.any([signal, timeout.signal]),
    explain(error, what) {
      if (error instanceof P2pError && error.code !== 'REQUEST_TIMEOUT') return error
      if (signal?.aborted === true) return new P2pError('ABORTED', `${what} aborted`, { cause: error })
      if (timeout.signal.aborted) return new P2pError('REQUEST_TIMEOUT', `${what} timed out after ${timeoutMs} ms`, { cause: error })
      return error
    },
    clear: () => clearTimeout(timer),
  }
}

export interface ReqRespServerComponents {
  policy: NetworkPolicy
  penalize: (peer: string, reason: PenaltyReason) => void
  logger: Logger
  metrics?: P2pMetrics | undefined
  now?: () => number
}

export class ReqRespServer {
  readonly #handlers = new Map<WireProtocol, RequestHandler>()
  readonly #policy: NetworkPolicy
  readonly #penalize: (peer: string, reason: PenaltyReason) => void
  readonly #log: Logger
  readonly #metrics: P2pMetrics | undefined
  readonly #rate: Map<WireProtocol, RateLimiter>

  constructor(components: ReqRespServerComponents) {
    this.#policy = components.policy
    this.#penalize = components.penalize
    this.#log = components.logger
    this.#metrics = components.metrics
    this.#rate = new Map(Object.entries(components.policy.protocolLimits).map(([protocol, limits]) => [
      protocol as WireProtocol,
      new RateLimiter({ perSecond: limits.requestsPerSecond, burst: limits.burst }, components.now),
    ]))
  }

  register(protocol: WireProtocol, handler: RequestHandler): void {
    if (this.#handlers.has(protocol)) throw new P2pError('ALREADY_HANDLED', `protocol ${protocol} already has a handler`)
    this.#handlers.set(protocol, handler)
  }

  has(protocol: WireProtocol): boolean {
    return this.#handlers.has(protocol)
  }

  protocols(): WireProtocol[] {
    return [...this.#handlers.keys()]
  }

  /** Answers one request with a response frame; never throws. */
  async serve(protocol: WireProtocol, request: Uint8Array, from: string): Promise<Uint8Array> {
    const { frame, result } = await this.#answer(protocol, request, from)
    this.#metrics?.reqRespRequests.inc({ protocol: protocolLabel(protocol), direction: 'inbound', result })
    return frame
  }

  /** The answer to a request the transport found over the protocol's size limit. */
  oversized(protocol: WireProtocol, from: string): Uint8Array {
    this.#penalize(from, 'invalidRequest')
    this.#metrics?.reqRespRequests.inc({ protocol: protocolLabel(protocol), direction: 'inbound', result: 'REQUEST_TOO_LARGE' })
    return errorFrame(ResponseStatus.invalidRequest, `request exceeds ${this.#policy.protocolLimits[protocol].maxRequestBytes} bytes`)
  }

  async #answer(protocol: WireProtocol, request: Uint8Array, from: string): Promise<{ frame: Uint8Array; result: string }> {
    const handler = this.#handlers.get(protocol)
    if (handler === undefined) return { frame: errorFrame(ResponseStatus.resourceUnavailable, 'protocol not served'), result: 'UNSUPPORTED_PROTOCOL' }
    if (this.#rate.get(protocol)?.tryTake(from) === false) {
      this.#penalize(from, 'rateLimited')
      return { frame: errorFrame(ResponseStatus.rateLimited, 'rate limit exceeded'), result: 'RATE_LIMITED' }
    }
    const limits = this.#policy.protocolLimits[protocol]
    if (request.length > limits.maxRequestBytes) return { frame: this.oversized(protocol, from), result: 'REQUEST_TOO_LARGE' }
    let response: unknown
    try {
      response = await handler(request, from)
    } catch (error) {
      if (error instanceof P2pError && error.code === 'INVALID_REQUEST') {
        this.#penalize(from, 'invalidRequest')
        return { frame: errorFrame(ResponseStatus.invalidRequest, error.message), result: error.code }
      }
      if (error instanceof P2pError && error.code === 'RESOURCE_UNAVAILABLE') {
        return { frame: errorFrame(ResponseStatus.resourceUnavailable, error.message), result: error.code }
      }
      this.#log.error('request handler failed', { protocol, from, error, stack: error instanceof Error ? error.stack : undefined })
      return { frame: errorFrame(ResponseStatus.serverError, 'internal error'), result: 'REMOTE_ERROR' }
    }
    if (!(response instanceof Uint8Array)) {
      this.#log.error('request handler returned no bytes', { protocol })
      return { frame: errorFrame(ResponseStatus.serverError, 'internal error'), result: 'REMOTE_ERROR' }
    }
    if (response.length > limits.maxResponseBytes) {
      this.#log.error('request handler answered over the protocol limit', { protocol, bytes: response.length, limit: limits.maxResponseBytes })
      return { frame: errorFrame(ResponseStatus.serverError, 'response too large'), result: 'RESPONSE_TOO_LARGE' }
    }
    return { frame: encodeResponse(ResponseStatus.ok, response), result: 'OK' }
  }

  prune(): void {
    for (const limiter of this.#rate.values()) limiter.prune()
  }
}

/** `promise`, or a rejection as soon as `signal` aborts (with the signal's reason). */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error)
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(error as Error)
      },
    )
  })
}
