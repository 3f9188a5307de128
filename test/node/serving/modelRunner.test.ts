// The serving graph (ml/onnx/servingExport.ts) run by ModelRunner against the deterministic engine:
// prefill + KV-cached decode steps give the logits of a full forward pass over the prefix; a row's
// adapter equals that adapter merged into the base weights; heterogeneous batch rows (different
// adapters, ranks, none, weighted merges) equal the same rows run one at a time.
import t from 'tap'
import type { ModelConfig, Tensors } from '../../../ml/model/config.ts'
import { forward } from '../../../ml/model/forward.ts'
import { ModelRunner, type RowAdapters, type StepRow } from '../../../node/serving/engine/modelRunner.ts'
import { randomAdapter, randomBase, randomIds } from '../../ml/onnx/reference.ts'
import { mergeAdapters } from '../../../node/serving/engine/merge.ts'

const config: ModelConfig = { kind: 'lm', vocab: 97, context: 24, dim: 32, layers: 2, heads: 4, hidden: 64, classes: 0 }
const greedy = { temperature: 0, topK: 0, topP: 1, seed: 0 }
const TOLERANCE = 2e-4

function maxRelative(a: Float32Array, b: Float32Array): number {
  let diff = 0
  let scale = 1
  for (let i = 0; i < a.length; i++) { diff = Math.max(diff, Math.abs(a[i]! - b[i]!)); scale = Math.max(scale, Math.abs(b[i]!)) }
  return diff / scale
}

const base = randomBase(config, 1)
const adapters = new Map<string, { rank: number; alpha: number; tensors: Tensors }>()
for (const [key, rank] of [['a1', 1], ['a4', 4], ['a8', 8], ['a3', 3]] as const) {
  const tensors = randomAdapter(config, { rank, alpha: 2 * rank }, rank * 7)
  for (const tensor of tensors.values()) for (let i = 0; i < tensor.length; i++) tensor[i] = tensor[i]! * 0.5
  adapters.set(key, { rank, alpha: 2 * rank, tensors })
}

async function runner(maxBatch: number): Promise<ModelRunner> {
  const r = await ModelRunner.create(config, base, { maxBatch, executionProvider: 'cpu', intraOpThreads: 1 })
  for (const [key, adapter] of adapters) r.loadAdapter(key, adapter.rank, adapter.tensors)
  return r
}

interface Request { prompt: number[]; uses: { key: string; weight: number }[] }
const rowAdapters = (uses: Request['uses']): RowAdapters => ({
  keys: uses.map((use) => use.key),
  scales: uses.map((use) => { const a = adapters.get(use.key)!; return use.weight * a.alpha / a.rank }),
})

/** Runs requests together (prefill then `steps` greedy decode steps); returns each row's logits per step. */
async function generate(r: ModelRunner, requests: Request[], steps: number): Promise<Float32Array[][]> {
  const out: Float32Array[][] = requests.map(() => [])
  const tokens = requests.map((req) => [...req.prompt])
  const prefill: StepRow[] = requests.map((req, slot) => ({ slot, tokens: req.prompt, pastLength: 0, adapters: rowAdapters(req.uses), sampling: greedy, outputIndex: 0, logprobs: false }))
  let result = await r.step(prefill, 'prefill', true)
  for (let s = 0; s <= steps; s++) {
    for (let b = 0; b < requests.length; b++) {
      out[b]!.push(result.logits!.slice(b * config.vocab, (b + 1) * config.vocab))
      tokens[b]!.push(result.tokens[b]!)
    }
    if (s === steps) break
    const rows: StepRow[] = requests.map((req, slot) => ({ slot, tokens: [tokens[slot]!.at(-1)!], pastLength: tokens[slot]!.length - 1, adapters: rowAdapters(req.uses), sampling: greedy, outputIndex: s + 1, logprobs: false }))
    result = await r.step(rows, 'decode', true)
  }
  return out
}

t.test('KV-cached decoding with an adapter equals the adapter merged into the base, full forward each step', async (t) => {
  const r = await runner(4)
  t.teardown(() => r.release())
  const prompt = Array.from(randomIds(config, 7, 3))
  for (const uses of [[], [{ key: 'a4', weight: 1 }], [{ key: 'a8', weight: 0.5 }, { key: 'a1', weight: 1.5 }]]) {
    const [logits] = await generate(r, [{ prompt, uses }], 6)
    const merged = mergeAdapters(config, base, uses.map((use) => ({ ...adapters.get(use.key)!, weight: use.weight })))
    const sequence = [...prompt]
    for (const step of logits!) {
      const full = forward(config, merged, undefined, 1, Int32Array.from(sequence), 1, sequence.length)
      const last = full.subarray((sequence.length - 1) * config.vocab)
      t.ok(maxRelative(step, last) < TOLERANCE, `adapters [${uses.map((u) => u.key).join(',')}] position ${sequence.length}: ${maxRelative(step, last).toExponential(2)}`)
      let best = 0
      for (let j = 1; j < config.vocab; j++) if (last[j]! > last[best]!) best = j
      sequence.push(best)
    }
  }
})

t.test('heterogeneous batch rows equal the same requests one at a time', async (t) => {
  const batched = await runner(6)
  const alone = await runner(1)
  t.teardown(async () => { await batched.release(); await alone.release() })
  const requests: Request[] = [
    { prompt: Array.from(randomIds(config, 5, 10)), uses: [{ key: 'a1', weight: 1 }] },
    { prompt: Array.from(randomIds(config, 9, 11)), uses: [] },
    { prompt: Array.from(randomIds(config, 3, 12)), uses: [{ key: 'a8', weight: 1 }] },
    { prompt: Array.from(randomIds(config, 6, 13)), uses: [{ key: 'a4', weight: 0.3 }, { key: 'a3', weight: 0.7 }] },
    { prompt: Array.from(randomIds(config, 9, 14)), uses: [{ key: 'a1', weight: 1 }] },
  ]
  const together = await generate(batched, requests, 5)
  for (let b = 0; b < requests.length; b++) {
    const [single] = await generate(alone, [requests[b]!], 5)
    for (let s = 0; s < single!.length; s++) {
      t.ok(maxRelative(together[b]![s]!, single![s]!) < TOLERANCE, `row ${b} step ${s}`)
    }
  }
})
