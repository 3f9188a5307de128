// The typed errors of the training engine. Codes are permanent and bounded (usable as metric labels).
import { OpenLedgerError } from '../runtime/errors.ts'

export type MlErrorCode =
  /** a NaN or infinity in a loss, a gradient, a weight or decoded bytes */
  | 'NON_FINITE'
  /** bytes that are not a tensor file or training state (magic, version) */
  | 'INVALID_MAGIC'
  /** a tensor name or shape other than the expected one */
  | 'SHAPE_MISMATCH'
  /** a byte length that does not match the header */
  | 'INVALID_SIZE'
  /** a tensor the caller must supply is absent */
  | 'MISSING_TENSOR'
  /** a model config, hyperparameter or argument out of range */
  | 'INVALID_ARGUMENT'
  /** training data that cannot form a batch (too short, empty examples, bad labels or token ids) */
  | 'INVALID_DATA'
  /** a training state that does not belong to the job it is used with */
  | 'STATE_MISMATCH'
  /** the SIMD kernel forced (OPENLEDGER_ML_KERNEL=simd) on a CPU or runtime without WebAssembly SIMD */
  | 'WASM_SIMD_UNSUPPORTED'

export class MlError extends OpenLedgerError<MlErrorCode> {}
