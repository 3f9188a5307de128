// Verification of a served output without generating again: the request record's prompt + output is
// re-scored in one teacher-forced pass of ml/'s deterministic engine (the served model: base plus the
// record's adapters, merged exactly as the engine merges them), and each served token is checked
// against the record's sampling rule (engine/sampling.ts) within a tolerance ε on the logits:
//
// - greedy: 'ok' when the token is the verifier's argmax; 'uncertain' when its logit is within ε of
//   the maximum (a float32 difference between onnxruntime and the engine can swap near-ties);
//   'wrong' otherwise.
// - seeded sampling (τ > 0): the draw u = drawUniform(seed, i) is re-derived. 'ok' when u falls in
//   the token's interval of the verifier's kept distribution; otherwise the token is 'wrong' only
//   when no logit perturbation of at most ε could have put it there: u further than
//   δ = e^{2ε/τ} − 1 from the interval (each probability moves by at most that factor, and so does
//   every cumulative boundary), and, for a token outside the kept set, its z = logit/τ more than
//   2ε/τ below the cut (and the mass ranked above it beyond top-p's reach).
//
// An honest provider's tokens are therefore 'ok' or 'uncertain', never 'wrong', as long as its
// logits are within ε of the engine's; ε is measured (ARCHITECTURE.md, bench/serving.ts) and the
// default is set well above the largest difference seen. A record is rejected when any token is wrong.
import type { ModelConfig, Tensors } from '../../ml/model/config.ts'
import { forward } from '../../ml/model/forward.ts'
import { concatenateAdapters, type WeightedAdapter } from './engine/merge.ts'
import { drawUniform, keptDistribution } from './engine/sampling.ts'
import { ServingError } from './errors.ts'
import type { AdapterWeights, RequestRecord } from './types.ts'

/**
 * Default tolerance on a logit, absolute. Measured max |onnxruntime − engine| on the shipped LM
 * (ol-lm-sotu-2m), with and without a rank-8 adapter, over real prompts: 4.3e-6 (test/node/serving/
 * verify.test.ts asserts < ε / 10); ε leaves a factor of ~200 for other shapes, thread counts and CPUs.
 */
export const DEFAULT_EPSILON = 1e-3

export type TokenVerdict = 'ok' | 'uncertain' | 'wrong'

export interface Verification {
  readonly accepted: boolean
  readonly tokens: readonly TokenVerdict[]
  readonly wrong: number
  readonly uncertain: number
  readonly epsilon: number
}

export interface VerifyModel {
  readonly config: ModelConfig
  readonly weights: Tensors
}

/** Re-scores `record` with the deterministic engine; `adapters` holds every adapter the record names. */
export function verifyRecord(record: RequestRecord, model: VerifyModel, adapters: ReadonlyMap<string, AdapterWeights>, epsilon = DEFAULT_EPSILON): Verification {
  const { config } = model
  const prompt = record.promptTokens
  const output = record.outputTokens
  const invalid = (message: string, details: Record<string, unknown>) => new ServingError('INVALID_PARAMETER', message, { details })
  if (config.kind !== 'lm') throw invalid('only language-model records are verified', { base: record.base })
  if (prompt.length === 0 || output.length === 0) throw invalid('a record needs a prompt and an output', {})
  if (prompt.length + output.length > config.context) throw invalid('prompt + output is longer than the context', { length: prompt.length + output.length })
  for (const token of [...prompt, ...output]) if (!Number.isInteger(token) || token < 0 || token >= config.vocab) throw invalid('token out of the vocabulary', { token })

  const weighted: WeightedAdapter[] = record.adapters.map((use) => {
    const adapter = adapters.get(use.id)
    if (adapter === undefined) throw new ServingError('ADAPTER_NOT_FOUND', `adapter ${use.id} of the record is not given`, { details: { id: use.id } })
    return { rank: adapter.rank, alpha: adapter.alpha, tensors: adapter.tensors, weight: use.weight }
  })
  const merged = weighted.length === 0 ? undefined : concatenateAdapters(config, weighted).tensors
  // one teacher-forced pass over prompt + output[0..n−2]: position prompt−1+i predicts output i
  const ids = Int32Array.from([...prompt, ...output.slice(0, -1)])
  const logits = forward(config, model.weights, merged, 1, ids, 1, ids.length)
  const verdicts: TokenVerdict[] = []
  for (let i = 0; i < output.length; i++) {
    const row = logits.subarray((prompt.length - 1 + i) * config.vocab, (prompt.length + i) * config.vocab)
    verdicts.push(judgeToken(row, output[i]!, record.sampling, i, epsilon))
  }
  const wrong = verdicts.filter((v) => v === 'wrong').length
  return { accepted: wrong === 0, tokens: verdicts, wrong, uncertain: verdicts.filter((v) => v === 'uncertain').length, epsilon }
}

export interface TextVerification extends Verification {
  /** the output's tokens as the verifier parsed them from its bytes */
  readonly outputTokens: readonly number[]
}

/**
 * Verifies an output known only as bytes (what an inference record's blob holds): a BPE model may
 * emit a tokenization of its text other than the one encode() gives, so the tokens are parsed
 * back guided by the model. At each position the candidates are the tokens whose bytes begin the
 * rest of the output; the one judged 'ok' (the argmax, or the seeded draw's token) is taken, else
 * the likeliest 'uncertain' one; none means the output is rejected there. Costs one forward pass
 * per output token (over the growing prefix), against one for verifyRecord: tried first with the
 * canonical encoding (`encoded`), which is accepted in one pass when the model emitted it.
 */
export function verifyOutputBytes(
  input: { promptTokens: readonly number[]; output: Uint8Array; encoded: readonly number[]; maxTokens: number; sampling: RequestRecord['sampling']; adapters: RequestRecord['adapters'] },
  model: VerifyModel & { tokenBytes(id: number): Uint8Array },
  adapters: ReadonlyMap<string, AdapterWeights>,
  epsilon = DEFAULT_EPSILON,
): TextVerification {
  const { config } = model
  const record = (outputTokens: readonly number[]): RequestRecord => ({
    id: 'output', base: '', adapters: input.adapters, promptTokens: input.promptTokens, outputTokens, sampling: input.sampling, finishReason: 'length', timings: { firstTokenMs: 0, totalMs: 0 },
  })
  const fits = (n: number): boolean => n >= 1 && n <= input.maxTokens && input.promptTokens.length + n <= config.context
  if (fits(input.encoded.length)) {
    const canonical = verifyRecord(record(input.encoded), model, adapters, epsilon)
    if (canonical.accepted) return { ...canonical, outputTokens: input.encoded }
  }
  const weighted: WeightedAdapter[] = input.adapters.map((use) => {
    const adapter = adapters.get(use.id)
    if (adapter === undefined) throw new ServingError('ADAPTER_NOT_FOUND', `adapter ${use.id} of the record is not given`, { details: { id: use.id } })
    return { rank: adapter.rank, alpha: adapter.alpha, tensors: adapter.tensors, weight: use.weight }
  })
  const merged = weighted.length === 0 ? undefined : concatenateAdapters(config, weighted).tensors
  const tokens: number[] = []
  const verdicts: TokenVerdict[] = []
  const rejected = (): TextVerification => ({ accepted: false, tokens: [...verdicts, 'wrong'], wrong: 1, uncertain: verdicts.filter((v) => v === 'uncertain').length, epsilon, outputTokens: tokens })
  let at = 0
  while (at < input.output.length) {
    if (!fits(tokens.length + 1)) return rejected()
    const ids = Int32Array.from([...input.promptTokens, ...tokens])
    const logits = forward(config, model.weights, merged, 1, ids, 1, ids.length)
    const row = logits.subarray((ids.length - 1) * config.vocab, ids.length * config.vocab)
    let chosen: { token: number; verdict: TokenVerdict } | undefined
    for (let token = 0; token < config.vocab; token++) {
      const bytes = model.tokenBytes(token)
      if (bytes.length === 0 || bytes.length > input.output.length - at || !startsWith(input.output, at, bytes)) continue
      const verdict = judgeToken(row, token, input.sampling, tokens.length, epsilon)
      if (verdict === 'wrong') continue
      if (chosen === undefined || (verdict === 'ok' && chosen.verdict !== 'ok') || (verdict === chosen.verdict && row[token]! > row[chosen.token]!)) chosen = { token, verdict }
    }
    if (chosen === undefined) return rejected()
    tokens.push(chosen.token)
    verdicts.push(chosen.verdict)
    at += model.tokenBytes(chosen.token).length
  }
  if (tokens.length === 0) return rejected()
  return { accepted: true, tokens: verdicts, wrong: 0, uncertain: verdicts.filter((v) => v === 'uncertain').length, epsilon, outputTokens: tokens }
}

function startsWith(haystack: Uint8Array, at: number, needle: Uint8Array): boolean {
  for (let i = 0; i < needle.length; i++) if (haystack[at + i] !== needle[i]) return false
  return true
}

/** The verdict on one served token given the verifier's logits for its position. */
export function judgeToken(logits: Float32Array, token: number, sampling: RequestRecord['sampling'], index: number, epsilon: number): TokenVerdict {
  let max = -Infinity
  let best = 0
  for (let j = 0; j < logits.length; j++) if (logits[j]! > max) { max = logits[j]!; best = j }
  if (sampling.temperature === 0) {
    if (token === best) return 'ok'
    return max - logits[token]! <= epsilon ? 'uncertain' : 'wrong'
  }
  const tau = sampling.temperature
  const slackZ = (2 * epsilon) / tau
  const delta = Math.expm1(slackZ)
  const kept = keptDistribution(logits, sampling)
  const position = kept.tokens.indexOf(token)
  if (position < 0) {
    const z = logits[token]! / tau
    if (z >= kept.cutoff - slackZ) return 'uncertain'
    if (sampling.topP < 1) {
      // top-p: could a perturbation have stretched the kept prefix down to this token?
      let above = 0
      const full = keptDistribution(logits, { ...sampling, topP: 1 })
      for (let i = 0; i < full.tokens.length; i++) if (logits[full.tokens[i]!]! / tau > z) above += full.probabilities[i]!
      if (above < sampling.topP * (1 + delta) + delta) return 'uncertain'
    }
    return 'wrong'
  }
  const u = drawUniform(sampling.seed, index)
  let low = 0
  for (let i = 0; i < position; i++) low += kept.probabilities[i]!
  const high = position === kept.tokens.length - 1 ? 1 : low + kept.probabilities[position]!
  if (u >= low && u < high) return 'ok'
  const distance = u < low ? low - u : u - high
  if (distance <= delta) return 'uncertain'
  // a kept set that a perturbation could change renormalises everything: near-boundary tokens make the draw uncertain
  if (kept.cutoff === -Infinity) return 'wrong'
  let nearCut = 0
  for (let j = 0; j < logits.length; j++) if (Math.abs(logits[j]! / tau - kept.cutoff) <= slackZ) nearCut++
  return nearCut > 1 ? 'uncertain' : 'wrong'
}
