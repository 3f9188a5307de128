// Choosing the next token from a row's logits: greedy, temperature, top-k, top-p, with a per-request
// seed. Pure and deterministic (no Math.random): the draw for output token i of a request is a
// function of (seed, i) alone, so a verifier re-derives it from the request record (verify.ts) and a
// request gives the same tokens whatever batch it ran in.
//
// The rule, for temperature τ > 0: z = logits / τ; the kept set is the k largest z (ties: lower id
// first) when topK > 0, then the smallest most-likely prefix whose probability reaches topP; the
// kept tokens' probabilities p_j ∝ exp(z_j − max z) are laid out in ascending token id on [0, 1)
// and the draw u = uniform(seed, i) picks the token whose interval holds it. Intervals in id order
// (not probability order) keep the boundaries continuous in the logits, which is what lets a
// verifier bound how far a float32 difference can move them.
import type { SamplingParams } from '../types.ts'

/** A uniform double in [0, 1) for output position `index` of a request seeded `seed` (53 random bits). */
export function drawUniform(seed: number, index: number): number {
  // SplitMix-style mixing of (seed, index) in 32-bit halves: two rounds give the high and low words
  const hi = mix32((seed >>> 0) ^ Math.imul(index + 1, 0x9e3779b9))
  const lo = mix32(hi ^ Math.imul((seed >>> 0) + 0x7f4a7c15, 0x85ebca6b) ^ index)
  return ((hi >>> 5) * 67108864 + (lo >>> 6)) / 9007199254740992
}

function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d)
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b)
  return (x ^ (x >>> 16)) >>> 0
}

/** argmax with the lowest id on ties */
export function argmax(logits: Float32Array): number {
  let best = 0
  let bestValue = logits[0]!
  for (let j = 1; j < logits.length; j++) {
    const value = logits[j]!
    if (value > bestValue) { best = j; bestValue = value }
  }
  return best
}

/** log-softmax of the raw logits at `token` (the logprob the API reports) */
export function logSoftmaxAt(logits: Float32Array, token: number): number {
  let max = -Infinity
  for (let j = 0; j < logits.length; j++) if (logits[j]! > max) max = logits[j]!
  let sum = 0
  for (let j = 0; j < logits.length; j++) sum += Math.exp(logits[j]! - max)
  return logits[token]! - max - Math.log(sum)
}

/** The kept tokens (ascending id) and their normalised probabilities, for τ > 0. */
export interface KeptDistribution {
  readonly tokens: Int32Array
  readonly probabilities: Float64Array
  /** the z (logit / τ) of the lowest-ranked kept token: the cut's boundary */
  readonly cutoff: number
}

export function keptDistribution(logits: Float32Array, sampling: SamplingParams): KeptDistribution {
  const vocab = logits.length
  const tau = sampling.temperature
  let max = -Infinity
  for (let j = 0; j < vocab; j++) if (logits[j]! > max) max = logits[j]!
  const useTopK = sampling.topK > 0 && sampling.topK < vocab
  const useTopP = sampling.topP < 1
  if (!useTopK && !useTopP) {
    const probabilities = new Float64Array(vocab)
    let sum = 0
    for (let j = 0; j < vocab; j++) { const p = Math.exp((logits[j]! - max) / tau); probabilities[j] = p; sum += p }
    for (let j = 0; j < vocab; j++) probabilities[j] = probabilities[j]! / sum
    return { tokens: Int32Array.from({ length: vocab }, (_, j) => j), probabilities, cutoff: -Infinity }
  }
  // rank by logit, ties by lower id (a stable sort of ids)
  const order = Int32Array.from({ length: vocab }, (_, j) => j).sort((a, b) => (logits[b]! - logits[a]!) || (a - b))
  let kept = useTopK ? sampling.topK : vocab
  const weights = new Float64Array(kept)
  let sum = 0
  for (let r = 0; r < kept; r++) { const w = Math.exp((logits[order[r]!]! - max) / tau); weights[r] = w; sum += w }
  if (useTopP) {
    let cumulative = 0
    for (let r = 0; r < kept; r++) {
      cumulative += weights[r]! / sum
      if (cumulative >= sampling.topP) { kept = r + 1; break }
    }
  }
  const chosen = order.slice(0, kept)
  const cutoff = logits[chosen[kept - 1]!]! / tau
  chosen.sort()
  let keptSum = 0
  const probabilities = new Float64Array(kept)
  for (let i = 0; i < kept; i++) { const w = Math.exp((logits[chosen[i]!]! - max) / tau); probabilities[i] = w; keptSum += w }
  for (let i = 0; i < kept; i++) probabilities[i] = probabilities[i]! / keptSum
  return { tokens: chosen, probabilities, cutoff }
}

/** The token whose interval of [0, 1) holds u (the last kept token absorbs rounding at the top). */
export function pickByDraw(distribution: KeptDistribution, u: number): number {
  let cumulative = 0
  const { tokens, probabilities } = distribution
  for (let i = 0; i < tokens.length; i++) {
    cumulative += probabilities[i]!
    if (u < cumulative) return tokens[i]!
  }
  return tokens[tokens.length - 1]!
}

/** The next token of output position `index` under `sampling`. */
export function sampleToken(logits: Float32Array, sampling: SamplingParams, index: number): number {
  if (sampling.temperature === 0) return argmax(logits)
  return pickByDraw(keptDistribution(logits, sampling), drawUniform(sampling.seed, index))
}
