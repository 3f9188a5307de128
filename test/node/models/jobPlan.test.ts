// The job plan: the fixed held-out split (every tenth 512-token block, every tenth row), the chain
// hyperparameters mapped to the engine's, the metrics as the chain records them and the adapter
// artifact, on the shipped base models and real Moby Dick text.
import t from 'tap'
import { adapterShapes } from '../../../ml/model/config.ts'
import { decodeTensors, initAdapter, tensorsHash } from '../../../ml/model/params.ts'
import { loadBaseModel } from '../../../node/models/assets.ts'
import { adapterArtifact, engineHyperparameters, EVAL_TOKENS, evaluatePlan, HOLDOUT_BLOCK, planJob, splitStream } from '../../../node/models/jobPlan.ts'
import type { Row } from '../../../runtime/modules/datanets/formats.ts'
import { mobyRows, TINY_HYPER } from './fixtures.ts'

const range = (n: number) => Int32Array.from({ length: n }, (_, i) => i)

t.test('splitStream holds out every tenth block of 512 tokens', async (t) => {
  const tokens = range(HOLDOUT_BLOCK * 23 + 100)
  const { train, heldOut } = splitStream(tokens)
  t.equal(train.length + heldOut.length, tokens.length, 'train ∪ held out is the whole stream')
  t.equal(heldOut.length, 2 * HOLDOUT_BLOCK, 'blocks 9 and 19 of 24')
  t.same(Array.from(heldOut.subarray(0, 3)), [9 * HOLDOUT_BLOCK, 9 * HOLDOUT_BLOCK + 1, 9 * HOLDOUT_BLOCK + 2])
  t.equal(heldOut[HOLDOUT_BLOCK], 19 * HOLDOUT_BLOCK, 'the second held-out block starts at block 19')
  const held = new Set(heldOut)
  t.ok(Array.from(train).every((token) => !held.has(token)), 'no token in both')
  t.same(Array.from(train.subarray(0, 9 * HOLDOUT_BLOCK)), Array.from(range(9 * HOLDOUT_BLOCK)), 'blocks 0..8 trained on, in order')
  t.equal(train[train.length - 1], tokens.length - 1, 'the short last block (23) is trained on')

  // exactly ten blocks: the tenth (a partial one) is held out
  const ten = splitStream(range(HOLDOUT_BLOCK * 9 + 7))
  t.same([ten.train.length, ten.heldOut.length], [HOLDOUT_BLOCK * 9, 7])

  const again = splitStream(tokens)
  t.same(Array.from(again.train), Array.from(train), 'deterministic')
  t.same(Array.from(again.heldOut), Array.from(heldOut))
})

t.test('a stream shorter than ten blocks holds out its last tenth', async (t) => {
  for (const length of [20, 512, 1000, HOLDOUT_BLOCK * 9]) {
    const { train, heldOut } = splitStream(range(length))
    t.equal(train.length + heldOut.length, length, `${length}: sizes add up`)
    t.equal(heldOut.length, Math.floor(length / 10), `${length}: the last tenth`)
    t.equal(heldOut[0], train.length, `${length}: held out is the tail`)
  }
  t.same(splitStream(range(12)).heldOut.length, 2, 'at least two tokens held out (one target)')
  t.same(splitStream(range(3)).heldOut.length, 2)
})

t.test('engineHyperparameters maps the chain record to the engine', async (t) => {
  t.same(engineHyperparameters(TINY_HYPER), { rank: 4, alpha: 8, steps: 4, batchSize: 2, learningRate: 0.002, seed: 7, checkpointEvery: 2, sequenceLength: 32 })
  t.equal(engineHyperparameters({ ...TINY_HYPER, learningRateMicro: 1 }).learningRate, 1e-6)
  t.equal(engineHyperparameters({ ...TINY_HYPER, learningRateMicro: 1_000_000 }).learningRate, 1)
})

t.test('planJob on the language model: one stream of the rows, the fixed split, evaluation capped', async (t) => {
  const model = await loadBaseModel('ol-lm-sotu-2m')
  const rows = await mobyRows(3)
  const plan = planJob(model.entry.config, model.weights, model.tokenizer, rows, TINY_HYPER)
  t.equal(plan.scale, 2, 'alpha / rank')
  t.equal(plan.labels, undefined)
  t.match(plan.job, { mode: 'lora', hyper: engineHyperparameters(TINY_HYPER), data: { kind: 'lm' } })
  const stream = model.tokenizer.encode(rows[0]!.text).length + model.tokenizer.encode(rows[1]!.text).length + model.tokenizer.encode(rows[2]!.text).length + 2
  const heldOutAll = stream - plan.sizes.train
  t.ok(stream > HOLDOUT_BLOCK * 10, 'three chapters make more than ten blocks')
  t.equal(heldOutAll, Math.floor(Math.ceil(stream / HOLDOUT_BLOCK) / 10) * HOLDOUT_BLOCK, 'whole held-out blocks')
  t.equal(plan.sizes.heldOut, Math.min(EVAL_TOKENS, heldOutAll))
  t.equal(plan.heldOut.kind === 'lm' ? plan.heldOut.tokens.length : -1, plan.sizes.heldOut)

  const evaluation = evaluatePlan(plan, initAdapter(model.entry.config, { rank: 4, alpha: 8 }, 7, model.weights))
  const { metrics } = evaluation
  t.equal(metrics.baseLossMicro, Math.round(evaluation.base.loss * 1e6), 'loss in micro-units, rounded')
  t.equal(metrics.adaptedLossMicro, Math.round(evaluation.adapted.loss * 1e6))
  t.same([metrics.baseAccuracyBps, metrics.adaptedAccuracyBps], [0, 0], 'no accuracy for a language model')
  t.ok(evaluation.base.loss > 3 && evaluation.base.loss < 8, `a sensible base loss (${evaluation.base.loss})`)
  t.same(evaluatePlan(plan, initAdapter(model.entry.config, { rank: 4, alpha: 8 }, 7, model.weights)).metrics, metrics, 'deterministic')
})

t.test('planJob on the classifier: every tenth row held out, labels sorted', async (t) => {
  const model = await loadBaseModel('ol-spam-cls')
  const rows: Row[] = Array.from({ length: 25 }, (_, i) => ({ text: `message ${i}: ${i % 3 === 0 ? 'win a free prize now' : 'the meeting moved to friday'}`, label: i % 3 === 0 ? 'spam' : 'ham' }))
  const plan = planJob(model.entry.config, model.weights, model.tokenizer, rows, TINY_HYPER)
  t.same(plan.sizes, { train: 23, heldOut: 2 }, 'rows 9 and 19 held out')
  t.same(plan.labels?.labels, ['ham', 'spam'])
  t.equal(plan.labels?.kind, 'sorted')
  const heldOut = plan.heldOut.kind === 'classifier' ? plan.heldOut.examples : []
  t.same(heldOut.map((e) => e.label), [1, 0], 'row 9 is spam (9 % 3 = 0), row 19 ham')
  const train = plan.job.data.kind === 'classifier' ? plan.job.data.examples : []
  t.equal(train.length, 23)
  t.equal(train[9]?.label, 0, 'row 10 (ham) follows row 8 in the training set')

  const few = planJob(model.entry.config, model.weights, model.tokenizer, rows.slice(0, 4), TINY_HYPER)
  t.same(few.sizes, { train: 4, heldOut: 1 }, 'fewer than ten rows: train on all, hold out the last')

  const numeric = planJob(model.entry.config, model.weights, model.tokenizer, rows.map((r) => ({ text: r.text, label: r.label === 'spam' ? 1 : 0 })), TINY_HYPER)
  t.equal(numeric.labels?.kind, 'integer')
  t.same(numeric.labels?.labels, ['0', '1'])

  const evaluation = evaluatePlan(plan, initAdapter(model.entry.config, { rank: 4, alpha: 8 }, 3, model.weights))
  t.equal(evaluation.metrics.baseAccuracyBps, Math.round((evaluation.base.accuracy ?? -1) * 10_000), 'accuracy in basis points')
  t.ok([0, 5_000, 10_000].includes(evaluation.metrics.adaptedAccuracyBps), 'two held-out examples: 0, ½ or 1')
})

t.test('adapterArtifact: the blob decodes to the adapter and its hash is the tensors hash', async (t) => {
  const model = await loadBaseModel('ol-lm-sotu-2m')
  const config = model.entry.config
  const adapter = initAdapter(config, { rank: 4, alpha: 8 }, 11, model.weights)
  const shapes = adapterShapes(config, { rank: 4, alpha: 8 })
  const artifact = adapterArtifact(config, TINY_HYPER, adapter)
  t.same(artifact.weightsHash, tensorsHash(shapes, adapter))
  t.same(tensorsHash(shapes, decodeTensors(artifact.bytes, shapes)), artifact.weightsHash, 'round-trips')
  const other = initAdapter(config, { rank: 4, alpha: 8 }, 12, model.weights)
  t.notSame(adapterArtifact(config, TINY_HYPER, other).weightsHash, artifact.weightsHash)
})
