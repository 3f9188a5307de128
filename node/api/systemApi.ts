// system_*: who this node is and what chain it runs.
import { TREASURY_ACCOUNT, ECOSYSTEM_POOL_ACCOUNT } from '../../runtime/modules/accounts.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import { OPEN_DECIMALS } from '../../genesis/tokenomics.ts'
import { defineMethod, param, type RpcMethod } from '../rpc/registry.ts'
import { ApiError, type ApiComponents } from './context.ts'

export function systemMethods({ chain, mempool, nodeName, version, network, sync, unsafeMethods, storage, clock }: ApiComponents): RpcMethod[] {
  /** operator-only: refused unless the node was started with `--rpc-methods unsafe` */
  const operatorNetwork = (method: string): NonNullable<ApiComponents['network']> => {
    if (unsafeMethods !== true) throw new ApiError('UNSAFE_METHOD', `${method} is an unsafe method: start the node with --rpc-methods unsafe`)
    if (network === undefined) throw new ApiError('NO_NETWORK', 'this node runs without a p2p network')
    return network
  }
  const peerId = param.string({ maxLength: 128 }).named('peerId')
  return [
    defineMethod({ name: 'system_localPeerId', params: [], handler: () => network?.peerId ?? null }),
    defineMethod({
      name: 'system_blockPeer',
      params: [peerId],
      handler: ([peer]) => {
        operatorNetwork('system_blockPeer').blockPeer(peer)
        return true
      },
    }),
    defineMethod({ name: 'system_unblockPeer', params: [peerId], handler: ([peer]) => operatorNetwork('system_unblockPeer').unblockPeer(peer) }),
    defineMethod({ name: 'system_blockedPeers', params: [], handler: () => operatorNetwork('system_blockedPeers').blockedPeers() }),
    defineMethod({ name: 'system_name', params: [], handler: () => nodeName }),
    defineMethod({ name: 'system_version', params: [], handler: () => version }),
    defineMethod({ name: 'system_chain', params: [], handler: () => chain.spec.name }),
    defineMethod({ name: 'system_chainType', params: [], handler: () => (chain.spec.id.endsWith('-dev') ? 'Development' : 'Live') }),
    defineMethod({
      name: 'system_health',
      params: [],
      // Substrate's three fields, plus whether this node can still write: `storage.status` is
      // 'ok', 'low' (under the warning threshold) or 'failed' (a write failed; the node is stopping);
      // and its clock against its peers': clockOffsetMs, the median of (peers' clocks − ours), null
      // before any peer answered or without a network; clockSkewed, beyond the chain's precision
      // (this validator's votes do not count)
      handler: () => {
        const status = clock?.status()
        return {
          peers: network?.peers().length ?? 0,
          isSyncing: sync?.isSyncing ?? false,
          shouldHavePeers: network !== undefined,
          storage: { status: storage?.status ?? 'ok', freeBytes: storage?.lastFreeBytes ?? null, ...(storage?.fatal === undefined ? {} : { error: storage.fatal.message }) },
          clockOffsetMs: status?.peerOffsetMs ?? null,
          clockSkewed: status?.skewed ?? false,
        }
      },
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
