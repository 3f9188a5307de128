// system_*: who this node is and what chain it runs.
import { TREASURY_ACCOUNT, ECOSYSTEM_POOL_ACCOUNT } from '../../runtime/modules/accounts.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import { OPEN_DECIMALS } from '../../genesis/tokenomics.ts'
import { defineMethod, param, type RpcMethod } from '../rpc/registry.ts'
import type { ApiComponents } from './context.ts'

export function systemMethods({ chain, mempool, nodeName, version }: ApiComponents): RpcMethod[] {
  return [
    defineMethod({ name: 'system_name', params: [], handler: () => nodeName }),
    defineMethod({ name: 'system_version', params: [], handler: () => version }),
    defineMethod({ name: 'system_chain', params: [], handler: () => chain.spec.name }),
    defineMethod({ name: 'system_chainType', params: [], handler: () => (chain.spec.id.endsWith('-dev') ? 'Development' : 'Live') }),
    defineMethod({
      name: 'system_health',
      params: [],
      handler: () => ({ peers: 0, isSyncing: false, shouldHavePeers: false }),
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
