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
 * back guided by the model. The rest of the output is encoded canonically as a hypothesis and
 * teacher-forced in one pass; its tokens are taken while each matches the bytes and is judged
 * 'ok'. At the first that is not, the same pass's logits choose among the tokens whose bytes begin
 * the rest of the output: the one judged 'ok' (the argmax, or the seeded draw's token), else the
 * likeliest 'uncertain' one; none means the output is rejected there. Then the rest is encoded
 * again and the next pass starts from there: one pass per place where the model's tokenization
 * leaves the canonical one, plus one.
 */
export function verifyOutputBytes(
  input: { promptTokens: readonly number[]; output: Uint8Array; maxTokens: number; sampling: RequestRecord['sampling']; adapters: RequestRecord['adapters'] },
  model: VerifyModel & { tokenBytes(id: number): Uint8Array; encode(text: string): ArrayLike<number> },
  adapters: ReadonlyMap<string, AdapterWeights>,
  epsilon = DEFAULT_EPSILON,
): TextVerification {
  const { config } = model
  const weighted: WeightedAdapter[] = input.adapters.map((use) => {
    const adapter = adapters.get(use.id)
    if (adapter === undefined) throw new ServingError('ADAPTER_NOT_FOUND', `adapter ${use.id} of the record is not given`, { details: { id: use.id } })
    return { rank: adapter.rank, alpha: adapter.alpha, tensors: adapter.tensors, weight: use.weight }
  })
  const merged = weighted.length === 0 ? undefined : concatenateAdapters(config, weighted).tensors
  const limit = Math.min(input.maxTokens, config.context - input.promptTokens.length)
  const decoder = new TextDecoder()
  const tokens: number[] = []
  const verdicts: TokenVerdict[] = []
  const result = (accepted: boolean): TextVerification => ({
    accepted, tokens: accepted ? verdicts : [...verdicts, 'wrong'], wrong: accepted ? 0 : 1, uncertain: verdicts.filter((v) => v === 'uncertain').length, epsilon, outputTokens: tokens,
  })
  let at = 0
  while (at < input.output.length) {
    if (tokens.length >= limit) return result(false)
    const hypothesis = Array.from(model.encode(decoder.decode(input.output.subarray(at)))).slice(0, limit - tokens.length)
    // the pass needs at least the position predicting the next token
    const ids = Int32Array.from([...input.promptTokens, ...tokens, ...hypothesis.slice(0, Math.max(0, hypothesis.length - 1))])
    const logits = forward(config, model.weights, merged, 1, ids, 1, ids.length)
    let diverged = false
    for (let j = 0; j <= hypothesis.length && !diverged && at < input.output.length; j++) {
      const position = input.promptTokens.length + tokens.length - 1
      if (position >= ids.length) break
      const row = logits.subarray(position * config.vocab, (position + 1) * config.vocab)
      const guess = hypothesis[j]
      if (guess !== undefined && j < hypothesis.length && matches(input.output, at, model.tokenBytes(guess)) && judgeToken(row, guess, input.sampling, tokens.length, epsilon) === 'ok') {
        tokens.push(guess)
        verdicts.push('ok')
        at += model.tokenBytes(guess).length
        continue
      }
      let chosen: { token: number; verdict: TokenVerdict } | undefined
      for (let token = 0; token < config.vocab; token++) {
        if (!matches(input.output, at, model.tokenBytes(token))) continue
        const verdict = judgeToken(row, token, input.sampling, tokens.length, epsilon)
        if (verdict === 'wrong') continue
        if (chosen === undefined || (verdict === 'ok' && chosen.verdict !== 'ok') || (verdict === chosen.verdict && row[token]! > row[chosen.token]!)) chosen = { token, verdict }
      }
      if (chosen === undefined) return result(false)
      tokens.push(chosen.token)
      verdicts.push(chosen.verdict)
      at += model.tokenBytes(chosen.token).length
      diverged = true
      if (tokens.length >= limit && at < input.output.length) return result(false)
    }
  }
  return result(tokens.length > 0)
}

/** Whether `bytes` (a token's, non-empty) occur in `output` at `at`. */
function matches(output: Uint8Array, at: number, bytes: Uint8Array): boolean {
  return bytes.length > 0 && bytes.length <= output.length - at && startsWith(output, at, bytes)
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
