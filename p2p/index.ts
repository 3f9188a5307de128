// The network layer: the `NetworkPort` the rest of the node uses, its libp2p implementation and its
// in-memory twin, the node key helpers and the policy (limits, rate limits, scoring).
export { Topic, ReqRespProtocol, PenaltyReason } from './interface.ts'
export type { GossipHandler, GossipMessage, GossipVerdict, NetworkPort, PeerInfo, RequestHandler, RequestOptions, TopicName, ReqRespProtocolName, Unsubscribe } from './interface.ts'
export { P2pError, isP2pError, type P2pErrorCode } from './errors.ts'
export type { P2pMetrics } from './metrics.ts'
export {
  DEFAULT_GOSSIP_RATE_LIMIT, DEFAULT_PROTOCOL_LIMITS, DEFAULT_SCORING, DEFAULT_TOPIC_MAX_BYTES, PENALTY_POINTS, PEER_EXCHANGE_PROTOCOL, namespaced,
  type NetworkPolicyOptions, type ProtocolLimits, type RateLimit, type ScoringOptions,
} from './options.ts'
export { NODE_KEY_BYTES, bootnodeAddress, generateNodeKey, loadOrCreateNodeKey, nodeKeyFromHex, nodeKeyToHex, peerIdFromNodeKey } from './nodeKey.ts'
export { P2pNetwork, type P2pNetworkComponents, type P2pNetworkOptions } from './p2pNetwork.ts'
export { MemoryNetwork, MemoryNetworkHub, type HubEvent, type MemoryNetworkComponents, type MemoryNetworkOptions } from './memoryNetwork.ts'
