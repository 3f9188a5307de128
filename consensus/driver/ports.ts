// What the consensus driver needs from the rest of the node, as ports: the chain it extends
// (implemented in node/consensus over Chain) and the network (p2p's NetworkPort).
import type { CommitCertificate, ValidatorSet } from '../types.ts'

/** A block as it travels with a proposal: encoded header and body. */
export interface BlockCandidate {
  readonly hash: Uint8Array
  readonly height: number
  /** encode([header, body]) */
  readonly bytes: Uint8Array
}

export interface ConsensusChain {
  readonly chainId: number
  /** height of the last committed block */
  headHeight(): number
  /** the validator set that votes on `height` (known for heights up to head + 2) */
  validatorSet(height: number): Promise<ValidatorSet>
  /** builds a block on the head, carrying the head's commit certificate and pending evidence */
  buildBlock(height: number, proposerKey: Uint8Array): Promise<BlockCandidate>
  /**
   * Decodes and executes a proposed block on the head; `valid` false for any problem (wrong
   * height or parent, bad transaction, root mismatch). Valid executed blocks are kept until commit.
   */
  validateBlock(bytes: Uint8Array): Promise<{ hash: Uint8Array; height: number; valid: boolean; reason?: string }>
  /** commits an executed (built or validated) block with its certificate: one atomic write */
  commitBlock(blockHash: Uint8Array, certificate: CommitCertificate): Promise<void>
  /** evidence of misbehaviour the driver saw: to be put on chain */
  reportEvidence(evidence: Uint8Array): void
}
