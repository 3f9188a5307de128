// `openledger infer --model BASE[:ID] "prompt"`: a completion streamed to the terminal from a serving
// endpoint (`openledger serve`), through its OpenAI-compatible API — what any OpenAI client does.
import { parseArgs } from 'node:util'
import { downloadBlob } from '../../node/blobs/blobClient.ts'
import { RpcClient } from '../../node/rpc/client.ts'
import type { InferenceRequestView } from '../../node/rpc/contract.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import { formatOpen } from '../../genesis/tokenomics.ts'
import { CliError, type CliIo, type Command } from '../io.ts'
import { DEFAULT_SERVING_URL, parseAddress, parseOpenAmount, parsePositiveInt } from '../parse.ts'
import { common, sendCallForReceipt, sendOptions } from '../send.ts'
import { eventData } from '../txBatch.ts'
import { mkdir, readFile, writeFile, rename } from 'node:fs/promises'
import { join } from 'node:path'
import { fromHex, keccak256, utf8 } from '../../runtime/crypto/hash.ts'
import { inferenceCost, nextChannelHead, signVoucher, channelTermsKind, type ChannelTerms } from '../../runtime/modules/inference/index.ts'
import { resolveAccountSigner } from '../signer.ts'
import { resolveBaseModels } from './market.ts'

interface ErrorBody {
  error?: { code?: string; message?: string }
}

function parseNumber(text: string, flag: string): number {
  const value = Number(text)
  if (text.trim() === '' || !Number.isFinite(value)) throw new CliError('BAD_ARGUMENT', `${flag} must be a number`)
  return value
}

/** An API error answer as a CliError carrying the server's code. */
export async function apiFailure(response: Response): Promise<CliError> {
  let body: ErrorBody = {}
  try {
    body = (await response.json()) as ErrorBody
  } catch {
    // not JSON: the status says enough
  }
  return new CliError('FAILED', `${response.status} ${body.error?.code ?? ''}: ${body.error?.message ?? response.statusText}`)
}

/** fetch, with an unreachable server as a clear error */
export async function callServer(url: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init)
  } catch (cause) {
    throw new CliError('RPC_ERROR', `cannot reach the serving endpoint ${url} (is \`openledger serve\` running?)`, { cause })
  }
}

export const inferCommand: Command = {
  usage: [
    'openledger infer --model BASE[:ID] [--server URL] [--chat] [--max-tokens N] [--temperature T] [--top-p P] [--seed S] [--stop TEXT]... "prompt"',
    '',
    '--server URL      the serving endpoint (default ' + DEFAULT_SERVING_URL + ')',
    '--model M         a base model, or base:versionId for one of its published adapters',
    '--chat            send the prompt as a user message to /v1/chat/completions',
    '--temperature T   0 = greedy (default 1)',
    '--seed S          the same seed gives the same tokens',
    '--no-stream       wait for the whole answer',
    '',
    'openledger infer --onchain --from NAME --provider ADDRESS --model BASE[:ID] --max-fee OPEN [--max-tokens N] [--temperature T] [--top-p P] [--seed S] [--prompt-tokens N] "prompt"',
    '',
    '--onchain         pay a provider on chain: the fee is escrowed (at most --max-fee), the provider\'s node answers',
    '                  with a transaction, the output\'s hash and content id are in the inference record, unused',
    '                  escrow is refunded; the output is downloaded from --rpc\'s blob store when it holds it',
    '--prompt-tokens N the prompt\'s token count declared for the escrow (default: its UTF-8 length, an upper bound)',
    '',
    'openledger infer --provider ADDRESS --channel ID --from NAME --model BASE[:ID] [--max-tokens N] [--temperature T] [--top-p P] [--seed S] "prompt"',
    '',
    '--channel ID      pay over an open channel to the provider (openledger channel open): the request goes to the',
    '                  provider\'s registered endpoint with a voucher signed by --from for the cumulative amount; the',
    '                  session (the request chain\'s head, the amount) is kept in <home>/channels/',
  ].join('\n'),
  async run(argv, io) {
    const { values, positionals } = parseArgs({
      args: argv, strict: true, allowPositionals: true,
      options: {
        server: { type: 'string' }, model: { type: 'string' }, chat: { type: 'boolean' }, 'max-tokens': { type: 'string' }, temperature: { type: 'string' },
        'top-p': { type: 'string' }, seed: { type: 'string' }, stop: { type: 'string', multiple: true }, 'no-stream': { type: 'boolean' },
        onchain: { type: 'boolean' }, provider: { type: 'string' }, channel: { type: 'string' }, 'max-fee': { type: 'string' }, 'prompt-tokens': { type: 'string' }, ...common,
      },
    })
    if (values.onchain === true) return inferOnChain(values, positionals, io)
    if (values.provider !== undefined) return inferOverChannel(values, positionals, io)
    if (values.model === undefined) throw new CliError('USAGE', '--model is required (GET /v1/models on the server lists them)')
    if (positionals.length !== 1) throw new CliError('USAGE', 'give the prompt as one argument (quote it)')
    const prompt = positionals[0] as string
    const stream = values['no-stream'] !== true
    const body: Record<string, unknown> = {
      model: values.model,
      stream,
      ...(values.chat === true ? { messages: [{ role: 'user', content: prompt }] } : { prompt }),
      ...(values['max-tokens'] === undefined ? {} : { max_tokens: parsePositiveInt(values['max-tokens'], '--max-tokens') }),
      ...(values.temperature === undefined ? {} : { temperature: parseNumber(values.temperature, '--temperature') }),
      ...(values['top-p'] === undefined ? {} : { top_p: parseNumber(values['top-p'], '--top-p') }),
      ...(values.seed === undefined ? {} : { seed: parsePositiveInt(values.seed, '--seed', 0) }),
      ...(values.stop === undefined ? {} : { stop: values.stop }),
    }
    const server = (values.server ?? DEFAULT_SERVING_URL).replace(/\/+$/, '')
    const response = await callServer(`${server}/v1/${values.chat === true ? 'chat/completions' : 'completions'}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    if (!response.ok) throw await apiFailure(response)
    const textOf = (choice: Record<string, unknown> | undefined): string => {
      if (choice === undefined) return ''
      if (typeof choice['text'] === 'string') return choice['text']
      const part = (choice['delta'] ?? choice['message']) as { content?: unknown } | undefined
      return typeof part?.content === 'string' ? part.content : ''
    }
    let text = ''
    let finish: unknown = null
    const emit = (piece: string) => {
      text += piece
      io.write?.(piece)
    }
    if (!stream) {
      const answer = (await response.json()) as { choices: Array<Record<string, unknown>> }
      emit(textOf(answer.choices[0]))
      finish = answer.choices[0]?.['finish_reason']
    } else {
      const decoder = new TextDecoder()
      let buffer = ''
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true })
        let end: number
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const event = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          if (!event.startsWith('data: ')) continue
          const data = event.slice('data: '.length)
          if (data === '[DONE]') continue
          const parsed = JSON.parse(data) as { choices?: Array<Record<string, unknown>>; error?: { code: string; message: string } }
          if (parsed.error !== undefined) throw new CliError('FAILED', `${parsed.error.code}: ${parsed.error.message}`)
          const choice = parsed.choices?.[0]
          emit(textOf(choice))
          finish = choice?.['finish_reason'] ?? finish
        }
      }
    }
    if (io.write === undefined) io.out(text)
    else io.write('\n')
    io.err(`[finish_reason: ${String(finish)}]`)
    return 0
  },
}

const POLL_MS = 500
/** how long `infer --onchain` waits for the provider's answer (the runtime refunds at the deadline) */
const ANSWER_TIMEOUT_MS = 300_000

/** `infer --onchain`: escrow a request for a provider, wait for its fulfilment, print the output. */
async function inferOnChain(values: Record<string, unknown>, positionals: string[], io: CliIo): Promise<number> {
  const text = (flag: string): string | undefined => (typeof values[flag] === 'string' ? values[flag] : undefined)
  const model = text('model')
  if (model === undefined) throw new CliError('USAGE', '--model BASE[:ID] is required')
  if (positionals.length !== 1) throw new CliError('USAGE', 'give the prompt as one argument (quote it)')
  const prompt = positionals[0] as string
  const providerText = text('provider')
  const maxFee = text('max-fee')
  if (providerText === undefined || maxFee === undefined) throw new CliError('USAGE', 'infer --onchain needs --provider ADDRESS and --max-fee OPEN')
  const options = sendOptions(values as Parameters<typeof sendOptions>[0])
  const asked = await requestTerms(values, prompt, options.rpc)
  const args = {
    provider: toHex(parseAddress(providerText, '--provider')),
    base: asked.base,
    adapters: asked.adapter === undefined ? [] : [{ id: asked.adapter, weightMilli: 1_000 }],
    prompt,
    promptTokens: asked.promptTokens,
    maxTokens: asked.maxTokens,
    sampling: { temperatureMilli: Math.round(asked.temperature * 1_000), topK: 0, topPMilli: Math.round(asked.topP * 1_000), seed: asked.seed },
    escrow: parseOpenAmount(maxFee, '--max-fee').toString(),
  }
  const quiet: CliIo = { ...io, out: (line) => io.err(line) }
  const { hash, receipt } = await sendCallForReceipt(quiet, { ...options, json: false }, 'inference', 'request', args)
  if (receipt === null) return 0
  if (receipt.status !== 'success') throw new CliError('FAILED', `the request was refused: ${receipt.error ?? receipt.status}`)
  const created = eventData(receipt, 'inference', 'RequestCreated')
  const id = Number(created?.['request'])
  io.err(`request ${id} escrowed; waiting for the provider (deadline: block #${String(created?.['deadline'])})`)
  const client = new RpcClient(options.rpc)
  const until = Date.now() + ANSWER_TIMEOUT_MS
  const getRequest = async (): Promise<InferenceRequestView> => {
    const request = await client.call('openledger_getInferenceRequest', [id])
    if (request === null) throw new CliError('NOT_FOUND', `request ${id} is not on chain`)
    return request
  }
  let request = await getRequest()
  while (request.status === 'open') {
    if (Date.now() > until) throw new CliError('FAILED', `request ${id} is still open after ${ANSWER_TIMEOUT_MS / 1000} s; the escrow comes back at its deadline`)
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
    request = await getRequest()
  }
  if (request.status !== 'fulfilled' || request.record === null) {
    io.err(`request ${id} ${request.status}: the provider missed its deadline, the escrow was refunded`)
    if (options.json) io.out(JSON.stringify({ request: id, requestTx: { hash, fee: receipt.fee }, status: request.status, record: null, output: null }))
    return 1
  }
  const record = await client.call('openledger_getInferenceRecord', [request.record])
  if (record === null) throw new CliError('NOT_FOUND', `record ${request.record} of request ${id} is not on chain`)
  const output = await downloadBlob(client, record.outputCid).then((bytes) => new TextDecoder().decode(bytes), () => undefined)
  if (options.json) io.out(JSON.stringify({ request: id, requestTx: { hash, fee: receipt.fee }, record, output: output ?? null }))
  else {
    if (output !== undefined) io.out(output)
    io.err(`[record ${record.id}: ${record.inputTokens} + ${record.outputTokens} tokens, paid ${formatOpen(BigInt(record.price))} OPEN; output ${record.outputCid}${output === undefined ? ' (not in this node\'s blob store: fetch it from the provider)' : ''}]`)
  }
  return 0
}

/** The terms `infer` asks for, from its flags (the same for the on-chain and the channel path). */
async function requestTerms(values: Record<string, unknown>, prompt: string, rpc: string): Promise<{ model: string; base: number; adapter: number | undefined; temperature: number; topP: number; seed: number; maxTokens: number; promptTokens: number }> {
  const text = (flag: string): string | undefined => (typeof values[flag] === 'string' ? values[flag] : undefined)
  const model = text('model')
  if (model === undefined) throw new CliError('USAGE', '--model BASE[:ID] is required')
  const colon = model.lastIndexOf(':')
  const baseName = colon === -1 ? model : model.slice(0, colon)
  const adapter = colon === -1 ? undefined : parsePositiveInt(model.slice(colon + 1), '--model (the adapter id)')
  const [base] = await resolveBaseModels(rpc, baseName, '--model')
  return {
    model, base: base as number, adapter,
    temperature: text('temperature') === undefined ? 0 : parseNumber(text('temperature') as string, '--temperature'),
    topP: text('top-p') === undefined ? 1 : parseNumber(text('top-p') as string, '--top-p'),
    seed: text('seed') === undefined ? 0 : parsePositiveInt(text('seed') as string, '--seed', 0),
    maxTokens: text('max-tokens') === undefined ? 16 : parsePositiveInt(text('max-tokens') as string, '--max-tokens'),
    promptTokens: text('prompt-tokens') === undefined ? new TextEncoder().encode(prompt).length : parsePositiveInt(text('prompt-tokens') as string, '--prompt-tokens'),
  }
}

interface SessionFile {
  head: string
  cumulative: string
}

/** `infer --provider P --channel C`: one request paid by the next cumulative voucher of the channel. */
async function inferOverChannel(values: Record<string, unknown>, positionals: string[], io: CliIo): Promise<number> {
  if (positionals.length !== 1) throw new CliError('USAGE', 'give the prompt as one argument (quote it)')
  const prompt = positionals[0] as string
  if (typeof values['channel'] !== 'string') throw new CliError('USAGE', 'infer --provider needs --channel ID (openledger channel open) or --onchain')
  const channelId = parsePositiveInt(values['channel'], '--channel')
  const options = sendOptions(values as Parameters<typeof sendOptions>[0])
  const client = new RpcClient(options.rpc)
  const provider = await client.call('openledger_getProvider', [toHex(parseAddress(values['provider'] as string, '--provider'))])
  if (provider === null) throw new CliError('NOT_FOUND', 'no such provider')
  const channel = await client.call('openledger_getChannel', [channelId])
  if (channel === null || channel.provider !== provider.operator) throw new CliError('NOT_FOUND', `channel ${channelId} is not a channel to ${provider.operator}`)
  if (channel.status !== 'open') throw new CliError('FAILED', `channel ${channelId} is ${channel.status}`)
  const signer = await resolveAccountSigner(options.from, options.home, io)
  if (channel.user !== toHex(signer.address)) throw new CliError('BAD_ARGUMENT', `channel ${channelId} belongs to ${channel.user}, not ${toHex(signer.address)}`)
  const { chainId } = await client.call('system_properties')
  const sessionPath = join(options.home, 'channels', `${chainId}-${channelId}.json`)
  const saved = await readFile(sessionPath, 'utf8').then((text) => JSON.parse(text) as SessionFile, () => undefined)
  const head = fromHex(saved?.head ?? channel.head) as Uint8Array
  const cumulative = BigInt(saved?.cumulative ?? channel.redeemed)
  const asked = await requestTerms(values, prompt, options.rpc)
  const unpriced = {
    base: asked.base, adapters: asked.adapter === undefined ? [] : [{ id: asked.adapter, weightMilli: 1_000 }], promptHash: keccak256(utf8(prompt)),
    promptTokens: asked.promptTokens, maxTokens: asked.maxTokens, sampling: { temperatureMilli: Math.round(asked.temperature * 1_000), topK: 0, topPMilli: Math.round(asked.topP * 1_000), seed: asked.seed },
  }
  const terms: ChannelTerms = { ...unpriced, price: inferenceCost({ priceIn: BigInt(provider.priceIn), priceOut: BigInt(provider.priceOut) }, asked.promptTokens, asked.maxTokens) }
  const requestHash = nextChannelHead(head, terms)
  const next = cumulative + terms.price
  const signature = signVoucher(signer.privateKey, { chainId, channel: channelId, cumulative: next, requestHash })
  const voucher = { channel: channelId, cumulative: next.toString(), requestHash: toHex(requestHash), signature: toHex(signature), terms: channelTermsKind.toJson(terms) }
  const body = { model: asked.model, prompt, max_tokens: asked.maxTokens, temperature: Math.round(asked.temperature * 1_000) / 1_000, top_p: Math.round(asked.topP * 1_000) / 1_000, seed: asked.seed }
  const response = await callServer(`${provider.endpoint.replace(/\/+$/, '')}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-openledger-voucher': JSON.stringify(voucher) }, body: JSON.stringify(body) })
  if (!response.ok) throw await apiFailure(response)
  const answer = (await response.json()) as { choices: Array<{ text: string }>; usage: { prompt_tokens: number; completion_tokens: number } }
  // the provider served it: the next voucher extends this one
  await mkdir(join(options.home, 'channels'), { recursive: true })
  await writeFile(`${sessionPath}.tmp`, JSON.stringify({ head: toHex(requestHash), cumulative: next.toString() } satisfies SessionFile))
  await rename(`${sessionPath}.tmp`, sessionPath)
  const text = answer.choices[0]?.text ?? ''
  if (options.json) io.out(JSON.stringify({ channel: channelId, price: terms.price.toString(), cumulative: next.toString(), output: text, usage: answer.usage }))
  else {
    io.out(text)
    io.err(`[channel ${channelId}: paid ${formatOpen(terms.price)} OPEN, ${formatOpen(next)} OPEN in all]`)
  }
  return 0
}
