// system_*: who this node is and what chain it runs.
import { TREASURY_ACCOUNT, ECOSYSTEM_POOL_ACCOUNT } from '../../runtime/modules/accounts.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import { OPEN_DECIMALS } from '../../genesis/tokenomics.ts'
import { defineMethod, param, type RpcMethod } from '../rpc/registry.ts'
import type { ApiComponents } from './context.ts'

export function systemMethods({ chain, mempool, nodeName, version, network, sync }: ApiComponents): RpcMethod[] {
  return [
    defineMethod({ name: 'system_name', params: [], handler: () => nodeName }),
    defineMethod({ name: 'system_version', params: [], handler: () => version }),
    defineMethod({ name: 'system_chain', params: [], handler: () => chain.spec.name }),
    defineMethod({ name: 'system_chainType', params: [], handler: () => (chain.spec.id.endsWith('-dev') ? 'Development' : 'Live') }),
    defineMethod({
      name: 'system_health',
      params: [],
      handler: () => ({ peers: network?.peers().length ?? 0, isSyncing: sync?.isSyncing ?? false, shouldHavePeers: network !== undefined }),
    }),
    defineMethod({
      name: 'system_peers',
      params: [],
      handler: () => (network?.peers() ?? []).map((peer) => ({ peerId: peer.id, addresses: peer.addresses, direction: peer.direction, score: peer.score, connectedSince: peer.connectedSince })),
    }),
    defineMethod({
      name: 'system_syncState',
      params: [],
      handler: () => ({ startingBlock: 0, currentBlock: chain.head.header.height, highestBlock: Math.max(chain.head.header.height, sync?.highestPeerHeight ?? 0), finalizedBlock: chain.finalized.header.height }),
    }),
    defineMethod({
      name: 'system_properties',
      params: [],
      handler: () => ({
        tokenSymbol: 'OPEN',
        tokenDecimals: OPEN_DECIMALS,
        chainId: chain.spec.chainId,
        specId: chain.spec.id,
        treasuryAccount: toHex(TREASURY_ACCOUNT),
        ecosystemPoolAccount: toHex(ECOSYSTEM_POOL_ACCOUNT),
      }),
    }),
    defineMethod({
      name: 'system_accountNextIndex',
      params: [param.address().named('address')],
      handler: ([address]) => mempool.nextNonce(address),
    }),
  ]
}
