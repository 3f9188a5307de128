// The worker thread that runs one training job end to end, off the node's main thread (where
// consensus and RPC live): tokenizes the job's rows, trains (inline, or with a nested
// TrainingPool when given more than one thread — the same bits either way), evaluates base vs
// adapted on the held-out split, and encodes the adapter. It talks to jobRunner.ts by messages:
// progress and checkpoints on the way (the parent persists checkpoints for resumption), the
// result or a typed error at the end.
import { closing, serveParent } from '../workers/managedWorker.ts'
import { adapterArtifact, evaluatePlan, planJob } from './jobPlan.ts'
import { paramShapes } from '../../ml/model/config.ts'
import { decodeTensors } from '../../ml/model/params.ts'
import { decodeTrainingState } from '../../ml/train/state.ts'
import { jobLayout, train } from '../../ml/train/trainer.ts'
import { Tokenizer } from '../../ml/tokenizer.ts'
import { OpenLedgerError } from '../../runtime/errors.ts'
import { TrainingPool } from '../workers/trainingPool.ts'
import type { JobWorkerReply, JobWorkerRequest } from './jobRunner.ts'

/** The parent closed this thread mid-job (the node is stopping): the run ends at the next step. */
class JobWorkerError extends OpenLedgerError<'ABORTED'> {}

async function run(request: JobWorkerRequest, post: (reply: JobWorkerReply, transfer?: ArrayBuffer[]) => void): Promise<void> {
  const base = decodeTensors(request.weights, paramShapes(request.config))
  const tokenizer = Tokenizer.fromTable(request.tokenizerTable)
  const plan = planJob(request.config, base, tokenizer, request.rows, request.hyper)
  post({ type: 'planned', trainSize: plan.sizes.train, heldOutSize: plan.sizes.heldOut })
  const layout = jobLayout(plan.job)
  const resume = request.resume === undefined ? undefined : { state: decodeTrainingState(layout, request.resume.state), checkpoints: request.resume.checkpoints }
  const pool = request.threads > 1 ? new TrainingPool(plan.job, { threads: request.threads }) : undefined
  pool?.start()
  try {
    const result = await train(plan.job, {
      ...(resume === undefined ? {} : { resume }),
      ...(pool === undefined ? {} : { gradients: pool }),
      onProgress: (step, loss) => {
        if (closing()) throw new JobWorkerError('ABORTED', 'the training job was stopped')
        post({ type: 'progress', step, loss })
      },
      onCheckpoint: ({ step, hash, state }) => post({ type: 'checkpoint', step, hash, state }),
    })
    post({ type: 'evaluating' })
    const evaluation = evaluatePlan(plan, result.weights)
    const artifact = adapterArtifact(request.config, request.hyper, result.weights)
    post({
      type: 'done',
      adapter: artifact.bytes,
      weightsHash: artifact.weightsHash,
      checkpointRoot: result.checkpointRoot,
      checkpoints: result.checkpoints.length,
      metrics: evaluation.metrics,
      baseLoss: evaluation.base.loss,
      adaptedLoss: evaluation.adapted.loss,
      ...(evaluation.base.accuracy === undefined ? {} : { baseAccuracy: evaluation.base.accuracy }),
      ...(evaluation.adapted.accuracy === undefined ? {} : { adaptedAccuracy: evaluation.adapted.accuracy }),
    }, [artifact.bytes.buffer as ArrayBuffer])
  } finally {
    await pool?.stop()
  }
}

let running: Promise<void> | undefined
// one job per thread: once it is over (done or failed, its own pool drained) the thread ends itself
const thread = serveParent<JobWorkerRequest>((request, post) => {
  running ??= run(request, post).catch((error: unknown) => {
    const code = error instanceof OpenLedgerError ? error.code : 'JOB_FAILED'
    post({ type: 'error', code, message: error instanceof Error ? error.message : String(error) } satisfies JobWorkerReply)
  }).finally(() => thread.exit())
}, { onClose: () => running })
