// What a verifier pays to re-execute a job: the node's own path (node/models/jobRunner.ts → the
// job worker thread: tokenize the datanet rows, train with checkpoints on disk, evaluate base vs
// adapted, encode the adapter), run twice on the same job — once as the trainer, once as a
// verifier — with the shipped LM base on real Moby Dick chapters. Printed: each run's time, the
// training share, and that both gave the same weights hash and checkpoint root (the re-execution
// is only worth its time if it is bit-exact). The reference is the trainer's own run.
// Run alone: node bench/reexecution.ts [--quick]
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { mobyDickChapters } from '../ml/data/corpora.ts'
import { paramShapes } from '../ml/model/config.ts'
import { encodeTensors } from '../ml/model/params.ts'
import { toHex } from '../runtime/crypto/hash.ts'
import type { Hyperparameters } from '../runtime/modules/models/state.ts'
import { loadBaseModel } from '../node/models/assets.ts'
import { JobCheckpoints, runJob } from '../node/models/jobRunner.ts'

export interface ReexecutionBenchResult {
  trainerSeconds: number
  verifierSeconds: number
  tokensTrained: number
  identical: boolean
}

/** The job the README's walkthrough submits (`openledger model train --steps 40 --batch 8 --length 64`). */
export const TYPICAL_CHAIN_JOB: Hyperparameters = { rank: 8, alpha: 16, steps: 40, batchSize: 8, length: 64, learningRateMicro: 3_000, seed: 1, checkpointEvery: 6 }

export async function benchReexecution(options: { log: (line: string) => void; quick?: boolean }): Promise<ReexecutionBenchResult> {
  const { log } = options
  const hyper = options.quick === true ? { ...TYPICAL_CHAIN_JOB, steps: 10, checkpointEvery: 5 } : TYPICAL_CHAIN_JOB
  const model = await loadBaseModel('ol-lm-sotu-2m')
  const rows = mobyDickChapters().slice(0, 20).map((c) => ({ text: c.text }))
  const request = { config: model.entry.config, weights: encodeTensors(paramShapes(model.entry.config), model.weights), tokenizerTable: model.tokenizer.table(), rows, hyper, threads: 1 }
  const dir = await mkdtemp(join(tmpdir(), 'openledger-reexec-'))
  try {
    const run = async (name: string) => {
      let trainingMs = 0
      let trainingStarted = 0
      const started = performance.now()
      const outcome = await runJob(request, new JobCheckpoints(join(dir, name), 1), {
        onPlanned: () => (trainingStarted = performance.now()),
        onEvaluating: () => (trainingMs = performance.now() - trainingStarted),
      })
      return { outcome, seconds: (performance.now() - started) / 1000, trainingSeconds: trainingMs / 1000 }
    }
    const trainer = await run('trainer')
    const verifier = await run('verifier')
    const tokens = hyper.steps * hyper.batchSize * hyper.length
    const identical = toHex(trainer.outcome.weightsHash) === toHex(verifier.outcome.weightsHash) && toHex(trainer.outcome.checkpointRoot) === toHex(verifier.outcome.checkpointRoot)
    log(`  job: LoRA rank ${hyper.rank} on ol-lm-sotu-2m, ${hyper.steps} steps x ${hyper.batchSize} x ${hyper.length} tokens (${tokens.toLocaleString('en-US')} tokens) on 20 Moby Dick chapters, 1 thread`)
    log(`  trainer run                 ${trainer.seconds.toFixed(1)} s (training ${trainer.trainingSeconds.toFixed(1)} s, the rest tokenizing and the held-out evaluation)   1.00x`)
    log(`  verifier re-execution       ${verifier.seconds.toFixed(1)} s (training ${verifier.trainingSeconds.toFixed(1)} s)   ${(verifier.seconds / trainer.seconds).toFixed(2)}x of the trainer's run`)
    log(`  same weights hash and checkpoint root: ${identical ? 'yes' : 'NO'} (${toHex(verifier.outcome.weightsHash).slice(0, 18)}…); held-out loss ${verifier.outcome.baseLoss.toFixed(3)} -> ${verifier.outcome.adaptedLoss.toFixed(3)}`)
    return { trainerSeconds: trainer.seconds, verifierSeconds: verifier.seconds, tokensTrained: tokens, identical }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchReexecution({ log: (line) => console.log(line), quick: process.argv.includes('--quick') })
