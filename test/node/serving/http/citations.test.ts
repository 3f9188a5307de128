// The `citations` extension of the serving API over an in-process fake engine: a completion asked
// with `citations: true` carries what the node's citations source answered for its exact text
// (the node side is test/node/attribution/attributionService.test.ts); streamed (through the real
// `openai` client), they come in a last chunk of their own with empty choices, after the usage
// chunk; a failing source leaves the completion whole and says why; a server without one refuses.
import OpenAI from 'openai'
import t, { type Test } from 'tap'
import { silentLogger } from '../../../../lib/logger.ts'
import { END_OF_TEXT_ID } from '../../../../ml/tokenizer.ts'
import { loadTokenizer, readManifest } from '../../../../node/models/assets.ts'
import { createServingMetrics } from '../../../../node/serving/metrics.ts'
import { ServingHttpServer, type ServedModelInfo, type ServingHttpComponents } from '../../../../node/serving/http/server.ts'
import { FakeEngine } from '../fakeEngine.ts'

const manifest = await readManifest()
const tokenizer = await loadTokenizer(manifest)
const LM = 'ol-lm-sotu-2m'
const entry = manifest.models.find((m) => m.name === LM)
if (entry === undefined) throw new Error(`no shipped model ${LM}`)
const lm: ServedModelInfo = { name: LM, config: entry.config, tokenizer, created: 1 }
const REPLY = ' Call me Ishmael. Some years ago, never mind how long precisely.'

async function serve(t: Test, citations: ServingHttpComponents['citations']) {
  const engine = new FakeEngine({ script: () => [...tokenizer.encode(REPLY), END_OF_TEXT_ID] })
  const models = { base: (name: string) => (name === LM ? lm : undefined), checkAdapter: async () => {}, list: () => [] }
  const server = new ServingHttpServer({ port: 0 }, { engine, models, metrics: createServingMetrics({ defaultMetrics: false }), logger: silentLogger, citations })
  await server.start()
  t.teardown(() => server.stop())
  const post = (path: string, body: unknown) => fetch(`${server.address.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return Object.assign(post, { client: new OpenAI({ baseURL: `${server.address.url}/v1`, apiKey: 'unused', maxRetries: 0 }) })
}

/** The extension's fields on a chunk (the openai client passes unknown fields through). */
type Cited = { citations?: { citations: Array<{ text: string }> } | null; citations_error?: string }

t.test('a completion with citations carries the source\'s answer for its text', async (t) => {
  const asked: unknown[] = []
  const post = await serve(t, async (base, adapters, text) => {
    asked.push({ base, adapters, text })
    return { lineage: [{ datanet: 1, version: 1 }], citations: [{ start: 1, end: 9, text: text.slice(0, 20), sources: [{ datanet: 1, version: 1, contribution: 0, occurrences: 1 }] }] }
  })
  const response = await post('/v1/completions', { model: `${LM}:7`, prompt: 'Hello', max_tokens: 40, citations: true })
  t.equal(response.status, 200)
  const body = (await response.json()) as { choices: Array<{ text: string }>; citations: { citations: Array<{ text: string }> } }
  t.equal(body.choices[0]?.text, REPLY)
  t.same(asked, [{ base: LM, adapters: [{ id: '7', weight: 1 }], text: REPLY }], 'the source was asked about the exact completion, with its adapters')
  t.equal(body.citations.citations[0]?.text, REPLY.slice(0, 20))
  const chat = await post('/v1/chat/completions', { model: `${LM}:7`, messages: [{ role: 'user', content: 'Hi' }], citations: true })
  t.equal(chat.status, 200)
  t.ok(((await chat.json()) as { citations?: unknown }).citations !== undefined, 'chat completions cite too')
  const plain = (await (await post('/v1/completions', { model: LM, prompt: 'Hello', max_tokens: 4 })).json()) as Record<string, unknown>
  t.notOk('citations' in plain, 'not asked, not cited')
  t.equal(asked.length, 2)


  // streamed through the openai client: the text in pieces, then the usage chunk, then the citations chunk
  const stream = await post.client.completions.create({ model: `${LM}:7`, prompt: 'Hello', max_tokens: 40, stream: true, stream_options: { include_usage: true }, citations: true } as OpenAI.CompletionCreateParamsStreaming)
  let text = ''
  const tail: string[] = []
  let cited: Cited['citations']
  for await (const chunk of stream) {
    text += chunk.choices[0]?.text ?? ''
    if (chunk.usage !== undefined && chunk.usage !== null) tail.push('usage')
    const extension = chunk as unknown as Cited
    if (extension.citations !== undefined) {
      tail.push('citations')
      t.same(chunk.choices, [], 'the citations chunk has no choices')
      cited = extension.citations
    }
  }
  t.equal(text, REPLY, 'the streamed text is the completion')
  t.same(tail, ['usage', 'citations'], 'the usage chunk, then the citations chunk, last before [DONE]')
  t.equal(cited?.citations[0]?.text, REPLY.slice(0, 20), 'the streamed citations are the source\'s answer')
  t.same(asked.at(-1), { base: LM, adapters: [{ id: '7', weight: 1 }], text: REPLY }, 'asked about the whole streamed text')
  const chatStream = await post.client.chat.completions.create({ model: `${LM}:7`, messages: [{ role: 'user', content: 'Hi' }], stream: true, citations: true } as OpenAI.ChatCompletionCreateParamsStreaming)
  let chatCited = false
  let chatText = ''
  for await (const chunk of chatStream) {
    chatText += chunk.choices[0]?.delta.content ?? ''
    if ((chunk as unknown as Cited).citations !== undefined) chatCited = true
  }
  t.ok(chatCited && chatText.length > 0, 'streamed chat completions cite too')
  const plainStream = await post.client.completions.create({ model: LM, prompt: 'Hello', max_tokens: 4, stream: true })
  let plainCited = false
  for await (const chunk of plainStream) if ((chunk as unknown as Cited).citations !== undefined) plainCited = true
  t.notOk(plainCited, 'a stream not asking is not cited')
  t.equal(asked.length, 4)

  const bad = await post('/v1/completions', { model: LM, prompt: 'Hello', citations: 'yes' })
  t.equal(bad.status, 400, 'citations must be a boolean')
})

t.test('a failing source leaves the completion whole; a server without one refuses citations', async (t) => {
  const post = await serve(t, async () => {
    throw new Error('node unreachable')
  })
  const response = await post('/v1/completions', { model: LM, prompt: 'Hello', max_tokens: 40, citations: true })
  t.equal(response.status, 200)
  t.match(await response.json(), { choices: [{ text: REPLY }], citations: null, citations_error: 'node unreachable' })
  const stream = await post.client.completions.create({ model: LM, prompt: 'Hello', max_tokens: 40, stream: true, citations: true } as OpenAI.CompletionCreateParamsStreaming)
  let text = ''
  let last: Cited | undefined
  for await (const chunk of stream) {
    text += chunk.choices[0]?.text ?? ''
    if ((chunk as unknown as Cited).citations !== undefined) last = chunk as unknown as Cited
  }
  t.equal(text, REPLY, 'streamed, the completion is whole too')
  t.match(last, { citations: null, citations_error: 'node unreachable' }, 'and its last chunk says why it has no citations')
  const without = await serve(t, undefined)
  const refused = await without('/v1/completions', { model: LM, prompt: 'Hello', citations: true })
  t.equal(refused.status, 400)
  t.match(await refused.json(), { error: { param: 'citations', code: 'unsupported_parameter' } })
})
