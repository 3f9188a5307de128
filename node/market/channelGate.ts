// The off-chain path's payment check, on the provider's side: a completion request arrives with a
// voucher (header `x-openledger-voucher`, JSON); it is served only if the voucher pays for exactly
// this request on a channel of this provider, continuing the channel's request chain
// (runtime/modules/inference/voucher.ts) from the last voucher this provider accepted. Accepted
// vouchers wait per channel until settlement redeems the latest one with every inference since
// the last redemption (one signature per channel on chain).
import { bytesEqual } from '../../runtime/codec/canonical.ts'
import { fromHex, keccak256, utf8 } from '../../runtime/crypto/hash.ts'
import { sameAddress } from '../../runtime/modules/accounts.ts'
import { type ChannelInference, channels, ChannelStatus, type ChannelTerms, channelTermsKind, inferenceCost, nextChannelHead, providers, type VoucherArgs, voucherSigner } from '../../runtime/modules/inference/index.ts'
import { baseModels } from '../../runtime/modules/models/index.ts'
import type { Address } from '../../runtime/crypto/secp256k1.ts'
import { OpenLedgerError } from '../../runtime/errors.ts'
import type { StateReader } from '../../runtime/state/overlay.ts'

export const VOUCHER_HEADER = 'x-openledger-voucher'

/** Why a paid request is refused: stable codes, answered as HTTP 402. */
export type PaymentErrorCode =
  | 'VOUCHER_MISSING' | 'VOUCHER_MALFORMED' | 'UNKNOWN_CHANNEL' | 'WRONG_PROVIDER' | 'CHANNEL_NOT_OPEN' | 'TERMS_MISMATCH' | 'PRICE_TOO_LOW'
  | 'WRONG_INCREMENT' | 'REQUEST_CHAIN_MISMATCH' | 'BAD_SIGNATURE' | 'INSUFFICIENT_CHANNEL_BALANCE'
export class PaymentError extends OpenLedgerError<PaymentErrorCode> {}

/** What the client sends in the header: the voucher and the terms it signed. */
export interface VoucherHeader {
  readonly channel: number
  readonly cumulative: string
  readonly requestHash: string
  readonly signature: string
  readonly terms: unknown
}

/** The completion request's body as the serving API reads it (the fields the terms cover). */
export interface CompletionBody {
  readonly model: string
  readonly prompt: string
  readonly max_tokens: number
  readonly temperature: number
  readonly top_p: number
  readonly seed: number
}

/** The terms a completion body stands for (the client computes the same ones to sign). */
export function termsMatch(terms: ChannelTerms, body: CompletionBody, baseName: string): boolean {
  const model = terms.adapters.length === 0 ? baseName : terms.adapters.length === 1 && terms.adapters[0]?.weightMilli === 1_000 ? `${baseName}:${terms.adapters[0].id}` : undefined
  return model === body.model && bytesEqual(terms.promptHash, keccak256(utf8(body.prompt))) && terms.maxTokens === body.max_tokens
    && terms.sampling.temperatureMilli === Math.round(body.temperature * 1_000) && terms.sampling.topPMilli === Math.round(body.top_p * 1_000)
    && terms.sampling.seed === body.seed && terms.sampling.topK === 0
}

interface Session {
  head: Uint8Array
  cumulative: bigint
  /** the latest accepted voucher and the inferences served since the last redemption */
  latest: { cumulative: bigint; requestHash: Uint8Array; signature: Uint8Array } | undefined
  inferences: ChannelInference[]
}

export interface AcceptedVoucher {
  readonly channel: number
  readonly terms: ChannelTerms
  readonly cumulative: bigint
  readonly requestHash: Uint8Array
  readonly signature: Uint8Array
}

export class ChannelGate {
  readonly #self: Address
  readonly #chainId: number
  readonly #sessions = new Map<number, Session>()

  constructor(self: Address, chainId: number) {
    this.#self = self
    this.#chainId = chainId
  }

  /** Checks a voucher for `body` against the chain's state and this provider's sessions; nothing is kept until `served`. */
  async check(state: StateReader, headerText: string | undefined, body: CompletionBody): Promise<AcceptedVoucher> {
    if (headerText === undefined) throw new PaymentError('VOUCHER_MISSING', `a paid request carries a voucher in the ${VOUCHER_HEADER} header`)
    let header: VoucherHeader
    let terms: ChannelTerms
    let signature: Uint8Array | undefined
    let requestHash: Uint8Array | undefined
    let cumulative: bigint
    try {
      header = JSON.parse(headerText) as VoucherHeader
      terms = channelTermsKind.fromJson(header.terms, 'terms')
      signature = fromHex(header.signature)
      requestHash = fromHex(header.requestHash)
      cumulative = BigInt(header.cumulative)
    } catch (cause) {
      throw new PaymentError('VOUCHER_MALFORMED', 'the voucher header is not the expected JSON', { cause })
    }
    if (!Number.isSafeInteger(header.channel) || signature?.length !== 65 || requestHash?.length !== 32 || cumulative < 0n) throw new PaymentError('VOUCHER_MALFORMED', 'the voucher header is not the expected JSON')
    const channel = await channels.get(state, header.channel)
    if (channel === undefined) throw new PaymentError('UNKNOWN_CHANNEL', `no channel ${header.channel}`)
    if (!sameAddress(channel.provider, this.#self)) throw new PaymentError('WRONG_PROVIDER', `channel ${channel.id} pays another provider`)
    if (channel.status !== ChannelStatus.open) throw new PaymentError('CHANNEL_NOT_OPEN', `channel ${channel.id} is closing or closed`)
    const base = await baseModels.get(state, terms.base)
    if (base === undefined || !termsMatch(terms, body, base.name)) throw new PaymentError('TERMS_MISMATCH', 'the voucher\'s terms are not this request\'s (model, prompt hash, max_tokens, sampling)')
    const provider = await providers.get(state, this.#self)
    if (provider === undefined || terms.price < inferenceCost(provider, terms.promptTokens, terms.maxTokens)) throw new PaymentError('PRICE_TOO_LOW', 'the price is below this provider\'s for the prompt and max_tokens')
    const session = this.#session(channel.id, channel.head, channel.redeemed)
    if (cumulative - session.cumulative !== terms.price) throw new PaymentError('WRONG_INCREMENT', `the voucher must add exactly the price to ${session.cumulative}`)
    if (!bytesEqual(nextChannelHead(session.head, terms), requestHash)) throw new PaymentError('REQUEST_CHAIN_MISMATCH', 'the request hash does not extend the channel\'s chain')
    if (cumulative > channel.deposit) throw new PaymentError('INSUFFICIENT_CHANNEL_BALANCE', 'the channel\'s deposit does not cover the voucher')
    const signer = voucherSigner({ chainId: this.#chainId, channel: channel.id, cumulative, requestHash }, signature)
    if (signer === undefined || !sameAddress(signer, channel.user)) throw new PaymentError('BAD_SIGNATURE', 'the voucher is not signed by the channel\'s user over this chain, channel, amount and request hash')
    return { channel: channel.id, terms, cumulative, requestHash, signature }
  }

  /** The request was served: the voucher becomes the channel's latest, the inference waits for settlement. Returns the journal's entry for it. */
  served(accepted: AcceptedVoucher, output: { outputHash: Uint8Array; outputCid: Uint8Array; inputTokens: number; outputTokens: number }): VoucherArgs {
    const inference = { terms: accepted.terms, ...output }
    const entry = { channel: accepted.channel, cumulative: accepted.cumulative, requestHash: accepted.requestHash, signature: accepted.signature, inferences: [inference] }
    const session = this.#sessions.get(accepted.channel)
    if (session === undefined) return entry
    session.head = accepted.requestHash
    session.cumulative = accepted.cumulative
    session.latest = { cumulative: accepted.cumulative, requestHash: accepted.requestHash, signature: accepted.signature }
    session.inferences.push(inference)
    return entry
  }

  /**
   * Sessions back from the journal after a restart: per channel, the entries the chain has not
   * redeemed (cumulative above the channel's `redeemed`) that chain on from its head; a channel
   * closed for good, or entries that do not chain (redeemed by another copy of this key), are
   * dropped. Returns how many inferences wait for settlement.
   */
  async resume(state: StateReader, entries: readonly VoucherArgs[]): Promise<number> {
    const byChannel = new Map<number, VoucherArgs[]>()
    for (const entry of entries) byChannel.set(entry.channel, [...(byChannel.get(entry.channel) ?? []), entry])
    let pending = 0
    for (const [id, list] of byChannel) {
      const channel = await channels.get(state, id)
      if (channel === undefined || channel.status === ChannelStatus.closed || !sameAddress(channel.provider, this.#self)) continue
      // above what the chain redeemed, each above the one before (a line journaled twice, once by a compaction, is skipped)
      const left: VoucherArgs[] = []
      for (const entry of list) if (entry.cumulative > (left.at(-1)?.cumulative ?? channel.redeemed)) left.push(entry)
      let head = channel.head
      for (const entry of left) for (const inference of entry.inferences) head = nextChannelHead(head, inference.terms)
      const last = left.at(-1)
      if (last === undefined || !bytesEqual(head, last.requestHash)) continue
      this.#sessions.set(id, {
        head, cumulative: last.cumulative, latest: { cumulative: last.cumulative, requestHash: last.requestHash, signature: last.signature },
        inferences: left.flatMap((entry) => entry.inferences),
      })
      pending += left.reduce((n, entry) => n + entry.inferences.length, 0)
    }
    return pending
  }

  /** What is unredeemed and not being redeemed, one entry per channel (the journal's compacted form). */
  unredeemed(): VoucherArgs[] {
    const out: VoucherArgs[] = []
    for (const [channel, session] of this.#sessions) if (session.latest !== undefined && session.inferences.length > 0) out.push({ channel, ...session.latest, inferences: [...session.inferences] })
    return out
  }

  /** Every channel's latest voucher with its inferences, taken out for a redeem (at most `max` channels). */
  take(max: number): VoucherArgs[] {
    const out: VoucherArgs[] = []
    for (const [channel, session] of this.#sessions) {
      if (out.length >= max) break
      if (session.latest === undefined || session.inferences.length === 0) continue
      out.push({ channel, ...session.latest, inferences: session.inferences })
      session.latest = undefined
      session.inferences = []
    }
    return out
  }

  /** A redeem failed: its vouchers go back in front of what was served since. */
  restore(vouchers: readonly VoucherArgs[]): void {
    for (const voucher of vouchers) {
      const session = this.#sessions.get(voucher.channel)
      if (session === undefined) continue
      session.inferences = [...voucher.inferences, ...session.inferences]
      session.latest ??= { cumulative: voucher.cumulative, requestHash: voucher.requestHash, signature: voucher.signature }
    }
  }

  pending(): number {
    let count = 0
    for (const session of this.#sessions.values()) count += session.inferences.length
    return count
  }

  #session(channel: number, head: Uint8Array, redeemed: bigint): Session {
    let session = this.#sessions.get(channel)
    if (session === undefined) {
      session = { head, cumulative: redeemed, latest: undefined, inferences: [] }
      this.#sessions.set(channel, session)
    }
    return session
  }
}
