// A serving worker thread: holds the ModelRunner (onnxruntime session, KV cache, adapters) of each
// base model assigned to it and executes the scheduler's messages one at a time, in order. It is
// started and stopped as every node thread is (node/workers/managedWorker.ts): the close is queued
// behind any step in flight, so a session is released only between native calls, and the thread
// then exits by itself (no terminate() mid-run).
import { serveParent } from '../../workers/managedWorker.ts'
import type { ModelConfig } from '../../../ml/model/config.ts'
import { OpenLedgerError } from '../../../runtime/errors.ts'
import { classifyWithEngine } from './classify.ts'
import type { WeightedAdapter } from './merge.ts'
import { ModelRunner, type RunnerCounters, type StepResult, type StepRow } from './modelRunner.ts'

export type WorkerRequest =
  | { type: 'init'; id: number; bases: { name: string; config: ModelConfig; weights: Map<string, Float32Array> }[]; maxBatch: number; executionProvider: string; intraOpThreads: number }
  | { type: 'load'; id: number; base: string; key: string; rank: number; tensors: Map<string, Float32Array> }
  | { type: 'drop'; id: number; base: string; key: string }
  | { type: 'move'; id: number; base: string; from: number; to: number; length: number }
  | { type: 'step'; id: number; base: string; mode: 'decode' | 'prefill'; rows: StepRow[]; keepLogits: boolean }
  | { type: 'classify'; id: number; base: string; adapters: WeightedAdapter[]; tokens: number[] }
  | { type: 'counters'; id: number }

export type WorkerReply =
  | { id: number; ok: true; result?: StepResult | Record<string, RunnerCounters> | Float32Array }
  | { id: number; ok: false; error: { code: string; message: string; details?: Record<string, unknown> } }

const runners = new Map<string, ModelRunner>()
const classifiers = new Map<string, { config: ModelConfig; weights: Map<string, Float32Array> }>()
let chain: Promise<void> = Promise.resolve()

function runner(base: string): ModelRunner {
  const found = runners.get(base)
  if (found === undefined) throw new OpenLedgerError('ENGINE_FAILURE', `worker holds no base ${base}`)
  return found
}

async function handle(message: WorkerRequest): Promise<WorkerReply> {
  switch (message.type) {
    case 'init':
      for (const base of message.bases) {
        if (base.config.kind === 'classifier') { classifiers.set(base.name, base); continue }
        runners.set(base.name, await ModelRunner.create(base.config, base.weights, { maxBatch: message.maxBatch, executionProvider: message.executionProvider, intraOpThreads: message.intraOpThreads }))
      }
      return { id: message.id, ok: true }
    case 'load':
      runner(message.base).loadAdapter(message.key, message.rank, message.tensors)
      return { id: message.id, ok: true }
    case 'drop':
      runner(message.base).dropAdapter(message.key)
      return { id: message.id, ok: true }
    case 'move':
      runner(message.base).moveSlot(message.from, message.to, message.length)
      return { id: message.id, ok: true }
    case 'step':
      return { id: message.id, ok: true, result: await runner(message.base).step(message.rows, message.mode, message.keepLogits) }
    case 'classify': {
      const model = classifiers.get(message.base)
      if (model === undefined) throw new OpenLedgerError('ENGINE_FAILURE', `worker holds no classifier ${message.base}`)
      return { id: message.id, ok: true, result: classifyWithEngine(model.config, model.weights, message.adapters, message.tokens) }
    }
    case 'counters':
      return { id: message.id, ok: true, result: Object.fromEntries([...runners].map(([name, r]) => [name, { ...r.counters }])) }
  }
}

serveParent<WorkerRequest>((message, post) => {
  chain = chain.then(async () => {
    let reply: WorkerReply
    try {
      reply = await handle(message)
    } catch (error) {
      const e = error as { code?: unknown; message?: unknown; details?: Record<string, unknown> }
      reply = { id: message.id, ok: false, error: { code: typeof e.code === 'string' ? e.code : 'ENGINE_FAILURE', message: String(e.message ?? error), ...(e.details === undefined ? {} : { details: e.details }) } }
    }
    const result = reply.ok && message.type === 'step' ? reply.result as StepResult : undefined
    const transfer = result === undefined ? [] : [result.tokens.buffer, result.logprobs.buffer] as ArrayBuffer[]
    post(reply, transfer)
  })
}, {
  // after the step in flight: sessions are released between native calls, never during one
  onClose: () => {
    chain = chain.then(async () => {
      for (const r of runners.values()) await r.release()
      runners.clear()
    })
    return chain
  },
})
