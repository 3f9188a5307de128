// The deterministic training engine's speed on the reference LM config (vocab 8192, context 64,
// dim 128, 4 layers): forward tokens/s, LoRA training tokens/s inline and on two worker threads,
// and the time of a typical LoRA job (extrapolated from measured steps).
// Run alone: node bench/training.ts [--quick]
import { performance } from 'node:perf_hooks'
import type { ModelConfig } from '../ml/model/config.ts'
import { forward } from '../ml/model/forward.ts'
import { initParams } from '../ml/model/params.ts'
import { Rng } from '../ml/random.ts'
import { train, type TrainingJob } from '../ml/train/trainer.ts'
import { trainWithThreads } from '../node/workers/trainingPool.ts'

export interface TrainingBenchOptions {
  log: (line: string) => void
  quick?: boolean
}

export interface TrainingBenchResult {
  forwardTokensPerSecond: number
  trainingTokensPerSecond: number
  trainingTokensPerSecondTwoThreads: number
  typicalJobSeconds: number
}

export const BENCH_LM_CONFIG: ModelConfig = { kind: 'lm', vocab: 8192, context: 64, dim: 128, layers: 4, heads: 4, hidden: 512, classes: 0 }
/** A typical LoRA job on that config. */
export const TYPICAL_JOB = { rank: 8, alpha: 16, steps: 500, batchSize: 8, learningRate: 1e-3, seed: 1, checkpointEvery: 50 }

export async function benchTraining(options: TrainingBenchOptions): Promise<TrainingBenchResult> {
  const { log } = options
  const config = BENCH_LM_CONFIG
  const base = initParams(config, 1)
  const rng = new Rng(2)
  const tokens = Int32Array.from({ length: 20000 }, () => rng.below(config.vocab))

  // forward: batches of 8 full-context sequences
  const batch = 8
  const ids = tokens.subarray(0, batch * config.context)
  forward(config, base, undefined, 1, ids, batch, config.context) // warm-up
  const forwardRuns = options.quick === true ? 2 : 6
  let start = performance.now()
  let cpu = process.cpuUsage()
  for (let i = 0; i < forwardRuns; i++) forward(config, base, undefined, 1, ids, batch, config.context)
  const forwardSeconds = (performance.now() - start) / 1000
  const forwardCpu = cpuSeconds(cpu)
  const forwardTokensPerSecond = (forwardRuns * batch * config.context) / forwardSeconds
  log(`  forward (lm ${config.dim}d × ${config.layers} layers, vocab ${config.vocab}, batch ${batch} × ${config.context}): ${Math.round(forwardTokensPerSecond).toLocaleString('en-US')} tokens/s (${((forwardSeconds / forwardRuns) * 1000).toFixed(0)} ms per batch; per CPU second ${Math.round((forwardRuns * batch * config.context) / forwardCpu).toLocaleString('en-US')} tokens, unmoved by other load)`)

  const steps = options.quick === true ? 2 : 5
  const job: TrainingJob = { config, mode: 'lora', base, data: { kind: 'lm', tokens }, hyper: { ...TYPICAL_JOB, steps, checkpointEvery: steps } }
  await train({ ...job, hyper: { ...job.hyper, steps: 1 } }) // warm-up
  start = performance.now()
  cpu = process.cpuUsage()
  await train(job)
  const inlineSeconds = (performance.now() - start) / 1000
  const inlineCpu = cpuSeconds(cpu)
  const tokensPerStep = TYPICAL_JOB.batchSize * config.context
  const trainingTokensPerSecond = (steps * tokensPerStep) / inlineSeconds
  log(`  LoRA training (rank ${TYPICAL_JOB.rank}, batch ${TYPICAL_JOB.batchSize} × ${config.context}), 1 thread: ${Math.round(trainingTokensPerSecond).toLocaleString('en-US')} tokens/s (${((inlineSeconds / steps) * 1000).toFixed(0)} ms per step, ${(trainingTokensPerSecond / forwardTokensPerSecond).toFixed(2)}x of forward; per CPU second ${Math.round((steps * tokensPerStep) / inlineCpu).toLocaleString('en-US')} tokens)`)

  start = performance.now()
  await trainWithThreads(job, { threads: 2 })
  const pooledSeconds = (performance.now() - start) / 1000
  const trainingTokensPerSecondTwoThreads = (steps * tokensPerStep) / pooledSeconds
  log(`  LoRA training, 2 worker threads (same bits):  ${Math.round(trainingTokensPerSecondTwoThreads).toLocaleString('en-US')} tokens/s (${(trainingTokensPerSecondTwoThreads / trainingTokensPerSecond).toFixed(2)}x of 1 thread, includes worker start-up)`)

  const best = Math.max(trainingTokensPerSecond, trainingTokensPerSecondTwoThreads)
  const typicalJobSeconds = (TYPICAL_JOB.steps * tokensPerStep) / best
  log(`  typical job (${TYPICAL_JOB.steps} steps × ${tokensPerStep} tokens = ${(TYPICAL_JOB.steps * tokensPerStep).toLocaleString('en-US')} tokens): ~${(typicalJobSeconds / 60).toFixed(1)} min (extrapolated from the measured steps)`)
  return { forwardTokensPerSecond, trainingTokensPerSecond, trainingTokensPerSecondTwoThreads, typicalJobSeconds }
}

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since)
  return (used.user + used.system) / 1e6
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await benchTraining({ log: (line) => console.log(line), quick: process.argv.includes('--quick') })
}
