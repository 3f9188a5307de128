// OpenAI request bodies checked at the edge: every field a client can send is either understood,
// ignored on purpose (`user`, metadata) or refused with the parameter named — never misread. Errors
// carry OpenAI's shape (`{ error: { message, type, param, code } }`) with stable codes (README).
import { OpenLedgerError } from '../../../runtime/errors.ts'
import { MAX_ADAPTERS_PER_REQUEST, type AdapterUse } from '../types.ts'

export type ApiErrorType = 'invalid_request_error' | 'not_found_error' | 'rate_limit_error' | 'server_error' | 'service_unavailable_error'

/** An error answered to the client: HTTP status, OpenAI's type, a stable code, the parameter at fault. */
export class ApiError extends OpenLedgerError<string> {
  readonly status: number
  readonly type: ApiErrorType
  readonly param: string | null
  constructor(status: number, type: ApiErrorType, code: string, message: string, param: string | null = null, options?: { cause?: unknown }) {
    super(code, message, options)
    this.status = status
    this.type = type
    this.param = param
  }

  body(): { error: { message: string; type: ApiErrorType; param: string | null; code: string } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } }
  }
}

export const invalid = (param: string | null, message: string, code = 'invalid_parameter'): ApiError => new ApiError(400, 'invalid_request_error', code, message, param)

/** `model` as named in a request: a base model, or one of its adapters as `base:versionId` */
export interface ModelRef {
  readonly base: string
  /** the model version id (decimal), undefined for the base model alone */
  readonly adapter: string | undefined
}

/** the adapters a request runs with: `base:id` is [{ id, weight: 1 }]; the `adapters` extension several */
export function adapterUses(ref: ModelRef, merge: readonly AdapterUse[] | undefined): AdapterUse[] {
  if (merge !== undefined) return [...merge]
  return ref.adapter === undefined ? [] : [{ id: ref.adapter, weight: 1 }]
}

/**
 * The LoRAX-style per-request merge, an extension field OpenAI clients send through `extra_body`:
 * `"adapters": [{"id": "7", "weight": 0.5}, {"id": "9", "weight": 0.5}]` with `model` naming the base.
 */
export function parseAdapters(body: Record<string, unknown>, model: ModelRef): AdapterUse[] | undefined {
  const value = body['adapters']
  if (value === undefined || value === null) return undefined
  if (model.adapter !== undefined) throw invalid('adapters', 'with adapters, model names the base alone')
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_ADAPTERS_PER_REQUEST) throw invalid('adapters', `adapters is an array of 1 to ${MAX_ADAPTERS_PER_REQUEST} { id, weight }`)
  const seen = new Set<string>()
  return value.map((entry: unknown, i): AdapterUse => {
    const fields = typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>) : {}
    const id = typeof fields['id'] === 'number' ? String(fields['id']) : fields['id']
    const weight = fields['weight'] ?? 1
    if (typeof id !== 'string' || !/^[1-9][0-9]{0,14}$/.test(id) || seen.has(id)) throw invalid(`adapters[${i}].id`, 'an adapter is a distinct model version id')
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0 || weight > 16) throw invalid(`adapters[${i}].weight`, 'a weight is a number in (0, 16]')
    seen.add(id)
    return { id, weight }
  })
}

export function parseModel(value: unknown): ModelRef {
  if (typeof value !== 'string' || value.length === 0 || value.length > 200) throw invalid('model', 'model must be a non-empty string: a base model or base:versionId', 'invalid_model')
  const colon = value.lastIndexOf(':')
  if (colon === -1) return { base: value, adapter: undefined }
  return { base: value.slice(0, colon), adapter: value.slice(colon + 1) }
}

export interface SamplingFields {
  readonly maxTokens: number | undefined
  readonly temperature: number
  readonly topP: number
  readonly topK: number
  readonly seed: number | undefined
  readonly stop: readonly string[]
  readonly stream: boolean
  readonly includeUsage: boolean
}

export interface CompletionBody extends SamplingFields {
  readonly model: ModelRef
  readonly adapters: readonly AdapterUse[]
  /** text, or token ids as OpenAI allows */
  readonly prompt: string | readonly number[]
  /** legacy `logprobs`: how many (only the chosen token's are known; see README) */
  readonly logprobs: number | undefined
  /** the `citations` extension: the output's spans found in the model's training data, with their sources */
  readonly citations: boolean
}

export interface ChatMessage {
  readonly role: 'system' | 'user' | 'assistant'
  readonly content: string
}

export interface ChatBody extends SamplingFields {
  readonly model: ModelRef
  readonly adapters: readonly AdapterUse[]
  readonly messages: readonly ChatMessage[]
  readonly logprobs: boolean
  readonly citations: boolean
}

export interface ClassifyBody {
  readonly model: ModelRef
  readonly adapters: readonly AdapterUse[]
  readonly input: readonly string[]
}

/** stop strings per request (OpenAI's limit) */
export const MAX_STOP = 4
const MAX_STOP_CHARS = 256
const MAX_MESSAGES = 256
const MAX_INPUTS = 64

type Body = Record<string, unknown>

export function asObject(value: unknown): Body {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(null, 'the request body must be a JSON object', 'invalid_body')
  return value as Body
}

function number(body: Body, key: string, min: number, max: number, fallback: number): number {
  const value = body[key]
  if (value === undefined || value === null) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) throw invalid(key, `${key} must be a number in [${min}, ${max}]`)
  return value
}

function integer(body: Body, key: string, min: number, max: number): number | undefined {
  const value = body[key]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) throw invalid(key, `${key} must be an integer in [${min}, ${max}]`)
  return value
}

function boolean(body: Body, key: string): boolean {
  const value = body[key]
  if (value === undefined || value === null) return false
  if (typeof value !== 'boolean') throw invalid(key, `${key} must be a boolean`)
  return value
}

/** Parameters OpenAI defines that this server does not implement: refused unless at their neutral value. */
function refuseUnsupported(body: Body): void {
  const neutral: Array<[string, (v: unknown) => boolean]> = [
    ['n', (v) => v === 1],
    ['best_of', (v) => v === 1],
    ['echo', (v) => v === false],
    ['suffix', (v) => v === ''],
    ['presence_penalty', (v) => v === 0],
    ['frequency_penalty', (v) => v === 0],
    ['logit_bias', (v) => typeof v === 'object' && v !== null && Object.keys(v).length === 0],
    ['tools', (v) => Array.isArray(v) && v.length === 0],
    ['functions', (v) => Array.isArray(v) && v.length === 0],
    ['response_format', (v) => typeof v === 'object' && v !== null && (v as Body)['type'] === 'text'],
  ]
  for (const [key, isNeutral] of neutral) {
    const value = body[key]
    if (value !== undefined && value !== null && !isNeutral(value)) throw invalid(key, `${key} is not supported by this server`, 'unsupported_parameter')
  }
}

function samplingFields(body: Body, maxTokensKey: 'max_tokens' | 'max_completion_tokens'): SamplingFields {
  refuseUnsupported(body)
  const stopValue = body['stop']
  let stop: string[] = []
  if (typeof stopValue === 'string') stop = [stopValue]
  else if (Array.isArray(stopValue)) stop = stopValue as string[]
  else if (stopValue !== undefined && stopValue !== null) throw invalid('stop', 'stop must be a string or an array of strings')
  if (stop.length > MAX_STOP || stop.some((s) => typeof s !== 'string' || s.length > MAX_STOP_CHARS)) {
    throw invalid('stop', `stop holds at most ${MAX_STOP} strings of at most ${MAX_STOP_CHARS} characters`)
  }
  const streamOptions = body['stream_options']
  if (streamOptions !== undefined && streamOptions !== null && (typeof streamOptions !== 'object' || Array.isArray(streamOptions))) throw invalid('stream_options', 'stream_options must be an object')
  const includeUsage = streamOptions !== undefined && streamOptions !== null ? boolean(streamOptions as Body, 'include_usage') : false
  // vLLM's extension: top_k, -1 or 0 = off
  const topK = integer(body, 'top_k', -1, 1_000_000) ?? 0
  const maxTokens = integer(body, maxTokensKey, 1, 1_000_000) ?? (maxTokensKey === 'max_completion_tokens' ? integer(body, 'max_tokens', 1, 1_000_000) : undefined)
  return {
    maxTokens,
    temperature: number(body, 'temperature', 0, 2, 1),
    topP: (() => {
      const p = number(body, 'top_p', 0, 1, 1)
      if (p === 0) throw invalid('top_p', 'top_p must be in (0, 1]')
      return p
    })(),
    topK: Math.max(0, topK),
    seed: integer(body, 'seed', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
    stop,
    stream: boolean(body, 'stream'),
    includeUsage,
  }
}

export function parseCompletion(raw: unknown): CompletionBody {
  const body = asObject(raw)
  const model = parseModel(body['model'])
  const value = body['prompt']
  let prompt: string | number[]
  if (typeof value === 'string') prompt = value
  else if (Array.isArray(value) && value.length === 1 && typeof value[0] === 'string') prompt = value[0]
  else if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0)) prompt = value as number[]
  else if (Array.isArray(value) && value.length > 1) throw invalid('prompt', 'one prompt per request: send several requests (they are batched together)', 'unsupported_parameter')
  else throw invalid('prompt', 'prompt must be a string or an array of token ids')
  const logprobs = integer(body, 'logprobs', 0, 5)
  return { ...samplingFields(body, 'max_tokens'), model, adapters: adapterUses(model, parseAdapters(body, model)), prompt, logprobs, citations: boolean(body, 'citations') }
}

function messageContent(value: unknown, index: number): string {
  if (typeof value === 'string') return value
  if (Array.isArray(value)) {
    return value
      .map((part: unknown) => {
        if (typeof part === 'object' && part !== null && (part as Body)['type'] === 'text' && typeof (part as Body)['text'] === 'string') return (part as Body)['text'] as string
        throw invalid(`messages[${index}].content`, 'only text content parts are supported', 'unsupported_parameter')
      })
      .join('')
  }
  if (value === null || value === undefined) return ''
  throw invalid(`messages[${index}].content`, 'content must be a string or an array of text parts')
}

export function parseChat(raw: unknown): ChatBody {
  const body = asObject(raw)
  const model = parseModel(body['model'])
  const value = body['messages']
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_MESSAGES) throw invalid('messages', `messages must be an array of 1 to ${MAX_MESSAGES} messages`)
  const messages = value.map((m: unknown, i): ChatMessage => {
    if (typeof m !== 'object' || m === null) throw invalid(`messages[${i}]`, 'a message is an object with role and content')
    const role = (m as Body)['role'] === 'developer' ? 'system' : (m as Body)['role']
    if (role !== 'system' && role !== 'user' && role !== 'assistant') throw invalid(`messages[${i}].role`, 'role must be system, developer, user or assistant')
    return { role, content: messageContent((m as Body)['content'], i) }
  })
  const logprobs = boolean(body, 'logprobs')
  const top = integer(body, 'top_logprobs', 0, 20)
  if (top !== undefined && top > 0) throw invalid('top_logprobs', 'top_logprobs is not supported: only the chosen tokens\' log-probabilities are computed', 'unsupported_parameter')
  return { ...samplingFields(body, 'max_completion_tokens'), model, adapters: adapterUses(model, parseAdapters(body, model)), messages, logprobs, citations: boolean(body, 'citations') }
}

export function parseClassify(raw: unknown): ClassifyBody {
  const body = asObject(raw)
  const model = parseModel(body['model'])
  const value = body['input']
  const input = typeof value === 'string' ? [value] : value
  if (!Array.isArray(input) || input.length === 0 || input.length > MAX_INPUTS || input.some((v) => typeof v !== 'string')) {
    throw invalid('input', `input must be a string or an array of 1 to ${MAX_INPUTS} strings`)
  }
  return { model, adapters: adapterUses(model, parseAdapters(body, model)), input: input as string[] }
}
