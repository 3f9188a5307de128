// How a training job on chain becomes a run of the deterministic engine, the same on every
// validator: the chain's hyperparameters mapped to the engine's, the job's rows tokenized with the
// base model's tokenizer, the held-out split, and the evaluation that produces the metrics the
// trainer submits. Pure: the caller brings the rows (jobData.ts) and the base weights (assets or
// blob store).
//
// Held-out split (fixed; part of the engine version's contract):
//   language model  the job's rows are tokenized into one stream (documents separated by the
//                   end-of-text token) and cut into blocks of HOLDOUT_BLOCK tokens; every tenth
//                   block (index % 10 == 9) is held out, the rest trained on. A stream shorter
//                   than ten blocks holds out its last tenth.
//   classifier      every tenth row (index % 10 == 9) is held out; fewer than ten rows hold out
//                   the last one (and train on all of them).
// Evaluation reads at most EVAL_TOKENS held-out tokens (EVAL_EXAMPLES examples), the first ones.
import type { Row } from '../../runtime/modules/datanets/index.ts'
import type { Hyperparameters as ChainHyperparameters, Metrics } from '../../runtime/modules/models/index.ts'
import { labelMapOf, rowsToExamples, rowsToTokenStream, type LabelMap } from '../../ml/data/datanetRows.ts'
import { adapterShapes, type ModelConfig, type Tensors } from '../../ml/model/config.ts'
import { encodeTensors, tensorsHash } from '../../ml/model/params.ts'
import type { TrainingData } from '../../ml/train/data.ts'
import { evaluate, type Evaluation } from '../../ml/train/evaluate.ts'
import type { Hyperparameters } from '../../ml/train/hyperparameters.ts'
import type { TrainingJob } from '../../ml/train/trainer.ts'
import type { Tokenizer } from '../../ml/tokenizer.ts'

export const HOLDOUT_BLOCK = 512
export const EVAL_TOKENS = 2_048
export const EVAL_EXAMPLES = 256

export function engineHyperparameters(hyper: ChainHyperparameters): Hyperparameters {
  return {
    rank: hyper.rank,
    alpha: hyper.alpha,
    steps: hyper.steps,
    batchSize: hyper.batchSize,
    learningRate: hyper.learningRateMicro / 1_000_000,
    seed: hyper.seed,
    checkpointEvery: hyper.checkpointEvery,
    sequenceLength: hyper.length,
  }
}

export interface JobPlan {
  readonly job: TrainingJob
  readonly heldOut: TrainingData
  readonly scale: number
  readonly labels?: LabelMap
  /** tokens (LM) or examples (classifier) trained on and held out */
  readonly sizes: { train: number; heldOut: number }
}

/** Splits a token stream into trained and held-out blocks (see the header). */
export function splitStream(tokens: Int32Array): { train: Int32Array; heldOut: Int32Array } {
  const blocks = Math.ceil(tokens.length / HOLDOUT_BLOCK)
  if (blocks < 10) {
    const cut = tokens.length - Math.max(2, Math.floor(tokens.length / 10))
    return { train: tokens.slice(0, cut), heldOut: tokens.slice(cut) }
  }
  const train: number[] = []
  const heldOut: number[] = []
  for (let b = 0; b < blocks; b++) {
    const block = tokens.subarray(b * HOLDOUT_BLOCK, Math.min((b + 1) * HOLDOUT_BLOCK, tokens.length))
    const into = b % 10 === 9 ? heldOut : train
    for (let i = 0; i < block.length; i++) into.push(block[i] as number)
  }
  return { train: Int32Array.from(train), heldOut: Int32Array.from(heldOut) }
}

/** The engine job and held-out data of a chain job. */
export function planJob(config: ModelConfig, base: Tensors, tokenizer: Tokenizer, rows: readonly Row[], hyper: ChainHyperparameters): JobPlan {
  const engineHyper = engineHyperparameters(hyper)
  const scale = hyper.alpha / hyper.rank
  if (config.kind === 'lm') {
    const { train, heldOut } = splitStream(rowsToTokenStream(rows, tokenizer))
    const evalTokens = heldOut.slice(0, EVAL_TOKENS)
    return {
      job: { config, mode: 'lora', base, data: { kind: 'lm', tokens: train }, hyper: engineHyper },
      heldOut: { kind: 'lm', tokens: evalTokens },
      scale,
      sizes: { train: train.length, heldOut: evalTokens.length },
    }
  }
  const trainRows = rows.length < 10 ? rows : rows.filter((_, i) => i % 10 !== 9)
  const heldOutRows = rows.length < 10 ? rows.slice(-1) : rows.filter((_, i) => i % 10 === 9)
  const labels = labelMapOf(trainRows as Row[], config.classes)
  const train = rowsToExamples(trainRows as Row[], tokenizer, labels, config.context)
  const heldOut = rowsToExamples(heldOutRows as Row[], tokenizer, labels, config.context).slice(0, EVAL_EXAMPLES)
  return {
    job: { config, mode: 'lora', base, data: { kind: 'classifier', examples: train }, hyper: engineHyper },
    heldOut: { kind: 'classifier', examples: heldOut },
    scale,
    labels,
    sizes: { train: train.length, heldOut: heldOut.length },
  }
}

export interface JobEvaluation {
  readonly base: Evaluation
  readonly adapted: Evaluation
  readonly metrics: Metrics
}

/** Base vs adapted on the held-out data, and the metrics as the chain records them. */
export function evaluatePlan(plan: JobPlan, adapter: Tensors): JobEvaluation {
  const { config, base } = plan.job
  const length = plan.job.hyper.sequenceLength ?? config.context
  const baseEval = evaluate(config, base, undefined, plan.scale, plan.heldOut, length)
  const adaptedEval = evaluate(config, base, adapter, plan.scale, plan.heldOut, length)
  const micro = (loss: number) => Math.max(0, Math.round(loss * 1_000_000))
  const bps = (accuracy: number | undefined) => (accuracy === undefined ? 0 : Math.round(accuracy * 10_000))
  return {
    base: baseEval,
    adapted: adaptedEval,
    metrics: { baseLossMicro: micro(baseEval.loss), adaptedLossMicro: micro(adaptedEval.loss), baseAccuracyBps: bps(baseEval.accuracy), adaptedAccuracyBps: bps(adaptedEval.accuracy) },
  }
}

/** The adapter file (the blob whose content id goes on chain) and its weights hash. */
export function adapterArtifact(config: ModelConfig, hyper: ChainHyperparameters, adapter: Tensors): { bytes: Uint8Array; weightsHash: Uint8Array } {
  const shapes = adapterShapes(config, { rank: hyper.rank, alpha: hyper.alpha })
  return { bytes: encodeTensors(shapes, adapter), weightsHash: tensorsHash(shapes, adapter) }
}
