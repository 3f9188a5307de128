import t from 'tap'
import fc from 'fast-check'
import { exp, expm1, log, tanh } from '../../ml/math.ts'

const f64 = new Float64Array(1)
const i64 = new BigInt64Array(f64.buffer)
/** Distance in units in the last place (0 when both are the same NaN or the same value). */
function ulps(a: number, b: number): number {
  if (Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b))) return 0
  if (Number.isNaN(a) || Number.isNaN(b) || Math.sign(a) !== Math.sign(b)) return Infinity
  f64[0] = a
  const x = i64[0]!
  f64[0] = b
  const y = i64[0]!
  return Number(x > y ? x - y : y - x)
}

const MAX_ULPS = 2
const functions = [
  ['exp', exp, Math.exp],
  ['expm1', expm1, Math.expm1],
  ['tanh', tanh, Math.tanh],
  ['log', log, Math.log],
] as const

t.test('edge cases match Math exactly', async (t) => {
  const inputs = [0, -0, 5e-324, -5e-324, 2.2250738585072014e-308, 1e-310, -1e-310, 1e-300, 1, -1, 0.5, -0.5, 2, 22, -22, 40, -40,
    709.782712893384, 709.79, -745.13, -745.14, 1e308, -1e308, Number.MAX_VALUE, Infinity, -Infinity, NaN, 0.34657359027997264, 1.0397207708399179]
  for (const [name, ours, reference] of functions) {
    for (const x of inputs) t.ok(ulps(ours(x), reference(x)) <= MAX_ULPS, `${name}(${x}) = ${ours(x)}, Math gives ${reference(x)}`)
  }
  t.ok(Number.isNaN(exp(NaN)))
  t.ok(Number.isNaN(log(-1)))
  t.equal(log(0), -Infinity)
  t.equal(log(Infinity), Infinity)
  t.equal(exp(-Infinity), 0)
  t.equal(exp(Infinity), Infinity)
  t.equal(tanh(Infinity), 1)
  t.equal(tanh(-Infinity), -1)
  t.ok(Object.is(tanh(-0), -0))
  t.ok(Object.is(expm1(-0), -0))
  t.equal(exp(0), 1)
  t.equal(log(1), 0)
})

t.test('random inputs stay within a few ulp of Math', async (t) => {
  let worst = 0
  const wide = fc.double({ noNaN: true, min: -800, max: 800 })
  const small = fc.double({ noNaN: true, min: -2, max: 2 })
  const positive = fc.double({ noNaN: true, min: 0, max: Number.MAX_VALUE })
  fc.assert(fc.property(fc.oneof(wide, small), positive, (x, y) => {
    for (const [, ours, reference] of functions.slice(0, 3)) worst = Math.max(worst, ulps(ours(x), reference(x)))
    worst = Math.max(worst, ulps(log(y), Math.log(y)))
    return worst <= MAX_ULPS
  }), { numRuns: 20000, seed: 42 })
  // A dense sweep through the ranges the engine uses (softmax, GELU, losses).
  for (let i = 0; i < 200000; i++) {
    const x = -60 + (i * 120) / 200000
    worst = Math.max(worst, ulps(exp(x), Math.exp(x)), ulps(tanh(x / 8), Math.tanh(x / 8)), ulps(log(Math.abs(x) + 1e-9), Math.log(Math.abs(x) + 1e-9)))
  }
  t.ok(worst <= MAX_ULPS, `worst error ${worst} ulp`)
})
