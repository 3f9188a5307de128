// openledger_* methods for Proof of Attribution (reads of the head state, proofs at the finalized head):
//
//   getAttribution(record) / listAttributions(start?, count?)   a record's attribution: status,
//                                                             attributor, receipt and its hash,
//                                                             re-check, payouts; newest first
//   getRewards(address)                                       accrued (claimable) and claimed
//   listRewards(address, count?, afterRecord?)                every final record that credited the
//                                                             address, in record order: its credited
//                                                             contributions, scores and amounts (a
//                                                             prefix read of the per-contributor index)
//   getPenalties(datanet, count?, after?)                     penalty scores of the datanet's
//                                                             contributions, cut-off ones marked
//   getAttributionParams()
//   getCitations(base, adapters, text)                        the spans of `text` found in the
//                                                             training data of the adapters' lineage,
//                                                             each with its datanet, version and
//                                                             contributions (node/attribution/citations.ts)
//   getPayoutProof(record, contributor)                       what the contributor was paid for
//                                                             the record, with a state proof of the
//                                                             attribution against the finalized
//                                                             header's state root
import { toJsonOf } from '../../runtime/codec/schema.ts'
import { concatBytes, toHex } from '../../runtime/crypto/hash.ts'
import { OpenLedgerError } from '../../runtime/errors.ts'
import {
  type Attribution, ATTRIBUTION_STATUS_NAMES, attributionCursor, attributionKind, attributionParams, attributions, AttributionStatus, contributorPayouts, METHOD_NAMES,
  penalties, penaltyKind, rewards,
} from '../../runtime/modules/attribution/index.ts'
import { u32Key } from '../../runtime/storage.ts'
import { sameAddress } from '../../runtime/modules/accounts.ts'
import { encodeStateProof } from '../../runtime/state/proof.ts'
import type { AttributionView } from '../rpc/contract.ts'
import { defineMethod, param, type RpcMethod } from '../rpc/registry.ts'
import { MAX_CITED_CHARS } from '../attribution/attributionService.ts'
import { MAX_REQUEST_ADAPTERS } from '../../runtime/modules/inference/index.ts'
import type { ApiComponents } from './context.ts'
import { listByIds, listEntries, MAX_LIST } from './pagination.ts'

export type AttributionApiErrorCode = 'NOT_FINAL' | 'NOT_PAID' | 'NO_ATTRIBUTION_SERVICE'
export class AttributionApiError extends OpenLedgerError<AttributionApiErrorCode> {}

export function attributionToJson(entry: Attribution): AttributionView {
  const json = toJsonOf(attributionKind, entry)
  const receipt = json.receipt
  return {
    ...json,
    status: ATTRIBUTION_STATUS_NAMES[entry.status] ?? entry.status,
    receipt: receipt === null ? null : { ...receipt, method: METHOD_NAMES[entry.receipt?.method ?? -1] ?? entry.receipt?.method },
  }
}

export function attributionMethods({ chain, attribution }: ApiComponents): RpcMethod[] {
  const state = () => chain.state
  const id = param.uint({ max: Number.MAX_SAFE_INTEGER })
  const count = param.optional(param.uint({ max: MAX_LIST })).named('count')
  return [
    defineMethod({
      name: 'openledger_getAttribution',
      params: [id.named('record')],
      async handler([record]) {
        const entry = await attributions.get(state(), record)
        return entry === undefined ? null : attributionToJson(entry)
      },
    }),
    defineMethod({
      name: 'openledger_listAttributions',
      params: [param.optional(id).named('start'), count],
      async handler([start, n], { signal }) {
        // every record up to the cursor has an attribution
        return listByIds({ first: 1, last: await attributionCursor.get(state()), start, count: n, order: 'descending', signal }, async (i) => {
          const entry = await attributions.get(state(), i)
          return entry === undefined ? undefined : attributionToJson(entry)
        })
      },
    }),
    defineMethod({
      name: 'openledger_getRewards',
      params: [param.address().named('address')],
      async handler([address]) {
        const reward = (await rewards.get(state(), address)) ?? { accrued: 0n, claimed: 0n }
        return { address: toHex(address), accrued: reward.accrued.toString(), claimed: reward.claimed.toString() }
      },
    }),
    defineMethod({
      name: 'openledger_listRewards',
      params: [param.address().named('address'), count, param.optional(id).named('afterRecord')],
      async handler([address, n, after], { signal }) {
        const prefix = concatBytes(contributorPayouts.prefix, address)
        const entries = state().entries(prefix, after === undefined ? undefined : contributorPayouts.key({ contributor: address, record: after }))
        return listEntries(entries, { count: n, signal }, ([key, value]) => {
          const record = Number(new DataView(key.buffer, key.byteOffset + key.length - 8, 8).getBigUint64(0))
          const credits = contributorPayouts.decodeValue(value)
          return {
            record, amount: credits.reduce((sum, c) => sum + c.amount, 0n).toString(),
            contributions: credits.map((c) => ({ datanet: c.datanet, index: c.index, score: c.score, amount: c.amount.toString() })),
          }
        })
      },
    }),
    defineMethod({
      name: 'openledger_getPenalties',
      params: [id.named('datanet'), count, param.optional(id).named('after')],
      async handler([datanet, n, after], { signal }) {
        const prefix = concatBytes(penalties.prefix, u32Key(datanet))
        const entries = state().entries(prefix, after === undefined ? undefined : penalties.key({ datanet, index: after }))
        return listEntries(entries, { count: n, signal }, ([key, value]) => {
          const index = new DataView(key.buffer, key.byteOffset + key.length - 4, 4).getUint32(0)
          return { datanet, index, ...toJsonOf(penaltyKind, penalties.decodeValue(value)) }
        })
      },
    }),
    defineMethod({
      name: 'openledger_getCitations',
      params: [id.named('base'), param.array(id, { maxLength: MAX_REQUEST_ADAPTERS }).named('adapters'), param.string({ maxLength: MAX_CITED_CHARS }).named('text')],
      async handler([base, adapters, text], { signal }) {
        if (attribution === undefined) throw new AttributionApiError('NO_ATTRIBUTION_SERVICE', 'this node runs no attribution service (it has no blob store)')
        return attribution.citations(base, adapters, text, signal)
      },
    }),
    defineMethod({
      name: 'openledger_getAttributionParams',
      params: [],
      handler: async () => toJsonOf(attributionParams.kind, await attributionParams.storage.get(state())),
    }),
    defineMethod({
      name: 'openledger_getPayoutProof',
      params: [id.named('record'), param.address().named('contributor')],
      async handler([record, contributor]) {
        const { hash, header } = chain.finalized
        const key = attributions.key(record)
        const value = await chain.state.getAt(key, header.height)
        const entry = value === undefined ? undefined : attributions.decodeValue(value)
        if (entry === undefined || entry.status !== AttributionStatus.final) {
          throw new AttributionApiError('NOT_FINAL', `record ${record} has no final attribution at the finalized head`)
        }
        const payouts = entry.payouts.filter((p) => sameAddress(p.contributor, contributor))
        if (payouts.length === 0) throw new AttributionApiError('NOT_PAID', `record ${record} paid nothing to ${toHex(contributor)}`)
        const proof = await chain.state.prove(key, header.height)
        return {
          record, contributor: toHex(contributor), amount: payouts.reduce((sum, p) => sum + p.amount, 0n).toString(),
          contributions: payouts.map((p) => ({ datanet: p.datanet, index: p.index, amount: p.amount.toString() })),
          at: toHex(hash), number: header.height, stateRoot: toHex(header.stateRoot), key: toHex(key), value: toHex(value as Uint8Array), proof: toHex(encodeStateProof(proof)),
        }
      },
    }),
  ]
}
