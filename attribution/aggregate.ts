// Per-example scores (fixed-point integers) summed per contribution, and split into what pays
// (positive totals, apportioned to a fixed total by largest remainder) and what penalises
// (negative totals, kept as magnitudes for the penalty score).
import { AttributionError } from './errors.ts'
import { apportion } from './fixedPoint.ts'

/** Σ of the scores of each contribution's examples (owners[i] = contribution index of example i), in example order. */
export function sumByContribution(scores: ArrayLike<number>, owners: ArrayLike<number>, contributions: number): bigint[] {
  if (scores.length !== owners.length) throw new AttributionError('INVALID_ARGUMENT', 'one owner per score')
  const sums = new Array<bigint>(contributions).fill(0n)
  for (let i = 0; i < scores.length; i++) {
    const owner = owners[i]!
    const score = scores[i]!
    if (!(Number.isInteger(owner) && owner >= 0 && owner < contributions)) throw new AttributionError('INVALID_ARGUMENT', `example ${i} has owner ${owner}, outside 0..${contributions - 1}`)
    if (!Number.isSafeInteger(score)) throw new AttributionError('INVALID_ARGUMENT', `score ${i} is not a safe integer`)
    sums[owner]! += BigInt(score)
  }
  return sums
}

export interface SplitScores {
  /** the positive totals apportioned to `total` (all zero when no total is positive) */
  readonly shares: bigint[]
  /** the magnitude of each negative total, 0 elsewhere */
  readonly penalties: bigint[]
}

export function splitScores(totals: readonly bigint[], total: bigint): SplitScores {
  const positive = totals.map((v) => (v > 0n ? v : 0n))
  const penalties = totals.map((v) => (v < 0n ? -v : 0n))
  const shares = positive.some((v) => v > 0n) ? apportion(positive, total) : positive
  return { shares, penalties }
}
