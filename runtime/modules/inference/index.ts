// inference (the inference market): providers with a bond held by this module (unbonding delay,
// slashed by this module; not validator stake), their endpoint, prices per 1,000 tokens, models
// and capacity; on-chain requests with escrow, deadline and refund; payment channels redeemed
// with cumulative vouchers in batches (voucher.ts); an inference record per paid inference with
// its exact fee split (pricing.ts) among provider, model owners, the contributors' pool (held per
// record for attribution) and the treasury; spending-capped API keys for OpenAI clients
// (apiKeys.ts).
import type { RuntimeModule } from '../../module.ts'
import { ModuleIndex } from '../indices.ts'
import { calls } from './calls.ts'
import { InferenceError } from './errors.ts'
import { events } from './events.ts'
import { applyInferenceGenesis, type InferenceGenesis } from './genesis.ts'
import { inferenceEndBlock } from './hooks.ts'
import { inferenceParams } from './state.ts'

export const inferenceModule: RuntimeModule = {
  index: ModuleIndex.inference,
  name: 'inference',
  calls,
  events,
  errors: InferenceError.list,
  endBlock: inferenceEndBlock,
  params: inferenceParams,
  genesis: { apply: (state, config: InferenceGenesis | undefined) => (config === undefined ? undefined : applyInferenceGenesis(state, config)) },
}

export { channelInferenceKind, requestArgsKind, voucherArgsKind, type ChannelInference, type VoucherArgs } from './calls.ts'
export { ProviderSlashReason } from './events.ts'
export { applyInferenceGenesis, inferenceGenesisKind, type InferenceGenesis } from './genesis.ts'
export { inferenceCost, splitFee } from './pricing.ts'
export { takeContributorsPool } from './records.ts'
export { CHECK_COMMIT_DOMAIN, checkScope, verdictPayload } from './checks.ts'
export {
  CHANNEL_STATUS_NAMES, ChannelStatus, CHECK_STATUS_NAMES, checks, CheckStatus, RECORD_STATUS_NAMES, RecordStatus, VERDICT_NAMES, Verdict, type Check, checkKind, checkDeadlines, checkCursor, channelCount, channels, DEFAULT_INFERENCE_PARAMS, INFERENCE_ACCOUNT, inferenceParamsProblem, PROVIDER_STATUS_NAMES,
  ProviderStatus, providers, inferenceParams, recordCount, records, RecordSource, REQUEST_STATUS_NAMES, requestCount, requests, RequestStatus,
  type Channel, type InferenceParams, type InferenceRecord, type InferenceRequest, type Provider,
} from './state.ts'
export { channelTermsKind, initialChannelHead, nextChannelHead, signVoucher, voucherDigest, type ChannelTerms } from './voucher.ts'
export { commitCheck, fulfil, redeem, revealCheck } from './calls.ts'
export { chargeApiKey, createApiKey, keyInferenceKind, keyServable, revokeApiKey, type KeyInference } from './apiKeys.ts'
export { API_KEY_STATUS_NAMES, apiKeyByHash, apiKeyKind, apiKeyCount, apiKeys, ApiKeyStatus, type ApiKey } from './state.ts'
export { CheckOpened, CheckRevealOpened, RequestCreated } from './events.ts'
export { channelKind, MAX_REDEEM_VOUCHERS, MAX_REQUEST_ADAPTERS, MAX_VOUCHER_INFERENCES, providerKind, recordKind, requestKind } from './state.ts'
export { voucherSigner } from './voucher.ts'
