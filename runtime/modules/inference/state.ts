// inference storage: parameters, providers, on-chain requests, payment channels, inference records
// and the height indexes the end-of-block hook reads (request deadlines, channel closings) instead
// of scanning. Item indices are permanent. Keys are fixed-width big-endian.
import { commitmentKind } from '../../commitReveal.ts'
import * as k from '../../codec/schema.ts'
import { defineParams } from '../../params.ts'
import { bytesKey, storageMap, storageValue } from '../../storage.ts'
import { moduleAccount } from '../accounts.ts'
import { ModuleIndex } from '../indices.ts'
import { u64Key } from '../../storage.ts'

/**
 * Holds every provider bond (bonded and unbonding), every open request's escrow, every channel's
 * unredeemed deposit and every record's contributors' pool until attribution pays it out.
 */
export const INFERENCE_ACCOUNT = moduleAccount('inference')

export const StorageItem = {
  params: 0,
  provider: 1,
  requestCount: 2,
  request: 3,
  channelCount: 4,
  channel: 5,
  recordCount: 6,
  record: 7,
  requestDeadline: 8,
  channelClosing: 9,
  check: 10,
  checkDeadline: 11,
  checkCursor: 12,
  apiKeyCount: 13,
  apiKey: 14,
  apiKeyByHash: 15,
  apiKeyClosing: 16,
} as const

export const MAX_ENDPOINT_CHARS = 256
/** base models one provider serves */
export const MAX_PROVIDER_MODELS = 32
/** adapters merged in one request (the serving engine's MAX_ADAPTERS_PER_REQUEST) */
export const MAX_REQUEST_ADAPTERS = 8
/** an on-chain request's prompt, in UTF-16 code units (the codec's string bound) */
export const MAX_PROMPT_CHARS = 16 * 1024
/** weight of an adapter in a merge, in thousandths: 1..1000 */
export const MAX_ADAPTER_WEIGHT_MILLI = 1_000
/** vouchers (channels) in one redeem call, and inferences under one voucher */
export const MAX_REDEEM_VOUCHERS = 64
export const MAX_VOUCHER_INFERENCES = 1_024
/** tokens are priced per this many */
export const PRICE_UNIT_TOKENS = 1_000n

export const inferenceParamsKind = k.struct({
  /** base units a provider must keep bonded to be active (take requests, open channels) */
  minProviderBond: k.amount,
  /** blocks between unbond and the release of the amount (slashable meanwhile) */
  unbondingBlocks: k.uint,
  /** blocks a provider has to fulfil an on-chain request */
  requestBlocks: k.uint,
  /** blocks after a channel's close during which the provider may still redeem vouchers */
  challengeBlocks: k.uint,
  /** basis points of a provider's bond (bonded, then unbonding) lost when it misses a request's deadline */
  missedDeadlineSlashBps: k.uint,
  /** the fee split, in basis points summing to 10,000: provider, model owner (adapter publishers), data contributors' pool, treasury */
  providerShareBps: k.uint,
  modelOwnerShareBps: k.uint,
  contributorsShareBps: k.uint,
  treasuryShareBps: k.uint,
  /** share of inference records re-checked by drawn validators, in basis points */
  checkSampleRateBps: k.uint,
  /** validators drawn to re-check a sampled record */
  checkers: k.uint,
  /** validators drawn besides them when a re-check finds the output wrong (the dispute) */
  disputeCheckers: k.uint,
  /** blocks of each of the commit and reveal phases of a re-check round */
  checkBlocks: k.uint,
  /** bps of a provider's bond (at least the record's price) taken for an output proven wrong; the price goes back to the user */
  wrongOutputSlashBps: k.uint,
  /** bps of a checker's validator stake burnt for a check on the losing side or never revealed */
  checkerSlashBps: k.uint,
  /** bps of a checker's validator stake burnt for a missed commit */
  checkerMissedSlashBps: k.uint,
})
export type InferenceParams = k.Infer<typeof inferenceParamsKind>

const OPEN = 10n ** 18n

/** 6 s blocks assumed for the durations in the comments */
export const DEFAULT_INFERENCE_PARAMS: InferenceParams = Object.freeze({
  minProviderBond: 1_000n * OPEN,
  unbondingBlocks: 14_400, // 1 day
  requestBlocks: 100, // 10 minutes
  challengeBlocks: 600, // 1 hour
  missedDeadlineSlashBps: 100, // 1 %
  providerShareBps: 7_000,
  modelOwnerShareBps: 1_500,
  contributorsShareBps: 1_000,
  treasuryShareBps: 500,
  checkSampleRateBps: 300, // 3 %: the network re-checks at under 1/4 of the serving CPU (bench/market.ts)
  checkers: 2,
  disputeCheckers: 3,
  checkBlocks: 50, // 5 minutes
  wrongOutputSlashBps: 1_000,
  checkerSlashBps: 500,
  checkerMissedSlashBps: 10,
})

/** The governable inference parameters (runtime/params.ts): bonds, deadlines, slashing and the fee split. */
export const inferenceParams = defineParams(
  { index: ModuleIndex.inference, name: 'inference' },
  StorageItem.params,
  inferenceParamsKind,
  DEFAULT_INFERENCE_PARAMS,
  {
    minProviderBond: { type: 'amount', min: 1, description: 'base units a provider keeps bonded to take requests and channels' },
    unbondingBlocks: { type: 'blocks', min: 1, description: 'blocks between a provider unbond and the release (slashable meanwhile)' },
    requestBlocks: { type: 'blocks', min: 1, description: 'blocks a provider has to fulfil an on-chain request' },
    challengeBlocks: { type: 'blocks', min: 1, description: "blocks after a user closes a channel during which the provider may still redeem" },
    missedDeadlineSlashBps: { type: 'bps', description: "share of a provider's bond lost when it misses a request's deadline" },
    providerShareBps: { type: 'bps', description: "the provider's share of each inference fee" },
    modelOwnerShareBps: { type: 'bps', description: "the model owners' share (adapter publishers by weight, else the base model's owner)" },
    contributorsShareBps: { type: 'bps', description: "the data contributors' share, held per record for attribution" },
    treasuryShareBps: { type: 'bps', description: "the treasury's share" },
    checkSampleRateBps: { type: 'bps', description: 'share of inference records re-checked by drawn validators' },
    checkers: { type: 'integer', min: 1, max: 16, description: 'validators drawn to re-check a sampled record' },
    disputeCheckers: { type: 'integer', min: 1, max: 16, description: 'validators drawn besides them when a re-check finds the output wrong' },
    checkBlocks: { type: 'blocks', min: 1, description: 'blocks of each of the commit and reveal phases of a re-check round' },
    wrongOutputSlashBps: { type: 'bps', description: "share of a provider's bond taken for an output proven wrong (at least the price, refunded to the user)" },
    checkerSlashBps: { type: 'bps', description: 'stake burnt for a re-check on the losing side or never revealed' },
    checkerMissedSlashBps: { type: 'bps', description: 'stake burnt for a missed re-check commit' },
  },
  (params) => {
    const shares = params.providerShareBps + params.modelOwnerShareBps + params.contributorsShareBps + params.treasuryShareBps
    return shares === 10_000 ? undefined : `the four share parameters must sum to 10000 (they sum to ${shares})`
  },
)

/** Why inference parameters are unusable, or undefined; genesis and governance check this. */
export function inferenceParamsProblem(params: InferenceParams): string | undefined {
  return inferenceParams.problem(params)?.message
}

export const ProviderStatus = { active: 0, inactive: 1 } as const
export const PROVIDER_STATUS_NAMES = Object.keys(ProviderStatus) as Array<keyof typeof ProviderStatus>

/** What a provider offers: registration and update arguments. Prices in base units per 1,000 tokens. */
export const offerFields = {
  endpoint: k.string(MAX_ENDPOINT_CHARS),
  priceIn: k.amount,
  priceOut: k.amount,
  /** base model ids it serves, with every published adapter of each */
  models: k.list(k.uint, MAX_PROVIDER_MODELS),
  /** on-chain requests it takes at once (open, unfulfilled): 1..1000000 */
  capacity: k.uint,
}
export const offerKind = k.struct(offerFields)
export type Offer = k.Infer<typeof offerKind>

export const providerKind = k.struct({
  operator: k.address,
  ...offerFields,
  /** base units bonded in the module account */
  bond: k.amount,
  /** base units leaving: released at unbondingUntil, slashable until then */
  unbonding: k.amount,
  unbondingUntil: k.uint,
  /** on-chain requests addressed to it and not yet fulfilled or expired */
  openRequests: k.uint,
  status: k.uint,
  /** base units slashed over its life */
  slashedTotal: k.amount,
  served: k.uint,
  registeredHeight: k.uint,
})
export type Provider = k.Infer<typeof providerKind>

export const adapterUseKind = k.struct({ id: k.uint, weightMilli: k.uint })
export type AdapterUse = k.Infer<typeof adapterUseKind>

/** The serving engine's SamplingParams in integers: temperature and top-p in thousandths (0 = greedy; topP 1000 = off), topK 0 = off. */
export const samplingKind = k.struct({ temperatureMilli: k.uint, topK: k.uint, topPMilli: k.uint, seed: k.uint })
export type Sampling = k.Infer<typeof samplingKind>

/** What a user asks for: an on-chain request's terms, and what a channel voucher's request digest covers. */
export const inferenceTermsFields = {
  /** base model id */
  base: k.uint,
  /** published model versions of that base, merged with their weights; [] = the base alone */
  adapters: k.list(adapterUseKind, MAX_REQUEST_ADAPTERS),
  promptHash: k.hash,
  promptTokens: k.uint,
  maxTokens: k.uint,
  sampling: samplingKind,
}

export const RequestStatus = { open: 0, fulfilled: 1, expired: 2 } as const
export const REQUEST_STATUS_NAMES = Object.keys(RequestStatus) as Array<keyof typeof RequestStatus>

export const requestKind = k.struct({
  id: k.uint,
  user: k.address,
  provider: k.address,
  ...inferenceTermsFields,
  /** the prompt's UTF-8 text (keccak256 = promptHash) */
  prompt: k.string(MAX_PROMPT_CHARS),
  /** base units held until fulfilment (the fee paid, the rest refunded) or expiry (all refunded) */
  escrow: k.amount,
  /** last height at which the provider may fulfil */
  deadline: k.uint,
  status: k.uint,
  record: k.optional(k.uint),
  createdHeight: k.uint,
})
export type InferenceRequest = k.Infer<typeof requestKind>

export const ChannelStatus = { open: 0, closing: 1, closed: 2 } as const
export const CHANNEL_STATUS_NAMES = Object.keys(ChannelStatus) as Array<keyof typeof ChannelStatus>

export const channelKind = k.struct({
  id: k.uint,
  user: k.address,
  provider: k.address,
  /** base units paid in (open + top-ups) */
  deposit: k.amount,
  /** the highest cumulative voucher amount redeemed */
  redeemed: k.amount,
  /** the request hash chained over every redeemed inference (voucher.ts): the next voucher extends it */
  head: k.hash,
  /** inferences redeemed */
  inferences: k.uint,
  status: k.uint,
  /** closing: the last height at which the provider may redeem */
  closesAt: k.uint,
  openedHeight: k.uint,
})
export type Channel = k.Infer<typeof channelKind>

export const ApiKeyStatus = { active: 0, closing: 1, closed: 2 } as const
export const API_KEY_STATUS_NAMES = Object.keys(ApiKeyStatus) as Array<keyof typeof ApiKeyStatus>

/**
 * A spending-capped API key for one provider (apiKeys.ts): the user escrows `cap`; the provider
 * charges it for what it served under the key (its registered prices), at most `cap` in all; the
 * rest goes back to the user when the key closes (revoked or expired, after challengeBlocks). On
 * chain only the key's hash: the key itself is the Bearer token an OpenAI client sends.
 */
export const apiKeyKind = k.struct({
  id: k.uint,
  user: k.address,
  provider: k.address,
  /** keccak256 of the key's UTF-8 text */
  keyHash: k.hash,
  /** base units escrowed: the most the provider can ever charge */
  cap: k.amount,
  /** base units charged */
  spent: k.amount,
  /** inferences charged */
  inferences: k.uint,
  /** the first height at which the key is no longer served (0: no expiry) */
  expiresAt: k.uint,
  status: k.uint,
  /** the height the hook closes it at (the provider may charge until then; 0: not scheduled) */
  closesAt: k.uint,
  createdHeight: k.uint,
})
export type ApiKey = k.Infer<typeof apiKeyKind>

export const RecordSource = { request: 0, channel: 1, apiKey: 2 } as const

/** Who was paid what out of a record's fee. The four parts sum to the fee exactly. */
export const feeSplitKind = k.struct({ provider: k.amount, modelOwner: k.amount, contributors: k.amount, treasury: k.amount })
export type FeeSplit = k.Infer<typeof feeSplitKind>

export const ownerPaymentKind = k.struct({ owner: k.address, amount: k.amount })

/** settled: paid (and standing unless a re-check proves it wrong); disproved: a re-check proved the output wrong, the price went back to the user */
export const RecordStatus = { settled: 0, disproved: 1 } as const
export const RECORD_STATUS_NAMES = Object.keys(RecordStatus) as Array<keyof typeof RecordStatus>

/**
 * One paid inference. What attribution (issue 18) reads: the model and its adapters (their model
 * versions carry the datanet lineage), the output's hash and content id (the bytes in the blob
 * store), and the contributors' pool it may pay out (`contributorsPending`, held in the module
 * account until attribution takes it with `takeContributorsPool`).
 */
export const recordKind = k.struct({
  id: k.uint,
  provider: k.address,
  user: k.address,
  /** 0 on-chain request, 1 channel, 2 API key */
  source: k.uint,
  /** the request, channel or API key id */
  sourceId: k.uint,
  ...inferenceTermsFields,
  outputHash: k.hash,
  /** content id of the output's blob (node/blobs) */
  outputCid: k.hash,
  inputTokens: k.uint,
  outputTokens: k.uint,
  /** the fee paid, split below */
  price: k.amount,
  split: feeSplitKind,
  /** the model-owner part by owner: adapter publishers by adapter weight, or the base model's owner */
  owners: k.list(ownerPaymentKind, MAX_REQUEST_ADAPTERS),
  /** of split.contributors, what attribution has not paid out yet */
  contributorsPending: k.amount,
  status: k.uint,
  height: k.uint,
})
export type InferenceRecord = k.Infer<typeof recordKind>

/** validators on one re-check (checkers of both rounds, the provider excluded) */
export const MAX_CHECKERS = 64

/** What a re-checker found: the output re-scored as served, not as served, or not obtainable from the provider by the deadline. */
export const Verdict = { ok: 0, wrong: 1, unavailable: 2 } as const
export const VERDICT_NAMES = Object.keys(Verdict) as Array<keyof typeof Verdict>

/**
 * checking: a round's checkers commit, then reveal; drawing: the first round found fault, the
 * dispute's checkers are drawn RANDOMNESS_LOOKAHEAD blocks later; upheld / disproved: settled.
 */
export const CheckStatus = { checking: 0, drawing: 1, upheld: 2, disproved: 3 } as const
export const CHECK_STATUS_NAMES = Object.keys(CheckStatus) as Array<keyof typeof CheckStatus>

export const checkVoteKind = k.struct({ worker: k.address, verdict: k.uint, round: k.uint, height: k.uint })
export type CheckVote = k.Infer<typeof checkVoteKind>

/** The re-check of a sampled record (checks.ts). */
export const checkKind = k.struct({
  record: k.uint,
  status: k.uint,
  /** 0 the sampled check, 1 the dispute */
  round: k.uint,
  /** commit or reveal (runtime/commitReveal.ts) */
  phase: k.uint,
  /** this round's checkers */
  checkers: k.list(k.address, MAX_CHECKERS),
  /** never drawn (again) for this record: the provider and every earlier checker */
  excluded: k.list(k.address, MAX_CHECKERS),
  commitments: k.list(commitmentKind, MAX_CHECKERS),
  /** the revealed verdicts of both rounds */
  votes: k.list(checkVoteKind, MAX_CHECKERS),
  /** the height the hook acts at for the current phase */
  deadline: k.uint,
  openedHeight: k.uint,
  finalHeight: k.uint,
})
export type Check = k.Infer<typeof checkKind>

const M = ModuleIndex.inference
export const params = inferenceParams.storage
/** operator address -> provider */
export const providers = storageMap(M, StorageItem.provider, bytesKey, providerKind)
export const requestCount = storageValue(M, StorageItem.requestCount, k.uint, 0)
/** id (from 1) -> on-chain request */
export const requests = storageMap(M, StorageItem.request, u64Key, requestKind)
export const channelCount = storageValue(M, StorageItem.channelCount, k.uint, 0)
/** id (from 1) -> payment channel */
export const channels = storageMap(M, StorageItem.channel, u64Key, channelKind)
export const recordCount = storageValue(M, StorageItem.recordCount, k.uint, 0)
/** id (from 1) -> inference record */
export const records = storageMap(M, StorageItem.record, u64Key, recordKind)
/** height -> requests whose deadline it is (stale entries skipped: the request moved on) */
export const requestDeadlines = storageMap(M, StorageItem.requestDeadline, u64Key, k.list(k.uint, 1_000_000))
/** height -> channels whose challenge period ends there */
export const channelClosings = storageMap(M, StorageItem.channelClosing, u64Key, k.list(k.uint, 1_000_000))
/** record id -> its re-check (only sampled records have one) */
export const checks = storageMap(M, StorageItem.check, u64Key, checkKind)
/** height -> records whose re-check phase ends there (stale entries skipped) */
export const checkDeadlines = storageMap(M, StorageItem.checkDeadline, u64Key, k.list(k.uint, 1_000_000))
/** the last record whose sampling was drawn */
export const checkCursor = storageValue(M, StorageItem.checkCursor, k.uint, 0)
export const apiKeyCount = storageValue(M, StorageItem.apiKeyCount, k.uint, 0)
/** id (from 1) -> API key */
export const apiKeys = storageMap(M, StorageItem.apiKey, u64Key, apiKeyKind)
/** keccak256 of a key -> its id (a key's hash is used once) */
export const apiKeyByHash = storageMap(M, StorageItem.apiKeyByHash, bytesKey, k.uint)
/** height -> API keys whose closing is due there (stale entries skipped) */
export const apiKeyClosings = storageMap(M, StorageItem.apiKeyClosing, u64Key, k.list(k.uint, 1_000_000))
