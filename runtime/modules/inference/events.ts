import * as k from '../../codec/schema.ts'
import { defineEvent } from '../../module.ts'
import { ModuleIndex } from '../indices.ts'
import { feeSplitKind, MAX_CHECKERS, MAX_ENDPOINT_CHARS, MAX_PROVIDER_MODELS } from './state.ts'

const M = ModuleIndex.inference

/** why a provider's bond was slashed */
export const ProviderSlashReason = { missedDeadline: 0, wrongOutput: 1 } as const
/** why a re-checker's validator stake was burnt */
export const CheckerSlashReason = { missedCommit: 0, wrongCheck: 1, unrevealed: 2 } as const

export const ProviderRegistered = defineEvent(M, 0, 'ProviderRegistered', k.struct({ provider: k.address, bond: k.amount, endpoint: k.string(MAX_ENDPOINT_CHARS), priceIn: k.amount, priceOut: k.amount, models: k.list(k.uint, MAX_PROVIDER_MODELS), capacity: k.uint }))
export const ProviderUpdated = defineEvent(M, 1, 'ProviderUpdated', k.struct({ provider: k.address, bond: k.amount, endpoint: k.string(MAX_ENDPOINT_CHARS), priceIn: k.amount, priceOut: k.amount, models: k.list(k.uint, MAX_PROVIDER_MODELS), capacity: k.uint, status: k.uint }))
export const ProviderUnbonded = defineEvent(M, 2, 'ProviderUnbonded', k.struct({ provider: k.address, amount: k.amount, releaseHeight: k.uint, status: k.uint }))
export const ProviderWithdrawn = defineEvent(M, 3, 'ProviderWithdrawn', k.struct({ provider: k.address, amount: k.amount }))
/** `amount` moved from the bond (then the unbonding part) to the treasury */
export const ProviderSlashed = defineEvent(M, 4, 'ProviderSlashed', k.struct({ provider: k.address, amount: k.amount, reason: k.uint, subject: k.uint }))
/** a user's on-chain request: the provider's node serves it and fulfils before `deadline` */
export const RequestCreated = defineEvent(M, 5, 'RequestCreated', k.struct({ request: k.uint, user: k.address, provider: k.address, base: k.uint, escrow: k.amount, deadline: k.uint }))
export const RequestFulfilled = defineEvent(M, 6, 'RequestFulfilled', k.struct({ request: k.uint, record: k.uint, price: k.amount, refunded: k.amount }))
/** the deadline passed unfulfilled: the escrow went back to the user and the provider was slashed */
export const RequestExpired = defineEvent(M, 7, 'RequestExpired', k.struct({ request: k.uint, user: k.address, refunded: k.amount, slashed: k.amount }))
export const ChannelOpened = defineEvent(M, 8, 'ChannelOpened', k.struct({ channel: k.uint, user: k.address, provider: k.address, deposit: k.amount }))
export const ChannelToppedUp = defineEvent(M, 9, 'ChannelToppedUp', k.struct({ channel: k.uint, amount: k.amount, deposit: k.amount }))
/** a voucher redeemed: `amount` (the increment) paid out over `inferences` new records from `firstRecord` */
export const VoucherRedeemed = defineEvent(M, 10, 'VoucherRedeemed', k.struct({ channel: k.uint, cumulative: k.amount, amount: k.amount, firstRecord: k.uint, inferences: k.uint }))
export const ChannelClosing = defineEvent(M, 11, 'ChannelClosing', k.struct({ channel: k.uint, by: k.address, closesAt: k.uint }))
export const ChannelClosed = defineEvent(M, 12, 'ChannelClosed', k.struct({ channel: k.uint, user: k.address, refunded: k.amount, redeemed: k.amount }))
/** a paid inference and who got what of its price (the parts sum to it exactly) */
export const InferenceRecorded = defineEvent(M, 13, 'InferenceRecorded', k.struct({ record: k.uint, provider: k.address, user: k.address, base: k.uint, outputHash: k.hash, outputCid: k.hash, price: k.amount, split: feeSplitKind }))

/** a sampled record's re-check round: the checkers re-score the output (node/serving/verify.ts), commit, then reveal */
export const CheckOpened = defineEvent(M, 14, 'CheckOpened', k.struct({ record: k.uint, round: k.uint, checkers: k.list(k.address, MAX_CHECKERS), commitDeadline: k.uint }))
export const CheckRevealOpened = defineEvent(M, 15, 'CheckRevealOpened', k.struct({ record: k.uint, round: k.uint, revealDeadline: k.uint }))
/** the first round found fault: the dispute's checkers are drawn at `drawHeight` (a mix nobody knew at the trigger) */
export const CheckDisputed = defineEvent(M, 16, 'CheckDisputed', k.struct({ record: k.uint, drawHeight: k.uint }))
/** the votes counted: `upheld` the output stands, otherwise it was proven wrong (RecordDisproved) */
export const CheckSettled = defineEvent(M, 17, 'CheckSettled', k.struct({ record: k.uint, upheld: k.bool, votesOk: k.uint, votesAgainst: k.uint }))
/** an output proven wrong: `slashed` taken from the provider's bond, `refunded` of it (the price) to the user, the rest to the treasury */
export const RecordDisproved = defineEvent(M, 18, 'RecordDisproved', k.struct({ record: k.uint, provider: k.address, user: k.address, refunded: k.amount, slashed: k.amount }))
export const CheckerSlashed = defineEvent(M, 19, 'CheckerSlashed', k.struct({ record: k.uint, checker: k.address, reason: k.uint, slashBps: k.uint }))

/** an API key for `provider` with `cap` escrowed (only its hash is on chain) */
export const ApiKeyCreated = defineEvent(M, 20, 'ApiKeyCreated', k.struct({ key: k.uint, user: k.address, provider: k.address, cap: k.amount, expiresAt: k.uint }))
/** the provider charged the key for `inferences` inferences (records from `firstRecord`) */
export const ApiKeyCharged = defineEvent(M, 21, 'ApiKeyCharged', k.struct({ key: k.uint, amount: k.amount, spent: k.amount, firstRecord: k.uint, inferences: k.uint }))
/** the user revoked the key: not served from now, chargeable until `closesAt` */
export const ApiKeyRevoked = defineEvent(M, 22, 'ApiKeyRevoked', k.struct({ key: k.uint, closesAt: k.uint }))
export const ApiKeyClosed = defineEvent(M, 23, 'ApiKeyClosed', k.struct({ key: k.uint, user: k.address, refunded: k.amount, spent: k.amount }))

export const events = [
  ProviderRegistered, ProviderUpdated, ProviderUnbonded, ProviderWithdrawn, ProviderSlashed, RequestCreated, RequestFulfilled, RequestExpired,
  ChannelOpened, ChannelToppedUp, VoucherRedeemed, ChannelClosing, ChannelClosed, InferenceRecorded, CheckOpened, CheckRevealOpened, CheckDisputed, CheckSettled,
  RecordDisproved, CheckerSlashed, ApiKeyCreated, ApiKeyCharged, ApiKeyRevoked, ApiKeyClosed,
]
