// The provider's side of the inference market, in the node's process. It follows finalized blocks
// and, for every inference.RequestCreated addressed to this node's operator:
//
//   1. reads the request from the state (prompt, model, adapters, sampling, maxTokens);
//   2. serves it through the serving API (`servingUrl`, the OpenLoRA process: `--serve` or
//      `openledger serve`), as any OpenAI client would, greedy or seeded so it can be re-checked;
//   3. stores the output's bytes in the blob store, pinned for the record (re-checkers and
//      attribution fetch it by the content id over the blob protocol);
//   4. submits inference.fulfil (output hash, content id, token counts) with the operator key.
//
// The off-chain path (`paidApi`): POST /v1/completions with a channel voucher in the
// x-openledger-voucher header is checked by the channel gate (channelGate.ts) before it is served,
// its output stored and pinned like an on-chain one; every `settleEveryBlocks` finalized blocks the
// latest voucher of each channel is redeemed with its inferences in one inference.redeem (or at
// once: `settle()`, `openledger provider settle`). Accepted vouchers are journaled on disk
// (voucherJournal.ts) before the answer goes out, so a restart keeps what was earned. The same
// endpoint serves OpenAI clients with a spending-capped API key (`Authorization: Bearer olk_…`,
// keyGate.ts): checked and reserved against the key's cap before serving, charged at settlement
// (inference.chargeApiKey, one per key); what was served and not yet charged is journaled
// (keycharges.jsonl) like the vouchers.
//
// A request that cannot be served (its model gone, the serving process down) is retried with
// backoff until its deadline; the runtime refunds the user and slashes the bond after that. At
// start it reconciles with the state: open requests addressed to it whose deadline is ahead.
// Runs off the consensus path, one request at a time, in order.
import { decode, encode, type Decoded } from '../../runtime/codec/canonical.ts'
import { keccak256, toHex, utf8 } from '../../runtime/crypto/hash.ts'
import { sameAddress } from '../../runtime/modules/accounts.ts'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { boundAddress, closeHttp, listenHttp } from '../../lib/httpListen.ts'
import { apiKeys, chargeApiKey, fulfil, type InferenceRequest, MAX_REDEEM_VOUCHERS, providers, redeem, RequestCreated, requests, RequestStatus } from '../../runtime/modules/inference/index.ts'
import { ChannelGate, PaymentError, VOUCHER_HEADER, type CompletionBody } from './channelGate.ts'
import { join } from 'node:path'
import { KeyError, KeyGate, keyChargeKind, type KeyChargeEntry } from './keyGate.ts'
import { JsonlJournal, VoucherJournal } from './voucherJournal.ts'
import { ModuleIndex } from '../../runtime/modules/indices.ts'
import { baseModels } from '../../runtime/modules/models/index.ts'
import { ReceiptStatus } from '../../runtime/receipt.ts'
import { OpenLedgerError } from '../../runtime/errors.ts'
import type { Logger } from '../../lib/logger.ts'
import type { BlobStore } from '../blobs/blobStore.ts'
import type { Chain, ImportedBlock } from '../chain/chain.ts'
import { FinalizedFollower } from '../chain/finalizedFollower.ts'
import type { OperatorTransactions } from '../operator/operatorTransactions.ts'

export interface ProviderServiceOptions {
  /** the serving API this provider answers with, e.g. http://127.0.0.1:8000 */
  readonly servingUrl: string
  /** ms before a failed request is tried again (doubling, at most 8 times) */
  readonly retryMs?: number
  /** TEST ONLY: change the output after serving it (a dishonest provider) */
  readonly tamper?: boolean
  /** TEST ONLY: take requests but never fulfil them */
  readonly silent?: boolean
  /**
   * The off-chain path's paid API (the endpoint to register): POST /v1/completions with a channel
   * voucher in the x-openledger-voucher header, checked before it is served (channelGate.ts).
   */
  readonly paidApi?: { readonly host?: string; readonly port: number }
  /** redeem the accepted vouchers every this many finalized blocks (default 10) */
  readonly settleEveryBlocks?: number
  /** folder for the voucher journal (<home>/provider): accepted vouchers survive a restart; absent, they are kept in memory only */
  readonly dir?: string
}

/** What one settlement did: nothing pending, or a redeem of `channels` channels' `inferences` and whether it was finalized. */
export interface SettleResult {
  readonly channels: number
  readonly inferences: number
  readonly tx?: string
  readonly finalized: boolean
  /** API keys charged (chargeApiKey, one transaction each) and their inferences, finalized */
  readonly keys?: number
  readonly keyInferences?: number
}

export interface ProviderServiceComponents {
  readonly chain: Chain
  readonly transactions: OperatorTransactions
  readonly blobs: BlobStore
  readonly logger: Logger
}

export type ProviderErrorCode = 'SERVING_FAILED' | 'UNSUPPORTED_REQUEST' | 'NO_OPERATOR' | 'LISTEN_FAILED'
export class ProviderError extends OpenLedgerError<ProviderErrorCode> {}

/** The blob store reference a record's output holds. */
export function outputPinOwner(request: number): string {
  return `inference/request/${request}`
}

export interface ServedOutput {
  readonly text: string
  readonly promptTokens: number
  readonly completionTokens: number
}

/** The serving API's model name of a request: `base` or `base:versionId` (one adapter at weight 1). */
export function servingModelName(baseName: string, adapters: ReadonlyArray<{ id: number; weightMilli: number }>): string | undefined {
  if (adapters.length === 0) return baseName
  const [only] = adapters
  return adapters.length === 1 && only !== undefined && only.weightMilli === 1_000 ? `${baseName}:${only.id}` : undefined
}

/** One completion from an OpenAI-compatible serving API, not streamed. */
export async function complete(servingUrl: string, body: Record<string, unknown>, signal: AbortSignal): Promise<ServedOutput> {
  let response: Response
  try {
    response = await fetch(`${servingUrl.replace(/\/+$/, '')}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, stream: false }), signal })
  } catch (cause) {
    throw new ProviderError('SERVING_FAILED', `the serving API at ${servingUrl} is unreachable`, { cause })
  }
  const answer = (await response.json().catch(() => ({}))) as { choices?: Array<{ text?: unknown }>; usage?: { prompt_tokens?: unknown; completion_tokens?: unknown }; error?: { code?: string; message?: string } }
  if (!response.ok) throw new ProviderError('SERVING_FAILED', `serving answered ${response.status} ${answer.error?.code ?? ''}: ${answer.error?.message ?? ''}`)
  const text = answer.choices?.[0]?.text
  const promptTokens = answer.usage?.prompt_tokens
  const completionTokens = answer.usage?.completion_tokens
  if (typeof text !== 'string' || typeof promptTokens !== 'number' || typeof completionTokens !== 'number') throw new ProviderError('SERVING_FAILED', 'the serving API answered without text and usage')
  return { text, promptTokens, completionTokens }
}

/** a paid request's body: a prompt and its parameters */
const MAX_PAID_BODY_BYTES = 1024 * 1024

interface Work {
  readonly request: number
  attempts: number
  notBefore: number
}

export class ProviderService {
  readonly #options: ProviderServiceOptions
  readonly #c: ProviderServiceComponents
  readonly #log: Logger
  readonly #follower: FinalizedFollower
  #retry: Work[] = []
  /** requests this node has submitted a fulfilment for */
  readonly #fulfilled = new Set<number>()
  readonly #gate: ChannelGate
  readonly #keys: KeyGate
  #paidServer: Server | undefined
  #settling: Promise<unknown> = Promise.resolve()
  readonly #journal: VoucherJournal | undefined
  readonly #keyJournal: JsonlJournal<KeyChargeEntry> | undefined

  constructor(options: ProviderServiceOptions, components: ProviderServiceComponents) {
    this.#options = options
    this.#c = components
    this.#log = components.logger
    this.#follower = new FinalizedFollower({ what: 'provider work', reconcile: () => this.#catchUp(), onFinalized: (block) => this.#onFinalized(block) }, components)
    this.#gate = new ChannelGate(components.transactions.address, components.chain.spec.chainId)
    this.#keys = new KeyGate(components.transactions.address)
    this.#journal = options.dir === undefined ? undefined : new VoucherJournal(join(options.dir, 'vouchers.jsonl'))
    this.#keyJournal = options.dir === undefined ? undefined : new JsonlJournal(join(options.dir, 'keycharges.jsonl'), keyChargeKind)
  }

  /** The paid API's address once it listens. */
  get paidAddress(): { host: string; port: number } | undefined {
    return boundAddress(this.#paidServer)
  }

  async start(): Promise<void> {
    if (this.#journal !== undefined) {
      const pending = await this.#gate.resume(this.#c.chain.state, await this.#journal.load())
      await this.#journal.rewrite(this.#gate.unredeemed())
      if (pending > 0) this.#log.info('channel vouchers kept from before the restart', { inferences: pending })
    }
    if (this.#keyJournal !== undefined) {
      const pending = await this.#keys.resume(this.#c.chain.state, await this.#keyJournal.load())
      await this.#keyJournal.rewrite(this.#keys.uncharged())
      if (pending > 0) this.#log.info('API key charges kept from before the restart', { inferences: pending })
    }
    const paid = this.#options.paidApi
    if (paid !== undefined) {
      const server = createServer((req, res) => void this.#paidRequest(req, res))
      await listenHttp(server, paid.host ?? '127.0.0.1', paid.port, (cause) => new ProviderError('LISTEN_FAILED', `the paid API cannot listen on port ${paid.port}`, { cause }))
      this.#paidServer = server
      this.#log.info('paid inference API listening', { url: `http://${paid.host ?? '127.0.0.1'}:${this.paidAddress?.port ?? paid.port}` })
    }
    this.#follower.start()
    this.#log.info('inference provider started', { operator: toHex(this.#c.transactions.address), serving: this.#options.servingUrl })
  }

  async stop(): Promise<void> {
    // unsubscribed and aborted at once; the paid API closes while the queue drains
    const stopping = this.#follower.stop()
    if (this.#paidServer !== undefined) await closeHttp(this.#paidServer)
    await stopping
    await this.#settling
  }

  /** Resolves once every finalized block seen so far has been handled (tests). */
  idle(): Promise<void> {
    return this.#follower.idle()
  }

  async #catchUp(): Promise<void> {
    for await (const [, value] of this.#c.chain.state.entries(requests.prefix)) {
      if (this.#follower.signal.aborted) return
      const request = requests.decodeValue(value)
      if (request.status === RequestStatus.open && sameAddress(request.provider, this.#c.transactions.address)) await this.#handle({ request: request.id, attempts: 0, notBefore: 0 })
    }
  }

  async #onFinalized(block: ImportedBlock): Promise<void> {
    const work: Work[] = []
    const self = this.#c.transactions.address
    for (const receipt of block.receipts) {
      if (receipt.status !== ReceiptStatus.success || !receipt.events.some((e) => e.module === ModuleIndex.inference && e.index === RequestCreated.index)) continue
      for (const event of receipt.events) {
        if (event.module !== ModuleIndex.inference || event.index !== RequestCreated.index) continue
        const data = RequestCreated.data.decode(decode(encode(event.data)) as Decoded, 'event')
        if (sameAddress(data.provider, self)) work.push({ request: data.request, attempts: 0, notBefore: 0 })
      }
    }
    if (block.header.height % (this.#options.settleEveryBlocks ?? 10) === 0 && this.#gate.pending() + this.#keys.pending() > 0) void this.settle()
    const now = Date.now()
    const due = this.#retry.filter((w) => w.notBefore <= now)
    this.#retry = this.#retry.filter((w) => w.notBefore > now)
    for (const item of [...work, ...due]) await this.#handle(item)
  }

  async #handle(work: Work): Promise<void> {
    if (this.#fulfilled.has(work.request) || this.#options.silent === true) return
    const { chain } = this.#c
    const request = await requests.get(chain.state, work.request)
    if (request === undefined || request.status !== RequestStatus.open || chain.head.header.height >= request.deadline) return
    try {
      await this.#serve(request)
      this.#fulfilled.add(request.id)
    } catch (error) {
      if (this.#follower.signal.aborted) return
      work.attempts++
      const unsupported = error instanceof ProviderError && error.code === 'UNSUPPORTED_REQUEST'
      this.#log.warn('inference request not served', { request: request.id, attempt: work.attempts, error })
      if (!unsupported && work.attempts < 8) {
        work.notBefore = Date.now() + (this.#options.retryMs ?? 1_000) * 2 ** (work.attempts - 1)
        this.#retry.push(work)
      }
    }
  }

  /**
   * Redeems every channel's latest accepted voucher in one transaction (up to 64 channels), off the
   * serving queue, after any settlement in flight; the journal is compacted once it is finalized.
   * `openledger provider settle` asks for one at once.
   */
  settle(): Promise<SettleResult> {
    const run = this.#settling.then(async (): Promise<SettleResult> => ({ ...(await this.#redeemVouchers()), ...(await this.#chargeKeys()) }))
    this.#settling = run.catch(() => undefined)
    return run
  }

  async #redeemVouchers(): Promise<SettleResult> {
    const vouchers = this.#gate.take(MAX_REDEEM_VOUCHERS)
    const inferences = vouchers.reduce((n, v) => n + v.inferences.length, 0)
    if (vouchers.length === 0) return { channels: 0, inferences: 0, finalized: false }
    try {
      const { tx, status } = await this.#c.transactions.submitAndWatch(ModuleIndex.inference, redeem, { vouchers }, { signal: this.#follower.signal })
      if (typeof status === 'object' && 'finalized' in status) {
        this.#log.info('channel vouchers redeemed', { tx: toHex(tx.hash), channels: vouchers.length, inferences })
        await this.#journal?.rewrite(this.#gate.unredeemed())
        return { channels: vouchers.length, inferences, tx: toHex(tx.hash), finalized: true }
      }
      this.#log.warn('channel vouchers not redeemed: kept for the next settlement', { tx: toHex(tx.hash), status })
      this.#gate.restore(vouchers)
      return { channels: vouchers.length, inferences, tx: toHex(tx.hash), finalized: false }
    } catch (error) {
      if (!this.#follower.signal.aborted) this.#log.warn('channel settlement failed: kept for the next', { error })
      this.#gate.restore(vouchers)
      return { channels: vouchers.length, inferences, finalized: false }
    }
  }

  /**
   * Charges each API key for what was served under it (one chargeApiKey per key, from the key's
   * next ordinal: sent again after inclusion it is refused, never charged twice). A charge not
   * finalized waits for the next settlement, unless the chain shows it charged meanwhile.
   */
  async #chargeKeys(): Promise<{ keys: number; keyInferences: number }> {
    let keys = 0
    let keyInferences = 0
    for (const charge of this.#keys.take(MAX_REDEEM_VOUCHERS)) {
      const first = charge.items[0]?.ordinal ?? 0
      const last = charge.items.at(-1)?.ordinal ?? 0
      try {
        const { tx, status } = await this.#c.transactions.submitAndWatch(ModuleIndex.inference, chargeApiKey, { key: charge.key, first, inferences: charge.items.map((item) => item.inference) }, { signal: this.#follower.signal })
        if (typeof status === 'object' && 'finalized' in status) {
          this.#keys.charged(charge)
          keys++
          keyInferences += charge.items.length
          this.#log.info('API key charged', { key: charge.key, tx: toHex(tx.hash), inferences: charge.items.length })
          continue
        }
        this.#log.warn('API key charge not finalized', { key: charge.key, tx: toHex(tx.hash), status })
      } catch (error) {
        if (!this.#follower.signal.aborted) this.#log.warn('API key charge failed', { key: charge.key, error })
      }
      const onChain = await apiKeys.get(this.#c.chain.state, charge.key)
      if (onChain !== undefined && onChain.inferences >= last) this.#keys.charged(charge)
      else this.#keys.restore(charge)
    }
    await this.#keyJournal?.rewrite(this.#keys.uncharged())
    return { keys, keyInferences }
  }

  /** POST /v1/completions with a voucher: checked, served through the serving API, kept for settlement. */
  async #paidRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const reply = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    try {
      if (req.method !== 'POST' || req.url !== '/v1/completions') return reply(404, { error: { code: 'not_found', message: 'the paid API serves POST /v1/completions' } })
      const chunks: Buffer[] = []
      let size = 0
      for await (const chunk of req as AsyncIterable<Buffer>) {
        size += chunk.length
        if (size > MAX_PAID_BODY_BYTES) return reply(413, { error: { code: 'body_too_large', message: `at most ${MAX_PAID_BODY_BYTES} bytes` } })
        chunks.push(chunk)
      }
      let body: CompletionBody
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as CompletionBody
      } catch {
        return reply(400, { error: { code: 'invalid_json', message: 'the body is not JSON' } })
      }
      const header = req.headers[VOUCHER_HEADER]
      if (header === undefined && req.headers.authorization !== undefined) return await this.#keyRequest(req.headers.authorization, body as unknown as Record<string, unknown>, reply)
      if (typeof body.model !== 'string' || typeof body.prompt !== 'string' || !Number.isSafeInteger(body.max_tokens) || typeof body.temperature !== 'number' || typeof body.top_p !== 'number' || !Number.isSafeInteger(body.seed)) {
        return reply(400, { error: { code: 'invalid_request', message: 'a paid request names model, prompt, max_tokens, temperature, top_p and seed (what its voucher signs)' } })
      }
      let accepted
      try {
        accepted = await this.#gate.check(this.#c.chain.state, typeof header === 'string' ? header : undefined, body)
      } catch (error) {
        if (error instanceof PaymentError) return reply(402, { error: { code: error.code, message: error.message } })
        throw error
      }
      const served = await complete(this.#options.servingUrl, { model: body.model, prompt: body.prompt, max_tokens: body.max_tokens, temperature: body.temperature, top_p: body.top_p, seed: body.seed }, this.#follower.signal)
      const bytes = utf8(served.text)
      const outputCid = await this.#c.blobs.put(bytes)
      await this.#c.blobs.pin(outputCid, `inference/channel/${accepted.channel}/${toHex(accepted.requestHash)}`)
      const outputTokens = Math.max(1, Math.min(body.max_tokens, served.completionTokens))
      const entry = this.#gate.served(accepted, { outputHash: keccak256(bytes), outputCid, inputTokens: Math.max(1, served.promptTokens), outputTokens })
      // on disk before the answer: a restart must not lose a voucher the user was served for
      await this.#journal?.append(entry)
      reply(200, {
        object: 'text_completion', model: body.model, choices: [{ index: 0, text: served.text }],
        usage: { prompt_tokens: served.promptTokens, completion_tokens: served.completionTokens, total_tokens: served.promptTokens + served.completionTokens },
        openledger: { channel: accepted.channel, cumulative: accepted.cumulative.toString(), outputCid: toHex(outputCid) },
      })
    } catch (error) {
      this.#log.warn('paid request failed', { error })
      if (!res.headersSent) reply(502, { error: { code: 'serving_failed', message: 'the request could not be served' } })
    }
  }

  /**
   * A completion paid by an API key (keyGate.ts): OpenAI's body (model, prompt, max_tokens 16 by
   * default; temperature 0, top_p 1 and seed 0 unless given: greedy, so it can be re-checked),
   * errors in OpenAI's shape. The most it can cost is reserved against the key's cap before it is
   * served; its real cost waits for the key's next charge.
   */
  async #keyRequest(authorization: string, raw: Record<string, unknown>, reply: (status: number, body: unknown) => void): Promise<void> {
    const number = (value: unknown, fallback: number): number | undefined => (value === undefined || value === null ? fallback : typeof value === 'number' && Number.isFinite(value) ? value : undefined)
    const body = { model: raw['model'], prompt: raw['prompt'], max_tokens: number(raw['max_tokens'], 16), temperature: number(raw['temperature'], 0), top_p: number(raw['top_p'], 1), seed: number(raw['seed'], 0) }
    if (typeof body.model !== 'string' || typeof body.prompt !== 'string' || body.prompt.length === 0 || raw['stream'] === true
      || body.max_tokens === undefined || !Number.isSafeInteger(body.max_tokens) || body.max_tokens < 1 || body.temperature === undefined || body.temperature < 0 || body.temperature > 100
      || body.top_p === undefined || body.top_p <= 0 || body.top_p > 1 || body.seed === undefined || !Number.isSafeInteger(body.seed) || body.seed < 0) {
      return reply(400, new KeyError('invalid_request_error', 'a completion names model and a non-empty prompt; max_tokens ≥ 1, temperature 0..100, top_p in (0, 1], seed ≥ 0 when given; no streaming').toOpenAi())
    }
    const asked = body as CompletionBody
    const { chain, blobs } = this.#c
    let reservation
    try {
      reservation = await this.#keys.reserve(chain.state, chain.head.header.height, authorization, asked)
    } catch (error) {
      if (error instanceof KeyError) return reply(error.status, error.toOpenAi())
      throw error
    }
    let served: ServedOutput
    let outputCid: Uint8Array
    let outputHash: Uint8Array
    try {
      served = await complete(this.#options.servingUrl, { model: asked.model, prompt: asked.prompt, max_tokens: asked.max_tokens, temperature: asked.temperature, top_p: asked.top_p, seed: asked.seed }, this.#follower.signal)
      const bytes = utf8(served.text)
      outputHash = keccak256(bytes)
      outputCid = await blobs.put(bytes)
      await blobs.pin(outputCid, `inference/key/${reservation.key.id}/${toHex(outputHash)}`)
    } catch (error) {
      // not served: the reservation must not keep holding the key's cap
      this.#keys.release(reservation)
      throw error
    }
    const prices = (await providers.get(chain.state, this.#c.transactions.address)) ?? { priceIn: 0n, priceOut: 0n }
    const outputTokens = Math.max(1, Math.min(asked.max_tokens, served.completionTokens))
    const entry = this.#keys.served(reservation, { outputHash, outputCid, inputTokens: Math.max(1, served.promptTokens), outputTokens }, prices)
    // on disk before the answer: a restart must not lose what the key owes
    await this.#keyJournal?.append(entry)
    const cost = entry.cost
    reply(200, {
      id: `cmpl-${toHex(outputHash).slice(2, 26)}`, object: 'text_completion', created: Math.floor(Date.now() / 1000), model: asked.model,
      choices: [{ index: 0, text: served.text, finish_reason: served.completionTokens >= asked.max_tokens ? 'length' : 'stop', logprobs: null }],
      usage: { prompt_tokens: served.promptTokens, completion_tokens: served.completionTokens, total_tokens: served.promptTokens + served.completionTokens },
      openledger: { apiKey: reservation.key.id, cost: cost.toString(), outputCid: toHex(outputCid) },
    })
  }

  async #serve(request: InferenceRequest): Promise<void> {
    const { chain, blobs, transactions } = this.#c
    const base = await baseModels.get(chain.state, request.base)
    const model = base === undefined ? undefined : servingModelName(base.name, request.adapters)
    if (model === undefined || request.sampling.topK !== 0) throw new ProviderError('UNSUPPORTED_REQUEST', 'the serving API serves one adapter at weight 1 or the base alone, without top-k')
    const { sampling } = request
    const served = await complete(this.#options.servingUrl, {
      model, prompt: request.prompt, max_tokens: request.maxTokens, temperature: sampling.temperatureMilli / 1_000, top_p: sampling.topPMilli / 1_000, seed: sampling.seed,
    }, this.#follower.signal)
    const text = this.#options.tamper === true ? `${served.text} [tampered]` : served.text
    const bytes = utf8(text)
    const outputCid = await blobs.put(bytes)
    await blobs.pin(outputCid, outputPinOwner(request.id))
    const outputTokens = Math.max(1, Math.min(request.maxTokens, served.completionTokens))
    const tx = await transactions.submit(ModuleIndex.inference, fulfil, {
      request: request.id, outputHash: keccak256(bytes), outputCid, inputTokens: Math.max(1, served.promptTokens), outputTokens,
    })
    this.#log.info('inference request fulfilled', { request: request.id, tx: toHex(tx.hash), outputTokens, cid: toHex(outputCid) })
  }
}
