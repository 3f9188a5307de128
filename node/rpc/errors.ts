// The errors the JSON-RPC server answers with: every error object carries a numeric JSON-RPC code
// and, in `data.code`, a stable string code that clients and metrics can rely on.
//
//   numeric  data.code                      when
//   -32700   PARSE_ERROR                    the message is not JSON
//   -32600   INVALID_REQUEST                not a JSON-RPC 2.0 request (jsonrpc, method, id, params
//                                           shape), an empty batch, or an HTTP request the
//                                           endpoint does not take (content type, origin)
//   -32601   METHOD_NOT_FOUND               no method of that name is registered
//   -32602   INVALID_PARAMS                 a parameter is missing, extra or of the wrong type;
//                                           the message names it, `data.param` holds its name
//   -32603   INTERNAL_ERROR                 a bug in a handler (logged with its stack, never sent)
//                                           or a request aborted by shutdown/disconnect
//   -32005   LIMIT_EXCEEDED                 batch too large, too many subscriptions or pending
//                                           requests on a connection, server shutting down
//   -32006   PAYLOAD_TOO_LARGE              a body or message over `maxRequestBytes`
//   -32007   SUBSCRIPTIONS_NEED_WEBSOCKET   a subscribe/unsubscribe method called over HTTP
//   -32008   RESPONSE_TOO_LARGE             one answer over `maxResponseBytes`, or a batch's answers
//                                           past `maxBatchResponseBytes` (the calls beyond it)
//   -32009   SERVER_BUSY                    the server's in-flight byte budget is spent: retry later
//   -32012   RATE_LIMITED                   the caller's address spent its calls per second
//                                           (`data.retryAfterMs`; HTTP 429 with Retry-After)
//   -32005   TOO_MANY_CONNECTIONS[_FROM_ADDRESS], REQUEST_TIMEOUT (HTTP 503/408, connection closed)
//   -32600   HOST_NOT_ALLOWED, ORIGIN_NOT_ALLOWED, HEADERS_TOO_LARGE, BAD_HTTP_REQUEST (HTTP 4xx)
//   -32010   <the domain error's own code>  a handler threw an OpenLedgerError (bad transaction,
//                                           unknown block, …): `data` is `{ ...details, code }`
//   -32010   INVALID_ENCODING               bytes from the caller that do not decode (a CodecError
//                                           on any path: the caller's input, never our bug)
//
// -32011, -32013 … -32099 stay free for domain errors that need a numeric code of their own: a handler
// may throw `new RpcError(code, message, { rpcCode })` directly. Codes are permanent: never
// renumber or reuse one.
import { CodecError } from '../../runtime/codec/canonical.ts'
import { OpenLedgerError } from '../../runtime/errors.ts'

export const RPC_ERROR_CODES = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  LIMIT_EXCEEDED: -32005,
  PAYLOAD_TOO_LARGE: -32006,
  SUBSCRIPTIONS_NEED_WEBSOCKET: -32007,
  RESPONSE_TOO_LARGE: -32008,
  SERVER_BUSY: -32009,
  RATE_LIMITED: -32012,
} as const

export type RpcErrorCode = keyof typeof RPC_ERROR_CODES

/** The numeric code of every error a handler raises as an `OpenLedgerError` of its domain. */
export const DOMAIN_ERROR_RPC_CODE = -32010

/** The `error` member of a JSON-RPC response. */
export interface JsonRpcErrorObject {
  code: number
  message: string
  data: { code: string; [key: string]: unknown }
}

export class RpcError extends OpenLedgerError<string> {
  /** The numeric JSON-RPC code; `code` is the stable string code sent in `data.code`. */
  readonly rpcCode: number

  constructor(code: RpcErrorCode | (string & NonNullable<unknown>), message: string, options?: { rpcCode?: number; cause?: unknown; details?: Record<string, unknown> }) {
    super(code, message, options)
    this.rpcCode = options?.rpcCode ?? (Object.hasOwn(RPC_ERROR_CODES, code) ? RPC_ERROR_CODES[code as RpcErrorCode] : DOMAIN_ERROR_RPC_CODE)
  }

  toJson(): JsonRpcErrorObject {
    return { code: this.rpcCode, message: this.message, data: { ...this.details, code: this.code } }
  }
}

/** How a thrown value is answered; `bug` means it was not a typed error and must be logged as one. */
export function toRpcError(error: unknown): { error: RpcError; bug: boolean } {
  if (error instanceof RpcError) return { error, bug: false }
  if (error instanceof OpenLedgerError) {
    const details = error.details === undefined ? {} : { details: { ...error.details } }
    return { error: new RpcError(error.code, error.message, { rpcCode: DOMAIN_ERROR_RPC_CODE, cause: error, ...details }), bug: false }
  }
  // Handlers decode what callers send (transactions, call arguments, keys): a value that does not
  // decode is the caller's, answered as author_submitExtrinsic answers it.
  if (error instanceof CodecError) return { error: new RpcError('INVALID_ENCODING', `malformed input: ${error.message}`, { rpcCode: DOMAIN_ERROR_RPC_CODE, cause: error, details: { codec: error.code } }), bug: false }
  return { error: new RpcError('INTERNAL_ERROR', 'internal error', { cause: error }), bug: true }
}
