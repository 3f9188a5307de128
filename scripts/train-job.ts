// Trains one fixed, small LoRA job the way the node does (node/models/jobPlan.ts planJob, then
// trainWithThreads on worker threads) and prints one JSON line with its hashes and where it ran,
// so separate processes — other thread counts, other CPUs, or the same binary under an emulated
// CPU (qemu-x86_64 -cpu Nehalem) — can be compared bit for bit (test/ml/crossMachine.test.ts).
//
//   PATH=node_modules/.bin:$PATH node scripts/train-job.ts [--threads N] [--classifier]
//
//   default        ol-lm-sotu-2m on the first CHAPTERS chapters of Moby Dick
//   --classifier   ol-spam-cls on the first SPAM_ROWS SpamAssassin hard-ham and spam messages,
//                  interleaved (hard ham is the part the base classifier never saw)
//
// Output: {"model","weightsHash","checkpointRoot","finalHash","threads","cpu","node","seconds"}
// (hashes 0x-hex; cpu is os.cpus()[0].model, which under qemu user mode is the host's).
import { cpus } from 'node:os'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { mobyDickChapters, spamMessages, type SpamGroup } from '../ml/data/corpora.ts'
import { toHex } from '../runtime/crypto/hash.ts'
import type { Row } from '../runtime/modules/datanets/formats.ts'
import type { Hyperparameters } from '../runtime/modules/models/state.ts'
import { loadBaseModel } from '../node/models/assets.ts'
import { adapterArtifact, planJob } from '../node/models/jobPlan.ts'
import { trainWithThreads } from '../node/workers/trainingPool.ts'
import { createLogger } from '../lib/logger.ts'

/** small enough to train in seconds natively and in minutes under an emulated CPU */
export const CROSS_MACHINE_HYPER: Hyperparameters = { rank: 4, alpha: 8, steps: 4, batchSize: 4, length: 32, learningRateMicro: 2_000, seed: 7, checkpointEvery: 2 }
const CHAPTERS = 3
const SPAM_ROWS = 300
const SPAM_GROUPS: readonly SpamGroup[] = ['hard-ham-1', 'spam-1', 'spam-2']

export interface TrainJobReport {
  model: string
  weightsHash: string
  checkpointRoot: string
  finalHash: string
  threads: number
  cpu: string
  node: string
  /** wall time of the whole run, loading included */
  seconds: number
}

function mobyRows(): Row[] {
  return mobyDickChapters().filter((c) => c.text.trim().length > 0).slice(0, CHAPTERS).map((c) => ({ text: c.text }))
}

/** hard ham and spam, alternating (ham, spam, ham, …) in the package's order, as labelled rows */
function spamRows(): Row[] {
  const messages = spamMessages().filter((m) => SPAM_GROUPS.includes(m.group) && m.text.trim().length > 0)
  const ham = messages.filter((m) => m.group === 'hard-ham-1')
  const spam = messages.filter((m) => m.group !== 'hard-ham-1')
  const rows: Row[] = []
  for (let i = 0; rows.length < SPAM_ROWS && (i < ham.length || i < spam.length); i++) {
    if (i < ham.length) rows.push({ text: ham[i]!.text, label: 'ham' })
    if (i < spam.length && rows.length < SPAM_ROWS) rows.push({ text: spam[i]!.text, label: 'spam' })
  }
  return rows
}

export async function trainJob(options: { threads: number; classifier: boolean }): Promise<TrainJobReport> {
  const started = performance.now()
  const name = options.classifier ? 'ol-spam-cls' : 'ol-lm-sotu-2m'
  const model = await loadBaseModel(name)
  const rows = options.classifier ? spamRows() : mobyRows()
  const plan = planJob(model.entry.config, model.weights, model.tokenizer, rows, CROSS_MACHINE_HYPER)
  const result = await trainWithThreads(plan.job, { threads: options.threads })
  const { weightsHash } = adapterArtifact(model.entry.config, CROSS_MACHINE_HYPER, result.weights)
  return {
    model: name,
    weightsHash: toHex(weightsHash),
    checkpointRoot: toHex(result.checkpointRoot),
    finalHash: toHex(result.finalHash),
    threads: options.threads,
    cpu: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    seconds: Math.round((performance.now() - started) / 10) / 100,
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { threads: { type: 'string', default: '1' }, classifier: { type: 'boolean', default: false } } })
  const threads = Number(values.threads)
  if (!Number.isInteger(threads) || threads < 1 || threads > 64) {
    createLogger({ service: 'train-job' }).error('--threads must be an integer from 1 to 64', { threads: values.threads })
    process.exit(2)
  }
  // the report is this program's output (read by test/ml/crossMachine.test.ts), not a log line
  process.stdout.write(JSON.stringify(await trainJob({ threads, classifier: values.classifier })) + '\n')
}
