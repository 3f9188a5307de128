// Errors of the authenticated state (tree, proofs and the persisted state database).
import { OpenLedgerError } from '../errors.ts'

export type StateErrorCode =
  /** a state key longer than MAX_STATE_KEY_BYTES */
  | 'STATE_KEY_TOO_LARGE'
  /** a state value longer than MAX_STATE_VALUE_BYTES */
  | 'STATE_VALUE_TOO_LARGE'
  /** a version that is not an integer, or not above the latest committed one */
  | 'STATE_VERSION_INVALID'
  /** a version that was never committed (above the latest, or skipped) */
  | 'STATE_VERSION_UNKNOWN'
  /** a version older than the prune window: its nodes may be gone */
  | 'STATE_VERSION_PRUNED'
  /** a prepared state that no longer builds on the latest committed version */
  | 'STATE_PREPARED_STALE'
  /** proof bytes that do not decode to a proof */
  | 'STATE_PROOF_MALFORMED'
  /** a missing or malformed record in the state database */
  | 'STATE_CORRUPT'

export class StateError extends OpenLedgerError<StateErrorCode> {}
