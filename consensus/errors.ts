// The errors of consensus' pure part (types, proposer selection, state machine). Codes are bounded
// (they are metric labels); messages name the bad field. Decoders throw the codec's CodecError.
import { OpenLedgerError } from '../runtime/errors.ts'

export type ConsensusErrorCode =
  /** a validator set that is empty, too large, has a duplicate or unacceptable key, or zero power */
  | 'INVALID_VALIDATOR_SET'
  /** state machine options out of range */
  | 'INVALID_OPTIONS'
  /** a state machine input the driver should never produce (a start for a malformed height) */
  | 'INVALID_INPUT'

export class ConsensusError extends OpenLedgerError<ConsensusErrorCode> {}
