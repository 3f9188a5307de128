// The worker thread of TrainingPool: binds the job's model once, then for each step computes its
// run of examples' losses and float32 gradients with ml/train's ExampleGradients and transfers
// them back. All arithmetic is the trainer's; the thread adds only transport.
import { serveParent } from './managedWorker.ts'
import { OpenLedgerError } from '../../runtime/errors.ts'
import type { Example } from '../../ml/model/backward.ts'
import { paramShapes } from '../../ml/model/config.ts'
import { gradientViews } from '../../ml/model/engine.ts'
import { ExampleGradients } from '../../ml/train/trainer.ts'
import type { TrainingWorkerInit, TrainingWorkerReply, TrainingWorkerStep } from './trainingPool.ts'

let work: ExampleGradients | undefined
let kind: 'lm' | 'classifier' = 'lm'
/** why set-up failed (no WebAssembly kernel, say): every step answers with it, typed */
let setupError: unknown

serveParent<TrainingWorkerInit | TrainingWorkerStep>((message, post) => {
  if (message.type === 'init') {
    kind = message.config.kind
    try {
      const base = message.base === undefined ? new Map<string, Float32Array>() : gradientViews(paramShapes(message.config), message.base)
      work = new ExampleGradients({ config: message.config, mode: message.mode, base }, message.rank, message.scale)
    } catch (error) {
      setupError = error
    }
    return
  }
  let reply: TrainingWorkerReply
  const transfer: ArrayBuffer[] = []
  try {
    if (setupError !== undefined) throw setupError
    if (work === undefined) throw new Error('training worker got a step before init')
    work.bind(message.weights)
    const size = work.size
    const losses = new Float64Array(message.examples.length)
    const gradients = new Float32Array(message.examples.length * size)
    message.examples.forEach((item, j) => {
      const example: Example = kind === 'lm' ? { kind: 'lm', ids: item.ids } : { kind: 'classifier', ids: item.ids, label: item.label }
      losses[j] = work!.compute(example)
      gradients.set(work!.gradient, j * size)
    })
    reply = { id: message.id, losses, gradients }
    transfer.push(losses.buffer, gradients.buffer)
  } catch (error) {
    const code = error instanceof OpenLedgerError ? error.code : 'WORKER_FAILED'
    reply = { id: message.id, error: { code, message: error instanceof Error ? error.message : String(error) } }
  }
  post(reply, transfer)
})
