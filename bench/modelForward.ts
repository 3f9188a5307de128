// Forward-pass throughput of the project's language model: the deterministic engine (ml/model/
// forward.ts) against onnxruntime running the exporter's graph of the same weights (ml/onnx/), on the
// same batch, in the same run. Model: vocab 8192, context 64, dim 128, 4 layers × 4 heads, MLP 512,
// with a rank-8 adapter; batch 8 × 64 tokens. Target: the engine within 5× of onnxruntime on one
// thread (ratio ≥ 0.2). Also prints the largest logit difference between the two.
// Run alone: node bench/modelForward.ts [--quick]
import { performance } from 'node:perf_hooks'
import type { LoraConfig, ModelConfig } from '../ml/model/config.ts'
import { forward } from '../ml/model/forward.ts'
import { initAdapter, initParams } from '../ml/model/params.ts'
import { Rng } from '../ml/random.ts'
import { exportModel } from '../ml/onnx/export.ts'
import { createOnnxSession, runOnnxForward } from '../ml/onnx/session.ts'

export interface ModelForwardBenchOptions {
  log: (line: string) => void
  /** Shorter runs for CI smoke checks. */
  quick?: boolean
}

export interface ModelForwardBenchResult {
  ortOneThreadTokensPerSecond: number
  ortTwoThreadsTokensPerSecond: number
  engineTokensPerSecond: number
  /** engine / onnxruntime on one thread, tokens per CPU second; the target is ≥ 0.2 */
  engineToOrtRatio: number
  maxAbsLogitDifference: number
  /** the largest |logit|, for scale */
  maxAbsLogit: number
}

const CONFIG: ModelConfig = { kind: 'lm', vocab: 8192, context: 64, dim: 128, layers: 4, heads: 4, hidden: 512, classes: 0 }
const LORA: LoraConfig = { rank: 8, alpha: 16 }
const BATCH = 8
const LENGTH = 64
const TARGET_RATIO = 0.2

interface Rate {
  /** calls per wall-clock second */
  wall: number
  /** calls per CPU second of this process: hardly moved by other load on the machine */
  cpu: number
}

/** Runs `op` at least `minRuns` times and for at least `ms`; returns its rates. */
async function measure(ms: number, minRuns: number, op: () => unknown): Promise<Rate> {
  let runs = 0
  const cpuBefore = process.cpuUsage()
  const start = performance.now()
  let now = start
  while (runs < minRuns || now - start < ms) {
    await op()
    runs++
    now = performance.now()
  }
  const cpu = process.cpuUsage(cpuBefore)
  return { wall: (runs * 1000) / (now - start), cpu: runs / ((cpu.user + cpu.system) / 1e6) }
}

const best = (a: Rate | undefined, b: Rate): Rate => (a === undefined ? b : { wall: Math.max(a.wall, b.wall), cpu: Math.max(a.cpu, b.cpu) })

export async function benchModelForward(options: ModelForwardBenchOptions): Promise<ModelForwardBenchResult> {
  const { log } = options
  // contenders take turns, round after round, and each keeps its best round: a burst of load from
  // elsewhere then penalizes no one in particular
  const rounds = options.quick === true ? 2 : 4
  const ms = options.quick === true ? 500 : 1500
  const minRuns = 2

  const base = initParams(CONFIG, 1)
  const adapter = initAdapter(CONFIG, LORA, 2, base)
  // a fresh adapter has lora_b = 0; give it trained-looking values so its path is really computed and compared
  const rng = new Rng(3)
  for (const [name, tensor] of adapter) if (name.endsWith('.lora_b')) for (let i = 0; i < tensor.length; i++) tensor[i] = 0.02 * rng.normal()
  const scale = LORA.alpha / LORA.rank
  const ids = Int32Array.from({ length: BATCH * LENGTH }, () => rng.below(CONFIG.vocab))
  const tokens = BATCH * LENGTH

  const exportStart = performance.now()
  const model = exportModel(CONFIG, base, { lora: LORA })
  log(`  model ${CONFIG.layers}x${CONFIG.dim}, vocab ${CONFIG.vocab}, adapter rank ${LORA.rank}; batch ${BATCH} x ${LENGTH} tokens; ONNX export ${(model.length / 1e6).toFixed(1)} MB in ${(performance.now() - exportStart).toFixed(0)} ms`)

  const input = { ids, batch: BATCH, length: LENGTH, adapter: { lora: LORA, tensors: adapter, scale } }
  const format = (perSecond: number) => Math.round(perSecond * tokens).toLocaleString('en-US').padStart(7)
  const line = (what: string, rate: Rate, reference: Rate) =>
    log(`  ${what.padEnd(30)} ${format(rate.wall)} tokens/s (${format(rate.cpu)} per CPU second)  ${(rate.cpu / reference.cpu).toFixed(2).padStart(5)}x onnxruntime 1 thread per CPU second`)

  const oneThread = await createOnnxSession(model, { threads: 1 })
  const twoThreads = await createOnnxSession(model, { threads: 2 })
  try {
    // warm up: first calls plan memory and JIT-compile the engine
    for (let i = 0; i < 2; i++) {
      await runOnnxForward(oneThread, CONFIG, input)
      await runOnnxForward(twoThreads, CONFIG, input)
      forward(CONFIG, base, adapter, scale, ids, BATCH, LENGTH)
    }
    let ort1: Rate | undefined
    let ort2: Rate | undefined
    let engine: Rate | undefined
    for (let round = 0; round < rounds; round++) {
      ort1 = best(ort1, await measure(ms, minRuns, () => runOnnxForward(oneThread, CONFIG, input)))
      ort2 = best(ort2, await measure(ms, minRuns, () => runOnnxForward(twoThreads, CONFIG, input)))
      engine = best(engine, await measure(ms, minRuns, () => forward(CONFIG, base, adapter, scale, ids, BATCH, LENGTH)))
    }
    if (ort1 === undefined || ort2 === undefined || engine === undefined) throw new RangeError('no benchmark round ran')
    line('onnxruntime, 1 thread', ort1, ort1)
    line('onnxruntime, 2 threads', ort2, ort1)
    log(`  ${''.padEnd(30)} 2 threads / 1 thread wall-clock: ${(ort2.wall / ort1.wall).toFixed(2)}x`)
    line('engine (ml/model/forward.ts)', engine, ort1)
    // both run on one thread, so CPU-time rates compare them without the noise of other load
    const ratio = engine.cpu / ort1.cpu
    log(`  engine / onnxruntime-1-thread ${ratio.toFixed(3)} per CPU second, ${(engine.wall / ort1.wall).toFixed(3)} wall-clock (target ≥ ${TARGET_RATIO}: ${ratio >= TARGET_RATIO ? 'met' : 'NOT met'})`)

    const ortLogits = await runOnnxForward(oneThread, CONFIG, input)
    const engineLogits = forward(CONFIG, base, adapter, scale, ids, BATCH, LENGTH)
    let maxDifference = 0
    let maxLogit = 0
    for (let i = 0; i < engineLogits.length; i++) {
      maxDifference = Math.max(maxDifference, Math.abs((engineLogits[i] as number) - (ortLogits[i] as number)))
      maxLogit = Math.max(maxLogit, Math.abs(engineLogits[i] as number))
    }
    log(`  max |engine − onnxruntime| logit ${maxDifference.toExponential(2)} (largest |logit| ${maxLogit.toFixed(3)})`)
    return {
      ortOneThreadTokensPerSecond: ort1.wall * tokens,
      ortTwoThreadsTokensPerSecond: ort2.wall * tokens,
      engineTokensPerSecond: engine.wall * tokens,
      engineToOrtRatio: ratio,
      maxAbsLogitDifference: maxDifference,
      maxAbsLogit: maxLogit,
    }
  } finally {
    await Promise.all([oneThread.release(), twoThreads.release()])
  }
}

if (import.meta.main) {
  await benchModelForward({ log: (line) => console.log(line), quick: process.argv.includes('--quick') })
}
