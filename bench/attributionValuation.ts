// Data valuation of a mislabeled datanet (issue 18, part 6):
//   - a SpamAssassin datanet: CONTRIBUTORS contributors of EXAMPLES_EACH messages (ham and spam
//     in equal numbers overall, the train split), 20 % of the contributors poisoned, each flipping
//     40 % of its labels; the clean validation set is the held-out split;
//   - features: the shipped classifier ol-spam-cls's pooled vector (the input of cls.w), computed
//     once by the deterministic engine;
//   - mislabeled AUC: penalty = −(Σ of the contribution's KNN-Shapley values) against the poisoned
//     flag, mean over SEEDS seeds (each a new assignment of messages, poisoned set and flips),
//     beside random scores and the base classifier's mean loss on the contribution's labels;
//   - LDS (true labels): the classifier's head (cls.w, cls.b) retrained from zero on frozen
//     features, by full-batch gradient descent, on HALVES random halves of the contributors; per
//     test message, Spearman between the actual test loss and the prediction
//     −Σ_{k in half} value(k, message) (KNN-Shapley; TracIn's per-pair term at the job's start), averaged
//     over messages with a 95 % interval; also with each contribution's value over the whole
//     validation set as the predictor; BM25 (message vs the half's texts) and random beside;
//   - TracIn-CP and DataInf penalties of a LoRA job trained on the poisoned datanet (fewer seeds:
//     a gradient per example per checkpoint).
import { performance } from 'node:perf_hooks'
import { sumByContribution } from '../attribution/aggregate.ts'
import { dataInf, gradientDotMatrix, INFLUENCE_ONE, tracInCp, type InfluenceCheckpoint } from '../attribution/influence.ts'
import { initAdapter } from '../ml/model/params.ts'
import type { Example } from '../ml/model/backward.ts'
import { decodeTrainingState } from '../ml/train/state.ts'
import { jobLayout, loraScale, train, type TrainingJob } from '../ml/train/trainer.ts'
import { classifierFeatures } from '../attribution/features.ts'
import { knnShapley, SHAPLEY_ONE } from '../attribution/knnShapley.ts'
import { spamMessages, spamSplit, isSpamGroup } from '../ml/data/corpora.ts'
import { textToClassifierIds } from '../ml/data/datanetRows.ts'
import { Rng } from '../ml/random.ts'
import { loadBaseModel } from '../node/models/assets.ts'

const CONTRIBUTORS = 40
const POISONED_FRACTION = 0.2
const FLIP_FRACTION = 0.4
const K = 10
/** influence runs on shorter inputs and fewer test messages: a gradient per example per checkpoint */
const INFLUENCE_TOKENS = 64
const INFLUENCE_TESTS = 60

export async function benchAttributionValuation(options: { log: (line: string) => void; quick?: boolean }): Promise<void> {
  const { log } = options
  const quick = options.quick === true
  const examplesEach = quick ? 10 : 30
  const seeds = quick ? 3 : 5
  const halves = quick ? 8 : 32
  const testCount = quick ? 100 : 300
  const model = await loadBaseModel('ol-spam-cls')
  const config = model.entry.config
  const pick = (split: 'train' | 'heldOut', spam: boolean, count: number, rng: Rng) => {
    const pool = spamMessages().filter((m) => spamSplit(m) === split && isSpamGroup(m.group) === spam)
    shuffle(pool, rng)
    return pool.slice(0, count)
  }
  const rng = new Rng(21)
  const total = CONTRIBUTORS * examplesEach
  const trainMessages = [...pick('train', false, total / 2, rng), ...pick('train', true, total / 2, rng)]
  const testMessages = [...pick('heldOut', false, testCount / 2, rng), ...pick('heldOut', true, testCount / 2, rng)]
  const trainIds = trainMessages.map((m) => textToClassifierIds(m.text, model.tokenizer, config.context))
  const testIds = testMessages.map((m) => textToClassifierIds(m.text, model.tokenizer, config.context))
  const trueLabels: number[] = trainMessages.map((m) => (isSpamGroup(m.group) ? 1 : 0))
  const testLabels = testMessages.map((m) => (isSpamGroup(m.group) ? 1 : 0))
  let start = performance.now()
  const trainFeatures = classifierFeatures(config, model.weights, undefined, 1, trainIds.map((ids) => ({ ids })))
  const testFeatures = classifierFeatures(config, model.weights, undefined, 1, testIds.map((ids) => ({ ids })))
  log(`  SpamAssassin datanet: ${CONTRIBUTORS} contributors × ${examplesEach} messages, ${POISONED_FRACTION * 100} % poisoned flipping ${FLIP_FRACTION * 100} % of their labels; ${testCount} clean held-out messages; features of ol-spam-cls (${config.dim}-d pooled) in ${((performance.now() - start) / 1000).toFixed(1)} s`)
  const clsW = model.weights.get('cls.w')!
  const clsB = model.weights.get('cls.b')!
  const dim = config.dim

  const aucs = { knn: [] as number[], random: [] as number[], loss: [] as number[], tracIn: [] as number[], dataInf: [] as number[] }
  const influenceSeeds = quick ? 1 : 2
  let influenceMs = 0
  let valuationMs = 0
  let lastSeed: { labels: number[]; owners: Int32Array; poisoned: boolean[] } | undefined
  for (let seed = 0; seed < seeds; seed++) {
    const r = new Rng(1000 + seed)
    const order = Array.from({ length: total }, (_, i) => i)
    shuffle(order, r)
    const owners = new Int32Array(total)
    order.forEach((example, position) => (owners[example] = Math.floor(position / examplesEach)))
    const poisoned = new Array<boolean>(CONTRIBUTORS).fill(false)
    const contributors = Array.from({ length: CONTRIBUTORS }, (_, k) => k)
    shuffle(contributors, r)
    for (const k of contributors.slice(0, Math.round(CONTRIBUTORS * POISONED_FRACTION))) poisoned[k] = true
    const labels = trueLabels.slice()
    for (let k = 0; k < CONTRIBUTORS; k++) {
      if (!poisoned[k]) continue
      const mine = order.slice(k * examplesEach, (k + 1) * examplesEach)
      shuffle(mine, r)
      for (const i of mine.slice(0, Math.ceil(examplesEach * FLIP_FRACTION))) labels[i] = 1 - labels[i]!
    }
    start = performance.now()
    const values = knnShapley({ features: trainFeatures, labels }, { features: testFeatures, labels: testLabels }, dim, K)
    valuationMs += performance.now() - start
    const totals = sumByContribution(values, owners, CONTRIBUTORS)
    aucs.knn.push(auc(totals.map((v) => -Number(v)), poisoned))
    aucs.random.push(auc(contributors.map(() => r.nextFloat()), poisoned))
    const loss = new Float64Array(CONTRIBUTORS)
    for (let i = 0; i < total; i++) loss[owners[i]!]! += headLoss(trainFeatures.subarray(i * dim, (i + 1) * dim), labels[i]!, clsW, clsB)
    aucs.loss.push(auc(Array.from(loss), poisoned))
    if (seed < influenceSeeds) {
      // a LoRA job on the poisoned datanet, then TracIn-CP over its checkpoints and DataInf at its end
      const trainExamples: Example[] = trainIds.map((ids, i) => ({ kind: 'classifier', ids: ids.subarray(0, INFLUENCE_TOKENS), label: labels[i]! }))
      const testExamples: Example[] = testIds.slice(0, INFLUENCE_TESTS / 2).concat(testIds.slice(testCount / 2, testCount / 2 + INFLUENCE_TESTS / 2)).map((ids, i) => ({ kind: 'classifier', ids: ids.subarray(0, INFLUENCE_TOKENS), label: i < INFLUENCE_TESTS / 2 ? 0 : 1 }))
      const job: TrainingJob = { config, mode: 'lora', base: model.weights, data: { kind: 'classifier', examples: trainExamples.map((e) => ({ ids: e.ids, label: (e as { label: number }).label })) }, hyper: { rank: 4, alpha: 8, steps: quick ? 20 : 60, batchSize: 16, learningRate: 2e-3, seed: 1 + seed, checkpointEvery: quick ? 10 : 20, sequenceLength: INFLUENCE_TOKENS } }
      const checkpoints: InfluenceCheckpoint[] = []
      start = performance.now()
      await train(job, { onCheckpoint: ({ state }) => void checkpoints.push({ adapter: decodeTrainingState(jobLayout(job), state).tensors, learningRate: job.hyper.learningRate }) })
      const lora = { config, base: model.weights, scale: loraScale(job) }
      const tracIn = sumByContribution(tracInCp(lora, checkpoints, trainExamples, testExamples), owners, CONTRIBUTORS)
      const closedForm = sumByContribution(dataInf(lora, checkpoints[checkpoints.length - 1]!.adapter, trainExamples, testExamples), owners, CONTRIBUTORS)
      influenceMs += performance.now() - start
      aucs.tracIn.push(auc(tracIn.map((v) => -Number(v)), poisoned))
      aucs.dataInf.push(auc(closedForm.map((v) => -Number(v)), poisoned))
    }
    lastSeed = { labels, owners, poisoned }
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
  const range = (xs: number[]) => `${mean(xs).toFixed(3)} (${Math.min(...xs).toFixed(3)}–${Math.max(...xs).toFixed(3)})`
  log(`  mislabeled-contributor AUC, mean (min–max) over ${seeds} seeds (target >= 0.90):`)
  log(`    KNN-Shapley (K ${K}) penalty               ${range(aucs.knn)}   (${(valuationMs / seeds).toFixed(0)} ms per valuation of ${total} × ${testCount})`)
  log(`    TracIn-CP penalty (LoRA job, ${influenceSeeds} seed(s))  ${range(aucs.tracIn)}`)
  log(`    DataInf penalty (LoRA job, ${influenceSeeds} seed(s))    ${range(aucs.dataInf)}   (job + both methods: ${(influenceMs / influenceSeeds / 1000).toFixed(0)} s per seed, ${INFLUENCE_TESTS} test messages, ${INFLUENCE_TOKENS} tokens each)`)
  log(`    baseline: random                           ${range(aucs.random)}`)
  log(`    baseline: base classifier's loss on labels ${range(aucs.loss)}`)

  // -- LDS on the last seed's assignment of messages, with the true labels: on the poisoned labels
  // the retrained head's test cross-entropy is *lower* with more flipped labels (they shrink its
  // overconfident margins), so every method that calls them harmful scores a negative LDS there
  // (measured: −0.26 to −0.28 for KNN-Shapley and TracIn)
  const { owners } = lastSeed!
  const labels = trueLabels
  const perTest: Float64Array[] = [] // value of each contribution for each test message
  for (let t = 0; t < testCount; t++) {
    const values = knnShapley({ features: trainFeatures, labels }, { features: testFeatures.subarray(t * dim, (t + 1) * dim), labels: [testLabels[t]!] }, dim, K)
    perTest.push(Float64Array.from(sumByContribution(values, owners, CONTRIBUTORS), (v) => Number(v) / SHAPLEY_ONE))
  }
  const bm25 = bm25Scores(trainIds, owners, testIds, CONTRIBUTORS)
  const r = new Rng(77)
  const actual: Float64Array[] = [] // [half][test] loss
  const predicted = { knn: [] as Float64Array[], knnGlobal: [] as Float64Array[], tracIn: [] as Float64Array[], bm25: [] as Float64Array[], random: [] as Float64Array[] }
  // TracIn's per-pair term at the job's starting point (base head, fresh adapter), per test message:
  // a first-order model of each message's loss, aligned with what LDS measures
  start = performance.now()
  const lora = { config, base: model.weights, scale: 2 }
  const fresh = initAdapter(config, { rank: 4, alpha: 8 }, 1, model.weights)
  fresh.get('cls.w')!.fill(0) // the head LDS retrains starts from zero
  fresh.get('cls.b')!.fill(0)
  const matrix = gradientDotMatrix(lora, fresh, trainIds.map((ids, i) => ({ kind: 'classifier', ids, label: labels[i]! })), testIds.map((ids, t) => ({ kind: 'classifier', ids, label: testLabels[t]! })))
  const perTestTracIn = Array.from({ length: testCount }, (_, t) => Float64Array.from(sumByContribution(matrix.subarray(t * total, (t + 1) * total), owners, CONTRIBUTORS), (v) => Number(v) / INFLUENCE_ONE))
  const tracInSeconds = (performance.now() - start) / 1000
  const global = new Float64Array(CONTRIBUTORS)
  for (const v of perTest) for (let k = 0; k < CONTRIBUTORS; k++) global[k]! += v[k]!
  const globalScores = perTest.map(() => global)
  const randomScores = perTest.map(() => Float64Array.from({ length: CONTRIBUTORS }, () => r.nextFloat()))
  start = performance.now()
  for (let h = 0; h < halves; h++) {
    const members = Array.from({ length: CONTRIBUTORS }, (_, k) => k)
    shuffle(members, r)
    const inHalf = new Array<boolean>(CONTRIBUTORS).fill(false)
    for (const k of members.slice(0, CONTRIBUTORS / 2)) inHalf[k] = true
    const rows = Array.from({ length: total }, (_, i) => i).filter((i) => inHalf[owners[i]!])
    const { w, b } = trainHead(trainFeatures, labels, rows, dim)
    actual.push(Float64Array.from({ length: testCount }, (_, t) => headLoss(testFeatures.subarray(t * dim, (t + 1) * dim), testLabels[t]!, w, b)))
    const sumIn = (scores: Float64Array[], sign: number) => Float64Array.from({ length: testCount }, (_, t) => sign * scores[t]!.reduce((a, v, k) => a + (inHalf[k] ? v : 0), 0))
    predicted.knn.push(sumIn(perTest, -1)) // more value → lower loss
    predicted.knnGlobal.push(sumIn(globalScores, -1))
    predicted.tracIn.push(sumIn(perTestTracIn, -1))
    predicted.bm25.push(sumIn(bm25, -1)) // more similar data → lower loss
    predicted.random.push(sumIn(randomScores, 1))
  }
  log(`  LDS (true labels): the classifier's head retrained from zero on frozen features on ${halves} random halves of the contributors (${((performance.now() - start) / 1000).toFixed(1)} s); Spearman per test message, mean ± 95 % interval over ${testCount} messages (target >= 0.30 and >= best baseline + 0.1):`)
  for (const [name, series] of [['KNN-Shapley, per message', predicted.knn], ['KNN-Shapley, validation set', predicted.knnGlobal], [`TracIn, per message (${tracInSeconds.toFixed(0)} s)`, predicted.tracIn], ['baseline: BM25', predicted.bm25], ['baseline: random', predicted.random]] as const) {
    const rhos: number[] = []
    for (let t = 0; t < testCount; t++) {
      const rho = spearman(series.map((p) => p[t]!), actual.map((a) => a[t]!))
      if (Number.isFinite(rho)) rhos.push(rho)
    }
    const m = mean(rhos)
    const sd = Math.sqrt(rhos.reduce((a, x) => a + (x - m) ** 2, 0) / Math.max(1, rhos.length - 1))
    log(`    ${name.padEnd(30)} ${m.toFixed(3)} ± ${((1.96 * sd) / Math.sqrt(rhos.length)).toFixed(3)}`)
  }
}

function shuffle<T>(items: T[], rng: Rng): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.below(i + 1)
    ;[items[i], items[j]] = [items[j]!, items[i]!]
  }
}

/** Area under the ROC curve of scores for the positives (ties count one half). */
function auc(scores: readonly number[], positive: readonly boolean[]): number {
  let wins = 0
  let pairs = 0
  for (let i = 0; i < scores.length; i++) {
    if (!positive[i]) continue
    for (let j = 0; j < scores.length; j++) {
      if (positive[j]) continue
      pairs++
      wins += scores[i]! > scores[j]! ? 1 : scores[i] === scores[j] ? 0.5 : 0
    }
  }
  return wins / pairs
}

function logits(x: Float32Array, w: Float32Array, b: Float32Array): [number, number] {
  let z0 = b[0]!
  let z1 = b[1]!
  for (let d = 0; d < x.length; d++) {
    z0 += x[d]! * w[d * 2]!
    z1 += x[d]! * w[d * 2 + 1]!
  }
  return [z0, z1]
}

function headLoss(x: Float32Array, label: number, w: Float32Array, b: Float32Array): number {
  const [z0, z1] = logits(x, w, b)
  const max = Math.max(z0, z1)
  return max + Math.log(Math.exp(z0 - max) + Math.exp(z1 - max)) - (label === 0 ? z0 : z1)
}

/** The head (cls.w [dim, 2], cls.b) trained from zero by full-batch gradient descent on the rows. */
function trainHead(features: Float32Array, labels: readonly number[], rows: readonly number[], dim: number): { w: Float32Array; b: Float32Array } {
  const w = new Float32Array(dim * 2)
  const b = new Float32Array(2)
  const gw = new Float64Array(w.length)
  const gb = new Float64Array(2)
  for (let step = 0; step < 300; step++) {
    gw.fill(0)
    gb.fill(0)
    for (const i of rows) {
      const x = features.subarray(i * dim, (i + 1) * dim)
      const [z0, z1] = logits(x, w, b)
      const p1 = 1 / (1 + Math.exp(z0 - z1))
      const g1 = p1 - (labels[i] === 1 ? 1 : 0)
      for (let d = 0; d < dim; d++) {
        gw[d * 2]! -= g1 * x[d]!
        gw[d * 2 + 1]! += g1 * x[d]!
      }
      gb[0]! -= g1
      gb[1]! += g1
    }
    const lr = 0.5 / rows.length
    for (let j = 0; j < w.length; j++) w[j]! -= lr * gw[j]!
    b[0]! -= lr * gb[0]!
    b[1]! -= lr * gb[1]!
  }
  return { w, b }
}

/** BM25 (k1 1.2, b 0.75) of each test message against each contribution's messages as one document. */
function bm25Scores(trainIds: readonly Int32Array[], owners: Int32Array, testIds: readonly Int32Array[], contributions: number): Float64Array[] {
  const tf = Array.from({ length: contributions }, () => new Map<number, number>())
  const lengths = new Float64Array(contributions)
  trainIds.forEach((ids, i) => {
    const k = owners[i]!
    lengths[k]! += ids.length
    for (const t of ids) tf[k]!.set(t, (tf[k]!.get(t) ?? 0) + 1)
  })
  const average = lengths.reduce((a, b) => a + b, 0) / contributions
  const df = new Map<number, number>()
  for (const m of tf) for (const t of m.keys()) df.set(t, (df.get(t) ?? 0) + 1)
  return testIds.map((ids) => Float64Array.from({ length: contributions }, (_, k) => {
    let s = 0
    for (const t of new Set(ids)) {
      const f = tf[k]!.get(t)
      if (f === undefined) continue
      const n = df.get(t)!
      s += (Math.log(1 + (contributions - n + 0.5) / (n + 0.5)) * f * 2.2) / (f + 1.2 * (0.25 + (0.75 * lengths[k]!) / average))
    }
    return s
  }))
}

function ranks(xs: readonly number[]): number[] {
  const order = xs.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0])
  const r = new Array<number>(xs.length)
  for (let i = 0; i < order.length; ) {
    let j = i
    while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++
    for (let k = i; k <= j; k++) r[order[k]![1]] = (i + j) / 2
    i = j + 1
  }
  return r
}

function spearman(a: readonly number[], b: readonly number[]): number {
  const ra = ranks(a)
  const rb = ranks(b)
  const mean = (ra.length - 1) / 2
  let num = 0
  let da = 0
  let db = 0
  for (let i = 0; i < ra.length; i++) {
    num += (ra[i]! - mean) * (rb[i]! - mean)
    da += (ra[i]! - mean) ** 2
    db += (rb[i]! - mean) ** 2
  }
  return num / Math.sqrt(da * db)
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await benchAttributionValuation({ log: (line) => console.log(line), quick: process.argv.includes('--quick') })
}
