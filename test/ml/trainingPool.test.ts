import t from 'tap'
import { toHex } from '../../runtime/crypto/hash.ts'
import type { Example } from '../../ml/model/backward.ts'
import type { ModelConfig } from '../../ml/model/config.ts'
import { KERNEL_ENV } from '../../ml/wasm/kernelModule.ts'
import { initParams } from '../../ml/model/params.ts'
import { train, type TrainingJob } from '../../ml/train/trainer.ts'
import { TrainingPool, trainWithThreads } from '../../node/workers/trainingPool.ts'

const lm: ModelConfig = { kind: 'lm', vocab: 24, context: 10, dim: 16, layers: 2, heads: 2, hidden: 32, classes: 0 }
const cls: ModelConfig = { kind: 'classifier', vocab: 24, context: 10, dim: 16, layers: 1, heads: 2, hidden: 16, classes: 2 }
const tokens = Int32Array.from({ length: 200 }, (_, i) => (i * 5 + (i >> 2)) % 24)
const hyper = { rank: 2, alpha: 4, steps: 4, batchSize: 5, learningRate: 1e-2, seed: 3, checkpointEvery: 2 }
const examples = Array.from({ length: 12 }, (_, i) => ({ ids: tokens.subarray(i * 4, i * 4 + 3 + (i % 7)), label: i % 2 }))

const jobs: Record<string, TrainingJob> = {
  'lm lora': { config: lm, mode: 'lora', base: initParams(lm, 1), data: { kind: 'lm', tokens }, hyper },
  'lm all': { config: lm, mode: 'all', base: initParams(lm, 1), data: { kind: 'lm', tokens }, hyper },
  'classifier lora': { config: cls, mode: 'lora', base: initParams(cls, 2), data: { kind: 'classifier', examples }, hyper },
}

t.test('threads 1, threads 2 and the inline trainer agree bit for bit', async (t) => {
  for (const [name, job] of Object.entries(jobs)) {
    const inline = await train(job)
    const one = await trainWithThreads(job, { threads: 1 })
    const two = await trainWithThreads(job, { threads: 2 })
    t.equal(toHex(one.finalHash), toHex(inline.finalHash), `${name}: 1 thread = inline`)
    t.equal(toHex(two.finalHash), toHex(inline.finalHash), `${name}: 2 threads = inline`)
    t.equal(toHex(two.checkpointRoot), toHex(inline.checkpointRoot))
    t.same(two.losses, inline.losses)
  }
})

t.test('errors in a worker come back typed; a stopped pool refuses work', async (t) => {
  const job = jobs['lm lora']!
  await t.rejects(trainWithThreads({ ...job, hyper: { ...job.hyper, learningRate: 1e300 } }, { threads: 2 }), { code: 'NON_FINITE' })
  const pool = new TrainingPool(job, { threads: 1 })
  await t.rejects(pool.accumulate(new Float32Array(1), [], new Float64Array(1)), { code: 'NOT_STARTED' })
  pool.start()
  await t.rejects(pool.accumulate(new Float32Array(3), [{ kind: 'lm', ids: Int32Array.of(1, 2) }], new Float64Array(3)), { code: 'SHAPE_MISMATCH' })
  await pool.stop()
})

t.test('a worker that cannot set up reports why to every step, and never leaves a step waiting', async (t) => {
  const job = jobs['lm lora']!
  const saved = process.env[KERNEL_ENV]
  process.env[KERNEL_ENV] = 'no-such-kernel' // the workers copy the environment when they start
  const pool = new TrainingPool(job, { threads: 2 })
  pool.start()
  if (saved === undefined) delete process.env[KERNEL_ENV]
  else process.env[KERNEL_ENV] = saved
  t.teardown(() => pool.stop())
  const examples: Example[] = [{ kind: 'lm', ids: Int32Array.of(1, 2, 3) }, { kind: 'lm', ids: Int32Array.of(4, 5, 6) }]
  // the set-up error comes before the weights are looked at
  for (let i = 0; i < 2; i++) {
    await t.rejects(pool.accumulate(new Float32Array(1), examples, new Float64Array(1)), { name: 'MlError', code: 'INVALID_ARGUMENT' }, `step ${i + 1}: the set-up error, typed`)
  }
})

t.test('a thread that dies fails its step and every later one at once', async (t) => {
  const pool = new TrainingPool(jobs['lm lora']!, { threads: 1, workerScript: new URL('./exitingTrainingWorker.ts', import.meta.url) })
  pool.start()
  t.teardown(() => pool.stop())
  const examples: Example[] = [{ kind: 'lm', ids: Int32Array.of(1, 2, 3) }]
  await t.rejects(pool.accumulate(new Float32Array(1), examples, new Float64Array(1)), { name: 'TrainingPoolError', code: 'WORKER_DIED' })
  await t.rejects(pool.accumulate(new Float32Array(1), examples, new Float64Array(1)), { name: 'TrainingPoolError', code: 'WORKER_DIED' }, 'not sent to the dead thread')
})
