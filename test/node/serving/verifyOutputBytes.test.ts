// verifyOutputBytes (node/serving/verify.ts): an output known only by its bytes, as an inference
// record's blob holds it. The shipped LM often emits a tokenization of its text other than the one
// encode() gives (the canonical re-encoding is rejected for most greedy outputs here); the parse
// guided by the model recovers the emitted tokens exactly and accepts them, and an output with text
// the model did not produce is rejected.
import t from 'tap'
import { forward } from '../../../ml/model/forward.ts'
import { loadBaseModel } from '../../../node/models/assets.ts'
import { verifyOutputBytes, verifyRecord } from '../../../node/serving/verify.ts'
import { LM, PROMPTS } from './verifyFixture.ts'

const loaded = await loadBaseModel(LM)
const config = loaded.entry.config
const model = { config, weights: loaded.weights, tokenBytes: (id: number) => loaded.tokenizer.tokenBytes(id), encode: (text: string) => loaded.tokenizer.encode(text) }
const GREEDY = { temperature: 0, topK: 0, topP: 1, seed: 0 }
const MAX_TOKENS = 12

/** Greedy generation with the deterministic engine, stopping at <|endoftext|>. */
function generate(prompt: number[]): number[] {
  const out: number[] = []
  while (out.length < MAX_TOKENS) {
    const ids = Int32Array.from([...prompt, ...out])
    const row = forward(config, loaded.weights, undefined, 1, ids, 1, ids.length).subarray((ids.length - 1) * config.vocab)
    let best = 0
    for (let j = 1; j < config.vocab; j++) if (row[j]! > row[best]!) best = j
    if (best === 256) break
    out.push(best)
  }
  return out
}

const check = (prompt: number[], text: string) => {
  const output = new TextEncoder().encode(text)
  return verifyOutputBytes({ promptTokens: prompt, output, maxTokens: MAX_TOKENS + 4, sampling: GREEDY, adapters: [] }, model, new Map())
}

t.test('honest greedy outputs are accepted from their bytes, their tokens recovered; tampered text rejected', async (t) => {
  let canonicalRejected = 0
  for (const text of PROMPTS.slice(0, 4)) {
    const prompt = Array.from(loaded.tokenizer.encode(text))
    const emitted = generate(prompt)
    const output = loaded.tokenizer.decode(emitted)
    const canonical = verifyRecord({ id: 'x', base: LM, adapters: [], promptTokens: prompt, outputTokens: Array.from(loaded.tokenizer.encode(output)), sampling: GREEDY, finishReason: 'length', timings: { firstTokenMs: 0, totalMs: 0 } }, model, new Map())
    if (!canonical.accepted) canonicalRejected++
    const honest = check(prompt, output)
    t.ok(honest.accepted, `${JSON.stringify(output)} accepted`)
    t.same(honest.outputTokens, emitted, 'the emitted tokens recovered')
    t.notOk(check(prompt, `${output} [tampered]`).accepted, 'an appended text rejected')
    t.notOk(check(prompt, output.replace(/[a-z]/, 'Q')).accepted, 'a changed letter rejected')
  }
  t.ok(canonicalRejected > 0, `the canonical re-encoding alone would reject ${canonicalRejected} of 4 honest outputs: why the guided parse exists`)
})

t.test('an output longer than maxTokens or empty is rejected', async (t) => {
  const prompt = Array.from(loaded.tokenizer.encode(PROMPTS[0]!))
  const long = loaded.tokenizer.decode(generate(prompt))
  const verdict = verifyOutputBytes({ promptTokens: prompt, output: new TextEncoder().encode(long), maxTokens: 2, sampling: GREEDY, adapters: [] }, model, new Map())
  t.notOk(verdict.accepted)
  t.notOk(check(prompt, '').accepted)
})
