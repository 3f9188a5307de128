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

/**
 * Why a block (or its certificate) a peer handed us cannot be imported. Every code here is the
 * serving peer's fault: only these may score a peer down. Anything else thrown while importing
 * (a failed write, a worker that died, a bug of ours) is our failure, and the peer keeps its score.
 */
export type BlockImportErrorCode =
  /** the bytes are not a canonical block, certificate or transaction */
  | 'UNDECODABLE'
  /** the block's own commit certificate does not verify against the set of its height */
  | 'INVALID_CERTIFICATE'
  /** the parent's commit certificate carried in the body does not verify (or block 1 carries one) */
  | 'INVALID_LAST_COMMIT'
  /** the block does not extend our head (another parent, or a height that skips) */
  | 'UNKNOWN_PARENT'
  /** a transaction's signature does not recover a signer */
  | 'INVALID_SIGNATURE'
  /** the block breaks a rule of the chain: height, time, an invalid transaction, roots that differ on re-execution */
  | 'INVALID_BLOCK'
  /** the proposer has a beacon chain and the block carries no randomness reveal */
  | 'MISSING_REVEAL'
  /** the block's randomness reveal does not hash to its proposer's beacon chain tip (or it has none to reveal) */
  | 'WRONG_REVEAL'

export class BlockImportError extends OpenLedgerError<BlockImportErrorCode> {}

/** The one test for "the peer that sent this is to blame": only then is it penalized. */
export function isPeerFault(error: unknown): error is BlockImportError {
  return error instanceof BlockImportError
}
