// The errors of the network layer. Codes are bounded (they are metric labels), messages are not.
import { OpenLedgerError } from '../runtime/errors.ts'

export type P2pErrorCode =
  /** the network is not started (or already stopped) */
  | 'NOT_STARTED'
  /** a listen address cannot be bound (in use, not local, no permission) */
  | 'LISTEN_FAILED'
  /** a topic already has a handler, or a protocol already has one */
  | 'ALREADY_SUBSCRIBED'
  | 'ALREADY_HANDLED'
  /** an option, address, peer id or key that does not parse; the message names it */
  | 'INVALID_OPTION'
  | 'INVALID_MULTIADDR'
  | 'INVALID_PEER_ID'
  | 'INVALID_NODE_KEY'
  /** outgoing data over the topic's or protocol's limit: nothing was sent */
  | 'MESSAGE_TOO_LARGE'
  | 'REQUEST_TOO_LARGE'
  /** the peer answered more than the protocol allows (the peer is scored down) */
  | 'RESPONSE_TOO_LARGE'
  /** the peer answered something that is not a response frame (the peer is scored down) */
  | 'INVALID_RESPONSE'
  | 'REQUEST_TIMEOUT'
  /** the caller's signal aborted the request */
  | 'ABORTED'
  /** the peer does not serve the protocol (or is on another chain) */
  | 'UNSUPPORTED_PROTOCOL'
  /** no connection to the peer could be made */
  | 'PEER_UNREACHABLE'
  | 'PEER_BANNED'
  /** statuses a peer answers with (and a handler may throw, for the first three) */
  | 'INVALID_REQUEST'
  | 'RESOURCE_UNAVAILABLE'
  | 'RATE_LIMITED'
  | 'REMOTE_ERROR'

export class P2pError extends OpenLedgerError<P2pErrorCode> {}

export function isP2pError(error: unknown, code?: P2pErrorCode): error is P2pError {
  return error instanceof P2pError && (code === undefined || error.code === code)
}
