// The node's Prometheus metrics, on a private prom-client Registry (never the global one, so two
// nodes in one process — tests — do not share counters). Owns the metric names, help texts,
// labels and buckets; services receive the typed handles they update through their components.
// Label values are bounded: methods are registered names or 'unknown', codes are error codes.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/** The subset of the metrics the RPC server updates. */
export interface RpcMetrics {
  rpcRequests: Counter<'method' | 'transport' | 'code'>
  rpcRequestDuration: Histogram<'method' | 'transport'>
  rpcWsConnections: Gauge
  rpcSubscriptions: Gauge<'method'>
  /** Open HTTP connections (WebSockets included: each began as one). */
  rpcHttpConnections: Gauge
  /** Connections and requests refused before any method ran; `reason` is a stable code. */
  rpcRefusals: Counter<'reason'>
}

export interface NodeMetrics extends RpcMetrics {
  readonly registry: Registry
  chainHeadHeight: Gauge
  chainFinalizedHeight: Gauge
  blocksProduced: Counter
  blocksImported: Counter
  transactionsIncluded: Counter
  blockBuildDuration: Histogram
  blockImportDuration: Histogram
  stateCommitDuration: Histogram
  /** `queue` is 'ready' or 'future'. */
  mempoolSize: Gauge<'queue'>
  /** `reason` is the mempool's rejection code. */
  mempoolRejections: Counter<'reason'>
  /** consensus: the height being decided, rounds it took, and the network under it */
  consensusHeight: Gauge
  consensusRoundsPerHeight: Histogram
  consensusMissedBlocks: Counter
  beaconMissedReveals: Counter
  /** proposals of new blocks this node judged not timely, by the bound broken: 'tooEarly' or 'tooLate' */
  consensusUntimelyProposals: Counter<'bound'>
  /** median of (peers' clocks − this node's), and whether it is beyond the chain's precision */
  clockPeerOffset: Gauge
  clockSkewed: Gauge
  p2pPeers: Gauge
  p2pGossipMessages: Counter<'topic' | 'verdict'>
  p2pReqRespRequests: Counter<'protocol' | 'direction' | 'result'>
  p2pPeerPenalties: Counter<'reason'>
  p2pPeerBans: Counter
  /** free bytes of the filesystem holding the node's home (node/storage) */
  diskFreeBytes: Gauge
}

export interface MetricsOptions {
  /** Process and Node.js metrics (CPU, memory, GC, event-loop lag); default true. */
  defaultMetrics?: boolean
  /** Labels added to every series, e.g. `{ chain: 'dev' }`. */
  labels?: Record<string, string>
}

const BLOCK_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] // seconds
const RPC_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] // seconds

export function createMetrics(options: MetricsOptions = {}): NodeMetrics {
  const registry = new Registry()
  if (options.labels !== undefined) registry.setDefaultLabels(options.labels)
  // Includes nodejs_eventloop_lag_seconds (and its percentiles) measured by perf_hooks.
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry })
  const registers = [registry]

  return {
    registry,
    chainHeadHeight: new Gauge({ name: 'openledger_chain_head_height', help: 'Height of the best block', registers }),
    chainFinalizedHeight: new Gauge({ name: 'openledger_chain_finalized_height', help: 'Height of the last finalized block', registers }),
    blocksProduced: new Counter({ name: 'openledger_blocks_produced_total', help: 'Blocks built and proposed by this node', registers }),
    blocksImported: new Counter({ name: 'openledger_blocks_imported_total', help: 'Blocks imported (executed and stored)', registers }),
    transactionsIncluded: new Counter({ name: 'openledger_transactions_included_total', help: 'Transactions in imported blocks', registers }),
    blockBuildDuration: new Histogram({ name: 'openledger_block_build_duration_seconds', help: 'Time to build a block proposal', buckets: BLOCK_BUCKETS, registers }),
    blockImportDuration: new Histogram({ name: 'openledger_block_import_duration_seconds', help: 'Time to execute and import a block', buckets: BLOCK_BUCKETS, registers }),
    stateCommitDuration: new Histogram({ name: 'openledger_state_commit_duration_seconds', help: 'Time to commit a block\'s state changes', buckets: BLOCK_BUCKETS, registers }),
    mempoolSize: new Gauge({ name: 'openledger_mempool_transactions', help: 'Transactions in the mempool by queue (ready, future)', labelNames: ['queue'], registers }),
    mempoolRejections: new Counter({ name: 'openledger_mempool_rejections_total', help: 'Transactions refused by the mempool by reason code', labelNames: ['reason'], registers }),
    consensusHeight: new Gauge({ name: 'openledger_consensus_height', help: 'Height consensus is deciding', registers }),
    consensusMissedBlocks: new Counter({ name: 'openledger_consensus_missed_blocks_total', help: "Decided blocks whose commit lacks this validator's precommit", registers }),
    beaconMissedReveals: new Counter({
      name: 'openledger_beacon_missed_reveals_total',
      help: 'Rounds of decided heights whose proposer (by consensus key prefix) got no block in: its randomness reveal and block reward missed',
      labelNames: ['validator'],
      registers,
    }),
    consensusUntimelyProposals: new Counter({ name: 'openledger_consensus_untimely_proposals_total', help: 'Proposals of new blocks whose time failed the timeliness rule here, by bound (tooEarly, tooLate)', labelNames: ['bound'], registers }),
    clockPeerOffset: new Gauge({ name: 'openledger_clock_peer_offset_seconds', help: "Median of (peers' clocks - this node's clock); beyond the chain's precision the node's votes do not count", registers }),
    clockSkewed: new Gauge({ name: 'openledger_clock_skewed', help: "1 when this node's clock is out of step with its peers' by more than the chain's precision", registers }),
    consensusRoundsPerHeight: new Histogram({ name: 'openledger_consensus_rounds_per_height', help: 'Rounds needed to decide a height', buckets: [1, 2, 3, 4, 6, 10], registers }),
    p2pPeers: new Gauge({ name: 'openledger_p2p_peers', help: 'Connected peers', registers }),
    p2pGossipMessages: new Counter({ name: 'openledger_p2p_gossip_messages_total', help: 'Gossip messages received by topic and verdict', labelNames: ['topic', 'verdict'], registers }),
    p2pReqRespRequests: new Counter({ name: 'openledger_p2p_reqresp_requests_total', help: 'Request/response calls by protocol, direction and result', labelNames: ['protocol', 'direction', 'result'], registers }),
    p2pPeerPenalties: new Counter({ name: 'openledger_p2p_peer_penalties_total', help: 'Penalties given to peers by reason', labelNames: ['reason'], registers }),
    p2pPeerBans: new Counter({ name: 'openledger_p2p_peer_bans_total', help: 'Peers banned', registers }),
    diskFreeBytes: new Gauge({ name: 'openledger_disk_free_bytes', help: "Free bytes of the filesystem holding the node's home", registers }),
    rpcRequests: new Counter({ name: 'openledger_rpc_requests_total', help: 'JSON-RPC calls by method, transport and result code (OK or the error code)', labelNames: ['method', 'transport', 'code'], registers }),
    rpcRequestDuration: new Histogram({ name: 'openledger_rpc_request_duration_seconds', help: 'JSON-RPC call duration', labelNames: ['method', 'transport'], buckets: RPC_BUCKETS, registers }),
    rpcWsConnections: new Gauge({ name: 'openledger_rpc_ws_connections', help: 'Open JSON-RPC WebSocket connections', registers }),
    rpcSubscriptions: new Gauge({ name: 'openledger_rpc_subscriptions', help: 'Active JSON-RPC subscriptions by subscribe method', labelNames: ['method'], registers }),
    rpcHttpConnections: new Gauge({ name: 'openledger_rpc_http_connections', help: 'Open connections to the JSON-RPC port (WebSockets included)', registers }),
    rpcRefusals: new Counter({ name: 'openledger_rpc_refusals_total', help: 'Connections and requests the JSON-RPC server refused before any method ran, by reason', labelNames: ['reason'], registers }),
  }
}
