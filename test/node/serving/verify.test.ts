// Verification of served outputs (node/serving/verify.ts) on the shipped LM: records produced by the
// real engine (onnxruntime in worker threads) are accepted by ml/'s deterministic engine on both of
// its kernels (SIMD and scalar, each in a child process), and a changed token, a different adapter or
// a different base model is rejected. Also bounds the measured onnxruntime-vs-engine logit gap by ε.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { KERNEL_ENV } from '../../../ml/index.ts'
import { forward } from '../../../ml/model/forward.ts'
import { createServingEngine } from '../../../node/serving/engine/index.ts'
import { concatenateAdapters } from '../../../node/serving/engine/merge.ts'
import { ModelRunner } from '../../../node/serving/engine/modelRunner.ts'
import { ServingError } from '../../../node/serving/errors.ts'
import type { AdapterUse, RequestRecord, SamplingParams } from '../../../node/serving/types.ts'
import { DEFAULT_EPSILON, judgeToken } from '../../../node/serving/verify.ts'
import { NODE, run } from '../../ml/qemu.ts'
import { LM, PROMPTS, seededAdapter, shippedLm } from './verifyFixture.ts'

t.setTimeout(10 * 60_000)
const lm = await shippedLm()

t.test('onnxruntime and the deterministic engine agree within ε / 10 on real prompts', async (t) => {
  const runner = await ModelRunner.create(lm.config, lm.weights, { maxBatch: 1, executionProvider: 'cpu', intraOpThreads: 1 })
  t.teardown(() => runner.release())
  const adapter = seededAdapter(lm.config, '2')
  runner.loadAdapter('2', adapter.rank, adapter.tensors)
  let worst = 0
  for (const text of PROMPTS) {
    const tokens = lm.encode(text)
    for (const uses of [[], ['2']]) {
      const result = await runner.step([{ slot: 0, tokens, pastLength: 0, adapters: { keys: uses, scales: uses.map(() => 1) }, sampling: { temperature: 0, topK: 0, topP: 1, seed: 0 }, outputIndex: 0, logprobs: false }], 'prefill', true)
      const merged = uses.length === 0 ? undefined : concatenateAdapters(lm.config, [{ ...adapter, weight: 1 }]).tensors
      const reference = forward(lm.config, lm.weights, merged, 1, Int32Array.from(tokens), 1, tokens.length).subarray((tokens.length - 1) * lm.config.vocab)
      for (let j = 0; j < reference.length; j++) worst = Math.max(worst, Math.abs(reference[j]! - result.logits![j]!))
    }
  }
  t.ok(worst > 0 && worst < DEFAULT_EPSILON / 10, `max |onnxruntime − engine| = ${worst.toExponential(2)} (ε = ${DEFAULT_EPSILON})`)
})

t.test('the sampling judge: a draw outside the interval beyond δ is wrong, inside the margin uncertain', (t) => {
  const logits = Float32Array.from([2, 1, 0.5, 0.49995, -1])
  const sampling: SamplingParams = { temperature: 1, topK: 0, topP: 1, seed: 3 }
  const verdicts = [0, 1, 2, 3, 4].map((token) => judgeToken(logits, token, sampling, 0, 1e-3))
  t.equal(verdicts.filter((v) => v === 'ok').length, 1, 'exactly one token holds the draw')
  t.ok(verdicts.includes('wrong'))
  t.equal(judgeToken(logits, 3, { temperature: 0, topK: 0, topP: 1, seed: 0 }, 0, 1e-3), 'wrong')
  t.equal(judgeToken(Float32Array.from([1, 1.0005, 0]), 0, { temperature: 0, topK: 0, topP: 1, seed: 0 }, 0, 1e-3), 'uncertain', 'a near-tie is uncertain, not wrong')
  t.equal(judgeToken(Float32Array.from([1, 1.0005, -5]), 0, { temperature: 1, topK: 1, topP: 1, seed: 0 }, 0, 1e-3), 'uncertain', 'top-k membership at the cut is uncertain')
  t.end()
})

t.test('honest records pass on both kernels; tampered ones fail', async (t) => {
  const adapters = new Map(['1', '2', '3', '4'].map((id) => [id, seededAdapter(lm.config, id)]))
  const engine = createServingEngine({
    bases: [{ name: LM, config: lm.config, weights: lm.weights }],
    adapterSource: { fetch: (_base, id) => { const a = adapters.get(id); return a === undefined ? Promise.reject(new ServingError('ADAPTER_NOT_FOUND', id)) : Promise.resolve(a) } },
  })
  await engine.start()
  t.teardown(() => engine.stop())
  const plans: { uses: AdapterUse[]; sampling: SamplingParams }[] = [
    { uses: [], sampling: { temperature: 0, topK: 0, topP: 1, seed: 0 } },
    { uses: [{ id: '2', weight: 1 }], sampling: { temperature: 0, topK: 0, topP: 1, seed: 0 } },
    { uses: [{ id: '1', weight: 0.6 }, { id: '4', weight: 0.4 }], sampling: { temperature: 0, topK: 0, topP: 1, seed: 0 } },
    { uses: [{ id: '2', weight: 1 }], sampling: { temperature: 0.8, topK: 40, topP: 0.9, seed: 7 } },
    { uses: [], sampling: { temperature: 1.2, topK: 0, topP: 1, seed: 11 } },
    { uses: [{ id: '1', weight: 1 }], sampling: { temperature: 0.7, topK: 0, topP: 0.95, seed: 5 } },
  ]
  const records: RequestRecord[] = await Promise.all(plans.map((plan, i) => engine.generate({
    base: LM, adapters: plan.uses, promptTokens: lm.encode(PROMPTS[i]!), maxTokens: 24, sampling: plan.sampling, logprobs: false,
  }).done))
  const dir = mkdtempSync(join(tmpdir(), 'verify-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'records.json')
  writeFileSync(file, JSON.stringify(records))
  const script = fileURLToPath(new URL('./verifyJob.ts', import.meta.url))
  for (const kernel of ['simd', 'scalar']) {
    const { stdout } = await run(NODE, [script, file], { env: { ...process.env, [KERNEL_ENV]: kernel }, timeout: 5 * 60_000 })
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as { kernel: string; report: { honest: { accepted: boolean; uncertain: number }; changedToken: boolean; otherAdapter: boolean; otherBase: boolean }[] }
    t.equal(result.kernel, kernel)
    result.report.forEach((r, i) => {
      t.ok(r.honest.accepted, `${kernel} record ${i}: honest output accepted (${r.honest.uncertain} uncertain)`)
      t.notOk(r.changedToken, `${kernel} record ${i}: a changed token is rejected`)
      t.notOk(r.otherAdapter, `${kernel} record ${i}: a different adapter is rejected`)
      t.notOk(r.otherBase, `${kernel} record ${i}: a different base model is rejected`)
    })
  }
})
