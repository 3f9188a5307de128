import t from 'tap'
import fc from 'fast-check'
import { apportion, log2Q16, mulDivFloor, Q16 } from '../../attribution/fixedPoint.ts'

t.test('log2Q16 is exact at powers of two, monotone, and within 2^-15 of log2 below', async (t) => {
  for (let k = 0; k < 53; k++) t.equal(log2Q16(2 ** k), k * Q16, `2^${k}`)
  fc.assert(fc.property(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), (x) => {
    const q = log2Q16(x)
    const exact = Math.log2(x) * Q16
    return q <= exact + 1e-6 && exact - q < 2 && Number.isInteger(q)
  }), { numRuns: 2000 })
  fc.assert(fc.property(fc.integer({ min: 1, max: 2 ** 40 }), fc.integer({ min: 0, max: 2 ** 12 }), (x, d) => log2Q16(x) <= log2Q16(x + d)))
  t.throws(() => log2Q16(0), { code: 'INVALID_ARGUMENT' })
  t.throws(() => log2Q16(1.5), { code: 'INVALID_ARGUMENT' })
})

t.test('mulDivFloor equals the BigInt result whatever the size', async (t) => {
  fc.assert(fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), (a, b, c) => {
    const expected = (BigInt(a) * BigInt(b)) / BigInt(c)
    if (expected > BigInt(Number.MAX_SAFE_INTEGER)) return true
    return mulDivFloor(a, b, c) === Number(expected)
  }), { numRuns: 2000 })
  t.equal(mulDivFloor(7, 3, 2), 10)
})

t.test('apportion: shares sum exactly to the total, each within one unit of its quota, ties to the lower index', async (t) => {
  fc.assert(fc.property(fc.array(fc.bigInt({ min: 0n, max: 2n ** 70n }), { minLength: 1, maxLength: 60 }), fc.bigInt({ min: 0n, max: 10n ** 27n }), (weights, total) => {
    const sum = weights.reduce((a, b) => a + b, 0n)
    if (sum === 0n) return true
    const shares = apportion(weights, total)
    if (shares.reduce((a, b) => a + b, 0n) !== total) return false
    return shares.every((s, i) => {
      const floor = (total * weights[i]!) / sum
      return s === floor || s === floor + 1n
    })
  }), { numRuns: 1000 })
  t.strictSame(apportion([1n, 1n, 1n], 2n), [1n, 1n, 0n], 'equal remainders: lower index first')
  t.strictSame(apportion([1n, 2n], 4n), [1n, 3n], 'largest remainder wins')
  t.strictSame(apportion([0n, 5n], 7n), [0n, 7n])
  t.throws(() => apportion([0n, 0n], 10n), { code: 'EMPTY' })
  t.throws(() => apportion([1n, -1n], 10n), { code: 'INVALID_ARGUMENT' })
})
