// The typed errors of the serving engine and API. Codes are permanent and bounded (usable as metric
// labels); the HTTP layer maps each to a status and an OpenAI-shaped error body.
import { OpenLedgerError } from '../../runtime/errors.ts'

export type ServingErrorCode =
  /** no base model of that name is served */
  | 'MODEL_NOT_FOUND'
  /** the adapter is not published for that base (the source knows no such model version) */
  | 'ADAPTER_NOT_FOUND'
  /** the fetched adapter bytes do not hash to the value recorded on chain */
  | 'ADAPTER_HASH_MISMATCH'
  /** the adapter's tensors do not fit its base (names, shapes, rank outside 1..64, non-finite) */
  | 'ADAPTER_INVALID'
  /** fetching the adapter failed for another reason (network, blob store); retrying may help */
  | 'ADAPTER_UNAVAILABLE'
  /** one adapter is larger than the whole adapter memory budget, or every resident one is pinned or in use */
  | 'ADAPTER_MEMORY_EXHAUSTED'
  /** the prompt alone is longer than the model's context */
  | 'CONTEXT_LENGTH_EXCEEDED'
  /** a request field out of range (max tokens, sampling parameters, token ids, adapter weights) */
  | 'INVALID_PARAMETER'
  /** the base model is not of the kind the call needs (completions on a classifier, classify on an LM) */
  | 'WRONG_MODEL_KIND'
  /** the request queue is full: answer 429 and let the client retry */
  | 'OVERLOADED'
  /** the engine is not started or is stopping */
  | 'ENGINE_STOPPED'
  /** the configured onnxruntime execution provider does not exist in this build or on this machine */
  | 'EXECUTION_PROVIDER_UNAVAILABLE'
  /** a worker thread failed (onnxruntime error, worker exit); the requests it held end with this error */
  | 'ENGINE_FAILURE'

export class ServingError extends OpenLedgerError<ServingErrorCode> {}
