// OpenLoRA serving end to end, as a provider and a vLLM user would see it. A dev chain trains two
// LoRA adapters through ModelFactory (a datanet seeded from Moby Dick, two jobs of different ranks,
// published by the dev validator); `openledger serve --rpc URL --home HOME` serves them in its own
// process with the real engine, and the `openai` npm client drives it: model listing, completions,
// chat completions, streaming, errors. The greedy output of an adapter equals the deterministic
// engine's on the adapter merged into the base weights; a heterogeneous batch (two adapters and the
// base at once) equals the same requests one at a time. `openledger infer` and `adapters` talk to
// the same server. Finally an adapter's blob file is altered on disk: a fresh server refuses it
// (502 adapter_hash_mismatch) and keeps serving the other.
import { spawn, type ChildProcess } from 'node:child_process'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import OpenAI from 'openai'
import t from 'tap'
import { adapterShapes, type ModelConfig } from '../../ml/model/config.ts'
import { forward } from '../../ml/model/forward.ts'
import { decodeTensors } from '../../ml/model/params.ts'
import { downloadBlob } from '../../node/blobs/blobClient.ts'
import { loadBaseModel } from '../../node/models/assets.ts'
import { mergeAdapters } from '../../node/serving/engine/merge.ts'
import { devAccount } from '../../genesis/devAccounts.ts'
import { RpcClientError } from '../../node/rpc/client.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import { BIN, found, ROOT, runCli, startDevNode, stopNode, tempHome, waitFor, type RunningNode } from './harness.ts'
import type { ModelVersionView } from '../../node/rpc/contract.ts'

t.setTimeout(15 * 60_000)
const LM = 'ol-lm-sotu-2m'
const CLS = 'ol-spam-cls'
const FEE = '1000000000000000000'

interface Server {
  readonly process: ChildProcess
  readonly url: string
  readonly log: () => string
  readonly exited: Promise<number | null>
}

/** `openledger serve …`, resolved once the API listens. */
async function startServer(args: string[], timeoutMs = 180_000): Promise<Server> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--log-level', 'debug', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_NO_WARNINGS: '1' } })
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start within ${timeoutMs} ms:\n${output}`)), timeoutMs)
    const poll = setInterval(() => {
      const match = /OpenAI-compatible API listening url=(http:\/\/[0-9.]+:\d+)/.exec(output)
      if (match?.[1] !== undefined) {
        clearTimeout(timer)
        clearInterval(poll)
        resolve(match[1])
      }
    }, 50)
    void exited.then((code) => {
      clearTimeout(timer)
      clearInterval(poll)
      reject(new Error(`serve exited with ${code} before listening:\n${output}`))
    })
  })
  return { process: child, url, log: () => output, exited }
}

async function stopServer(server: Server): Promise<number | null> {
  if (server.process.exitCode === null && server.process.signalCode === null) server.process.kill('SIGTERM')
  return server.exited
}


/** the greedy continuation of `prompt` by the deterministic engine (ml/) on the given weights */
function greedy(config: ModelConfig, weights: ReadonlyMap<string, Float32Array>, prompt: readonly number[], count: number): number[] {
  const sequence = [...prompt]
  const out: number[] = []
  while (out.length < count && sequence.length < config.context) {
    const logits = forward(config, weights, undefined, 1, Int32Array.from(sequence), 1, sequence.length).subarray((sequence.length - 1) * config.vocab)
    let best = 0
    for (let i = 1; i < logits.length; i++) if ((logits[i] as number) > (logits[best] as number)) best = i
    out.push(best)
    sequence.push(best)
  }
  return out
}

t.test('adapters published by ModelFactory, served over the OpenAI API to the openai client', async (t) => {
  const home = await tempHome('openledger-serving-')
  t.teardown(home.remove)
  const node: RunningNode = await startDevNode(home.path, ['--block-time', '500', '--training-threads', '1'])
  t.teardown(() => stopNode(node))

  // two adapters trained and published on chain
  const seeded = await runCli(['datanet', 'seed', '--corpus', 'moby', '--limit', '9', '--contributors', '3', '--rpc', node.rpcUrl])
  t.equal(seeded.code, 0, 'datanet seeded' + (seeded.code === 0 ? '' : `: ${seeded.stdout}${seeded.stderr}`))
  // The node's event loop was seen to stall for seconds when a job starts (the training service), and
  // a CLI call then lost its connection (ECONNRESET) after the transaction was in: jobs are counted
  // on chain, and a call is sent again only when its transaction never arrived.
  const bob = toHex(devAccount('bob').address)
  const quietly = async <T>(read: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await read()
    } catch (error) {
      if (error instanceof RpcClientError && error.code === 'RPC_UNREACHABLE') return undefined
      throw error
    }
  }
  const bobJobs = async (): Promise<number[] | undefined> => (await quietly(() => node.rpc.call('openledger_listTrainingJobs', [null, 100, bob])))?.map((j) => j.id)
  for (const [rank, seed] of [[4, 7], [8, 8]] as const) {
    const before = (await waitFor(bobJobs, 'bob\'s jobs', 60_000, 500)).length
    const hyper = { rank, alpha: 2 * rank, steps: 6, batchSize: 4, length: 32, learningRateMicro: 20_000, seed, checkpointEvery: 3 }
    const create = () => runCli(['tx', 'call', 'models', 'createJob', '--from', 'bob', '--rpc', node.rpcUrl, '--args', JSON.stringify({ base: 1, datanets: [{ datanet: 1, version: 1 }], hyper, fee: FEE })])
    let sent = await create()
    if (sent.code !== 0) {
      t.comment(`createJob: ${sent.stderr.trim()}`)
      const arrived = await waitFor(async () => ((await bobJobs())?.length ?? 0) > before || undefined, 'the job on chain', 30_000, 500).catch(() => false)
      if (!arrived) sent = await create()
    }
    const count = await waitFor(async () => {
      const ids = await bobJobs()
      return ids !== undefined && ids.length > before ? ids.length : undefined
    }, `job of rank ${rank} on chain`, 60_000, 500)
    t.equal(count, before + 1, `job of rank ${rank} created`)
  }
  const jobs = ((await waitFor(bobJobs, 'bob\'s jobs', 60_000, 500)) ?? []).sort((a, b) => a - b)
  const versions: ModelVersionView[] = []
  for (const job of jobs) {
    const done = await waitFor(async () => {
      const record = await quietly(() => node.rpc.call('openledger_getTrainingJob', [job]))
      return record?.status === 'published' || record?.status === 'refunded' ? record : undefined
    }, `job ${job} published`, 600_000, 500)
    t.equal(done.status, 'published', `job ${job} published`)
    versions.push(found(await node.rpc.call('openledger_getModelVersion', [done.modelVersion]), `model version of job ${job}`))
  }
  const [first, second] = versions as [ModelVersionView, ModelVersionView]
  const adapterA = `${LM}:${first.id}`
  const adapterB = `${LM}:${second.id}`

  // a serving process beside the node, sharing its home
  const server = await startServer(['--rpc', node.rpcUrl, '--home', home.path, '--threads', '1'])
  t.teardown(() => stopServer(server))
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 120_000 })

  await t.test('GET /v1/models lists the bases and each adapter with its base as parent', async (t) => {
    const list = await client.models.list()
    const byId = new Map(list.data.map((m) => [m.id, m as unknown as { parent: string | null }]))
    t.equal(byId.get(LM)?.parent, null)
    t.equal(byId.get(CLS)?.parent, null)
    t.equal(byId.get(adapterA)?.parent, LM)
    t.equal(byId.get(adapterB)?.parent, LM)
  })

  const prompt = 'Call me Ishmael. Some years ago'
  const shipped = await loadBaseModel(LM)
  const config = shipped.entry.config
  const promptIds = Array.from(shipped.tokenizer.encode(prompt))
  /** the merged model's greedy continuation of `prompt` (12 tokens) per version id */
  const greedyText = new Map<number, string>()

  await t.test('greedy completions equal the deterministic engine on the merged weights', async (t) => {
    const baseExpected = shipped.tokenizer.decode(greedy(config, shipped.weights, promptIds, 12))
    let differs = 0
    for (const version of versions) {
      const bytes = await downloadBlob(node.rpc, version.adapter)
      const lora = { rank: version.hyper.rank, alpha: version.hyper.alpha }
      const tensors = decodeTensors(bytes, adapterShapes(config, lora))
      const merged = mergeAdapters(config, shipped.weights, [{ ...lora, tensors, weight: 1 }])
      const expected = shipped.tokenizer.decode(greedy(config, merged, promptIds, 12))
      if (expected !== baseExpected) differs++
      const served = await client.completions.create({ model: `${LM}:${version.id}`, prompt, max_tokens: 12, temperature: 0 })
      t.equal(served.choices[0]?.text, expected, `${LM}:${version.id} (rank ${lora.rank}): the merged model's greedy tokens`)
      greedyText.set(version.id, expected)
      t.equal(served.usage?.prompt_tokens, promptIds.length)
    }
    t.ok(differs > 0, 'the adapters change the greedy output, so the comparison tells an adapter from the base')
    const base = await client.completions.create({ model: LM, prompt, max_tokens: 12, temperature: 0 })
    t.equal(base.choices[0]?.text, baseExpected, 'the base alone')
  })

  await t.test('a heterogeneous batch equals the same requests one at a time', async (t) => {
    const models = [adapterA, adapterB, LM, adapterA, adapterB, LM]
    const prompts = ['It is a way I have', 'The sea was', 'Whenever I find myself', 'Now, when I say', 'There now is your insular city', 'Call me Ishmael.']
    const alone: string[] = []
    for (let i = 0; i < models.length; i++) alone.push((await client.completions.create({ model: models[i] as string, prompt: prompts[i] as string, max_tokens: 10, temperature: 0 })).choices[0]?.text ?? '')
    const pending = Promise.all(models.map((model, i) => client.completions.create({ model, prompt: prompts[i] as string, max_tokens: 10, temperature: 0 })))
    // the event loop answers while the batch runs in the engine's worker (a figure, not a timed assertion)
    const latencies: number[] = []
    for (let i = 0; i < 10; i++) {
      const started = performance.now()
      t.equal((await fetch(`${server.url}/health`)).status, 200)
      latencies.push(performance.now() - started)
    }
    const together = await pending
    t.comment(`/health during the batch: max ${Math.max(...latencies).toFixed(1)} ms, median ${latencies.sort((a, b) => a - b)[5]?.toFixed(1)} ms`)
    t.same(together.map((c) => c.choices[0]?.text), alone)
    const seeded = await Promise.all([1, 2].map(() => client.completions.create({ model: adapterB, prompt, max_tokens: 10, temperature: 0.9, seed: 1234 })))
    t.equal(seeded[0]?.choices[0]?.text, seeded[1]?.choices[0]?.text, 'the same seed, the same sampled tokens')
  })

  await t.test('streaming completions and chat completions', async (t) => {
    const whole = await client.completions.create({ model: adapterA, prompt, max_tokens: 20, temperature: 0 })
    const stream = await client.completions.create({ model: adapterA, prompt, max_tokens: 20, temperature: 0, stream: true })
    let text = ''
    let finish: string | null | undefined
    for await (const chunk of stream) {
      text += chunk.choices[0]?.text ?? ''
      finish = chunk.choices[0]?.finish_reason ?? finish
    }
    t.equal(text, whole.choices[0]?.text, 'the streamed pieces add up to the whole answer')
    t.equal(finish, whole.choices[0]?.finish_reason)

    const messages = [{ role: 'user' as const, content: 'Tell me of the whale.' }]
    const chat = await client.chat.completions.create({ model: adapterB, messages, max_tokens: 12, temperature: 0 })
    t.equal(chat.choices[0]?.message.role, 'assistant')
    t.type(chat.choices[0]?.message.content, 'string')
    const chatStream = await client.chat.completions.create({ model: adapterB, messages, max_tokens: 12, temperature: 0, stream: true })
    let streamed = ''
    for await (const chunk of chatStream) streamed += chunk.choices[0]?.delta.content ?? ''
    t.equal(streamed, chat.choices[0]?.message.content, 'chat streams the same text')

    // the citations extension from this standalone server: the node's openledger_getCitations of the
    // finished text, beside a whole completion and in a streamed one's last chunk (choices empty)
    type Cited = { citations?: { lineage: unknown; tokens: number; citations: unknown[] } | null; citations_error?: string }
    const asked = { model: adapterA, prompt: 'Call me Ishmael. Some years ago', max_tokens: 24, temperature: 0, citations: true }
    const cited = (await client.completions.create(asked as OpenAI.CompletionCreateParamsNonStreaming)) as OpenAI.Completion & Cited
    const citedText = cited.choices[0]?.text ?? ''
    t.same(cited.citations, await node.rpc.call('openledger_getCitations', [1, [first.id], citedText]), 'a completion carries the node\'s citations of its text')
    t.same(cited.citations?.lineage, [{ datanet: 1, version: 1 }], 'over the adapter\'s lineage')
    const citedStream = await client.completions.create({ ...asked, stream: true } as OpenAI.CompletionCreateParamsStreaming)
    let citedStreamed = ''
    const last: Cited[] = []
    for await (const chunk of citedStream) {
      citedStreamed += chunk.choices[0]?.text ?? ''
      if ((chunk as unknown as Cited).citations !== undefined) last.push(chunk as unknown as Cited)
    }
    t.equal(citedStreamed, citedText, 'streamed, the same text')
    t.equal(last.length, 1, 'one citations chunk')
    t.same(last[0]?.citations, cited.citations, 'streamed, the same citations in the last chunk')

    const nearlyFull = Array.from({ length: config.context - 3 }, (_, i) => promptIds[i % promptIds.length] as number)
    const long = await client.completions.create({ model: LM, prompt: nearlyFull, max_tokens: 1000, temperature: 0, logprobs: 1 })
    t.equal(long.choices[0]?.finish_reason, 'length', 'generation stops at the context')
    t.equal((long.usage?.prompt_tokens ?? 0) + (long.usage?.completion_tokens ?? 0), config.context, 'prompt + output = the context')
    t.ok(long.choices[0]?.logprobs?.token_logprobs?.every((p) => typeof p === 'number' && p <= 0), 'log-probabilities of the chosen tokens')
  })

  await t.test('errors a client can act on', async (t) => {
    const missing = await client.completions.create({ model: `${LM}:999`, prompt: 'x' }).catch((e: unknown) => e)
    t.ok(missing instanceof OpenAI.NotFoundError, 'an unknown adapter is 404')
    t.equal((missing as InstanceType<typeof OpenAI.NotFoundError>).code, 'adapter_not_found')
    const unknown = await client.completions.create({ model: 'gpt-4', prompt: 'x' }).catch((e: unknown) => e)
    t.equal((unknown as InstanceType<typeof OpenAI.NotFoundError>).code, 'model_not_found')
    const tooLong = await client.completions.create({ model: LM, prompt: 'whale '.repeat(200) }).catch((e: unknown) => e)
    t.ok(tooLong instanceof OpenAI.BadRequestError)
    t.equal((tooLong as InstanceType<typeof OpenAI.BadRequestError>).code, 'context_length_exceeded')
    const kind = await client.completions.create({ model: CLS, prompt: 'x' }).catch((e: unknown) => e)
    t.equal((kind as InstanceType<typeof OpenAI.BadRequestError>).code, 'unsupported_model_kind')
    const temperature = await client.chat.completions.create({ model: LM, messages: [{ role: 'user', content: 'x' }], temperature: 5 }).catch((e: unknown) => e)
    t.equal((temperature as InstanceType<typeof OpenAI.BadRequestError>).param, 'temperature')
    const classified = await fetch(`${server.url}/v1/classify`, { method: 'POST', body: JSON.stringify({ model: CLS, input: ['Click here to win a free prize now!!!', 'Are we still on for lunch tomorrow?'] }) })
    t.equal(classified.status, 200, 'the classifier base answers /v1/classify')
    const body = (await classified.json()) as { data: Array<{ label: string; probs: number[] }> }
    t.equal(body.data.length, 2)
    t.ok(body.data.every((d) => d.probs.length === 2 && Math.abs(d.probs[0]! + d.probs[1]! - 1) < 1e-6))
  })

  await t.test('the CLI: infer streams to the terminal, adapters list and pin', async (t) => {
    const expected = (await client.completions.create({ model: adapterA, prompt, max_tokens: 10, temperature: 0 })).choices[0]?.text
    const inferred = await runCli(['infer', '--server', server.url, '--model', adapterA, '--max-tokens', '10', '--temperature', '0', prompt])
    t.equal(inferred.code, 0, 'infer ran' + (inferred.code === 0 ? '' : `: ${inferred.stderr}`))
    t.equal(inferred.stdout, `${expected}\n`, 'the same text, streamed')
    const bad = await runCli(['infer', '--server', server.url, '--model', `${LM}:999`, 'x'])
    t.equal(bad.code, 1)
    t.match(bad.stderr, /adapter_not_found/)
    const pinned = await runCli(['adapters', 'pin', adapterB, '--server', server.url])
    t.equal(pinned.code, 0, 'pinned' + (pinned.code === 0 ? '' : `: ${pinned.stderr}`))
    const listed = await runCli(['adapters', 'list', '--json', '--server', server.url])
    const rows = JSON.parse(listed.stdout) as Array<{ id: string; resident: boolean; pinned: boolean; rank: number | null }>
    t.match(rows.find((r) => r.id === adapterB), { resident: true, pinned: true, rank: 8 })
    t.match(rows.find((r) => r.id === adapterA), { resident: true, pinned: false, rank: 4 })
    const metrics = await (await fetch(`${server.url}/metrics`)).text()
    t.match(metrics, /openledger_serving_artifact_reads_total\{via="home"\} [1-9]/, 'adapters read from the shared home')
    t.notMatch(metrics, /openledger_serving_artifact_reads_total\{via="rpc"\}/, 'none downloaded')
    t.match(metrics, /openledger_serving_time_to_first_token_seconds_count [1-9]/)
  })

  await t.test('an adapter whose bytes differ from its hash on chain is refused; the others are served', async (t) => {
    await stopServer(server)
    const cid = first.adapter.slice(2)
    const file = await open(join(home.path, 'blobs', cid.slice(0, 2), cid), 'r+')
    const byte = Buffer.alloc(1)
    const at = 4096 // inside the tensor values
    await file.read(byte, 0, 1, at)
    await file.write(Buffer.of(byte[0]! ^ 0x01), 0, 1, at)
    await file.close()
    const fresh = await startServer(['--rpc', node.rpcUrl, '--home', home.path, '--threads', '1', '--models', LM])
    t.teardown(() => stopServer(fresh))
    const freshClient = new OpenAI({ baseURL: `${fresh.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 120_000 })
    const refused = await freshClient.completions.create({ model: adapterA, prompt, max_tokens: 4 }).catch((e: unknown) => e)
    t.ok(refused instanceof OpenAI.APIError && refused.status === 502, '502')
    t.equal((refused as InstanceType<typeof OpenAI.APIError>).code, 'adapter_hash_mismatch')
    const served = await freshClient.completions.create({ model: adapterB, prompt, max_tokens: 4, temperature: 0 })
    t.equal(served.choices[0]?.finish_reason, 'length', 'the other adapter is still served')
    const metrics = await (await fetch(`${fresh.url}/metrics`)).text()
    t.comment(`home reads: ${/openledger_serving_artifact_read_duration_seconds_sum\{via="home"\} (\S+)/.exec(metrics)?.[1]} s for ${/openledger_serving_artifact_read_bytes_total\{via="home"\} (\S+)/.exec(metrics)?.[1]} bytes`)
  })

  await t.test('without the home, adapters are downloaded over the node\'s RPC, each chunk checked', async (t) => {
    const remote = await startServer(['--rpc', node.rpcUrl, '--threads', '1', '--models', LM])
    t.teardown(() => stopServer(remote))
    const remoteClient = new OpenAI({ baseURL: `${remote.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 120_000 })
    const served = await remoteClient.completions.create({ model: adapterB, prompt, max_tokens: 12, temperature: 0 })
    t.equal(served.choices[0]?.text, greedyText.get(second.id), 'the same greedy text as from the home-reading server (the merged model\'s)')
    // the node's own copy of adapter A was altered above: its chunks no longer prove against the content id
    const refused = await remoteClient.completions.create({ model: adapterA, prompt, max_tokens: 4 }).catch((e: unknown) => e)
    t.ok(refused instanceof OpenAI.APIError && refused.status === 503, '503: no source has bytes that match')
    t.equal((refused as InstanceType<typeof OpenAI.APIError>).code, 'adapter_unavailable')
    const metrics = await (await fetch(`${remote.url}/metrics`)).text()
    t.match(metrics, /openledger_serving_artifact_reads_total\{via="rpc"\} [1-9]/, 'read over RPC')
    t.notMatch(metrics, /openledger_serving_artifact_reads_total\{via="home"\}/)
    t.comment(`rpc reads: ${/openledger_serving_artifact_read_duration_seconds_sum\{via="rpc"\} (\S+)/.exec(metrics)?.[1]} s for ${/openledger_serving_artifact_read_bytes_total\{via="rpc"\} (\S+)/.exec(metrics)?.[1]} bytes`)
  })
})

t.test('dev --serve: the node serves its chain\'s models from its own process', async (t) => {
  const home = await tempHome('openledger-serving-embedded-')
  t.teardown(home.remove)
  const node = await startDevNode(home.path, ['--serve', '--serve-port', '0', '--serve-models', LM])
  t.teardown(() => stopNode(node))
  const url = await waitFor(async () => /OpenAI-compatible API listening url=(http:\/\/[0-9.]+:\d+)/.exec(node.log())?.[1], 'the embedded API', 180_000, 100)
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 120_000 })
  t.same((await client.models.list()).data.map((m) => m.id), [LM], 'only --serve-models')
  const stream = await client.completions.create({ model: LM, prompt: 'My fellow citizens', max_tokens: 8, temperature: 0, stream: true })
  let text = ''
  for await (const chunk of stream) text += chunk.choices[0]?.text ?? ''
  t.ok(text.length > 0, `streamed: ${JSON.stringify(text)}`)
  t.type(await node.rpc.call('chain_getFinalizedHead'), 'string', 'the node answers its RPC beside')
})
