// inference calls. Every call checks everything before its first write, or relies on the state
// transition's per-call checkpoint to revert: a failed call changes nothing but its fee.
import { bytesEqual } from '../../codec/canonical.ts'
import * as k from '../../codec/schema.ts'
import { allCommitted, CommitPhase, commitmentBy, opens, SALT_BYTES } from '../../commitReveal.ts'
import { keccak256, utf8 } from '../../crypto/hash.ts'
import { defineCall, type CallContext, type CallResult } from '../../module.ts'
import type { StateReader } from '../../state/overlay.ts'
import { sameAddress } from '../accounts.ts'
import { transfer } from '../balances/index.ts'
import { chargeApiKey, createApiKey, revokeApiKey } from './apiKeys.ts'
import { allRevealed, CHECK_COMMIT_DOMAIN, checkScope, closeRound, openReveal, verdictPayload } from './checks.ts'
import { InferenceError } from './errors.ts'
import {
  ChannelClosing as ChannelClosingEvent, ChannelOpened, ChannelToppedUp, ProviderRegistered, ProviderUnbonded, ProviderUpdated, ProviderWithdrawn,
  RequestCreated, RequestFulfilled, VoucherRedeemed,
} from './events.ts'
import { closeChannel as finishChannel, modelContext, Payouts, recordInference, scheduleIndex, termsProblem } from './records.ts'
import { inferenceCost } from './pricing.ts'
import {
  adapterUseKind, ChannelStatus, checks, CheckStatus, Verdict, channelClosings, channelCount, channels, INFERENCE_ACCOUNT, MAX_PROMPT_CHARS, MAX_REDEEM_VOUCHERS, MAX_REQUEST_ADAPTERS,
  MAX_VOUCHER_INFERENCES, offerFields, params as inferenceParams, ProviderStatus, providers, RecordSource, requestCount, requestDeadlines, requests,
  RequestStatus, samplingKind, type Channel, type InferenceParams, type Offer, type Provider,
} from './state.ts'
import { channelTermsKind, nextChannelHead, initialChannelHead, voucherSigner } from './voucher.ts'

// Weights (gas): about 150 per state read or write, more for hashing and signature recovery.
export const REGISTER_PROVIDER_WEIGHT = 3_000
export const UPDATE_PROVIDER_WEIGHT = 3_000
export const UNBOND_PROVIDER_WEIGHT = 1_500
export const WITHDRAW_UNBONDED_WEIGHT = 1_500
/** the provider, base model and adapter reads, the escrow transfer, the request and its deadline entry */
export const REQUEST_WEIGHT = 4_000
/** a record: its terms' checks (base model, adapters), the split and its storage */
export const RECORD_WEIGHT = 2_000
export const RECORD_WEIGHT_PER_ADAPTER = 300
/** the request, the record, the payouts and the refund */
export const FULFIL_WEIGHT = 3_000
export const OPEN_CHANNEL_WEIGHT = 2_500
export const TOP_UP_WEIGHT = 1_500
/** per voucher: the channel, one secp256k1 recovery, the payouts */
export const REDEEM_WEIGHT_PER_VOUCHER = 5_000
export const CLOSE_CHANNEL_WEIGHT = 2_000
export const COMMIT_CHECK_WEIGHT = 1_500
/** a reveal may close the round: slash every checker of both rounds and settle the provider's penalty */
export const REVEAL_CHECK_WEIGHT = 3_000 + 1_000 * 16

const MAX_CAPACITY = 1_000_000

function offerProblem(offer: Offer): boolean {
  const distinct = new Set(offer.models).size === offer.models.length
  return !/^https?:\/\/\S+$/.test(offer.endpoint) || offer.models.length === 0 || !distinct || offer.capacity < 1 || offer.capacity > MAX_CAPACITY
}

async function unknownModel(state: StateReader, models: readonly number[]): Promise<boolean> {
  for (const base of models) if ((await modelContext(state, base)) === undefined) return true
  return false
}

function statusFor(bond: bigint, params: InferenceParams): number {
  return bond >= params.minProviderBond ? ProviderStatus.active : ProviderStatus.inactive
}

async function providerOf(state: StateReader, operator: Uint8Array): Promise<Provider | undefined> {
  return providers.get(state, operator)
}

/** A provider bonds at least minProviderBond into the module account and states its offer. */
export const registerProvider = defineCall({
  index: 0,
  name: 'registerProvider',
  args: k.struct({ bond: k.amount, ...offerFields }),
  weight: () => REGISTER_PROVIDER_WEIGHT,
  async execute(context, args) {
    const { state, sender } = context
    if ((await providerOf(state, sender)) !== undefined) return InferenceError.AlreadyRegistered
    if (offerProblem(args)) return InferenceError.InvalidOffer
    if (await unknownModel(state, args.models)) return InferenceError.UnknownModel
    const params = await inferenceParams.get(state)
    if (args.bond < params.minProviderBond || args.bond === 0n) return InferenceError.BondTooLow
    const failed = await transfer(context, sender, INFERENCE_ACCOUNT, args.bond)
    if (failed !== undefined) return failed
    const { bond, ...offer } = args
    providers.set(state, sender, {
      operator: sender, ...offer, bond, unbonding: 0n, unbondingUntil: 0, openRequests: 0, status: ProviderStatus.active, slashedTotal: 0n, served: 0,
      registeredHeight: context.block.height,
    })
    context.emit(ProviderRegistered.create({ provider: sender, bond, ...offer }))
    return undefined
  },
})

/** A provider changes its offer (takes effect for new requests and channels) and may add to its bond. */
export const updateProvider = defineCall({
  index: 1,
  name: 'updateProvider',
  args: k.struct({ addBond: k.amount, ...offerFields }),
  weight: () => UPDATE_PROVIDER_WEIGHT,
  async execute(context, args) {
    const { state, sender } = context
    const provider = await providerOf(state, sender)
    if (provider === undefined) return InferenceError.UnknownProvider
    if (offerProblem(args)) return InferenceError.InvalidOffer
    if (await unknownModel(state, args.models)) return InferenceError.UnknownModel
    if (args.addBond > 0n) {
      const failed = await transfer(context, sender, INFERENCE_ACCOUNT, args.addBond)
      if (failed !== undefined) return failed
    }
    const params = await inferenceParams.get(state)
    const { addBond, ...offer } = args
    const bond = provider.bond + addBond
    const next: Provider = { ...provider, ...offer, bond, status: statusFor(bond, params) }
    providers.set(state, sender, next)
    context.emit(ProviderUpdated.create({ provider: sender, bond, ...offer, status: next.status }))
    return undefined
  },
})

/**
 * Part or all of the bond starts unbonding: it stays in the module account, slashable, until
 * unbondingBlocks after the latest unbond, then `withdrawUnbonded` pays it out. Below
 * minProviderBond the provider is inactive (no new requests or channels).
 */
export const unbondProvider = defineCall({
  index: 2,
  name: 'unbondProvider',
  args: k.struct({ amount: k.amount }),
  weight: () => UNBOND_PROVIDER_WEIGHT,
  async execute(context, args) {
    const { state, sender } = context
    const provider = await providerOf(state, sender)
    if (provider === undefined) return InferenceError.UnknownProvider
    if (args.amount === 0n || args.amount > provider.bond) return InferenceError.NothingToUnbond
    const params = await inferenceParams.get(state)
    const bond = provider.bond - args.amount
    const next: Provider = {
      ...provider, bond, unbonding: provider.unbonding + args.amount, unbondingUntil: context.block.height + params.unbondingBlocks, status: statusFor(bond, params),
    }
    providers.set(state, sender, next)
    context.emit(ProviderUnbonded.create({ provider: sender, amount: args.amount, releaseHeight: next.unbondingUntil, status: next.status }))
    return undefined
  },
})

export const withdrawUnbonded = defineCall({
  index: 3,
  name: 'withdrawUnbonded',
  args: k.struct({}),
  weight: () => WITHDRAW_UNBONDED_WEIGHT,
  async execute(context) {
    const { state, sender } = context
    const provider = await providerOf(state, sender)
    if (provider === undefined) return InferenceError.UnknownProvider
    if (provider.unbonding === 0n || context.block.height < provider.unbondingUntil) return InferenceError.NothingToWithdraw
    const payouts = new Payouts()
    payouts.add(sender, provider.unbonding)
    providers.set(state, sender, { ...provider, unbonding: 0n, unbondingUntil: 0 })
    await payouts.pay(context)
    context.emit(ProviderWithdrawn.create({ provider: sender, amount: provider.unbonding }))
    return undefined
  },
})

export const requestArgsKind = k.struct({
  provider: k.address,
  base: k.uint,
  adapters: k.list(adapterUseKind, MAX_REQUEST_ADAPTERS),
  prompt: k.string(MAX_PROMPT_CHARS),
  promptTokens: k.uint,
  maxTokens: k.uint,
  sampling: samplingKind,
  /** base units escrowed: at least the provider's price for promptTokens in and maxTokens out */
  escrow: k.amount,
})

/** A user's paid on-chain request: the escrow is held until the provider fulfils or the deadline passes. */
export const request = defineCall({
  index: 4,
  name: 'request',
  args: requestArgsKind,
  weight: ({ adapters }) => REQUEST_WEIGHT + RECORD_WEIGHT_PER_ADAPTER * adapters.length,
  async execute(context, args) {
    const { state, sender } = context
    const height = context.block.height
    const provider = await providerOf(state, args.provider)
    if (provider === undefined) return InferenceError.UnknownProvider
    if (provider.status !== ProviderStatus.active) return InferenceError.ProviderInactive
    if (!provider.models.includes(args.base)) return InferenceError.ModelNotServed
    if (args.prompt.length === 0) return InferenceError.InvalidRequest
    const promptHash = keccak256(utf8(args.prompt))
    const terms = { base: args.base, adapters: args.adapters, promptHash, promptTokens: args.promptTokens, maxTokens: args.maxTokens, sampling: args.sampling }
    const problem = await termsProblem(state, terms)
    if (problem !== undefined) return problem
    if (args.escrow < inferenceCost(provider, args.promptTokens, args.maxTokens) || args.escrow === 0n) return InferenceError.InsufficientEscrow
    if (provider.openRequests >= provider.capacity) return InferenceError.ProviderAtCapacity
    const failed = await transfer(context, sender, INFERENCE_ACCOUNT, args.escrow)
    if (failed !== undefined) return failed
    const params = await inferenceParams.get(state)
    const id = (await requestCount.get(state)) + 1
    const deadline = height + params.requestBlocks
    requestCount.set(state, id)
    requests.set(state, id, {
      id, user: sender, provider: args.provider, ...terms, prompt: args.prompt, escrow: args.escrow, deadline, status: RequestStatus.open, record: undefined, createdHeight: height,
    })
    providers.set(state, args.provider, { ...provider, openRequests: provider.openRequests + 1 })
    await scheduleIndex(state, requestDeadlines, deadline, id)
    context.emit(RequestCreated.create({ request: id, user: sender, provider: args.provider, base: args.base, escrow: args.escrow, deadline }))
    return undefined
  },
})

/**
 * The provider answers an open request by its deadline: the record is written, the fee (its price
 * for the tokens it counted, at most the escrow) split and paid, the rest of the escrow refunded.
 * Its prompt count may differ from the user's declared one (tokenizers at the edges); the escrow
 * caps the fee, and re-checks (teacher forcing over the recorded tokens) catch a count that lies.
 */
export const fulfil = defineCall({
  index: 5,
  name: 'fulfil',
  args: k.struct({ request: k.uint, outputHash: k.hash, outputCid: k.hash, inputTokens: k.uint, outputTokens: k.uint }),
  weight: () => FULFIL_WEIGHT + RECORD_WEIGHT + RECORD_WEIGHT_PER_ADAPTER * MAX_REQUEST_ADAPTERS,
  async execute(context, args) {
    const { state, sender } = context
    const found = await requests.get(state, args.request)
    if (found === undefined) return InferenceError.UnknownRequest
    if (!sameAddress(found.provider, sender)) return InferenceError.WrongProvider
    if (found.status !== RequestStatus.open) return InferenceError.AlreadyFulfilled
    if (context.block.height > found.deadline) return InferenceError.DeadlinePassed
    if (args.inputTokens < 1 || args.outputTokens < 1 || args.outputTokens > found.maxTokens) return InferenceError.InvalidFulfilment
    const provider = await providerOf(state, sender)
    if (provider === undefined) throw new Error('inference: a request names a provider that is not stored: bug')
    const params = await inferenceParams.get(state)
    const fee = inferenceCost(provider, args.inputTokens, args.outputTokens)
    const price = fee < found.escrow ? fee : found.escrow
    const payouts = new Payouts()
    const record = await recordInference(context, payouts, params, {
      provider: sender, user: found.user, source: RecordSource.request, sourceId: found.id, terms: found,
      outputHash: args.outputHash, outputCid: args.outputCid, inputTokens: args.inputTokens, outputTokens: args.outputTokens, price,
    })
    const refunded = found.escrow - price
    payouts.add(found.user, refunded)
    requests.set(state, found.id, { ...found, status: RequestStatus.fulfilled, record })
    const after = await providerOf(state, sender)
    if (after !== undefined) providers.set(state, sender, { ...after, openRequests: after.openRequests - 1, served: after.served + 1 })
    await payouts.pay(context)
    context.emit(RequestFulfilled.create({ request: found.id, record, price, refunded }))
    return undefined
  },
})

/** A user opens a payment channel to an active provider with a deposit held by the module. */
export const openChannel = defineCall({
  index: 6,
  name: 'openChannel',
  args: k.struct({ provider: k.address, deposit: k.amount }),
  weight: () => OPEN_CHANNEL_WEIGHT,
  async execute(context, args) {
    const { state, sender } = context
    const provider = await providerOf(state, args.provider)
    if (provider === undefined) return InferenceError.UnknownProvider
    if (provider.status !== ProviderStatus.active) return InferenceError.ProviderInactive
    if (args.deposit === 0n) return InferenceError.ZeroAmount
    const failed = await transfer(context, sender, INFERENCE_ACCOUNT, args.deposit)
    if (failed !== undefined) return failed
    const id = (await channelCount.get(state)) + 1
    channelCount.set(state, id)
    channels.set(state, id, {
      id, user: sender, provider: args.provider, deposit: args.deposit, redeemed: 0n, head: initialChannelHead(id), inferences: 0, status: ChannelStatus.open, closesAt: 0,
      openedHeight: context.block.height,
    })
    context.emit(ChannelOpened.create({ channel: id, user: sender, provider: args.provider, deposit: args.deposit }))
    return undefined
  },
})

export const topUpChannel = defineCall({
  index: 7,
  name: 'topUpChannel',
  args: k.struct({ channel: k.uint, amount: k.amount }),
  weight: () => TOP_UP_WEIGHT,
  async execute(context, args) {
    const { state, sender } = context
    const channel = await channels.get(state, args.channel)
    if (channel === undefined) return InferenceError.UnknownChannel
    if (!sameAddress(channel.user, sender)) return InferenceError.NotChannelParty
    if (channel.status === ChannelStatus.closed) return InferenceError.ChannelExpired
    if (channel.status === ChannelStatus.closing) return InferenceError.ChannelClosing
    if (args.amount === 0n) return InferenceError.ZeroAmount
    const failed = await transfer(context, sender, INFERENCE_ACCOUNT, args.amount)
    if (failed !== undefined) return failed
    const deposit = channel.deposit + args.amount
    channels.set(state, channel.id, { ...channel, deposit })
    context.emit(ChannelToppedUp.create({ channel: channel.id, amount: args.amount, deposit }))
    return undefined
  },
})

export const channelInferenceKind = k.struct({
  terms: channelTermsKind,
  outputHash: k.hash,
  outputCid: k.hash,
  inputTokens: k.uint,
  outputTokens: k.uint,
})
export type ChannelInference = k.Infer<typeof channelInferenceKind>

export const voucherArgsKind = k.struct({
  channel: k.uint,
  cumulative: k.amount,
  requestHash: k.hash,
  signature: k.bytes(65),
  /** the inferences since the channel's last redeemed one, in order: they chain its head to requestHash */
  inferences: k.list(channelInferenceKind, MAX_VOUCHER_INFERENCES),
})
export type VoucherArgs = k.Infer<typeof voucherArgsKind>

async function redeemOne(context: CallContext, payouts: Payouts, params: InferenceParams, voucher: VoucherArgs): Promise<CallResult> {
  const { state, sender } = context
  const channel = await channels.get(state, voucher.channel)
  if (channel === undefined) return InferenceError.UnknownChannel
  if (!sameAddress(channel.provider, sender)) return InferenceError.WrongProvider
  if (channel.status === ChannelStatus.closed) return InferenceError.ChannelExpired
  if (voucher.cumulative <= channel.redeemed) return InferenceError.StaleVoucher
  if (voucher.cumulative > channel.deposit) return InferenceError.InsufficientChannelBalance
  const signer = voucherSigner({ chainId: context.block.chainId, channel: channel.id, cumulative: voucher.cumulative, requestHash: voucher.requestHash }, voucher.signature)
  if (signer === undefined || !sameAddress(signer, channel.user)) return InferenceError.BadVoucherSignature
  let head = channel.head
  let total = 0n
  for (const inference of voucher.inferences) {
    head = nextChannelHead(head, inference.terms)
    total += inference.terms.price
  }
  if (!bytesEqual(head, voucher.requestHash) || total !== voucher.cumulative - channel.redeemed) return InferenceError.RequestChainMismatch
  let firstRecord = 0
  for (const inference of voucher.inferences) {
    const problem = await termsProblem(state, inference.terms)
    if (problem !== undefined) return problem
    const { terms } = inference
    if (inference.inputTokens < 1 || inference.outputTokens < 1 || inference.outputTokens > terms.maxTokens) return InferenceError.InvalidFulfilment
    const record = await recordInference(context, payouts, params, {
      provider: sender, user: channel.user, source: RecordSource.channel, sourceId: channel.id, terms,
      outputHash: inference.outputHash, outputCid: inference.outputCid, inputTokens: inference.inputTokens, outputTokens: inference.outputTokens, price: terms.price,
    })
    if (firstRecord === 0) firstRecord = record
  }
  const next: Channel = { ...channel, redeemed: voucher.cumulative, head, inferences: channel.inferences + voucher.inferences.length }
  channels.set(state, channel.id, next)
  context.emit(VoucherRedeemed.create({ channel: channel.id, cumulative: voucher.cumulative, amount: total, firstRecord, inferences: voucher.inferences.length }))
  return undefined
}

/**
 * The provider redeems the latest voucher of each of up to 64 channels in one transaction: one
 * signature per channel however many inferences it covers (they are chained under it), a record
 * per inference, and every recipient paid once per call.
 */
export const redeem = defineCall({
  index: 8,
  name: 'redeem',
  args: k.struct({ vouchers: k.list(voucherArgsKind, MAX_REDEEM_VOUCHERS) }),
  weight: ({ vouchers }) => vouchers.reduce((sum, v) => sum + REDEEM_WEIGHT_PER_VOUCHER + v.inferences.reduce((s, i) => s + RECORD_WEIGHT + RECORD_WEIGHT_PER_ADAPTER * i.terms.adapters.length, 0), 0),
  async execute(context, args) {
    const ids = new Set(args.vouchers.map((v) => v.channel))
    if (args.vouchers.length === 0 || ids.size !== args.vouchers.length || args.vouchers.some((v) => v.inferences.length === 0)) return InferenceError.EmptyBatch
    const params = await inferenceParams.get(context.state)
    const payouts = new Payouts()
    for (const voucher of args.vouchers) {
      const failed = await redeemOne(context, payouts, params, voucher)
      if (failed !== undefined) return failed
    }
    await payouts.pay(context)
    return undefined
  },
})

/**
 * The user starts closing: the provider may still redeem for challengeBlocks, then the rest of
 * the deposit goes back to the user (end-of-block hook). The provider closing gives up its claim:
 * the channel closes at once.
 */
export const closeChannel = defineCall({
  index: 9,
  name: 'closeChannel',
  args: k.struct({ channel: k.uint }),
  weight: () => CLOSE_CHANNEL_WEIGHT,
  async execute(context, args) {
    const { state, sender } = context
    const channel = await channels.get(state, args.channel)
    if (channel === undefined) return InferenceError.UnknownChannel
    const byUser = sameAddress(channel.user, sender)
    if (!byUser && !sameAddress(channel.provider, sender)) return InferenceError.NotChannelParty
    if (channel.status === ChannelStatus.closed) return InferenceError.ChannelExpired
    if (byUser) {
      if (channel.status === ChannelStatus.closing) return InferenceError.ChannelClosing
      const params = await inferenceParams.get(state)
      const closesAt = context.block.height + params.challengeBlocks
      channels.set(state, channel.id, { ...channel, status: ChannelStatus.closing, closesAt })
      await scheduleIndex(state, channelClosings, closesAt, channel.id)
      context.emit(ChannelClosingEvent.create({ channel: channel.id, by: sender, closesAt }))
      return undefined
    }
    context.emit(ChannelClosingEvent.create({ channel: channel.id, by: sender, closesAt: context.block.height }))
    await finishChannel(context, channel)
    return undefined
  },
})

/** A drawn checker commits to its verdict on a sampled record (commitReveal.ts: CHECK_COMMIT_DOMAIN, checkScope, itself, a salt, the verdict byte). */
export const commitCheck = defineCall({
  index: 10,
  name: 'commitCheck',
  args: k.struct({ record: k.uint, commitment: k.hash }),
  weight: () => COMMIT_CHECK_WEIGHT,
  async execute(context, args) {
    const { state, sender } = context
    const check = await checks.get(state, args.record)
    if (check === undefined) return InferenceError.UnknownCheck
    if (check.status !== CheckStatus.checking || check.phase !== CommitPhase.commit) return InferenceError.NotCommitPhase
    if (!check.checkers.some((c) => sameAddress(c, sender))) return InferenceError.NotChecker
    if (commitmentBy(check.commitments, sender) !== undefined) return InferenceError.AlreadyCommitted
    if (context.block.height > check.deadline) return InferenceError.DeadlinePassed
    let next = { ...check, commitments: [...check.commitments, { worker: sender, commitment: args.commitment, height: context.block.height }] }
    if (allCommitted(next.commitments, next.checkers)) next = await openReveal(context, next, await inferenceParams.get(state))
    checks.set(state, check.record, next)
    return undefined
  },
})

/** A checker that committed reveals its verdict (0 ok, 1 wrong, 2 unavailable) and salt; the round's last reveal closes it. */
export const revealCheck = defineCall({
  index: 11,
  name: 'revealCheck',
  args: k.struct({ record: k.uint, verdict: k.uint, salt: k.bytes(SALT_BYTES) }),
  weight: () => REVEAL_CHECK_WEIGHT,
  async execute(context, args) {
    const { state, sender } = context
    const check = await checks.get(state, args.record)
    if (check === undefined) return InferenceError.UnknownCheck
    if (check.status !== CheckStatus.checking || check.phase !== CommitPhase.reveal) return InferenceError.NotRevealPhase
    const commitment = commitmentBy(check.commitments, sender)
    if (commitment === undefined || !check.checkers.some((c) => sameAddress(c, sender))) return InferenceError.NotChecker
    if (context.block.height > check.deadline) return InferenceError.DeadlinePassed
    const again = check.votes.some((v) => v.round === check.round && sameAddress(v.worker, sender))
    if (again || args.verdict > Verdict.unavailable || !opens(commitment, CHECK_COMMIT_DOMAIN, checkScope(check), args.salt, verdictPayload(args.verdict))) return InferenceError.BadReveal
    let next = { ...check, votes: [...check.votes, { worker: sender, verdict: args.verdict, round: check.round, height: context.block.height }] }
    if (allRevealed(next)) next = await closeRound(context, next, await inferenceParams.get(state))
    checks.set(state, check.record, next)
    return undefined
  },
})

export const calls = [registerProvider, updateProvider, unbondProvider, withdrawUnbonded, request, fulfil, openChannel, topUpChannel, redeem, closeChannel, commitCheck, revealCheck, createApiKey, revokeApiKey, chargeApiKey]
