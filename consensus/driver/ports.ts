// What the consensus driver needs from the rest of the node, as ports: the chain it extends and the
// network it gossips and asks on. Both are implemented in node/consensus (over Chain, and over
// p2p's NetworkPort), so consensus imports neither node/ nor p2p/.
import type { CommitCertificate, ValidatorSet } from '../types.ts'

/** A block as it travels with a proposal: encoded header and body. */
export interface BlockCandidate {
  readonly hash: Uint8Array
  readonly height: number
  /** the header's time, ms since the epoch */
  readonly time: number
  /** encode([header, body]) */
  readonly bytes: Uint8Array
}

export interface ConsensusChain {
  readonly chainId: number
  /** height of the last committed block */
  headHeight(): number
  /** the validator set that votes on `height` (known for heights up to head + 2) */
  validatorSet(height: number): Promise<ValidatorSet>
  /**
   * Builds a block on the head, carrying the head's commit certificate and pending evidence. Its
   * time is `time` (the driver's clock), or the parent's time + 1 ms when that is later.
   */
  buildBlock(height: number, proposerKey: Uint8Array, time: number): Promise<BlockCandidate>
  /**
   * Decodes and executes a proposed block on the head; `valid` false for any problem (wrong
   * height or parent, bad transaction, root mismatch). Valid executed blocks are kept until commit.
   * `time` is the block's header time (ms since the epoch), for the timeliness rule.
   */
  validateBlock(bytes: Uint8Array): Promise<{ hash: Uint8Array; height: number; time: number; valid: boolean; reason?: string }>
  /** commits an executed (built or validated) block with its certificate: one atomic write */
  commitBlock(blockHash: Uint8Array, certificate: CommitCertificate): Promise<void>
  /** evidence of misbehaviour the driver saw: to be put on chain */
  reportEvidence(evidence: Uint8Array): void
}

/** The gossip topics consensus publishes on. */
export type ConsensusTopic = 'proposals' | 'votes' | 'evidence'

/**
 * What the driver decides about a gossiped message: `accept` passes it on, `ignore` drops it
 * quietly (known, not for now, or our own failure), `reject` drops it and scores the sender down.
 */
export type MessageVerdict = 'accept' | 'ignore' | 'reject'

/** Why the driver scores a peer down. */
export type ConsensusPenalty =
  /** a gossiped or caught-up proposal or vote that is malformed or wrongly signed */
  | 'invalidMessage'
  /** a catch-up answer that is not one */
  | 'invalidResponse'

export interface ConsensusNetwork {
  /** Best effort: publishing what the network has seen is a no-op; rejects when the message cannot go out. */
  publish(topic: ConsensusTopic, data: Uint8Array): Promise<void>
  /** One handler per topic; may be called before the network starts. */
  subscribe(topic: 'proposals' | 'votes', handler: (data: Uint8Array) => MessageVerdict): void
  /**
   * Serves the catch-up protocol (the proposals and votes held for a height). The handler throws
   * DriverError INVALID_REQUEST for a malformed request, which scores the asker down.
   */
  serveCatchUp(handler: (request: Uint8Array) => Uint8Array): void
  /** Asks one peer for what it holds; rejects when the peer cannot answer. */
  requestCatchUp(peer: string, request: Uint8Array): Promise<Uint8Array>
  /** ids of the connected peers */
  peers(): string[]
  penalize(peer: string, reason: ConsensusPenalty): void
}
