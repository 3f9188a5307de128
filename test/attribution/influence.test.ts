import { fileURLToPath } from 'node:url'
import t from 'tap'
import { dataInf, gradientDotMatrix, INFLUENCE_ONE, loraGradients, tracInCp } from '../../attribution/influence.ts'
import { KERNEL_ENV } from '../../ml/index.ts'
import { classifierLoss } from '../../ml/model/forward.ts'
import { NODE, run } from '../ml/qemu.ts'
import { influenceJob, influenceSetup } from './influenceJob.ts'

t.setTimeout(5 * 60_000)

t.test('TracIn predicts the change of the test loss after a small gradient step on one example', async (t) => {
  const { model, adapter, examples } = influenceSetup(1)
  const train = examples.slice(0, 12)
  const test = examples.slice(12)
  const eta = 1e-3
  const scores = tracInCp(model, [{ adapter, learningRate: eta }], train, test, 'sum')
  const testLoss = (a: Map<string, Float32Array>) => classifierLoss(model.config, model.base, a, model.scale, test.map((e) => ({ ids: e.ids, label: (e as { label: number }).label }))) * test.length
  const before = testLoss(adapter)
  const g = loraGradients(model, adapter, train)
  let agree = 0
  for (let i = 0; i < train.length; i++) {
    // θ' = θ − η ∇ℓ(z_i): the test loss should move by about −helpfulness
    const stepped = new Map<string, Float32Array>()
    let offset = 0
    for (const [name, tensor] of adapter) {
      stepped.set(name, tensor.map((x, j) => x - eta * g.flat[i * g.size + offset + j]!))
      offset += tensor.length
    }
    const actual = testLoss(stepped) - before
    const predicted = -scores[i]! / INFLUENCE_ONE
    if (Math.abs(actual - predicted) <= 0.05 * Math.abs(predicted) + 1e-6) agree++
  }
  t.ok(agree >= train.length - 1, `first-order prediction within 5 % for ${agree} of ${train.length} examples`)
  t.ok(scores.every((s) => Number.isSafeInteger(s)), 'Q32 integers')
})

/** (λI + g gᵀ)⁻¹ by Gauss–Jordan elimination. */
function inverse(matrix: number[][]): number[][] {
  const n = matrix.length
  const a = matrix.map((row, i) => [...row, ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))])
  for (let c = 0; c < n; c++) {
    let pivot = c
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r]![c]!) > Math.abs(a[pivot]![c]!)) pivot = r
    ;[a[c], a[pivot]] = [a[pivot]!, a[c]!]
    const p = a[c]![c]!
    for (let j = 0; j < 2 * n; j++) a[c]![j]! /= p
    for (let r = 0; r < n; r++) {
      if (r === c) continue
      const f = a[r]![c]!
      for (let j = 0; j < 2 * n; j++) a[r]![j]! -= f * a[c]![j]!
    }
  }
  return a.map((row) => row.slice(n))
}

t.test('DataInf equals vᵀ((1/n) Σ (λI + g gᵀ)⁻¹) g_k per block, with the inverses formed explicitly', async (t) => {
  const { model, adapter, examples } = influenceSetup(2)
  const train = examples.slice(0, 10)
  const test = examples.slice(10, 14)
  const scores = dataInf(model, adapter, train, test, { weighting: 'sum' })
  const g = loraGradients(model, adapter, train)
  const gt = loraGradients(model, adapter, test)
  const expected = new Array<number>(train.length).fill(0)
  for (const [start, end] of g.blocks) {
    const m = end - start
    const row = (flat: Float32Array, i: number) => Array.from(flat.subarray(i * g.size + start, i * g.size + end))
    const v = Array.from({ length: m }, (_, j) => test.reduce((s, _e, i) => s + gt.flat[i * g.size + start + j]!, 0))
    const norms = train.map((_, i) => row(g.flat, i).reduce((s, x) => s + x * x, 0))
    const lambda = 0.1 * (norms.reduce((a, b) => a + b, 0) / train.length)
    if (lambda === 0) continue
    const average = Array.from({ length: m }, () => new Array<number>(m).fill(0))
    for (let i = 0; i < train.length; i++) {
      const gi = row(g.flat, i)
      const inv = inverse(Array.from({ length: m }, (_, r) => Array.from({ length: m }, (_, c) => (r === c ? lambda : 0) + gi[r]! * gi[c]!)))
      for (let r = 0; r < m; r++) for (let c = 0; c < m; c++) average[r]![c]! += inv[r]![c]! / train.length
    }
    for (let k = 0; k < train.length; k++) {
      const gk = row(g.flat, k)
      let s = 0
      for (let r = 0; r < m; r++) for (let c = 0; c < m; c++) s += v[r]! * average[r]![c]! * gk[c]!
      expected[k]! += s
    }
  }
  for (let k = 0; k < train.length; k++) {
    const got = scores[k]! / INFLUENCE_ONE
    t.ok(Math.abs(got - expected[k]!) <= 1e-6 * Math.max(1, Math.abs(expected[k]!)), `example ${k}: ${got} vs ${expected[k]}`)
  }
})

t.test('TracIn-CP and DataInf: the same bytes twice and under both ML kernels', async (t) => {
  const here = influenceJob()
  t.same(influenceJob(), here, 'same bytes twice in one process')
  const script = fileURLToPath(new URL('./influenceJob.ts', import.meta.url))
  for (const kernel of ['scalar', 'simd']) {
    const { stdout } = await run(NODE, [script], { env: { ...process.env, [KERNEL_ENV]: kernel }, timeout: 120_000 })
    const report = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as ReturnType<typeof influenceJob>
    t.equal(report.kernel, kernel)
    t.same({ tracIn: report.tracIn, dataInf: report.dataInf }, { tracIn: here.tracIn, dataInf: here.dataInf }, `${kernel} kernel`)
  }
})

t.test('the per-pair matrix sums over test examples to TracIn with one checkpoint', async (t) => {
  const { model, adapter, examples } = influenceSetup(5)
  const train = examples.slice(0, 15)
  const test = examples.slice(15)
  const matrix = gradientDotMatrix(model, adapter, train, test)
  const total = tracInCp(model, [{ adapter, learningRate: 1 }], train, test, 'sum')
  for (let i = 0; i < train.length; i++) {
    let sum = 0
    for (let t = 0; t < test.length; t++) sum += matrix[t * train.length + i]!
    t.ok(Math.abs(sum - total[i]!) <= test.length + 1e-9 * Math.abs(total[i]!), `example ${i}: ${sum} vs ${total[i]}`)
  }
})

t.test('bad input is refused with stable codes', async (t) => {
  const { model, adapter, examples } = influenceSetup(3)
  t.throws(() => tracInCp(model, [], examples, examples), { code: 'EMPTY' })
  t.throws(() => tracInCp(model, [{ adapter, learningRate: NaN }], examples, examples), { code: 'INVALID_ARGUMENT' })
  t.throws(() => dataInf(model, adapter, [], examples), { code: 'EMPTY' })
  t.throws(() => dataInf(model, adapter, examples, examples, { damping: 0 }), { code: 'INVALID_ARGUMENT' })
})
