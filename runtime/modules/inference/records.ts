// What the inference calls and hook share: checking a request's terms against the models module,
// writing an inference record with its exact fee split, paying out of the module account once per
// recipient per call, the height indexes, closing channels, expiring requests, slashing.
import { toHex } from '../../crypto/hash.ts'
import type { Address } from '../../crypto/secp256k1.ts'
import type { CallResult, ExecutionContext } from '../../module.ts'
import type { StateOverlay, StateReader } from '../../state/overlay.ts'
import type { StorageMap } from '../../storage.ts'
import { bpsOf, sameAddress, TREASURY_ACCOUNT } from '../accounts.ts'
import { payFromModuleAccount } from '../balances/index.ts'
import { BaseModelKind, baseModels, MODELS_ACCOUNT, modelVersions, parseArchitecture } from '../models/index.ts'
import { InferenceError } from './errors.ts'
import { ChannelClosed, InferenceRecorded, ProviderSlashed, ProviderSlashReason, RequestExpired } from './events.ts'
import { splitByWeight, splitFee } from './pricing.ts'
import {
  ChannelStatus, channels, INFERENCE_ACCOUNT, params as inferenceParams, ProviderStatus, MAX_ADAPTER_WEIGHT_MILLI, providers, recordCount, records, RecordStatus, requests, RequestStatus,
  type AdapterUse, type Channel, type InferenceParams, type InferenceRecord, type InferenceRequest, type Sampling,
} from './state.ts'

const MAX_TEMPERATURE_MILLI = 100_000
const FULL_TOP_P_MILLI = 1_000

/** A language base model's context and owner, or undefined if there is no such LM. */
export async function modelContext(state: StateReader, base: number): Promise<{ context: number; owner: Address } | undefined> {
  const model = await baseModels.get(state, base)
  if (model === undefined || model.kind !== BaseModelKind.lm) return undefined
  const { config } = parseArchitecture(model.architecture, model.kind)
  if (config === undefined) return undefined
  return { context: config.context, owner: model.owner }
}

export interface Terms {
  readonly base: number
  readonly adapters: readonly AdapterUse[]
  readonly promptHash: Uint8Array
  readonly promptTokens: number
  readonly maxTokens: number
  readonly sampling: Sampling
}

/** Why these terms cannot be served, or undefined: the model, its adapters, the context, the sampling. */
export async function termsProblem(state: StateReader, terms: Terms): Promise<CallResult> {
  const model = await modelContext(state, terms.base)
  if (model === undefined) return InferenceError.UnknownModel
  const { temperatureMilli, topPMilli } = terms.sampling
  if (terms.promptTokens < 1 || terms.maxTokens < 1 || temperatureMilli > MAX_TEMPERATURE_MILLI || topPMilli < 1 || topPMilli > FULL_TOP_P_MILLI) return InferenceError.InvalidRequest
  if (terms.promptTokens + terms.maxTokens > model.context) return InferenceError.PromptTooLong
  const seen = new Set<number>()
  for (const adapter of terms.adapters) {
    if (seen.has(adapter.id) || adapter.weightMilli < 1 || adapter.weightMilli > MAX_ADAPTER_WEIGHT_MILLI) return InferenceError.UnknownAdapter
    seen.add(adapter.id)
    const version = await modelVersions.get(state, adapter.id)
    if (version === undefined || version.base !== terms.base) return InferenceError.UnknownAdapter
  }
  return undefined
}

/**
 * Payments out of the module account gathered over one call and made once per recipient, in the
 * order recipients first appeared (deterministic), so a batch of a thousand inferences writes the
 * provider's, each owner's and the treasury's balance once.
 */
export class Payouts {
  readonly #owed = new Map<string, { to: Address; amount: bigint }>()

  add(to: Address, amount: bigint): void {
    if (amount === 0n) return
    const key = toHex(to)
    const entry = this.#owed.get(key)
    if (entry === undefined) this.#owed.set(key, { to, amount })
    else entry.amount += amount
  }

  async pay(context: ExecutionContext): Promise<void> {
    for (const { to, amount } of this.#owed.values()) await payFromModuleAccount(context, INFERENCE_ACCOUNT, to, amount, 'inference')
    this.#owed.clear()
  }
}

export interface RecordInput {
  readonly provider: Address
  readonly user: Address
  readonly source: number
  readonly sourceId: number
  readonly terms: Terms
  readonly outputHash: Uint8Array
  readonly outputCid: Uint8Array
  readonly inputTokens: number
  readonly outputTokens: number
  /** already held by the module account (escrow or channel deposit) */
  readonly price: bigint
}

/** The owner that earns a model's part when no adapter is used: the base's registrant, or the treasury for genesis models. */
function baseOwner(owner: Address): Address {
  return sameAddress(owner, MODELS_ACCOUNT) ? TREASURY_ACCOUNT : owner
}

/**
 * Writes the record, splits its price (splitFee: the parts sum to it) and queues the payments; the
 * contributors' part stays in the module account as the record's `contributorsPending`.
 */
export async function recordInference(context: ExecutionContext, payouts: Payouts, params: InferenceParams, input: RecordInput): Promise<number> {
  const { state } = context
  const split = splitFee(input.price, params)
  const { terms } = input
  const owners: Array<{ owner: Address; amount: bigint }> = []
  if (terms.adapters.length === 0) {
    const model = await modelContext(state, terms.base)
    if (model === undefined) throw new Error('inference: a checked base model is missing: bug')
    owners.push({ owner: baseOwner(model.owner), amount: split.modelOwner })
  } else {
    const shares = splitByWeight(split.modelOwner, terms.adapters.map((a) => a.weightMilli))
    for (const [i, adapter] of terms.adapters.entries()) {
      const version = await modelVersions.get(state, adapter.id)
      if (version === undefined) throw new Error('inference: a checked adapter is missing: bug')
      owners.push({ owner: version.owner, amount: shares[i] ?? 0n })
    }
  }
  const id = (await recordCount.get(state)) + 1
  recordCount.set(state, id)
  const record: InferenceRecord = {
    id, provider: input.provider, user: input.user, source: input.source, sourceId: input.sourceId,
    base: terms.base, adapters: [...terms.adapters], promptHash: terms.promptHash, promptTokens: terms.promptTokens, maxTokens: terms.maxTokens, sampling: terms.sampling,
    outputHash: input.outputHash, outputCid: input.outputCid, inputTokens: input.inputTokens, outputTokens: input.outputTokens,
    price: input.price, split, owners, contributorsPending: split.contributors, status: RecordStatus.settled, height: context.block.height,
  }
  records.set(state, id, record)
  payouts.add(input.provider, split.provider)
  for (const { owner, amount } of owners) payouts.add(owner, amount)
  payouts.add(TREASURY_ACCOUNT, split.treasury)
  context.emit(InferenceRecorded.create({ record: id, provider: input.provider, user: input.user, base: terms.base, outputHash: input.outputHash, outputCid: input.outputCid, price: input.price, split }))
  return id
}

/**
 * For the attribution module (issue 18): pays `payments` out of a record's contributors' pool,
 * which must cover them; returns what is left of it. A failure changes nothing.
 */
export async function takeContributorsPool(context: ExecutionContext, recordId: number, payments: ReadonlyArray<{ to: Address; amount: bigint }>): Promise<bigint | undefined> {
  const record = await records.get(context.state, recordId)
  if (record === undefined) return undefined
  let total = 0n
  for (const { amount } of payments) total += amount
  if (total > record.contributorsPending) return undefined
  for (const { to, amount } of payments) await payFromModuleAccount(context, INFERENCE_ACCOUNT, to, amount, 'inference')
  const left = record.contributorsPending - total
  records.set(context.state, recordId, { ...record, contributorsPending: left })
  return left
}

/** Adds `id` to the index entry of `height`. */
export async function scheduleIndex(state: StateOverlay, index: StorageMap<number, number[]>, height: number, id: number): Promise<void> {
  const due = (await index.get(state, height)) ?? []
  index.set(state, height, [...due, id])
}

/** Pays the user what the provider did not redeem and closes the channel for good. */
export async function closeChannel(context: ExecutionContext, channel: Channel): Promise<void> {
  const refunded = channel.deposit - channel.redeemed
  channels.set(context.state, channel.id, { ...channel, status: ChannelStatus.closed, closesAt: context.block.height })
  await payFromModuleAccount(context, INFERENCE_ACCOUNT, channel.user, refunded, 'inference')
  context.emit(ChannelClosed.create({ channel: channel.id, user: channel.user, refunded, redeemed: channel.redeemed }))
}

/**
 * Takes up to `amount` of the provider's bond (bonded first, then unbonding) out of its stake, in
 * the module account, for the caller to pay out; the provider goes inactive below
 * minProviderBond. Returns what was taken.
 */
export async function takeBond(context: ExecutionContext, operator: Address, amount: bigint): Promise<bigint> {
  const provider = await providers.get(context.state, operator)
  if (provider === undefined) return 0n
  const held = provider.bond + provider.unbonding
  const taken = amount < held ? amount : held
  if (taken === 0n) return 0n
  const fromBond = taken < provider.bond ? taken : provider.bond
  const bond = provider.bond - fromBond
  const unbonding = provider.unbonding - (taken - fromBond)
  const { minProviderBond } = await inferenceParams.get(context.state)
  const status = bond >= minProviderBond ? provider.status : ProviderStatus.inactive
  providers.set(context.state, operator, { ...provider, bond, unbonding, status, slashedTotal: provider.slashedTotal + taken })
  return taken
}

/** Moves `bps` of the provider's bond (bonded first, then unbonding) to the treasury; returns the amount. */
export async function slashProvider(context: ExecutionContext, operator: Address, bps: number, reason: number, subject: number): Promise<bigint> {
  const provider = await providers.get(context.state, operator)
  if (provider === undefined) return 0n
  const amount = await takeBond(context, operator, bpsOf(provider.bond + provider.unbonding, bps))
  if (amount === 0n) return 0n
  await payFromModuleAccount(context, INFERENCE_ACCOUNT, TREASURY_ACCOUNT, amount, 'inference')
  context.emit(ProviderSlashed.create({ provider: operator, amount, reason, subject }))
  return amount
}

/** An open request past its deadline: the user gets the whole escrow back, the provider is slashed. */
export async function expireRequest(context: ExecutionContext, request: InferenceRequest, params: InferenceParams): Promise<void> {
  const { state } = context
  requests.set(state, request.id, { ...request, status: RequestStatus.expired })
  const provider = await providers.get(state, request.provider)
  if (provider !== undefined) providers.set(state, request.provider, { ...provider, openRequests: provider.openRequests - 1 })
  const slashed = await slashProvider(context, request.provider, params.missedDeadlineSlashBps, ProviderSlashReason.missedDeadline, request.id)
  await payFromModuleAccount(context, INFERENCE_ACCOUNT, request.user, request.escrow, 'inference')
  context.emit(RequestExpired.create({ request: request.id, user: request.user, refunded: request.escrow, slashed }))
}
