// The OpenAI-compatible HTTP layer over an in-process fake engine (test/node/serving/fakeEngine.ts),
// driven with the `openai` npm client where a client would be used and with fetch where the wire
// itself is the point (SSE framing, status codes, headers, disconnects).
import OpenAI from 'openai'
import t, { type Test } from 'tap'
import { readManifest, loadTokenizer } from '../../../../node/models/assets.ts'
import { silentLogger } from '../../../../lib/logger.ts'
import { ServingError } from '../../../../node/serving/errors.ts'
import { createServingMetrics } from '../../../../node/serving/metrics.ts'
import { CHAT_STOP, renderChat } from '../../../../node/serving/http/chatTemplate.ts'
import { ServingHttpServer, type ServedModelInfo, type ServingModels, type ServingHttpOptions } from '../../../../node/serving/http/server.ts'
import { END_OF_TEXT_ID } from '../../../../ml/tokenizer.ts'
import type { ModelConfig } from '../../../../ml/model/config.ts'
import type { GenerateRequest } from '../../../../node/serving/types.ts'
import { FakeEngine, type FakeEngineOptions } from '../fakeEngine.ts'

const manifest = await readManifest()
const tokenizer = await loadTokenizer(manifest)
const configOf = (name: string): ModelConfig => {
  const entry = manifest.models.find((m) => m.name === name)
  if (entry === undefined) throw new Error(`no shipped model ${name}`)
  return entry.config
}
const LM = 'ol-lm-sotu-2m'
const CLS = 'ol-spam-cls'
const lm: ServedModelInfo = { name: LM, config: configOf(LM), tokenizer, created: 1 }
const cls: ServedModelInfo = { name: CLS, config: configOf(CLS), tokenizer, created: 1 }
const ADAPTERS = new Set([`${LM}:7`, `${CLS}:9`])

const models: ServingModels = {
  base: (name) => (name === LM ? lm : name === CLS ? cls : undefined),
  async checkAdapter(base, id) {
    if (!ADAPTERS.has(`${base}:${id}`)) throw new ServingError('ADAPTER_NOT_FOUND', `${base}:${id} is not published`)
  },
  list: () => [
    { id: LM, parent: null, created: 1, context: lm.config.context },
    { id: CLS, parent: null, created: 1, context: cls.config.context },
    { id: `${LM}:7`, parent: LM, created: 2, context: lm.config.context },
    { id: `${CLS}:9`, parent: CLS, created: 2, context: cls.config.context },
  ],
}

const REPLY = ' My fellow citizens, the state of our Union is strong.'
const replyTokens = [...tokenizer.encode(REPLY), END_OF_TEXT_ID]
const defaultScript = (): readonly number[] => replyTokens

async function serve(t: Test, engineOptions: Partial<FakeEngineOptions> = {}, options: ServingHttpOptions = {}) {
  const engine = new FakeEngine({ script: defaultScript, ...engineOptions })
  const metrics = createServingMetrics({ defaultMetrics: false })
  metrics.setEngineStats(() => engine.stats())
  const server = new ServingHttpServer({ port: 0, ...options }, { engine, models, metrics, logger: silentLogger })
  await server.start()
  t.teardown(() => server.stop())
  const url = server.address.url
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 })
  const post = (path: string, body: unknown) => fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) })
  return { engine, server, url, client, post }
}

/** the `data:` payloads of an SSE body */
function events(body: string): string[] {
  return body.split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => e.slice('data: '.length))
}

t.test('completions: text, usage and finish reasons through the openai client', async (t) => {
  const { client, engine } = await serve(t)
  const done = await client.completions.create({ model: LM, prompt: 'My fellow citizens', max_tokens: 40 })
  t.equal(done.choices[0]?.text, REPLY, 'the engine\'s tokens, detokenized, without the end-of-text token')
  t.equal(done.choices[0]?.finish_reason, 'stop', 'end of text is a stop')
  t.equal(done.object, 'text_completion')
  const prompt = Array.from(tokenizer.encode('My fellow citizens'))
  t.same(engine.requests[0]?.promptTokens, prompt, 'the prompt reached the engine tokenized')
  t.same(engine.requests[0]?.stopTokens, [END_OF_TEXT_ID])
  t.same(done.usage, { prompt_tokens: prompt.length, completion_tokens: replyTokens.length, total_tokens: prompt.length + replyTokens.length })

  const short = await client.completions.create({ model: LM, prompt: 'My fellow citizens', max_tokens: 3 })
  t.equal(short.choices[0]?.finish_reason, 'length', 'max_tokens reached')
  t.equal(short.choices[0]?.text, tokenizer.decode(replyTokens.slice(0, 3)))
  const defaulted = await client.completions.create({ model: LM, prompt: 'My fellow citizens' })
  t.equal(engine.requests[2]?.maxTokens, 16, 'no max_tokens: OpenAI\'s default 16')
  t.equal(defaulted.choices[0]?.finish_reason, 'stop')

  const ids = await client.completions.create({ model: `${LM}:7`, prompt: [5, 6, 7], max_tokens: 2, temperature: 0.7, top_p: 0.9, seed: 42 })
  const request = engine.requests[3] as GenerateRequest
  t.same(request.promptTokens, [5, 6, 7], 'token-id prompts pass through')
  t.same(request.adapters, [{ id: '7', weight: 1 }], 'base:versionId selects the adapter')
  t.same(request.sampling, { temperature: 0.7, topK: 0, topP: 0.9, seed: 42 })
  t.equal(ids.model, `${LM}:7`)
  await client.completions.create({ model: LM, prompt: 'x', max_tokens: 1, seed: -1 })
  t.equal(engine.requests[4]?.sampling.seed, 2 ** 32 - 1, 'a negative seed is taken mod 2^32')
  // LoRAX's per-request merge, through the client's extra body
  const merged = await client.completions.create({ model: LM, prompt: 'x', max_tokens: 1 }, { body: { model: LM, prompt: 'x', max_tokens: 1, adapters: [{ id: '7', weight: 0.25 }, { id: 7, weight: 0.75 }] } }).catch((e: unknown) => e)
  t.equal((merged as InstanceType<typeof OpenAI.BadRequestError>).param, 'adapters[1].id', 'an adapter named twice is refused')
  await client.completions.create({ model: LM, prompt: 'x', max_tokens: 1 }, { body: { model: LM, prompt: 'x', max_tokens: 1, adapters: [{ id: '7', weight: 0.25 }] } })
  t.same(engine.requests[5]?.adapters, [{ id: '7', weight: 0.25 }], 'weighted adapters reach the engine')
})

t.test('completions stream as server-sent events ending with [DONE]', async (t) => {
  const { client, post } = await serve(t)
  const stream = await client.completions.create({ model: LM, prompt: 'My fellow citizens', max_tokens: 40, stream: true, stream_options: { include_usage: true } })
  let text = ''
  let finish: string | null | undefined
  let usage: unknown
  let chunks = 0
  for await (const chunk of stream) {
    chunks++
    text += chunk.choices[0]?.text ?? ''
    finish = chunk.choices[0]?.finish_reason ?? finish
    if (chunk.usage) usage = chunk.usage
  }
  t.equal(text, REPLY, 'the pieces add up to the text')
  t.ok(chunks > 5, 'streamed in pieces')
  t.equal(finish, 'stop')
  t.match(usage, { completion_tokens: replyTokens.length })

  const response = await post('/v1/completions', { model: LM, prompt: 'My fellow citizens', max_tokens: 4, stream: true })
  t.equal(response.status, 200)
  t.match(response.headers.get('content-type'), /^text\/event-stream/)
  const data = events(await response.text())
  t.equal(data.at(-1), '[DONE]', 'the last event is [DONE]')
  t.equal((JSON.parse(data.at(-2) as string) as { choices: Array<{ finish_reason: string }> }).choices[0]?.finish_reason, 'length')
})

t.test('chat completions: the plain template, its turn stop, streaming deltas', async (t) => {
  const turn = [...tokenizer.encode(' Strong.'), ...tokenizer.encode(CHAT_STOP + ' more'), END_OF_TEXT_ID]
  const { client, engine } = await serve(t, { script: () => turn })
  const messages = [
    { role: 'system' as const, content: 'You are a president.' },
    { role: 'user' as const, content: 'How is the Union?' },
  ]
  const done = await client.chat.completions.create({ model: `${LM}:7`, messages })
  t.equal(done.choices[0]?.message.content, ' Strong.', 'stopped before the next user turn')
  t.equal(done.choices[0]?.message.role, 'assistant')
  t.equal(done.choices[0]?.finish_reason, 'stop')
  t.same(engine.requests[0]?.promptTokens, Array.from(tokenizer.encode(renderChat(messages))), 'the transcript of the plain template')
  t.equal(tokenizer.decode(engine.requests[0]?.promptTokens ?? []), 'You are a president.\n\nUser: How is the Union?\n\nAssistant:')
  t.equal(engine.requests[0]?.maxTokens, lm.config.context - (engine.requests[0]?.promptTokens.length ?? 0), 'no max_tokens: up to the context')
  t.equal(engine.cancelled, 1, 'the stop string cancelled the generation')

  const stream = await client.chat.completions.create({ model: LM, messages, stream: true })
  let text = ''
  let role: string | undefined
  const finishes: Array<string | null | undefined> = []
  for await (const chunk of stream) {
    role ??= chunk.choices[0]?.delta.role
    text += chunk.choices[0]?.delta.content ?? ''
    finishes.push(chunk.choices[0]?.finish_reason)
    t.equal(chunk.object, 'chat.completion.chunk')
  }
  t.equal(role, 'assistant', 'the first delta names the role')
  t.equal(text, ' Strong.')
  t.equal(finishes.at(-1), 'stop')
})

t.test('stop strings: cut before the match, held back while they may still match', async (t) => {
  const { client, engine } = await serve(t)
  const done = await client.completions.create({ model: LM, prompt: 'x', max_tokens: 40, stop: ['Union', 'nothing'] })
  t.equal(done.choices[0]?.text, ' My fellow citizens, the state of our ')
  t.equal(done.choices[0]?.finish_reason, 'stop')
  const stream = await client.completions.create({ model: LM, prompt: 'x', max_tokens: 40, stop: 'state of', stream: true })
  let text = ''
  for await (const chunk of stream) text += chunk.choices[0]?.text ?? ''
  t.equal(text, ' My fellow citizens, the ', 'no part of the stop string was streamed')
  t.equal(engine.cancelled, 2)
})

t.test('logprobs of the chosen tokens', async (t) => {
  const { client } = await serve(t)
  const done = await client.completions.create({ model: LM, prompt: 'x', max_tokens: 3, logprobs: 1 })
  const logprobs = done.choices[0]?.logprobs
  t.same(logprobs?.token_logprobs, [-0.5, -0.5, -0.5])
  t.same(logprobs?.tokens, replyTokens.slice(0, 3).map((id) => tokenizer.decode([id])))
  t.same(logprobs?.text_offset?.slice(0, 1), [0])
  const chat = await client.chat.completions.create({ model: LM, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, logprobs: true })
  t.same(chat.choices[0]?.logprobs?.content?.map((c) => c.logprob), [-0.5, -0.5])
  const plain = await client.completions.create({ model: LM, prompt: 'x', max_tokens: 2 })
  t.equal(plain.choices[0]?.logprobs, null, 'none unless asked')
})

t.test('context: a prompt over it is refused; prompt + max_tokens over it stops with length', async (t) => {
  const { client, engine } = await serve(t, { script: () => Array.from({ length: 100 }, () => 300) })
  const context = lm.config.context
  const long = Array.from({ length: context }, () => 300)
  const error = await client.completions.create({ model: LM, prompt: long, max_tokens: 1 }).catch((e: unknown) => e)
  t.ok(error instanceof OpenAI.BadRequestError, '400')
  t.equal((error as InstanceType<typeof OpenAI.BadRequestError>).code, 'context_length_exceeded')
  const words = await client.completions.create({ model: LM, prompt: 'the '.repeat(200), max_tokens: 1 }).catch((e: unknown) => e)
  t.equal((words as InstanceType<typeof OpenAI.BadRequestError>).code, 'context_length_exceeded', 'text that tokenizes past the context too')
  const fits = await client.completions.create({ model: LM, prompt: long.slice(0, context - 5), max_tokens: 50 })
  t.equal(engine.requests.at(-1)?.maxTokens, 5, 'max_tokens clamped to the room left')
  t.equal(fits.choices[0]?.finish_reason, 'length')
  t.equal(fits.usage?.completion_tokens, 5)
})

t.test('bad requests get OpenAI-shaped errors with stable codes', async (t) => {
  const { post, client, url } = await serve(t, {}, { maxBodyBytes: 4096 })
  const expect = async (response: Response, status: number, code: string, param?: string) => {
    t.equal(response.status, status, `${code}: status ${status}`)
    const body = (await response.json()) as { error: { code: string; type: string; message: string; param: string | null } }
    t.equal(body.error.code, code)
    t.type(body.error.message, 'string')
    if (param !== undefined) t.equal(body.error.param, param)
    return body
  }
  await expect(await post('/v1/completions', '{"model": "x", "prompt":'), 400, 'invalid_json')
  await expect(await post('/v1/completions', '[1]'), 400, 'invalid_body')
  await expect(await post('/v1/completions', { model: 'nope', prompt: 'x' }), 404, 'model_not_found', 'model')
  await expect(await post('/v1/completions', { model: `${LM}:999`, prompt: 'x' }), 404, 'adapter_not_found')
  await expect(await post('/v1/completions', { model: `${LM}:abc`, prompt: 'x' }), 404, 'adapter_not_found')
  await expect(await post('/v1/completions', { model: LM, prompt: 'x', temperature: 3 }), 400, 'invalid_parameter', 'temperature')
  await expect(await post('/v1/completions', { model: LM, prompt: 'x', top_p: 0 }), 400, 'invalid_parameter', 'top_p')
  await expect(await post('/v1/completions', { model: LM, prompt: 'x', max_tokens: 0 }), 400, 'invalid_parameter', 'max_tokens')
  await expect(await post('/v1/completions', { model: LM, prompt: 'x', max_tokens: 1.5 }), 400, 'invalid_parameter', 'max_tokens')
  await expect(await post('/v1/completions', { model: LM, prompt: 'x', n: 2 }), 400, 'unsupported_parameter', 'n')
  await expect(await post('/v1/completions', { model: LM, prompt: 'x', stop: ['a', 'b', 'c', 'd', 'e'] }), 400, 'invalid_parameter', 'stop')
  await expect(await post('/v1/completions', { model: LM, prompt: [1, 99999] }), 400, 'invalid_parameter', 'prompt')
  await expect(await post('/v1/completions', { model: LM, prompt: ['a', 'b'] }), 400, 'unsupported_parameter', 'prompt')
  await expect(await post('/v1/completions', { model: LM, prompt: '' }), 400, 'invalid_parameter', 'prompt')
  await expect(await post('/v1/completions', { model: CLS, prompt: 'x' }), 400, 'unsupported_model_kind', 'model')
  await expect(await post('/v1/completions', { model: `${LM}:7`, prompt: 'x', adapters: [{ id: '7' }] }), 400, 'invalid_parameter', 'adapters')
  await expect(await post('/v1/completions', { model: LM, prompt: 'x', adapters: [{ id: '7', weight: -1 }] }), 400, 'invalid_parameter', 'adapters[0].weight')
  await expect(await post('/v1/completions', { model: LM, prompt: 'x', adapters: [{ id: '8', weight: 1 }] }), 404, 'adapter_not_found')
  await expect(await post('/v1/chat/completions', { model: LM, messages: [] }), 400, 'invalid_parameter', 'messages')
  await expect(await post('/v1/chat/completions', { model: LM, messages: [{ role: 'tool', content: 'x' }] }), 400, 'invalid_parameter', 'messages[0].role')
  await expect(await post('/v1/chat/completions', { model: LM, messages: [{ role: 'user', content: 'x' }], top_logprobs: 3 }), 400, 'unsupported_parameter')
  await expect(await post('/v1/completions', { model: LM, prompt: 'x'.repeat(5000) }), 413, 'request_too_large')
  const chunked = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < 10; i++) controller.enqueue(new TextEncoder().encode('x'.repeat(1000)))
      controller.close()
    },
  })
  await expect(await fetch(`${url}/v1/completions`, { method: 'POST', body: chunked, duplex: 'half' } as RequestInit), 413, 'request_too_large')
  await expect(await fetch(`${url}/v1/completions`), 405, 'method_not_allowed')
  await expect(await fetch(`${url}/v1/nothing`), 404, 'not_found')
  const missing = await client.completions.create({ model: 'nope', prompt: 'x' }).catch((e: unknown) => e)
  t.ok(missing instanceof OpenAI.NotFoundError, 'the openai client sees a NotFoundError')
})

t.test('engine errors map to statuses; after the first token a stream ends with an error event', async (t) => {
  const { post } = await serve(t, { failWith: (r) => (r.promptTokens[0] === 1 ? new ServingError('ADAPTER_HASH_MISMATCH', 'bytes differ') : r.promptTokens[0] === 2 ? new ServingError('ADAPTER_UNAVAILABLE', 'rpc down') : undefined) })
  const mismatch = await post('/v1/completions', { model: `${LM}:7`, prompt: [1], stream: true })
  t.equal(mismatch.status, 502, 'a failure before the first token keeps its status, even streaming')
  t.equal(((await mismatch.json()) as { error: { code: string } }).error.code, 'adapter_hash_mismatch')
  const unavailable = await post('/v1/completions', { model: `${LM}:7`, prompt: [2] })
  t.equal(unavailable.status, 503)
  t.equal(unavailable.headers.get('retry-after'), '1')
})

const until = async (condition: () => boolean, what: string): Promise<void> => {
  const deadline = Date.now() + 20_000
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

t.test('saturation: 429 with Retry-After from the engine\'s full queue', async (t) => {
  const { client, post, engine } = await serve(t, { capacity: 1, tokenDelayMs: 100 }, { retryAfterSeconds: 3 })
  const first = client.completions.create({ model: LM, prompt: 'x', max_tokens: 20 })
  await until(() => engine.running === 1, 'the first request running')
  const refused = await post('/v1/completions', { model: LM, prompt: 'x', max_tokens: 2 })
  t.equal(refused.status, 429, 'engine queue full')
  t.equal(refused.headers.get('retry-after'), '3')
  t.same(((await refused.json()) as { error: { code: string; type: string } }).error, { code: 'overloaded', type: 'rate_limit_error', param: null, message: 'queue full' })
  t.equal((await first).choices[0]?.finish_reason, 'stop', 'the running request is served')
  t.equal(engine.running, 0)
})

t.test('saturation: 429 from the in-flight bound, before the engine is asked', async (t) => {
  const { client, post, engine } = await serve(t, { tokenDelayMs: 100 }, { maxInFlight: 2 })
  const held = [client.completions.create({ model: LM, prompt: 'x', max_tokens: 20 }), client.completions.create({ model: LM, prompt: 'x', max_tokens: 20 })]
  await until(() => engine.running === 2, 'two requests running')
  const third = await post('/v1/completions', { model: LM, prompt: 'x', max_tokens: 1 })
  t.equal(third.status, 429, 'in-flight bound reached')
  t.equal(third.headers.get('retry-after'), '1')
  t.equal(engine.requests.length, 2, 'the engine never saw the third')
  const served = await Promise.all(held)
  t.same(served.map((c) => c.choices[0]?.finish_reason), ['stop', 'stop'])
})

t.test('a client that disconnects mid-stream cancels its request', async (t) => {
  const { url, engine } = await serve(t, { script: () => Array.from({ length: 60 }, () => 300), tokenDelayMs: 20 })
  const abort = new AbortController()
  const response = await fetch(`${url}/v1/completions`, { method: 'POST', body: JSON.stringify({ model: LM, prompt: 'x', max_tokens: 60, stream: true }), signal: abort.signal })
  const reader = (response.body as ReadableStream<Uint8Array>).getReader()
  await reader.read()
  abort.abort()
  const deadline = Date.now() + 10_000
  while (engine.cancelled === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
  t.equal(engine.cancelled, 1, 'the engine was told to cancel')
  while (engine.running > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
  t.equal(engine.running, 0, 'its slot is free')
  t.ok((engine.records[0]?.outputTokens.length ?? 60) < 60, 'it stopped before the end')
})

t.test('models list adapters with their base as parent; classify answers classifier bases', async (t) => {
  const { client, post } = await serve(t, { classify: (tokens) => Float32Array.of(tokens.length, 0) })
  const list = await client.models.list()
  const byId = new Map(list.data.map((m) => [m.id, m as unknown as { parent: string | null; max_model_len: number }]))
  t.equal(byId.get(`${LM}:7`)?.parent, LM)
  t.equal(byId.get(LM)?.parent, null)
  t.equal(byId.get(LM)?.max_model_len, lm.config.context)
  const one = await client.models.retrieve(`${LM}:7`)
  t.equal(one.id, `${LM}:7`)
  const response = await post('/v1/classify', { model: `${CLS}:9`, input: ['win money now', 'lunch?'] })
  t.equal(response.status, 200)
  const body = (await response.json()) as { data: Array<{ index: number; label: string; probs: number[]; num_classes: number }> }
  t.equal(body.data.length, 2)
  t.equal(body.data[0]?.label, '0', 'argmax of the logits')
  t.equal(body.data[0]?.num_classes, 2)
  t.ok(Math.abs((body.data[0]?.probs ?? []).reduce((a, b) => a + b, 0) - 1) < 1e-9, 'probabilities sum to 1')
  const wrong = await post('/v1/classify', { model: LM, input: 'x' })
  t.equal(wrong.status, 400)
  t.equal(((await wrong.json()) as { error: { code: string } }).error.code, 'unsupported_model_kind')
})

t.test('admin routes pin and unpin; metrics are exposed', async (t) => {
  const { url, post, engine, client } = await serve(t)
  t.equal((await post('/admin/adapters/pin', { model: `${LM}:7` })).status, 200)
  t.ok(engine.pinned.has(`${LM}:7`))
  t.equal((await post('/admin/adapters/pin', { model: `${LM}:8` })).status, 404, 'an unknown adapter is not pinned')
  const list = (await (await fetch(`${url}/admin/adapters`)).json()) as { data: Array<{ id: string; pinned: boolean }> }
  t.same(list.data, [{ id: `${LM}:7`, rank: 4, bytes: 1024, pinned: true }])
  t.equal((await post('/admin/adapters/unpin', { model: `${LM}:7` })).status, 200)
  t.equal(engine.pinned.size, 0)
  await client.completions.create({ model: LM, prompt: 'x', max_tokens: 3 })
  const metrics = await (await fetch(`${url}/metrics`)).text()
  t.match(metrics, /openledger_serving_requests_total\{endpoint="completions",code="ok"\} 1/)
  t.match(metrics, /openledger_serving_generated_tokens_total 3/)
  t.match(metrics, /openledger_serving_time_to_first_token_seconds_count 1/)
  t.match(metrics, /openledger_serving_adapter_cache_hits_total 3/)
  t.match(metrics, /openledger_serving_batch_size 0/)
  t.match(metrics, /openledger_serving_resident_adapter_bytes 0/)
  t.match(metrics, /openledger_serving_queue_depth 0/)
})
