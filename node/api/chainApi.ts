// chain_*: headers and blocks, by hash or height, and subscriptions to new and finalized heads.
import { toHex } from '../../runtime/crypto/hash.ts'
import { defineMethod, defineSubscription, param, type RpcMethod, type RpcSubscriptionMethod } from '../rpc/registry.ts'
import { resolveBlock, type ApiComponents } from './context.ts'
import { headerToJson } from './views.ts'

export function chainMethods({ chain, consensus }: ApiComponents): RpcMethod[] {
  return [
    defineMethod({
      name: 'openledger_consensusState',
      params: [],
      handler() {
        if (consensus === undefined) return { mode: 'dev' as const, height: chain.head.header.height + 1 }
        const state = consensus.state()
        return {
          mode: state.isValidator ? 'validator' as const : 'follower' as const,
          height: state.height,
          round: state.round,
          step: state.step,
          lockedRound: state.lockedRound,
          validRound: state.validRound,
          proposer: state.proposer === undefined ? null : toHex(state.proposer),
          validators: (state.validators?.validators ?? []).map((v) => ({ publicKey: toHex(v.publicKey), power: v.power.toString(), operator: v.address === undefined ? null : toHex(v.address) })),
          totalPower: state.validators?.totalPower.toString() ?? '0',
        }
      },
    }),
    defineMethod({
      name: 'chain_getHeader',
      params: [param.optional(param.hash()).named('hash')],
      async handler([hash]) {
        if (hash !== undefined && (await chain.chainStore.getHeader(hash)) === undefined) return null
        const block = await resolveBlock(chain, hash)
        return headerToJson(block.hash, block.header)
      },
    }),
    defineMethod({
      name: 'chain_getBlock',
      params: [param.optional(param.hash()).named('hash')],
      async handler([hash]) {
        const block = await chain.chainStore.getBlock(hash ?? chain.head.hash)
        if (block === undefined) return null
        return { block: { header: headerToJson(block.hash, block.header), extrinsics: block.body.transactions.map(toHex) }, justifications: null }
      },
    }),
    defineMethod({
      name: 'chain_getBlockHash',
      params: [param.optional(param.uint()).named('number')],
      async handler([height]) {
        const hash = height === undefined ? chain.head.hash : await chain.chainStore.getHash(height)
        return hash === undefined ? null : toHex(hash)
      },
    }),
    defineMethod({ name: 'chain_getFinalizedHead', params: [], handler: () => toHex(chain.finalized.hash) }),
  ]
}

export function chainSubscriptions({ chain }: ApiComponents): RpcSubscriptionMethod[] {
  return [
    defineSubscription({
      subscribe: 'chain_subscribeNewHeads',
      unsubscribe: 'chain_unsubscribeNewHeads',
      notification: 'chain_newHead',
      params: [],
      start(_params, emit) {
        return chain.onBlock((block) => emit(headerToJson(block.hash, block.header)))
      },
    }),
    defineSubscription({
      subscribe: 'chain_subscribeFinalizedHeads',
      unsubscribe: 'chain_unsubscribeFinalizedHeads',
      notification: 'chain_finalizedHead',
      params: [],
      start(_params, emit) {
        return chain.onBlock((block) => {
          if (block.finalized) emit(headerToJson(block.hash, block.header))
        })
      },
    }),
  ]
}
