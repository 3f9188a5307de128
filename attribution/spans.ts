// Span attribution (infini-gram / OLMoTrace style): the maximal spans of a model output found
// verbatim in a datanet version's text, their counts and the contributions holding them, and
// each contribution's credit as a fixed-point share of a fixed total.
//
//   ℓ(i)       the longest prefix of output[i..] that occurs in the corpus (a suffix-array walk:
//              each extra token narrows the rank range by two binary searches on one token)
//   span       [i, i+ℓ(i)) with ℓ(i) ≥ minLength that is maximal: no span starting earlier ends
//              at or after it (i = 0 or ℓ(i) ≥ ℓ(i−1)), so each is a match no longer match contains
//   count c    occurrences of the span in the corpus (the size of its rank range)
//   bits(s)    Σ over the span's tokens t of log2(n / count(t)): its self-information under the
//              corpus's unigram model (Q16), which grows with both length and rarity
//   weight(s)  max(0, bits(s) − log2 c): the information left once one says which of its c
//              occurrences it is — a long span of rare tokens found once weighs most, a stock
//              phrase found everywhere next to nothing (infini-gram's reasoning: the longer and
//              rarer the matched context, the more it pins down its source)
//   credit     contribution k receives floor(weight(s) · occ_k(s) / c) from each span, occ_k(s)
//              being the span's occurrences inside k; spans with c > maxOccurrences are reported
//              but credit no one (they are stock phrases, and bound the work of a query), as do
//              spans lighter than minWeight
//   shares     the raw credits apportioned to `total` by largest remainder (fixedPoint.ts)
//
// All integer arithmetic (Q16 bits), in output order then version order: the same bytes on
// every machine.
import { AttributionError } from './errors.ts'
import { apportion, log2Q16, mulDivFloor } from './fixedPoint.ts'
import type { RankRange, SpanIndex } from './spanIndex.ts'

export interface SpanOptions {
  /** shortest span (tokens) that credits anyone; default 8 */
  readonly minLength?: number
  /** spans found more often than this credit no one; default 1024 */
  readonly maxOccurrences?: number
  /** spans whose weight (Q16 bits) is below this credit no one; default 0 */
  readonly minWeight?: number
}

export const DEFAULT_MIN_SPAN = 8
export const DEFAULT_MAX_OCCURRENCES = 1024
/** longest output a query takes (tokens) */
export const MAX_QUERY_TOKENS = 1 << 16

export interface Span {
  /** first output position */
  readonly start: number
  /** tokens */
  readonly length: number
  /** occurrences in the corpus */
  readonly count: number
  /** Q16 bits: max(0, bits − log2 count) */
  readonly weight: number
  /** contributions (indices in version order) and occurrences inside each, ascending; empty when count > maxOccurrences or weight < minWeight */
  readonly contributions: ReadonlyArray<{ readonly contribution: number; readonly occurrences: number }>
}

export interface ContributionScore {
  /** the contribution's id */
  readonly id: number
  /** its index in the version */
  readonly index: number
  /** fixed-point share of the total */
  readonly score: bigint
}

export interface SpanAttribution {
  readonly spans: readonly Span[]
  /** contributions with a non-zero share, in version order; empty when no span credits anyone */
  readonly scores: readonly ContributionScore[]
}

function checkOutput(index: SpanIndex, output: ArrayLike<number>): void {
  if (output.length > MAX_QUERY_TOKENS) throw new AttributionError('TOO_LARGE', `an output of ${output.length} tokens, at most ${MAX_QUERY_TOKENS}`)
  for (let i = 0; i < output.length; i++) {
    const t = output[i]!
    if (!(Number.isInteger(t) && t >= 0 && t < index.vocab)) throw new AttributionError('INVALID_ARGUMENT', `output token ${i} is ${t}, outside 0..${index.vocab - 1}`, { details: { index: i } })
  }
}

/** ℓ(i) for every output position, and the rank range of each longest match. */
export function longestMatches(index: SpanIndex, output: ArrayLike<number>): { lengths: Int32Array; ranges: RankRange[] } {
  checkOutput(index, output)
  const lengths = new Int32Array(output.length)
  const ranges: RankRange[] = []
  for (let i = 0; i < output.length; i++) {
    let range: RankRange = { lo: 0, hi: index.length }
    let length = 0
    while (i + length < output.length) {
      const next = index.narrow(range, length, output[i + length]!)
      if (next.lo >= next.hi) break
      range = next
      length++
    }
    lengths[i] = length
    ranges.push(range)
  }
  return { lengths, ranges }
}

/** The maximal spans of the output of at least minLength tokens, with counts, weights and contributions. */
export function findSpans(index: SpanIndex, output: ArrayLike<number>, options: SpanOptions = {}): Span[] {
  const minLength = options.minLength ?? DEFAULT_MIN_SPAN
  const maxOccurrences = options.maxOccurrences ?? DEFAULT_MAX_OCCURRENCES
  const minWeight = options.minWeight ?? 0
  if (!Number.isSafeInteger(minWeight) || minWeight < 0) throw new AttributionError('INVALID_ARGUMENT', `minWeight must be a non-negative integer, got ${minWeight}`)
  if (!Number.isSafeInteger(minLength) || minLength < 1) throw new AttributionError('INVALID_ARGUMENT', `minLength must be a positive integer, got ${minLength}`)
  if (!Number.isSafeInteger(maxOccurrences) || maxOccurrences < 1 || maxOccurrences > 1 << 20) throw new AttributionError('INVALID_ARGUMENT', `maxOccurrences must be in 1..${1 << 20}, got ${maxOccurrences}`)
  const { lengths, ranges } = longestMatches(index, output)
  const logN = log2Q16(Math.max(1, index.length))
  const spans: Span[] = []
  for (let i = 0; i < output.length; i++) {
    const length = lengths[i]!
    if (length < minLength || (i > 0 && length < lengths[i - 1]!)) continue
    const { lo, hi } = ranges[i]!
    const count = hi - lo
    let bits = 0
    for (let j = i; j < i + length; j++) bits += logN - log2Q16(index.unigramCount(output[j]!))
    const weight = Math.max(0, bits - log2Q16(count))
    const contributions: Array<{ contribution: number; occurrences: number }> = []
    if (count <= maxOccurrences && weight >= minWeight) {
      const holders = new Int32Array(count)
      for (let r = lo; r < hi; r++) holders[r - lo] = index.contributionAt(index.suffix(r))
      holders.sort()
      for (let r = 0; r < count; r++) {
        const last = contributions[contributions.length - 1]
        if (last !== undefined && last.contribution === holders[r]) last.occurrences++
        else contributions.push({ contribution: holders[r]!, occurrences: 1 })
      }
    }
    spans.push({ start: i, length, count, weight, contributions })
  }
  return spans
}

/** Raw credit per contribution (version order) from these spans: Σ floor(weight · occ_k / count). */
export function spanCredits(index: SpanIndex, spans: readonly Span[]): Float64Array {
  const credit = new Float64Array(index.contributionCount)
  for (const span of spans) {
    for (const { contribution, occurrences } of span.contributions) credit[contribution]! += mulDivFloor(span.weight, occurrences, span.count)
  }
  return credit
}

/** Spans of the output and each contribution's share of `total` (default 1,000,000). */
export function attributeSpans(index: SpanIndex, output: ArrayLike<number>, options: SpanOptions & { readonly total?: bigint } = {}): SpanAttribution {
  const spans = findSpans(index, output, options)
  const credit = spanCredits(index, spans)
  return { spans, scores: sharesOf(index, credit, options.total ?? 1_000_000n) }
}

/** Largest-remainder shares of raw credits (version order); empty when every credit is 0. */
export function sharesOf(index: SpanIndex, credit: ArrayLike<number>, total: bigint): ContributionScore[] {
  const weights: bigint[] = []
  let any = false
  for (let k = 0; k < credit.length; k++) {
    weights.push(BigInt(credit[k]!))
    if (credit[k]! > 0) any = true
  }
  if (!any) return []
  const shares = apportion(weights, total)
  const scores: ContributionScore[] = []
  for (const [k, score] of shares.entries()) if (score > 0n) scores.push({ id: index.contributionIds[k]!, index: k, score })
  return scores
}
