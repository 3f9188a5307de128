// The API-key path's check on the provider's side (runtime/modules/inference/apiKeys.ts): an
// OpenAI client sends `Authorization: Bearer olk_…`; the key's keccak256 names a key on chain.
// Before anything is served the gate reserves the most the request can cost (the provider's
// prices for at most min(prompt bytes, context) prompt tokens and max_tokens) against what is left
// of the key's cap: its cap less what the chain says was charged, less what this provider served
// under it and has not seen charged on chain yet, less what requests in flight reserved. Over
// that the answer is OpenAI's quota error (429 insufficient_quota), so a client stops as it would
// at OpenAI. Served requests wait per key until settlement charges them (`chargeApiKey`, up to
// 1,024 a call). A charge not yet finalized counts twice (state and pending) for a few blocks:
// the gate errs towards refusing, never towards serving past the cap. Served inferences are
// journaled (<home>/provider/keycharges.jsonl, before the answer) with their ordinal, so a restart
// charges what was not charged and nothing twice.
import { randomBytes } from 'node:crypto'
import * as k from '../../runtime/codec/schema.ts'
import { keccak256, utf8 } from '../../runtime/crypto/hash.ts'
import type { Address } from '../../runtime/crypto/secp256k1.ts'
import { OpenLedgerError } from '../../runtime/errors.ts'
import { sameAddress } from '../../runtime/modules/accounts.ts'
import { type ApiKey, apiKeyByHash, apiKeys, ApiKeyStatus, inferenceCost, type KeyInference, keyInferenceKind, keyServable, MAX_VOUCHER_INFERENCES, providers } from '../../runtime/modules/inference/index.ts'
import { baseModels, BaseModelKind, modelVersions, parseArchitecture } from '../../runtime/modules/models/index.ts'
import type { StateReader } from '../../runtime/state/overlay.ts'
import type { CompletionBody } from './channelGate.ts'

export const API_KEY_PREFIX = 'olk_'

/** A new key: the prefix and 32 random bytes in hex. Only its hash goes on chain. */
export function newApiKey(): string {
  return `${API_KEY_PREFIX}${randomBytes(32).toString('hex')}`
}

/** What the chain stores of a key. */
export function apiKeyHash(key: string): Uint8Array {
  return keccak256(utf8(key))
}

/** OpenAI's error codes where one fits (invalid_api_key, insufficient_quota), ours otherwise; `status` is the HTTP status. */
export type KeyErrorCode = 'invalid_api_key' | 'api_key_revoked' | 'api_key_expired' | 'insufficient_quota' | 'model_not_found' | 'invalid_request_error'
export class KeyError extends OpenLedgerError<KeyErrorCode> {
  get status(): number {
    return this.code === 'insufficient_quota' ? 429 : this.code === 'model_not_found' ? 404 : this.code === 'invalid_request_error' ? 400 : 401
  }

  /** The body OpenAI's API answers errors with (the `openai` client reads error.code and error.type). */
  toOpenAi(): { error: { message: string; type: string; param: null; code: string } } {
    const type = this.code === 'insufficient_quota' ? 'insufficient_quota' : this.code === 'invalid_request_error' || this.code === 'model_not_found' ? 'invalid_request_error' : 'authentication_error'
    return { error: { message: this.message, type, param: null, code: this.code } }
  }
}

export interface Reservation {
  readonly key: ApiKey
  readonly amount: bigint
  readonly terms: KeyInference['terms']
}

/**
 * A served inference waiting to be charged, as journaled: `ordinal` is its place among every
 * inference ever charged to the key (charges go in order, so after a restart an entry whose
 * ordinal is at most the key's on-chain `inferences` was charged already).
 */
export const keyChargeKind = k.struct({ key: k.uint, ordinal: k.uint, cost: k.amount, inference: keyInferenceKind })
export type KeyChargeEntry = k.Infer<typeof keyChargeKind>

/** One key's served inferences, as one chargeApiKey takes them. */
export interface KeyCharge {
  readonly key: number
  readonly items: KeyChargeEntry[]
}

interface Pending {
  reserved: bigint
  /** served and not yet seen charged on chain */
  served: bigint
  inferences: KeyChargeEntry[]
  /** the next served inference's ordinal */
  next: number
}

export class KeyGate {
  readonly #self: Address
  readonly #pending = new Map<number, Pending>()

  constructor(self: Address) {
    this.#self = self
  }

  /** The key of `authorization` at `height` with this request's most cost reserved, or a KeyError. Release or serve it. */
  async reserve(state: StateReader, height: number, authorization: string | undefined, body: CompletionBody): Promise<Reservation> {
    const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1]
    if (token === undefined || !token.startsWith(API_KEY_PREFIX) || token.length > 200) throw new KeyError('invalid_api_key', 'the request carries no OpenLedger API key (Authorization: Bearer olk_…)')
    const id = await apiKeyByHash.get(state, apiKeyHash(token))
    const key = id === undefined ? undefined : await apiKeys.get(state, id)
    if (key === undefined || !sameAddress(key.provider, this.#self)) throw new KeyError('invalid_api_key', 'no API key of this provider on chain matches this key')
    if (!keyServable(key, height)) {
      if (key.status === ApiKeyStatus.active) throw new KeyError('api_key_expired', `API key ${key.id} expired at height ${key.expiresAt}`)
      throw new KeyError('api_key_revoked', `API key ${key.id} was revoked`)
    }
    const provider = await providers.get(state, this.#self)
    if (provider === undefined) throw new KeyError('invalid_api_key', 'this node is not a provider')
    const [name, version] = body.model.split(':') as [string, string | undefined]
    const base = await baseByName(state, name)
    if (base === undefined || !provider.models.includes(base.id)) throw new KeyError('model_not_found', `this provider does not serve ${name}`)
    let adapters: Array<{ id: number; weightMilli: number }> = []
    if (version !== undefined) {
      const adapter = /^[1-9][0-9]{0,14}$/.test(version) ? await modelVersions.get(state, Number(version)) : undefined
      if (adapter?.base !== base.id) throw new KeyError('model_not_found', `${body.model} is not a published adapter of ${name}`)
      adapters = [{ id: adapter.id, weightMilli: 1_000 }]
    }
    if (body.max_tokens + 1 > base.context) throw new KeyError('invalid_request_error', `max_tokens leaves no room for a prompt in ${name}'s context of ${base.context}`)
    // BPE tokens are at least one byte each: the prompt has at most as many tokens as bytes
    const promptBound = Math.min(utf8(body.prompt).length, base.context - body.max_tokens)
    const amount = inferenceCost(provider, Math.max(1, promptBound), body.max_tokens)
    const pending = this.#of(key.id, key.inferences)
    const left = key.cap - key.spent - pending.served - pending.reserved
    if (amount > left) throw new KeyError('insufficient_quota', `API key ${key.id} has ${left > 0n ? left : 0n} of its cap of ${key.cap} left; this request may cost ${amount}`)
    pending.reserved += amount
    const terms = {
      base: base.id, adapters, promptHash: keccak256(utf8(body.prompt)), promptTokens: 1, maxTokens: body.max_tokens,
      sampling: { temperatureMilli: Math.round(body.temperature * 1_000), topK: 0, topPMilli: Math.round(body.top_p * 1_000), seed: body.seed },
    }
    return { key, amount, terms }
  }

  /** The request was not served: its reservation is released. */
  release(reservation: Reservation): void {
    this.#of(reservation.key.id, reservation.key.inferences).reserved -= reservation.amount
  }

  /** The request was served: its actual cost (at most the reservation) waits for settlement. Returns the journal's entry for it. */
  served(reservation: Reservation, output: { outputHash: Uint8Array; outputCid: Uint8Array; inputTokens: number; outputTokens: number }, prices: { priceIn: bigint; priceOut: bigint }): KeyChargeEntry {
    const pending = this.#of(reservation.key.id, reservation.key.inferences)
    pending.reserved -= reservation.amount
    const inference: KeyInference = { terms: { ...reservation.terms, promptTokens: output.inputTokens }, ...output }
    const entry = { key: reservation.key.id, ordinal: pending.next++, cost: inferenceCost(prices, output.inputTokens, output.outputTokens), inference }
    pending.served += entry.cost
    pending.inferences.push(entry)
    return entry
  }

  /**
   * Served inferences back from the journal after a restart: those of this provider's keys not
   * closed for good whose ordinal is above the key's charged count. Returns how many wait.
   */
  async resume(state: StateReader, entries: readonly KeyChargeEntry[]): Promise<number> {
    let count = 0
    for (const entry of entries) {
      const key = await apiKeys.get(state, entry.key)
      if (key === undefined || key.status === ApiKeyStatus.closed || !sameAddress(key.provider, this.#self) || entry.ordinal <= key.inferences) continue
      const pending = this.#of(key.id, key.inferences)
      if (entry.ordinal < pending.next) continue
      pending.inferences.push(entry)
      pending.served += entry.cost
      pending.next = entry.ordinal + 1
      count++
    }
    return count
  }

  /** Everything served and not yet charged (the journal's compacted form). */
  uncharged(): KeyChargeEntry[] {
    return [...this.#pending.values()].flatMap((pending) => pending.inferences)
  }

  /** Up to `max` keys' served inferences (1,024 each), taken out for their charges. */
  take(max: number): KeyCharge[] {
    const out: KeyCharge[] = []
    for (const [key, pending] of this.#pending) {
      if (out.length >= max) break
      if (pending.inferences.length > 0) out.push({ key, items: pending.inferences.splice(0, MAX_VOUCHER_INFERENCES) })
    }
    return out
  }

  /** A charge was finalized: the chain's `spent` holds it now. */
  charged(charge: KeyCharge): void {
    const pending = this.#pending.get(charge.key)
    if (pending !== undefined) pending.served -= charge.items.reduce((sum, item) => sum + item.cost, 0n)
  }

  /** A charge failed: its inferences wait again, in front. */
  restore(charge: KeyCharge): void {
    this.#pending.get(charge.key)?.inferences.unshift(...charge.items)
  }

  pending(): number {
    let count = 0
    for (const pending of this.#pending.values()) count += pending.inferences.length
    return count
  }

  /** The key's pending work; a key first seen here continues from its charged count on chain. */
  #of(key: number, chargedOnChain: number): Pending {
    let pending = this.#pending.get(key)
    if (pending === undefined) {
      pending = { reserved: 0n, served: 0n, inferences: [], next: chargedOnChain + 1 }
      this.#pending.set(key, pending)
    }
    return pending
  }
}

/** The first registered language model named `name` (as the serving process names them), with its context. */
async function baseByName(state: StateReader, name: string): Promise<{ id: number; context: number } | undefined> {
  for (let id = 1; id <= MAX_BASE_SCAN; id++) {
    const base = await baseModels.get(state, id)
    if (base === undefined) return undefined
    if (base.name !== name || base.kind !== BaseModelKind.lm) continue
    const { config } = parseArchitecture(base.architecture, base.kind)
    return config === undefined ? undefined : { id, context: config.context }
  }
  return undefined
}

/** base models are few (registration takes a deposit); a name not among the first this many is not served here */
const MAX_BASE_SCAN = 1_000
