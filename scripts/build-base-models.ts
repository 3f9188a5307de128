// Builds the project's two base models and their shared tokenizer, and writes them to
// assets/models/ (see ml/data/assets.ts for the layout and manifest):
//
//   tokenizer.bin   the 8192-id vocabulary table, counted on the SOTU and Moby Dick train splits
//   ol-lm-sotu-2m   LM { vocab 8192, context 64, dim 128, layers 4, heads 4, hidden 512 }, all
//                   parameters trained on the State of the Union train split (a later LoRA
//                   fine-tune on Moby Dick then shows a clear held-out gain)
//   ol-spam-cls     classifier { vocab 8192, context 128, dim 64, layers 2, heads 4, hidden 256,
//                   classes 2 } trained on SpamAssassin spam vs easy ham (hard ham is left for
//                   fine-tuning datanets)
//
// Deterministic: the same sources and arguments give the same bytes in every file (the table is a
// pure function of the corpora, initialisation and batches are seeded, the engine is bit-exact and
// thread-count independent, the manifest holds no times or paths). Timings go to the log only.
//
//   PATH=node_modules/.bin:$PATH node scripts/build-base-models.ts [--only lm|cls] [--measure]
//        [--lm-steps N] [--cls-steps N] [--threads N] [--out DIR]
//
// --measure runs a few steps of each model and prints tokens/s (to pick the step counts);
// --only rebuilds one model and keeps the other's manifest entry (the tokenizer is rebuilt and
// must come out the same). The weights and ONNX entries name the files' blob-store content ids, so
// a node registers and publishes them without hashing them at every start.
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { hexHash, keccakHex, MANIFEST_FORMAT, parseManifest, type HeldOutMetrics, type ModelEntry, type ModelsManifest, type TrainingRecord } from '../ml/data/assets.ts'
import { mobyDickTexts, sotuAddresses, sotuSplit, SPAM_LABELS, spamExamples, type Split } from '../ml/data/corpora.ts'
import { rowsToTokenStream, textToClassifierIds, type ClassifierExample } from '../ml/data/datanetRows.ts'
import { elementCount, paramShapes, type ModelConfig, type Tensors } from '../ml/model/config.ts'
import { accuracy, classifierLoss, lmLoss } from '../ml/model/forward.ts'
import { encodeTensors, initParams, tensorsHash } from '../ml/model/params.ts'
import { checkExport, exportModel } from '../ml/onnx/export.ts'
import { buildVocabularyTable, encodeTable, TOKENIZER_NAME, Tokenizer } from '../ml/tokenizer.ts'
import { ENGINE_VERSION } from '../ml/index.ts'
import { contentId } from '../node/blobs/contentId.ts'
import type { TrainingData } from '../ml/train/data.ts'
import type { Hyperparameters } from '../ml/train/hyperparameters.ts'
import { initTrainingState, nextBatch, train, type TrainingJob } from '../ml/train/trainer.ts'
import { createLogger } from '../lib/logger.ts'

const VOCAB = 8192
const LM_NAME = 'ol-lm-sotu-2m'
const CLS_NAME = 'ol-spam-cls'
const LM_CONFIG: ModelConfig = { kind: 'lm', vocab: VOCAB, context: 64, dim: 128, layers: 4, heads: 4, hidden: 512, classes: 0 }
const CLS_CONFIG: ModelConfig = { kind: 'classifier', vocab: VOCAB, context: 128, dim: 64, layers: 2, heads: 4, hidden: 256, classes: 2 }
/** held-out LM windows measured (evenly spaced, non-overlapping, context tokens each) */
const LM_EVAL_WINDOWS = 128

const { values: args } = parseArgs({
  options: {
    out: { type: 'string', default: 'assets/models' },
    only: { type: 'string' },
    measure: { type: 'boolean', default: false },
    'lm-steps': { type: 'string', default: '600' },
    'lm-batch': { type: 'string', default: '8' },
    'lm-lr': { type: 'string', default: '0.002' },
    'cls-steps': { type: 'string', default: '500' },
    'cls-batch': { type: 'string', default: '16' },
    'cls-lr': { type: 'string', default: '0.002' },
    threads: { type: 'string', default: '2' },
  },
})

const logger = createLogger({ service: 'build-base-models' })
const log = (message: string): void => logger.info(message)
const started = performance.now()
const seconds = (): string => ((performance.now() - started) / 1000).toFixed(0) + 's'

// --- training ---
interface TrainOptions {
  readonly steps: number
  readonly batchSize: number
  readonly learningRate: number
  readonly warmupSteps: number
  readonly weightDecay: number
  readonly seed: number
  readonly threads: number
}

/**
 * Every parameter trained with the engine's AdamW trainer (mode 'all'), on worker threads when
 * `threads` > 1 (the same bits as one thread). Progress every 10 steps goes to the log.
 */
async function trainBase(config: ModelConfig, initial: Tensors, data: TrainingData, options: TrainOptions, report: (line: string) => void): Promise<{ weights: Map<string, Float32Array>; tokens: number }> {
  const hyper: Hyperparameters = {
    rank: 0, alpha: 0, steps: options.steps, batchSize: options.batchSize, learningRate: options.learningRate,
    seed: options.seed, checkpointEvery: Math.max(1, options.steps), weightDecay: options.weightDecay, warmupSteps: options.warmupSteps,
  }
  const job: TrainingJob = { config, mode: 'all', base: initial, data, hyper }
  let windowLoss = 0
  let windowStart = performance.now()
  const onProgress = (step: number, loss: number): void => {
    windowLoss += loss
    if (step % 10 === 0 || step === options.steps) {
      const steps = step % 10 === 0 ? 10 : step % 10
      const perSecond = (options.batchSize * steps * (config.kind === 'lm' ? config.context : 1)) / ((performance.now() - windowStart) / 1000)
      report(`step ${step}/${options.steps}: train loss ${(windowLoss / steps).toFixed(4)}, ${perSecond.toFixed(1)} ${config.kind === 'lm' ? 'tokens' : 'examples'}/s`)
      windowLoss = 0
      windowStart = performance.now()
    }
  }
  let result
  if (options.threads > 1) {
    const { trainWithThreads } = await import('../node/workers/trainingPool.ts')
    result = await trainWithThreads(job, { onProgress, threads: options.threads })
  } else {
    result = await train(job, { onProgress })
  }
  report(`trained: final state ${hexHash(result.finalHash)}, checkpoint root ${hexHash(result.checkpointRoot)}`)
  let tokens = 0
  if (data.kind === 'lm') tokens = options.steps * options.batchSize * Math.min(config.context, data.tokens.length)
  else {
    // the trainer's sampler, replayed: the input tokens the classifier actually read
    const replay = initTrainingState(job)
    for (let step = 0; step < options.steps; step++) for (const example of nextBatch(job, replay)) tokens += example.ids.length
  }
  return { weights: result.weights, tokens }
}

// --- tokenizer ---
const sotuText = (split: Split): string[] => sotuAddresses().filter((a) => sotuSplit(a) === split).map((a) => a.text)
log('counting the vocabulary table on the SOTU and Moby Dick train splits')
const table = buildVocabularyTable([...sotuText('train'), ...mobyDickTexts('train')], VOCAB)
const tokenizer = Tokenizer.fromTable(table)
const tokenizerHash = hexHash(tokenizer.hash())
log(`tokenizer ${tokenizerHash} (${table.length} ids) after ${seconds()}`)

// --- the language model ---
function lmEvalWindows(stream: Int32Array, context: number, count: number): Int32Array {
  const windows = Math.min(count, Math.floor(stream.length / context))
  const stride = Math.floor(stream.length / windows / context) * context
  const ids = new Int32Array(windows * context)
  for (let w = 0; w < windows; w++) ids.set(stream.subarray(w * stride, w * stride + context), w * context)
  return ids
}

function parameterCount(config: ModelConfig): number {
  return paramShapes(config).reduce((sum, [, shape]) => sum + elementCount(shape), 0)
}

async function buildLm(): Promise<{ entry: ModelEntry; weights: Tensors }> {
  const config = LM_CONFIG
  const trainStream = rowsToTokenStream(sotuText('train').map((text) => ({ text })), tokenizer)
  const heldOutStream = rowsToTokenStream(sotuText('heldOut').map((text) => ({ text })), tokenizer)
  const mobyStream = rowsToTokenStream(mobyDickTexts('heldOut').map((text) => ({ text })), tokenizer)
  log(`LM data: ${trainStream.length} train tokens, ${heldOutStream.length} held-out tokens (SOTU), ${mobyStream.length} Moby Dick held-out tokens, after ${seconds()}`)
  const evalIds = lmEvalWindows(heldOutStream, config.context, LM_EVAL_WINDOWS)
  const mobyIds = lmEvalWindows(mobyStream, config.context, LM_EVAL_WINDOWS)
  const evaluate = (weights: Tensors): { sotu: number; moby: number } => ({
    sotu: lmLoss(config, weights, undefined, 0, evalIds, evalIds.length / config.context, config.context),
    moby: lmLoss(config, weights, undefined, 0, mobyIds, mobyIds.length / config.context, config.context),
  })
  const options: TrainOptions = {
    steps: Number(args['lm-steps']), batchSize: Number(args['lm-batch']), learningRate: Number(args['lm-lr']),
    warmupSteps: 30, weightDecay: 0.01, seed: 1, threads: Number(args.threads),
  }
  const initial = initParams(config, options.seed)
  if (args.measure) {
    await trainBase(config, initial, { kind: 'lm', tokens: trainStream }, { ...options, steps: 3 }, log)
    return { entry: undefined as never, weights: initial }
  }
  const before = evaluate(initial)
  log(`LM held-out loss before: SOTU ${before.sotu.toFixed(4)}, Moby Dick ${before.moby.toFixed(4)}`)
  const trained = await trainBase(config, initial, { kind: 'lm', tokens: trainStream }, options, log)
  const after = evaluate(trained.weights)
  log(`LM held-out loss after ${options.steps} steps: SOTU ${after.sotu.toFixed(4)}, Moby Dick ${after.moby.toFixed(4)} (${seconds()})`)
  const heldOut: HeldOutMetrics = { lossBefore: before.sotu, loss: after.sotu, mobyDickLossBefore: before.moby, mobyDickLoss: after.moby, size: evalIds.length }
  return { entry: modelEntry(LM_NAME, config, trained.weights, heldOut, record(options, trained.tokens, `State of the Union addresses, train split (years not ending in 7): ${trainStream.length} tokens`)), weights: trained.weights }
}

// --- the spam classifier ---
function classifierExamples(split: Split): ClassifierExample[] {
  return spamExamples(split).map((e) => ({ ids: textToClassifierIds(e.text, tokenizer, CLS_CONFIG.context), label: e.label }))
}

async function buildClassifier(): Promise<{ entry: ModelEntry; weights: Tensors }> {
  const config = CLS_CONFIG
  const train = classifierExamples('train')
  const heldOut = classifierExamples('heldOut')
  const spam = (examples: ClassifierExample[]): number => examples.filter((e) => e.label === 1).length
  log(`classifier data: ${train.length} train (${spam(train)} spam), ${heldOut.length} held-out (${spam(heldOut)} spam), after ${seconds()}`)
  const options: TrainOptions = {
    steps: Number(args['cls-steps']), batchSize: Number(args['cls-batch']), learningRate: Number(args['cls-lr']),
    warmupSteps: 20, weightDecay: 0.01, seed: 2, threads: Number(args.threads),
  }
  const initial = initParams(config, options.seed)
  if (args.measure) {
    await trainBase(config, initial, { kind: 'classifier', examples: train }, { ...options, steps: 3 }, log)
    return { entry: undefined as never, weights: initial }
  }
  const lossBefore = classifierLoss(config, initial, undefined, 0, heldOut)
  const accuracyBefore = accuracy(config, initial, undefined, 0, heldOut)
  log(`classifier held-out before: loss ${lossBefore.toFixed(4)}, accuracy ${accuracyBefore.toFixed(4)}`)
  const trained = await trainBase(config, initial, { kind: 'classifier', examples: train }, options, log)
  const loss = classifierLoss(config, trained.weights, undefined, 0, heldOut)
  const acc = accuracy(config, trained.weights, undefined, 0, heldOut)
  log(`classifier held-out after ${options.steps} steps: loss ${loss.toFixed(4)}, accuracy ${acc.toFixed(4)} (${seconds()})`)
  const metrics: HeldOutMetrics = { lossBefore, loss, accuracyBefore, accuracy: acc, size: heldOut.length }
  const entry = modelEntry(CLS_NAME, config, trained.weights, metrics, record(options, trained.tokens, `SpamAssassin spam-1/2 vs easy-ham-1/2, train split (keccak256 of the MD5 not ≡ 0 mod 5): ${train.length} messages`))
  return { entry: { ...entry, labels: [...SPAM_LABELS] }, weights: trained.weights }
}

function record(options: TrainOptions, tokens: number, data: string): TrainingRecord {
  return {
    data, steps: options.steps, tokens, batch: options.batchSize, learningRate: options.learningRate,
    warmupSteps: options.warmupSteps, weightDecay: options.weightDecay, seed: options.seed, engineVersion: ENGINE_VERSION,
  }
}

function modelEntry(name: string, config: ModelConfig, weights: Tensors, heldOut: HeldOutMetrics, training: TrainingRecord): ModelEntry {
  const encoded = encodeTensors(paramShapes(config), weights)
  return {
    name, kind: config.kind, config, parameters: parameterCount(config),
    weights: { file: `${name}/weights.bin`, hash: hexHash(tensorsHash(paramShapes(config), weights)), bytes: encoded.length, cid: hexHash(contentId(encoded)) },
    tokenizerHash, heldOut, training,
  }
}

async function writeModel(out: string, built: { entry: ModelEntry; weights: Tensors }): Promise<ModelEntry> {
  const { entry, weights } = built
  await mkdir(join(out, entry.name), { recursive: true })
  await writeFile(join(out, entry.weights.file), encodeTensors(paramShapes(entry.config), weights))
  await writeFile(join(out, entry.name, 'config.json'), JSON.stringify(entry.config, null, 2) + '\n')
  // the base export (no adapter inputs); serving exports its LoRA variant from the same weights
  const onnx = exportModel(entry.config, weights)
  checkExport(onnx, entry.config)
  const file = `${entry.name}/model.onnx`
  await writeFile(join(out, file), onnx)
  return { ...entry, onnx: { file, hash: keccakHex(onnx), bytes: onnx.length, cid: hexHash(contentId(onnx)) } }
}

async function previousEntries(out: string): Promise<ModelEntry[]> {
  try {
    return [...parseManifest(await readFile(join(out, 'manifest.json'), 'utf8')).models]
  } catch {
    return []
  }
}

async function main(): Promise<void> {
  const out = args.out
  const only = args.only
  if (only !== undefined && only !== 'lm' && only !== 'cls') throw new Error('--only is lm or cls')
  if (args.measure) {
    if (only !== 'cls') await buildLm()
    if (only !== 'lm') await buildClassifier()
    return
  }
  await mkdir(out, { recursive: true })
  const tableBytes = encodeTable(table)
  await writeFile(join(out, 'tokenizer.bin'), tableBytes)
  const kept = await previousEntries(out)
  const models: ModelEntry[] = []
  for (const [key, name, build] of [['lm', LM_NAME, buildLm], ['cls', CLS_NAME, buildClassifier]] as const) {
    if (only === undefined || only === key) models.push(await writeModel(out, await build()))
    else {
      const previous = kept.find((m) => m.name === name)
      if (previous === undefined) throw new Error(`--only ${only}: no previous entry for ${name} to keep`)
      if (previous.tokenizerHash !== tokenizerHash) throw new Error(`--only ${only}: ${name} was built with another tokenizer`)
      models.push(previous)
    }
  }
  const manifest: ModelsManifest = {
    format: MANIFEST_FORMAT,
    tokenizer: { file: 'tokenizer.bin', name: TOKENIZER_NAME, vocab: table.length, hash: tokenizerHash, bytes: tableBytes.length, corpus: 'State of the Union addresses (years not ending in 7) and Moby Dick (chapters not multiples of 10, no table of contents)' },
    models,
  }
  await writeFile(join(out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n')
  log(`wrote ${out}/manifest.json after ${seconds()}`)
}

await main()
