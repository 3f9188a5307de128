// openledger_* methods for Proof of Attribution (reads of the head state, proofs at the finalized head):
//
//   getAttribution(record) / listAttributions(start?, count?)   a record's attribution: status,
//                                                             attributor, receipt and its hash,
//                                                             re-check, payouts; newest first
//   getRewards(address)                                       accrued (claimable) and claimed
//   getPenalties(datanet, count?, after?)                     penalty scores of the datanet's
//                                                             contributions, cut-off ones marked
//   getAttributionParams()
//   getPayoutProof(record, contributor)                       what the contributor was paid for
//                                                             the record, with a state proof of the
//                                                             attribution against the finalized
//                                                             header's state root
import { toJsonOf } from '../../runtime/codec/schema.ts'
import { concatBytes, toHex } from '../../runtime/crypto/hash.ts'
import { OpenLedgerError } from '../../runtime/errors.ts'
import { type Attribution, ATTRIBUTION_STATUS_NAMES, attributionCursor, attributionKind, attributionParams, attributions, AttributionStatus, METHOD_NAMES, penalties, penaltyKind, rewards } from '../../runtime/modules/attribution/index.ts'
import { u32Key } from '../../runtime/storage.ts'
import { sameAddress } from '../../runtime/modules/accounts.ts'
import { encodeStateProof } from '../../runtime/state/proof.ts'
import type { AttributionView } from '../rpc/contract.ts'
import { defineMethod, param, type RpcMethod } from '../rpc/registry.ts'
import type { ApiComponents } from './context.ts'
import { listByIds, listEntries, MAX_LIST } from './pagination.ts'

export type AttributionApiErrorCode = 'NOT_FINAL' | 'NOT_PAID'
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

export function attributionMethods({ chain }: ApiComponents): RpcMethod[] {
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
