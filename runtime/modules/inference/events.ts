import * as k from '../../codec/schema.ts'
import { defineEvent } from '../../module.ts'
import { ModuleIndex } from '../indices.ts'
import { feeSplitKind, MAX_ENDPOINT_CHARS, MAX_PROVIDER_MODELS } from './state.ts'

const M = ModuleIndex.inference

/** why a provider's bond was slashed */
export const ProviderSlashReason = { missedDeadline: 0 } as const

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

export const events = [
  ProviderRegistered, ProviderUpdated, ProviderUnbonded, ProviderWithdrawn, ProviderSlashed, RequestCreated, RequestFulfilled, RequestExpired,
  ChannelOpened, ChannelToppedUp, VoucherRedeemed, ChannelClosing, ChannelClosed, InferenceRecorded,
]
