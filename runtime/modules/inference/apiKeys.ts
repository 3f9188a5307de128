// Spending-capped API keys: the OpenAI-client path to a provider. The user creates a key on chain
// for one provider, escrowing its cap (only the key's keccak256 is on chain; the key itself is
// the Bearer token the client sends to the provider's paid API). The provider serves requests
// that carry the key and charges them in batches (`chargeApiKey`): each inference is recorded and
// split like any other, priced at the provider's registered prices for its token counts, and the
// key's charges never exceed its cap. Unlike a voucher, the user does not sign each request: the
// cap is what the user risks on the provider's honesty about what it served (re-checks and the
// bond answer for the outputs). Revoking (or the expiry height) stops serving at once and leaves
// the provider challengeBlocks to charge what it served before it saw that; then the hook refunds
// the rest of the cap.
import * as k from '../../codec/schema.ts'
import { defineCall, type ExecutionContext } from '../../module.ts'
import { sameAddress } from '../accounts.ts'
import { payFromModuleAccount, transfer } from '../balances/index.ts'
import { InferenceError } from './errors.ts'
import { ApiKeyCharged, ApiKeyClosed, ApiKeyCreated, ApiKeyRevoked } from './events.ts'
import { inferenceCost } from './pricing.ts'
import { Payouts, recordInference, scheduleIndex, termsProblem } from './records.ts'
import {
  type ApiKey, apiKeyByHash, apiKeyClosings, apiKeyCount, apiKeys, ApiKeyStatus, INFERENCE_ACCOUNT, inferenceTermsFields, MAX_VOUCHER_INFERENCES, params as inferenceParams,
  providers, ProviderStatus, RecordSource,
} from './state.ts'

export const CREATE_API_KEY_WEIGHT = 3_000
export const REVOKE_API_KEY_WEIGHT = 2_000
export const CHARGE_API_KEY_WEIGHT = 5_000
/** per charged inference: its record (as RECORD_WEIGHT in calls.ts) */
const CHARGED_RECORD_WEIGHT = 2_000
const CHARGED_ADAPTER_WEIGHT = 300

/** One inference served under a key: its terms (what was asked), output and token counts; priced by the runtime. */
export const keyInferenceKind = k.struct({
  terms: k.struct(inferenceTermsFields),
  outputHash: k.hash,
  outputCid: k.hash,
  inputTokens: k.uint,
  outputTokens: k.uint,
})
export type KeyInference = k.Infer<typeof keyInferenceKind>

/** Whether a key may be served at `height`: active and not expired. */
export function keyServable(key: ApiKey, height: number): boolean {
  return key.status === ApiKeyStatus.active && (key.expiresAt === 0 || height < key.expiresAt)
}

export const createApiKey = defineCall({
  index: 12,
  name: 'createApiKey',
  args: k.struct({ provider: k.address, keyHash: k.hash, cap: k.amount, expiresAt: k.uint }),
  weight: () => CREATE_API_KEY_WEIGHT,
  async execute(context, args) {
    const { state, sender } = context
    const provider = await providers.get(state, args.provider)
    if (provider === undefined) return InferenceError.UnknownProvider
    if (provider.status !== ProviderStatus.active) return InferenceError.ProviderInactive
    if (args.cap === 0n) return InferenceError.ZeroAmount
    if (args.expiresAt !== 0 && args.expiresAt <= context.block.height) return InferenceError.InvalidExpiry
    if ((await apiKeyByHash.get(state, args.keyHash)) !== undefined) return InferenceError.ApiKeyExists
    const failed = await transfer(context, sender, INFERENCE_ACCOUNT, args.cap)
    if (failed !== undefined) return failed
    const id = (await apiKeyCount.get(state)) + 1
    apiKeyCount.set(state, id)
    let closesAt = 0
    if (args.expiresAt !== 0) {
      closesAt = args.expiresAt + (await inferenceParams.get(state)).challengeBlocks
      await scheduleIndex(state, apiKeyClosings, closesAt, id)
    }
    apiKeys.set(state, id, {
      id, user: sender, provider: args.provider, keyHash: args.keyHash, cap: args.cap, spent: 0n, inferences: 0, expiresAt: args.expiresAt, status: ApiKeyStatus.active, closesAt,
      createdHeight: context.block.height,
    })
    apiKeyByHash.set(state, args.keyHash, id)
    context.emit(ApiKeyCreated.create({ key: id, user: sender, provider: args.provider, cap: args.cap, expiresAt: args.expiresAt }))
    return undefined
  },
})

/** The user revokes a key: the provider stops serving it and may charge for challengeBlocks more, then the rest is refunded. */
export const revokeApiKey = defineCall({
  index: 13,
  name: 'revokeApiKey',
  args: k.struct({ key: k.uint }),
  weight: () => REVOKE_API_KEY_WEIGHT,
  async execute(context, args) {
    const { state, sender } = context
    const key = await apiKeys.get(state, args.key)
    if (key === undefined) return InferenceError.UnknownApiKey
    if (!sameAddress(key.user, sender)) return InferenceError.NotKeyOwner
    if (key.status !== ApiKeyStatus.active) return InferenceError.ApiKeyClosed
    const params = await inferenceParams.get(state)
    const soon = context.block.height + params.challengeBlocks
    const closesAt = key.closesAt === 0 || soon < key.closesAt ? soon : key.closesAt
    if (closesAt !== key.closesAt) await scheduleIndex(state, apiKeyClosings, closesAt, key.id)
    apiKeys.set(state, key.id, { ...key, status: ApiKeyStatus.closing, closesAt })
    context.emit(ApiKeyRevoked.create({ key: key.id, closesAt }))
    return undefined
  },
})

/**
 * The key's provider charges it for inferences it served under it (1 to 1024), each a record; in
 * all at most what is left of the cap. `first` is the ordinal of the first of them among the key's
 * charged inferences (its `inferences` + 1): a charge sent again after it was included is refused
 * (StaleCharge), so a retry never charges twice.
 */
export const chargeApiKey = defineCall({
  index: 14,
  name: 'chargeApiKey',
  args: k.struct({ key: k.uint, first: k.uint, inferences: k.list(keyInferenceKind, MAX_VOUCHER_INFERENCES) }),
  weight: ({ inferences }) => CHARGE_API_KEY_WEIGHT + inferences.reduce((sum, i) => sum + CHARGED_RECORD_WEIGHT + CHARGED_ADAPTER_WEIGHT * i.terms.adapters.length, 0),
  async execute(context, args) {
    const { state, sender } = context
    if (args.inferences.length === 0) return InferenceError.EmptyBatch
    const key = await apiKeys.get(state, args.key)
    if (key === undefined) return InferenceError.UnknownApiKey
    if (!sameAddress(key.provider, sender)) return InferenceError.WrongProvider
    if (key.status === ApiKeyStatus.closed) return InferenceError.ApiKeyClosed
    if (args.first !== key.inferences + 1) return InferenceError.StaleCharge
    const provider = await providers.get(state, sender)
    if (provider === undefined) return InferenceError.UnknownProvider
    const prices = args.inferences.map((i) => inferenceCost(provider, i.inputTokens, i.outputTokens))
    const total = prices.reduce((sum, price) => sum + price, 0n)
    if (total > key.cap - key.spent) return InferenceError.CapExceeded
    const params = await inferenceParams.get(state)
    const payouts = new Payouts()
    let firstRecord = 0
    for (const [i, inference] of args.inferences.entries()) {
      const { terms } = inference
      if (!provider.models.includes(terms.base)) return InferenceError.ModelNotServed
      const problem = await termsProblem(state, terms)
      if (problem !== undefined) return problem
      if (inference.inputTokens < 1 || inference.outputTokens < 1 || inference.outputTokens > terms.maxTokens) return InferenceError.InvalidFulfilment
      const record = await recordInference(context, payouts, params, {
        provider: sender, user: key.user, source: RecordSource.apiKey, sourceId: key.id, terms,
        outputHash: inference.outputHash, outputCid: inference.outputCid, inputTokens: inference.inputTokens, outputTokens: inference.outputTokens, price: prices[i] ?? 0n,
      })
      if (firstRecord === 0) firstRecord = record
    }
    const spent = key.spent + total
    apiKeys.set(state, key.id, { ...key, spent, inferences: key.inferences + args.inferences.length })
    await payouts.pay(context)
    context.emit(ApiKeyCharged.create({ key: key.id, amount: total, spent, firstRecord, inferences: args.inferences.length }))
    return undefined
  },
})

/** The hook's part: the keys whose closing is due at this height get the rest of their cap back. */
export async function closeDueApiKeys(context: ExecutionContext): Promise<void> {
  const { state } = context
  const height = context.block.height
  const due = await apiKeyClosings.get(state, height)
  if (due === undefined) return
  apiKeyClosings.delete(state, height)
  for (const id of due) {
    const key = await apiKeys.get(state, id)
    if (key === undefined || key.status === ApiKeyStatus.closed || key.closesAt !== height) continue
    const refunded = key.cap - key.spent
    apiKeys.set(state, id, { ...key, status: ApiKeyStatus.closed })
    await payFromModuleAccount(context, INFERENCE_ACCOUNT, key.user, refunded, 'inference')
    context.emit(ApiKeyClosed.create({ key: id, user: key.user, refunded, spent: key.spent }))
  }
}
