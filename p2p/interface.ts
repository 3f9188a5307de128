// The network port: what the consensus driver, the mempool and sync see of the peer-to-peer network.
// Nothing here names libp2p; `P2pNetwork` (libp2p) and `MemoryNetwork` (tests) both implement it
// and pass the same behaviour suite (test/p2p/networkBehaviour.ts).

/** Gossip topics. On the wire each name carries the chain's tag (see `namespaced`). */
export const Topic = {
  /** batches of transactions (version 2: a canonical array of encoded transactions per message) */
  transactions: 'openledger/txs/2',
  proposals: 'openledger/proposals/1',
  votes: 'openledger/votes/1',
  evidence: 'openledger/evidence/1',
  blocks: 'openledger/blocks/1',
} as const
export type Topic = (typeof Topic)[keyof typeof Topic]
export type TopicName = keyof typeof Topic

/** Request/response protocols. On the wire each id carries the chain's tag (see `namespaced`). */
export const ReqRespProtocol = {
  status: '/openledger/status/1',
  blocksByRange: '/openledger/blocks-by-range/1',
  blob: '/openledger/blob/1',
  /** the proposals and votes a peer holds for one height: catch-up when gossip lost some */
  consensusMessages: '/openledger/consensus-messages/1',
  /** the peer's wall-clock time: how a node learns that its clock is out of step (node/consensus/clockMonitor.ts) */
  time: '/openledger/time/1',
} as const
export type ReqRespProtocol = (typeof ReqRespProtocol)[keyof typeof ReqRespProtocol]
export type ReqRespProtocolName = keyof typeof ReqRespProtocol

/**
 * What a gossip handler decides about a message: `accept` delivers it on to other peers, `ignore`
 * drops it silently (not valid *yet*, already known, or our own failure), `reject` drops it and
 * scores the peer that sent it down.
 */
export type GossipVerdict = 'accept' | 'ignore' | 'reject'

export interface GossipMessage {
  data: Uint8Array
  /** the peer that handed us the message (its relay, not necessarily its author) */
  from: string
}

/**
 * Validates and processes one message. Runs once per distinct message (content-addressed ids
 * suppress duplicates). An exception counts as `ignore` and is logged: a peer is never punished
 * for our bug.
 */
export type GossipHandler = (message: GossipMessage) => Promise<GossipVerdict> | GossipVerdict

/**
 * Answers one request. Throw `P2pError('INVALID_REQUEST')` for a malformed request (the caller is
 * scored down) or `P2pError('RESOURCE_UNAVAILABLE')` for data we do not have; anything else is
 * answered as a server error and logged.
 */
export type RequestHandler = (request: Uint8Array, from: string) => Promise<Uint8Array>

export interface RequestOptions {
  signal?: AbortSignal
  /** overrides the protocol's timeout */
  timeoutMs?: number
}

export interface PeerInfo {
  id: string
  /** where the peer can be dialled (its announced listen addresses), or the connection's address */
  addresses: string[]
  direction: 'inbound' | 'outbound'
  /** our application score of the peer: 0 is neutral, penalties push it down, it decays back */
  score: number
  /** ms since the Unix epoch */
  connectedSince: number
}

/** Why a peer is scored down; each reason has a weight (`PENALTY_POINTS`). */
export const PenaltyReason = {
  /** a gossip message its topic's handler rejected */
  invalidMessage: 'invalidMessage',
  /** a gossip message over its topic's size limit */
  oversizedMessage: 'oversizedMessage',
  /** more gossip messages or requests than its rate limit */
  rateLimited: 'rateLimited',
  /** a request our handler refused as malformed */
  invalidRequest: 'invalidRequest',
  /** a response that breaks the protocol (too large, truncated, unknown status) */
  invalidResponse: 'invalidResponse',
  /** a block (or other data) served over req/resp that failed validation */
  invalidBlock: 'invalidBlock',
  /** a peer that timed out or failed to serve what it advertised */
  unresponsive: 'unresponsive',
} as const
export type PenaltyReason = (typeof PenaltyReason)[keyof typeof PenaltyReason]

export type Unsubscribe = () => void

export interface NetworkPort {
  /** our own peer id */
  readonly peerId: string
  start(): Promise<void>
  stop(): Promise<void>
  /**
   * Sends `data` to the topic's peers. Publishing what the network has already seen is a no-op
   * (content-addressed ids). Throws `MESSAGE_TOO_LARGE` over the topic's limit.
   */
  publish(topic: Topic, data: Uint8Array): Promise<void>
  /** Joins a topic; one handler per topic. May be called before `start()`. */
  subscribe(topic: Topic, handler: GossipHandler): void
  /** Peers currently known to be subscribed to the topic. */
  subscribers(topic: Topic): string[]
  /** Serves a protocol; one handler per protocol. May be called before `start()`. */
  handle(protocol: ReqRespProtocol, handler: RequestHandler): void
  /** Calls a peer; rejects with a `P2pError` (REQUEST_TIMEOUT, UNSUPPORTED_PROTOCOL, …). */
  request(peer: string, protocol: ReqRespProtocol, request: Uint8Array, options?: RequestOptions): Promise<Uint8Array>
  /** Connected peers. */
  peers(): PeerInfo[]
  onPeerConnected(listener: (peer: PeerInfo) => void): Unsubscribe
  onPeerDisconnected(listener: (peerId: string) => void): Unsubscribe
  /** Scores a peer down; below the ban threshold it is disconnected and banned for a while. */
  penalize(peer: string, reason: PenaltyReason): void
  /** An operator's block: disconnects the peer and refuses it until `unblockPeer`. */
  blockPeer(peer: string): void
  /** Lifts an operator's block; returns whether the peer was blocked. Bootnodes are dialled again. */
  unblockPeer(peer: string): boolean
  /** Peers blocked by the operator. */
  blockedPeers(): string[]
}
