import t from 'tap'
import { toHex } from '../../runtime/crypto/hash.ts'
import type { ModelConfig } from '../../ml/model/config.ts'
import { initParams } from '../../ml/model/params.ts'
import { evaluate, compareWithBase } from '../../ml/train/evaluate.ts'
import type { Hyperparameters } from '../../ml/train/hyperparameters.ts'
import { merkleProof, merkleRoot, verifyMerkleProof } from '../../ml/train/merkle.ts'
import { decodeTrainingState, encodeTrainingState, trainingStateHash } from '../../ml/train/state.ts'
import { jobLayout, replayStep, train, type Checkpoint, type TrainingJob } from '../../ml/train/trainer.ts'
import { keccak256, utf8 } from '../../runtime/crypto/hash.ts'

const lmConfig: ModelConfig = { kind: 'lm', vocab: 16, context: 12, dim: 16, layers: 2, heads: 2, hidden: 32, classes: 0 }
const clsConfig: ModelConfig = { kind: 'classifier', vocab: 16, context: 10, dim: 16, layers: 1, heads: 2, hidden: 24, classes: 2 }
const pattern = [1, 2, 3, 4, 5, 6, 7]
const tokens = Int32Array.from({ length: 300 }, (_, i) => pattern[i % pattern.length]!)
const hyper: Hyperparameters = { rank: 4, alpha: 8, steps: 7, batchSize: 3, learningRate: 1e-2, seed: 11, checkpointEvery: 3 }

function lmJob(mode: 'lora' | 'all', overrides: Partial<Hyperparameters> = {}): TrainingJob {
  return { config: lmConfig, mode, base: initParams(lmConfig, 5), data: { kind: 'lm', tokens }, hyper: { ...hyper, ...overrides } }
}

function classifierJob(mode: 'lora' | 'all'): TrainingJob {
  // label 1 when the sequence contains token 9
  const examples = Array.from({ length: 40 }, (_, i) => {
    const length = 3 + (i % 8)
    const ids = Int32Array.from({ length }, (_, j) => (i * 7 + j * 3) % 8 + 1)
    if (i % 2 === 1) ids[(i * 5) % length] = 9
    return { ids, label: i % 2 }
  })
  return { config: clsConfig, mode, base: initParams(clsConfig, 6), data: { kind: 'classifier', examples }, hyper: { ...hyper, steps: 5, batchSize: 4 } }
}

const jobs = { 'lm lora': lmJob('lora'), 'lm all': lmJob('all'), 'classifier lora': classifierJob('lora'), 'classifier all': classifierJob('all') }

t.test('training twice gives the identical hashes', async (t) => {
  for (const [name, job] of Object.entries(jobs)) {
    const a = await train(job)
    const b = await train(job)
    t.equal(toHex(a.finalHash), toHex(b.finalHash), name)
    t.equal(toHex(a.checkpointRoot), toHex(b.checkpointRoot), name)
    t.same(a.checkpoints.map(toHex), b.checkpoints.map(toHex))
    const steps = [0, 3, 6, 7].filter((s) => s < job.hyper.steps).concat(job.hyper.steps)
    t.equal(a.checkpoints.length, steps.length, `${name}: checkpoints at steps ${steps.join(', ')}`)
    t.equal(toHex(a.checkpoints[steps.length - 1]!), toHex(a.finalHash))
    t.equal(toHex(a.checkpointRoot), toHex(merkleRoot(a.checkpoints)))
    t.equal(a.state.step, job.hyper.steps)
  }
  const other = await train(lmJob('lora', { seed: 12 }))
  t.not(toHex(other.finalHash), toHex((await train(jobs['lm lora'])).finalHash), 'another seed, another result')
})

t.test('resuming from any checkpoint gives the identical final hash and root', async (t) => {
  for (const [name, job] of Object.entries(jobs)) {
    const saved: Checkpoint[] = []
    const full = await train(job, { onCheckpoint: (checkpoint) => { saved.push(checkpoint) } })
    t.equal(saved.length, full.checkpoints.length)
    for (let i = 0; i < saved.length - 1; i++) {
      const layout = jobLayout(job)
      const state = decodeTrainingState(layout, saved[i]!.state)
      t.same(encodeTrainingState(layout, state), saved[i]!.state, 'state bytes round-trip')
      const resumed = await train(job, { resume: { state, checkpoints: saved.slice(0, i + 1).map((c) => c.hash) } })
      t.equal(toHex(resumed.finalHash), toHex(full.finalHash), `${name}: resumed from step ${saved[i]!.step}`)
      t.equal(toHex(resumed.checkpointRoot), toHex(full.checkpointRoot))
    }
  }
})

t.test('replayStep reproduces checkpoint i+1 from checkpoint i', async (t) => {
  for (const [name, job] of Object.entries(jobs)) {
    const saved: Checkpoint[] = []
    await train(job, { onCheckpoint: (checkpoint) => { saved.push(checkpoint) } })
    const layout = jobLayout(job)
    for (let i = 0; i + 1 < saved.length; i++) {
      let state = decodeTrainingState(layout, saved[i]!.state)
      const before = toHex(trainingStateHash(layout, state))
      while (state.step < saved[i + 1]!.step) state = replayStep(state, job.data, job.hyper, job)
      t.equal(toHex(trainingStateHash(layout, state)), toHex(saved[i + 1]!.hash), `${name}: ${saved[i]!.step} → ${saved[i + 1]!.step}`)
      t.equal(toHex(keccak256(saved[i]!.state)), before, 'replay leaves its input state alone')
    }
  }
})

t.test('a tiny LM learns a repeated pattern', async (t) => {
  const job = lmJob('all', { steps: 40, batchSize: 4 })
  const progress: number[] = []
  const result = await train(job, { onProgress: (step, loss) => { progress.push(step); void loss } })
  t.same(progress, Array.from({ length: 40 }, (_, i) => i + 1))
  const first = result.losses[0]!
  const last = result.losses[result.losses.length - 1]!
  t.ok(first > 2.5, `starts near log(16): ${first}`)
  t.ok(last < 0.3, `ends low: ${last}`)
  const heldOut = { kind: 'lm' as const, tokens: tokens.subarray(0, 60) }
  const before = evaluate(lmConfig, job.base, undefined, 1, heldOut)
  const after = evaluate(lmConfig, result.weights, undefined, 1, heldOut)
  t.ok(after.loss < before.loss / 5, `held-out loss ${before.loss} → ${after.loss}`)
  t.equal(after.count, 55, 'five windows of 11 targets')
})

t.test('LoRA on a pre-trained base adapts it, and evaluation compares base and adapter', async (t) => {
  const pretrained = await train(lmJob('all', { steps: 30, batchSize: 4 }))
  const shifted = Int32Array.from({ length: 300 }, (_, i) => [1, 3, 5, 7, 2, 4, 6][i % 7]!)
  const job: TrainingJob = { config: lmConfig, mode: 'lora', base: pretrained.weights, data: { kind: 'lm', tokens: shifted }, hyper: { ...hyper, steps: 40, batchSize: 4, learningRate: 3e-2 } }
  const result = await train(job)
  const scale = hyper.alpha / hyper.rank
  const compared = compareWithBase(lmConfig, pretrained.weights, result.weights, scale, { kind: 'lm', tokens: shifted.subarray(0, 60) })
  t.ok(compared.adapted.loss < compared.base.loss * 0.7, `base ${compared.base.loss}, adapted ${compared.adapted.loss}`)

  const cls = classifierJob('lora')
  const clsResult = await train({ ...cls, hyper: { ...cls.hyper, steps: 30, learningRate: 3e-2 } })
  const evaluation = compareWithBase(clsConfig, cls.base, clsResult.weights, scale, cls.data)
  t.ok(evaluation.adapted.accuracy! >= evaluation.base.accuracy!, `accuracy ${evaluation.base.accuracy} → ${evaluation.adapted.accuracy}`)
  t.ok(evaluation.adapted.loss < evaluation.base.loss)
})

t.test('bad input is refused with typed errors', async (t) => {
  const job = jobs['lm lora']
  await t.rejects(train({ ...job, hyper: { ...job.hyper, batchSize: 0 } }), { code: 'INVALID_ARGUMENT' })
  await t.rejects(train({ ...job, data: { kind: 'lm', tokens: Int32Array.of(1, 99) } }), { code: 'INVALID_DATA' })
  await t.rejects(train({ ...job, data: { kind: 'lm', tokens: Int32Array.of(1) } }), { code: 'INVALID_DATA' })
  await t.rejects(train({ ...job, hyper: { ...job.hyper, learningRate: 1e300 } }), { code: 'NON_FINITE' })
  const state = (await train(job)).state
  t.throws(() => decodeTrainingState({ ...jobLayout(job), mode: 'all' }, encodeTrainingState(jobLayout(job), state)), { code: 'STATE_MISMATCH' })
  t.throws(() => decodeTrainingState(jobLayout(job), utf8('nonsense bytes here, nothing more')), { code: 'INVALID_MAGIC' })
})

t.test('Merkle root and proofs over checkpoint hashes', async (t) => {
  t.same(merkleRoot([]), new Uint8Array(32))
  for (let count = 1; count <= 9; count++) {
    const hashes = Array.from({ length: count }, (_, i) => keccak256(utf8(`checkpoint ${i}`)))
    const root = merkleRoot(hashes)
    for (let i = 0; i < count; i++) t.ok(verifyMerkleProof(root, hashes[i]!, merkleProof(hashes, i)), `${count} leaves, leaf ${i}`)
    t.notOk(verifyMerkleProof(root, keccak256(utf8('other')), merkleProof(hashes, 0)))
    if (count > 1) t.not(toHex(merkleRoot(hashes.slice(0, -1))), toHex(root))
  }
})
