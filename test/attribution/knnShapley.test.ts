import { fileURLToPath } from 'node:url'
import t from 'tap'
import fc from 'fast-check'
import { sumByContribution, splitScores } from '../../attribution/aggregate.ts'
import { knnShapley, SHAPLEY_ONE } from '../../attribution/knnShapley.ts'
import { KERNEL_ENV } from '../../ml/index.ts'
import { NODE, run } from '../ml/qemu.ts'
import { knnJob } from './knnJob.ts'

t.setTimeout(5 * 60_000)

/** Exact Shapley values by enumerating every subset, for the utility KNN-Shapley values. */
function bruteShapley(trainX: number[][], trainY: number[], testX: number[][], testY: number[], k: number): number[] {
  const n = trainX.length
  const distance = (a: number[], b: number[]) => a.reduce((s, x, j) => s + (x - b[j]!) ** 2, 0)
  const utility = (subset: number[], t: number) => {
    const sorted = [...subset].sort((a, b) => distance(trainX[a]!, testX[t]!) - distance(trainX[b]!, testX[t]!) || a - b)
    return sorted.slice(0, k).filter((i) => trainY[i] === testY[t]).length / k
  }
  const factorial = (x: number): number => (x <= 1 ? 1 : x * factorial(x - 1))
  const values = new Array<number>(n).fill(0)
  for (let t = 0; t < testX.length; t++) {
    for (let i = 0; i < n; i++) {
      for (let mask = 0; mask < 1 << n; mask++) {
        if (mask & (1 << i)) continue
        const subset = [...Array(n).keys()].filter((j) => mask & (1 << j))
        const weight = (factorial(subset.length) * factorial(n - subset.length - 1)) / factorial(n)
        values[i]! += weight * (utility([...subset, i], t) - utility(subset, t))
      }
    }
  }
  return values
}

t.test('KNN-Shapley equals the Shapley values enumerated over every subset', async () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 1e6 }), (n, k, m, seed) => {
    let x = seed + 1
    const next = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) % 1000) / 100
    const trainX = Array.from({ length: n }, () => [next(), next()])
    const testX = Array.from({ length: m }, () => [next(), next()])
    const trainY = trainX.map(() => Math.floor(next()) % 2)
    const testY = testX.map(() => Math.floor(next()) % 2)
    const values = knnShapley({ features: Float32Array.from(trainX.flat()), labels: trainY }, { features: Float32Array.from(testX.flat()), labels: testY }, 2, k)
    const expected = bruteShapley(trainX.map((r) => Array.from(Float32Array.from(r))), trainY, testX.map((r) => Array.from(Float32Array.from(r))), testY, k)
    return expected.every((e, i) => Number.isInteger(values[i]) && Math.abs(values[i]! / SHAPLEY_ONE - e) < (n * m + 1) / SHAPLEY_ONE)
  }), { numRuns: 150 })
})

t.test('efficiency: the values of a test point sum to its utility with every point, a mislabeled point near a test point is negative', async (t) => {
  const train = { features: Float32Array.of(0, 0, 1, 0, 0, 1.5, 3, 3, 6, 5), labels: [0, 0, 1, 0, 1] }
  const test = { features: Float32Array.of(0.1, 0.1), labels: [0] }
  const values = knnShapley(train, test, 2, 3)
  const sum = values.reduce((a, b) => a + b, 0)
  t.ok(Math.abs(sum / SHAPLEY_ONE - 2 / 3) < 1e-8, `sum ${sum / SHAPLEY_ONE} = U(all) = 2/3`)
  t.ok(values[2]! < 0, 'the neighbour labelled 1 hurts a test point labelled 0')
  t.ok(values[0]! > 0 && values[1]! > 0)
})

t.test('per-contribution totals: exact sums, positive parts apportioned exactly, negative ones as penalties', async (t) => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), fc.integer({ min: 0, max: 4 })), { minLength: 1, maxLength: 80 }), (rows) => {
    const totals = sumByContribution(rows.map(([v]) => v), rows.map(([, o]) => o), 5)
    for (let k = 0; k < 5; k++) if (totals[k] !== rows.filter(([, o]) => o === k).reduce((a, [v]) => a + BigInt(v), 0n)) return false
    const { shares, penalties } = splitScores(totals, 1_000_000n)
    const positive = totals.some((v) => v > 0n)
    if (shares.reduce((a, b) => a + b, 0n) !== (positive ? 1_000_000n : 0n)) return false
    return totals.every((v, k) => (v < 0n ? penalties[k] === -v && shares[k] === 0n : penalties[k] === 0n))
  }))
  t.throws(() => sumByContribution([1], [5], 5), { code: 'INVALID_ARGUMENT' })
})

t.test('features and values: the same bytes twice and under both ML kernels', async (t) => {
  const here = knnJob()
  t.same(knnJob(), here, 'same bytes twice in one process')
  const script = fileURLToPath(new URL('./knnJob.ts', import.meta.url))
  for (const kernel of ['scalar', 'simd']) {
    const { stdout } = await run(NODE, [script], { env: { ...process.env, [KERNEL_ENV]: kernel }, timeout: 120_000 })
    const report = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as ReturnType<typeof knnJob>
    t.equal(report.kernel, kernel)
    t.same({ features: report.features, values: report.values }, { features: here.features, values: here.values }, `${kernel} kernel`)
  }
})

t.test('bad input is refused with stable codes', async (t) => {
  const one = { features: Float32Array.of(0, 0), labels: [0] }
  t.throws(() => knnShapley(one, one, 2, 0), { code: 'INVALID_ARGUMENT' })
  t.throws(() => knnShapley(one, one, 3, 1), { code: 'INVALID_ARGUMENT' })
  t.throws(() => knnShapley({ features: new Float32Array(0), labels: [] }, one, 2, 1), { code: 'EMPTY' })
  t.throws(() => knnShapley({ features: Float32Array.of(NaN, 0), labels: [0] }, one, 2, 1), { code: 'INVALID_ARGUMENT' })
})
