// openledger_* methods for the inference market (reads of the head state):
//
//   getProvider(address) / listProviders(count?, after?)     providers: bond, offer, status
//   getInferenceRequest(id)                                  an on-chain request and its record id
//   getInferenceRecord(id) / listInferenceRecords(start?, count?)   paid inferences, newest first,
//                                                            with the fee split
//   getChannel(id)                                           a payment channel: deposit, redeemed,
//                                                            the request chain's head, status
//   getInferenceParams()                                     bonds, deadlines, the split's shares
//   settleVouchers()                 (unsafe)                this node's provider redeems its accepted
//                                                            channel vouchers now (provider settle)
//   getInferenceCheck(record)                                a sampled record's re-check: round,
//                                                            checkers, revealed verdicts, status
//   getApiKey(id)                                            a spending-capped API key: cap, spent,
//                                                            left, expiry, status (its hash only)
import { toJsonOf } from '../../runtime/codec/schema.ts'
import {
  type ApiKey, API_KEY_STATUS_NAMES, apiKeyKind, apiKeys, type Channel, CHANNEL_STATUS_NAMES, channelKind, channels, type Check, checkKind, CHECK_STATUS_NAMES, checks, inferenceParams, type InferenceRecord, type InferenceRequest, type Provider,
  PROVIDER_STATUS_NAMES, providerKind, providers, recordCount, recordKind, records, RECORD_STATUS_NAMES, REQUEST_STATUS_NAMES, requestKind, requests, VERDICT_NAMES,
} from '../../runtime/modules/inference/index.ts'
import type { ApiKeyView, ChannelView, InferenceCheckView, InferenceRecordView, InferenceRequestView, ProviderView } from '../rpc/contract.ts'
import { defineMethod, param, type RpcMethod } from '../rpc/registry.ts'
import { ApiError, type ApiComponents } from './context.ts'
import { listByIds, listEntries, MAX_LIST } from './pagination.ts'

export function providerToJson(provider: Provider): ProviderView {
  return { ...toJsonOf(providerKind, provider), status: PROVIDER_STATUS_NAMES[provider.status] ?? provider.status }
}

export function requestToJson(request: InferenceRequest): InferenceRequestView {
  return { ...toJsonOf(requestKind, request), status: REQUEST_STATUS_NAMES[request.status] ?? request.status }
}

export function recordToJson(record: InferenceRecord): InferenceRecordView {
  return { ...toJsonOf(recordKind, record), source: (['request', 'channel', 'apiKey'] as const)[record.source] ?? record.source, status: RECORD_STATUS_NAMES[record.status] ?? record.status }
}

export function apiKeyToJson(key: ApiKey): ApiKeyView {
  return { ...toJsonOf(apiKeyKind, key), status: API_KEY_STATUS_NAMES[key.status] ?? key.status, left: (key.cap - key.spent).toString() }
}

export function channelToJson(channel: Channel): ChannelView {
  return { ...toJsonOf(channelKind, channel), status: CHANNEL_STATUS_NAMES[channel.status] ?? channel.status, balance: (channel.deposit - channel.redeemed).toString() }
}

export function checkToJson(check: Check): InferenceCheckView {
  const json = toJsonOf(checkKind, check)
  return {
    ...json, status: CHECK_STATUS_NAMES[check.status] ?? check.status, phase: check.phase === 0 ? 'commit' : 'reveal',
    votes: json.votes.map((vote, i) => ({ ...vote, verdict: VERDICT_NAMES[check.votes[i]?.verdict ?? -1] ?? vote.verdict })),
  }
}

export function inferenceMethods({ chain, provider, unsafeMethods }: ApiComponents): RpcMethod[] {
  const state = () => chain.state
  const id = param.uint({ max: Number.MAX_SAFE_INTEGER })
  const count = param.optional(param.uint({ max: MAX_LIST })).named('count')
  return [
    defineMethod({
      name: 'openledger_getProvider',
      params: [param.address().named('address')],
      async handler([address]) {
        const provider = await providers.get(state(), address)
        return provider === undefined ? null : providerToJson(provider)
      },
    }),
    defineMethod({
      name: 'openledger_listProviders',
      params: [count, param.optional(param.address()).named('after')],
      async handler([n, after], { signal }) {
        // key order is address order: `after` pages on from the last address of the previous page
        const entries = state().entries(providers.prefix, after === undefined ? undefined : providers.key(after))
        return listEntries(entries, { count: n, signal }, ([, value]) => providerToJson(providers.decodeValue(value)))
      },
    }),
    defineMethod({
      name: 'openledger_getInferenceRequest',
      params: [id.named('request')],
      async handler([request]) {
        const record = await requests.get(state(), request)
        return record === undefined ? null : requestToJson(record)
      },
    }),
    defineMethod({
      name: 'openledger_getInferenceRecord',
      params: [id.named('record')],
      async handler([record]) {
        const found = await records.get(state(), record)
        return found === undefined ? null : recordToJson(found)
      },
    }),
    defineMethod({
      name: 'openledger_listInferenceRecords',
      params: [param.optional(id).named('start'), count],
      async handler([from, n], { signal }) {
        return listByIds({ first: 1, last: await recordCount.get(state()), start: from, count: n, order: 'descending', signal }, async (i) => {
          const found = await records.get(state(), i)
          return found === undefined ? undefined : recordToJson(found)
        })
      },
    }),
    defineMethod({
      name: 'openledger_getApiKey',
      params: [id.named('key')],
      async handler([key]) {
        const found = await apiKeys.get(state(), key)
        return found === undefined ? null : apiKeyToJson(found)
      },
    }),
    defineMethod({
      name: 'openledger_getChannel',
      params: [id.named('channel')],
      async handler([channel]) {
        const found = await channels.get(state(), channel)
        return found === undefined ? null : channelToJson(found)
      },
    }),
    defineMethod({
      name: 'openledger_settleVouchers',
      params: [],
      async handler() {
        if (unsafeMethods !== true) throw new ApiError('UNSAFE_METHOD', 'openledger_settleVouchers is an unsafe method: start the node with --rpc-methods unsafe')
        if (provider === undefined) throw new ApiError('NOT_A_PROVIDER', 'this node does not run the inference provider (--provider)')
        return provider.settle()
      },
    }),
    defineMethod({
      name: 'openledger_getInferenceCheck',
      params: [id.named('record')],
      async handler([record]) {
        const found = await checks.get(state(), record)
        return found === undefined ? null : checkToJson(found)
      },
    }),
    defineMethod({
      name: 'openledger_getInferenceParams',
      params: [],
      handler: async () => toJsonOf(inferenceParams.kind, await inferenceParams.storage.get(state())),
    }),
  ]
}
