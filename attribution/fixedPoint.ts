// Integer arithmetic every attribution score goes through, so that each validator computes the
// same bits: a base-2 logarithm in Q16 from integer operations only, and the largest-remainder
// apportionment that turns raw scores into shares summing exactly to a fixed total.
//
// Every intermediate value here is an integer below 2^53, where IEEE-754 doubles compute +, −, ×
// and division by a power of two exactly on every machine; anything larger goes through BigInt.
import { largestRemainder } from '../runtime/modules/accounts.ts'
import { AttributionError } from './errors.ts'

/** 1.0 in Q16 */
export const Q16 = 65536
const TWO_24 = 16_777_216
const TWO_25 = 33_554_432

/**
 * floor-truncated log2(x) in Q16 for a positive safe integer x (16 fractional bits by repeated
 * squaring of a 25-bit mantissa: m² < 2^50 stays exact). log2Q16(1) = 0, log2Q16(2^k) = k·65536.
 */
export function log2Q16(x: number): number {
  if (!Number.isSafeInteger(x) || x < 1) throw new AttributionError('INVALID_ARGUMENT', `log2Q16 takes a positive safe integer, got ${x}`)
  let e = 0
  let power = 1
  while (power * 2 <= x) {
    power *= 2
    e++
  }
  // mantissa in Q24, in [2^24, 2^25); division by a power of two is exact, floor drops the low bits
  let m = e >= 24 ? Math.floor(x / 2 ** (e - 24)) : x * 2 ** (24 - e)
  let result = e * Q16
  for (let bit = Q16 >> 1; bit >= 1; bit >>= 1) {
    m = Math.floor((m * m) / TWO_24)
    if (m >= TWO_25) {
      m = Math.floor(m / 2)
      result += bit
    }
  }
  return result
}

/** floor(a · b / c) for non-negative safe integers, exact whatever the size (BigInt when a·b ≥ 2^53). */
export function mulDivFloor(a: number, b: number, c: number): number {
  const product = a * b
  if (Number.isSafeInteger(product)) return (product - (product % c)) / c
  return Number((BigInt(a) * BigInt(b)) / BigInt(c))
}

/**
 * Largest-remainder apportionment (Hamilton): shares of `total` proportional to `weights`, each
 * floor(total·w/Σw) plus one unit for the largest remainders until the shares sum to `total`
 * exactly; equal remainders go to the lower index. Weights are non-negative integers, not all 0.
 */
export function apportion(weights: readonly bigint[], total: bigint): bigint[] {
  if (total < 0n) throw new AttributionError('INVALID_ARGUMENT', 'the total to apportion is negative')
  let sum = 0n
  for (const [i, w] of weights.entries()) {
    if (w < 0n) throw new AttributionError('INVALID_ARGUMENT', `weight ${i} is negative`, { details: { index: i } })
    sum += w
  }
  if (sum === 0n) throw new AttributionError('EMPTY', 'all weights are zero: nothing to apportion')
  return largestRemainder(weights, total)
}
