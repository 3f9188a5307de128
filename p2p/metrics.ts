// The metrics the network updates, as a port: the node wires prom-client metrics to it (a prom-client
// Gauge/Counter with these label names fits as is). Every label value is bounded: topic and
// protocol are the keys of `Topic` / `ReqRespProtocol` (or `peers`), results are `OK` or a
// `P2pErrorCode`, reasons are `PenaltyReason`s.
import type { GossipVerdict, PenaltyReason } from './interface.ts'

export interface P2pMetrics {
  /** connected peers */
  peers: { set(value: number): void }
  /** gossip messages received, by topic and verdict (limits count as reject/ignore) */
  gossipMessages: { inc(labels: { topic: string; verdict: GossipVerdict }): void }
  /** req/resp calls by protocol, direction (`inbound` served, `outbound` made) and result */
  reqRespRequests: { inc(labels: { protocol: string; direction: 'inbound' | 'outbound'; result: string }): void }
  /** penalties given, by reason */
  peerPenalties: { inc(labels: { reason: PenaltyReason }): void }
  /** peers banned */
  peerBans: { inc(): void }
}
