// The typed errors of attribution. Codes are permanent and bounded (usable as metric labels).
import { OpenLedgerError } from '../runtime/errors.ts'

export type AttributionErrorCode =
  /** an argument out of range: a token id outside the vocabulary, a bad option, mismatched lengths */
  | 'INVALID_ARGUMENT'
  /** index bytes that are not a span index (magic, version, widths) */
  | 'INVALID_MAGIC'
  /** index bytes whose length or contents contradict the header (truncated, an SA that is not a permutation) */
  | 'INVALID_INDEX'
  /** a corpus or query beyond what the layout can address */
  | 'TOO_LARGE'
  /** nothing to attribute to: no contributions, no examples, all-zero raw scores */
  | 'EMPTY'

export class AttributionError extends OpenLedgerError<AttributionErrorCode> {}
