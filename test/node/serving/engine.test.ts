// The serving engine end to end in-process: real worker threads and onnxruntime, an in-memory
// AdapterSource. Served greedy tokens equal the adapter merged into the base and decoded by the
// deterministic engine; concurrent heterogeneous requests equal the same requests one at a time;
// seeds reproduce; stops, lengths, cancellation, overload, bad input and the adapter LRU behave.
import t, { type Test } from 'tap'
import type { ModelConfig } from '../../../ml/model/config.ts'
import { forward } from '../../../ml/model/forward.ts'
import { createServingEngine } from '../../../node/serving/engine/index.ts'
import { mergeAdapters } from '../../../node/serving/engine/merge.ts'
import { logSoftmaxAt } from '../../../node/serving/engine/sampling.ts'
import { ServingError } from '../../../node/serving/errors.ts'
import type { AdapterSource, AdapterWeights, GenerateRequest, ServingEngineOptions } from '../../../node/serving/types.ts'
import { randomAdapter, randomBase, randomIds } from '../../ml/onnx/reference.ts'

const config: ModelConfig = { kind: 'lm', vocab: 97, context: 32, dim: 32, layers: 2, heads: 4, hidden: 64, classes: 0 }
const weights = randomBase(config, 5)
const BASE = 'tiny-lm'

function adapterOf(id: number): AdapterWeights {
  const rank = [1, 2, 4, 8, 16][id % 5]!
  const tensors = randomAdapter(config, { rank, alpha: rank * 2 }, 100 + id)
  for (const tensor of tensors.values()) for (let i = 0; i < tensor.length; i++) tensor[i] = tensor[i]! * 0.6
  let bytes = 0
  for (const tensor of tensors.values()) bytes += tensor.byteLength
  return { base: BASE, id: String(id), rank, alpha: rank * 2, tensors, bytes }
}

class MemorySource implements AdapterSource {
  fetches = 0
  fetch(base: string, id: string): Promise<AdapterWeights> {
    this.fetches++
    if (base !== BASE || Number(id) >= 1000) return Promise.reject(new ServingError('ADAPTER_NOT_FOUND', `no adapter ${base}:${id}`))
    return Promise.resolve(adapterOf(Number(id)))
  }
}

async function started(t: Test, options: Partial<ServingEngineOptions> = {}) {
  const source = new MemorySource()
  const engine = createServingEngine({ bases: [{ name: BASE, config, weights }], adapterSource: source, maxBatch: 8, ...options })
  await engine.start()
  t.teardown(() => engine.stop())
  return { engine, source }
}

const greedy = { temperature: 0, topK: 0, topP: 1, seed: 0 }
const request = (prompt: number[], adapters: { id: string; weight: number }[], extra: Partial<GenerateRequest> = {}): GenerateRequest =>
  ({ base: BASE, adapters, promptTokens: prompt, maxTokens: 8, sampling: greedy, logprobs: true, ...extra })

/** greedy decoding of the merged model by the deterministic engine */
function referenceGreedy(prompt: number[], adapters: { id: string; weight: number }[], count: number): { tokens: number[]; logprobs: number[] } {
  const merged = mergeAdapters(config, weights, adapters.map((use) => ({ ...adapterOf(Number(use.id)), weight: use.weight })))
  const sequence = [...prompt]
  const logprobs: number[] = []
  for (let i = 0; i < count; i++) {
    const logits = forward(config, merged, undefined, 1, Int32Array.from(sequence), 1, sequence.length).subarray((sequence.length - 1) * config.vocab)
    let best = 0
    for (let j = 1; j < config.vocab; j++) if (logits[j]! > logits[best]!) best = j
    logprobs.push(logSoftmaxAt(logits, best))
    sequence.push(best)
  }
  return { tokens: sequence.slice(prompt.length), logprobs }
}

async function collect(handle: ReturnType<Awaited<ReturnType<typeof started>>['engine']['generate']>) {
  const tokens: number[] = []
  const logprobs: number[] = []
  for await (const token of handle.tokens) { tokens.push(token.token); logprobs.push(token.logprob) }
  return { tokens, logprobs, record: await handle.done }
}

t.test('greedy output with adapters equals the merged model decoded alone; concurrent rows equal lone runs', async (t) => {
  const { engine } = await started(t)
  const cases = [
    { prompt: Array.from(randomIds(config, 5, 1)), adapters: [{ id: '3', weight: 1 }] },
    { prompt: Array.from(randomIds(config, 9, 2)), adapters: [] },
    { prompt: Array.from(randomIds(config, 4, 3)), adapters: [{ id: '4', weight: 1 }] },
    { prompt: Array.from(randomIds(config, 7, 4)), adapters: [{ id: '1', weight: 0.5 }, { id: '2', weight: 0.5 }] },
    { prompt: Array.from(randomIds(config, 6, 5)), adapters: [{ id: '3', weight: 1 }] },
  ]
  const together = await Promise.all(cases.map((c) => collect(engine.generate(request(c.prompt, c.adapters)))))
  for (const [i, c] of cases.entries()) {
    const reference = referenceGreedy(c.prompt, c.adapters, 8)
    t.same(together[i]!.tokens, reference.tokens, `case ${i}: same greedy tokens as the merged model`)
    for (let j = 0; j < 8; j++) t.ok(Math.abs(together[i]!.logprobs[j]! - reference.logprobs[j]!) < 1e-3, `case ${i} token ${j}: logprob`)
    const alone = await collect(engine.generate(request(c.prompt, c.adapters)))
    t.same(alone.tokens, together[i]!.tokens, `case ${i}: batched = alone`)
    t.equal(together[i]!.record.finishReason, 'length')
    t.same(together[i]!.record.outputTokens, together[i]!.tokens)
  }
  // the reference differs from the base when an adapter is used (the test can fail)
  t.notSame(referenceGreedy(cases[0]!.prompt, [], 8).tokens, referenceGreedy(cases[0]!.prompt, cases[0]!.adapters, 8).tokens)
})

t.test('seeded sampling reproduces, alone or in a crowd; stop tokens and the context end generation', async (t) => {
  const { engine } = await started(t)
  const prompt = Array.from(randomIds(config, 6, 9))
  const sampling = { temperature: 0.9, topK: 20, topP: 0.95, seed: 1234 }
  const alone = await collect(engine.generate(request(prompt, [{ id: '7', weight: 1 }], { sampling, maxTokens: 12 })))
  const crowd = await Promise.all([0, 1, 2, 3].map((i) => collect(engine.generate(request(i === 2 ? prompt : Array.from(randomIds(config, 3 + i, 50 + i)), i === 2 ? [{ id: '7', weight: 1 }] : [{ id: String(i), weight: 1 }], { sampling, maxTokens: 12 })))))
  t.same(crowd[2]!.tokens, alone.tokens, 'same seed, same tokens')
  const other = await collect(engine.generate(request(prompt, [{ id: '7', weight: 1 }], { sampling: { ...sampling, seed: 99 }, maxTokens: 12 })))
  t.notSame(other.tokens, alone.tokens, 'another seed, other tokens')
  const stopAt = alone.tokens[3]!
  const stopped = await collect(engine.generate(request(prompt, [{ id: '7', weight: 1 }], { sampling, maxTokens: 12, stopTokens: [stopAt] })))
  t.equal(stopped.record.finishReason, 'stop')
  t.equal(stopped.tokens.at(-1), stopAt)
  t.ok(stopped.tokens.length <= 4)
  const long = await collect(engine.generate(request(Array.from(randomIds(config, 30, 3)), [], { maxTokens: 32 })))
  t.equal(long.tokens.length, 2, 'prompt + output stops at the context')
  t.equal(long.record.finishReason, 'length')
})

t.test('bad requests are refused with stable codes; unknown adapters reject done', async (t) => {
  const { engine } = await started(t)
  const code = (f: () => unknown) => { try { f(); return 'none' } catch (error) { return (error as ServingError).code } }
  t.equal(code(() => engine.generate({ ...request([1], []), base: 'nope' })), 'MODEL_NOT_FOUND')
  t.equal(code(() => engine.generate(request(Array.from({ length: 33 }, () => 1), []))), 'CONTEXT_LENGTH_EXCEEDED')
  t.equal(code(() => engine.generate(request([1], [], { maxTokens: 0 }))), 'INVALID_PARAMETER')
  t.equal(code(() => engine.generate(request([1], [], { sampling: { ...greedy, topP: 0 } }))), 'INVALID_PARAMETER')
  t.equal(code(() => engine.generate(request([97], []))), 'INVALID_PARAMETER')
  t.equal(code(() => engine.generate(request([1], [{ id: 'x', weight: 1 }]))), 'INVALID_PARAMETER')
  await t.rejects(engine.generate(request([1, 2], [{ id: '5000', weight: 1 }])).done, { code: 'ADAPTER_NOT_FOUND' })
  const ok = await collect(engine.generate(request([1, 2], [{ id: '5', weight: 1 }])))
  t.equal(ok.tokens.length, 8, 'the engine keeps serving')
})

t.test('a full queue answers OVERLOADED; cancel frees the slot; stop drains', async (t) => {
  const { engine } = await started(t, { maxQueue: 2, maxBatch: 1 })
  const first = engine.generate(request([1, 2, 3], [], { maxTokens: 20 }))
  for await (const token of first.tokens) { t.ok(token.token >= 0, 'the first request runs'); break }
  const queued = [engine.generate(request([4], [], { maxTokens: 20 })), engine.generate(request([5], [], { maxTokens: 20 }))]
  let overloaded: unknown
  try { engine.generate(request([6], [])) } catch (error) { overloaded = error }
  t.equal((overloaded as ServingError).code, 'OVERLOADED')
  t.equal(engine.stats().rejectedOverloaded, 1)
  first.cancel()
  const record = await first.done
  t.equal(record.finishReason, 'cancelled')
  t.ok(record.outputTokens.length < 20)
  const next = await queued[0]!.done
  t.equal(next.finishReason, 'length')
  await engine.stop()
  const last = await queued[1]!.done
  t.ok(['cancelled', 'length'].includes(last.finishReason))
  t.throws(() => engine.generate(request([1], [])), { code: 'ENGINE_STOPPED' })
})

t.test('adapters: LRU under the byte budget, pinning, prefetch through the source', async (t) => {
  const one = adapterOf(1).bytes // rank 2
  const { engine, source } = await started(t, { adapterMemoryBytes: one * 3 + 10 })
  await engine.pin(BASE, '6') // rank 2 too
  for (const id of ['1', '11', '16', '21']) await engine.generate(request([1, 2], [{ id, weight: 1 }], { maxTokens: 2 })).done
  const resident = engine.adapters()
  t.ok(resident.reduce((total, a) => total + a.bytes, 0) <= one * 3 + 10, 'within budget')
  t.ok(resident.some((a) => a.id === '6' && a.pinned), 'the pinned adapter stayed')
  t.ok(engine.stats().adapterEvictions >= 2)
  const before = source.fetches
  await engine.generate(request([1, 2], [{ id: '21', weight: 1 }], { maxTokens: 2 })).done
  t.equal(source.fetches, before, 'a resident adapter is a hit')
  t.ok(engine.stats().adapterHits >= 1)
  await t.rejects(engine.generate(request([1, 2], [{ id: '4', weight: 1 }])).done, { code: 'ADAPTER_MEMORY_EXHAUSTED' }, 'rank 16 is over the whole budget')
})

t.test('an unavailable execution provider fails start clearly', async (t) => {
  const engine = createServingEngine({ bases: [{ name: BASE, config, weights }], adapterSource: new MemorySource(), executionProvider: 'no-such-ep' })
  await t.rejects(engine.start(), { code: 'EXECUTION_PROVIDER_UNAVAILABLE' })
})

t.test('a request whose adapter does not fit while others hold memory waits for it, then runs', async (t) => {
  const one = adapterOf(1).bytes // ids 1, 6, 11 are all rank 2
  const { engine, source } = await started(t, { adapterMemoryBytes: one * 2 + 10 })
  const records = await Promise.all(['1', '6', '11'].map((id) => engine.generate(request([1, 2, 3], [{ id, weight: 1 }], { maxTokens: 6 })).done))
  t.same(records.map((r) => r.outputTokens.length), [6, 6, 6], 'all three ran')
  t.ok(engine.stats().residentAdapterBytes <= one * 2 + 10, 'never over budget')
  t.ok(source.fetches >= 3 && source.fetches <= 5, `the waiting adapter was refetched at most after releases (${source.fetches} fetches)`)
  await engine.pin(BASE, '16')
  await engine.pin(BASE, '21')
  await t.rejects(engine.generate(request([1, 2], [{ id: '26', weight: 1 }])).done, { code: 'ADAPTER_MEMORY_EXHAUSTED' }, 'pins filling the budget fail at once')
})
