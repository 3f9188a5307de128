// The Tendermint consensus algorithm for one validator (or a non-voting follower) as a pure,
// deterministic state machine: inputs in, outputs out, no IO, clocks, timers or randomness.
// It follows Algorithm 1 of Buchman, Kwon, Milosevic, "The latest gossip on BFT consensus"
// (arXiv:1807.04938); the rule numbers below are that listing's line numbers.
//
// Contract with the driver (consensus/driver/):
//   * `start` begins a height (after the previous one was decided and committed, and any commit
//     delay the driver wants). Nothing else is accepted before the first start.
//   * `proposal` is given once the driver has checked its signature, has the block and ran it:
//     `blockValid` is the verdict. A re-proposal (polRound >= 0) may carry its proof-of-lock, the
//     2f+1 prevotes the proposer saw (signatures checked by the driver). `vote` is given after
//     checking the signature (membership is checked again here). Messages for other heights are
//     the driver's to buffer or drop.
//   * `block` tells that a block fetched by hash (after a `requestBlock` output, or by sync) is
//     available and was validated. A proposal's block counts the same way.
//   * `commit` hands over a commit certificate for the current height that the driver verified
//     (verifyCommit) — how a node that fell behind catches up: peers that decided moved on and
//     no longer vote here, and a Byzantine validator may have shown this node a different vote
//     than the one in the certificate. The machine re-checks its shape and power (not signatures).
//   * `timeout` is given when a `scheduleTimeout` output's duration has elapsed.
//   * Outputs: `propose` (build a block, or reuse the valid block `blockHash`; sign a proposal with
//     `polRound` and send `polPrevotes` along), `vote` (sign and broadcast), `scheduleTimeout`, `decide` (commit the block; the
//     precommits make its CommitCertificate), `evidence` (equivocation seen), `requestBlock` (more
//     than 2/3 voted for, or a certificate commits, a block we do not have: fetch it and answer
//     with `block`).
//   * The driver signs and broadcasts every propose/vote output AND feeds the signed message back
//     as an input, like any peer's: the machine counts its own votes only when they come back.
//
// Restoration: by REPLAY. Outputs are a function of the constructor options and the sequence of
// inputs only, so a driver that appends every input to its write-ahead log before applying it
// gets back exactly the state it had (and exactly the same votes: ed25519 signatures are
// deterministic, so re-signing gives the same bytes) by applying the logged inputs of the
// unfinished height, starting with its `start`, to a fresh machine. No snapshot format exists.
//
// Safety of our own votes: the machine never outputs two different votes for one (height, round,
// type), nor two proposals for one (height, round) — by the algorithm's step order, and again by
// an explicit per-height record of what it emitted. Rounds, and steps within a round, only move
// forward, so the order of signed messages never goes backwards (the driver's sign guard relies on
// this).
//
// Departures from the listing, each safe:
//   * Lock/valid update (line 36) and decision (line 49) need the block to be known valid, not the
//     proposal message of that round: more than 2/3 prevotes/precommits for v contain an honest
//     prevote for v, which an honest node only sends after that round's proposal of v.
//   * Round skipping (line 55) uses each validator's highest round seen (see voteSet.ts).
//   * Only a validator's first vote per (round, type) is counted (a second one is evidence), which
//     bounds memory but means an equivocator can show nodes different quorums. Two certificates
//     restore what the listing's "every message reaches every correct node" gives: a re-proposal
//     carries the prevotes of its POL (line 28 accepts them as well as its own tally), and a
//     decided peer's commit certificate decides a node that could not count it (line 49).
//   * Every node, the proposer included, schedules the propose timeout: a proposer whose driver
//     fails to build a block in time prevotes nil instead of stalling the round.
//   * Proposer-based timestamps (CometBFT's PBTS): line 22 also needs the proposal to be timely
//     (the driver's verdict, see consensus/timeliness.ts); line 28's re-proposals are not checked
//     again, their proof-of-lock shows more than 2/3 found them timely in polRound.
import { ConsensusError } from './errors.ts'
import { proposerIndex } from './proposer.ts'
import {
  compareBlockHashes, validatorIndex, MAX_ROUND, type CommitCertificate, type DuplicateVoteEvidence, type SignedProposal, type SignedVote, type Validator, type ValidatorSet, type VoteType,
} from './types.ts'
import { blockKey, HeightVoteSet } from './voteSet.ts'

export type Step = 'propose' | 'prevote' | 'precommit'
/** where the machine is: before the first start, in a round's step, or done with the height */
export type Phase = 'idle' | Step | 'decided'

/** Timeouts grow linearly with the round, so after enough rounds they exceed any message delay. */
export interface TimeoutConfig {
  /** ms: wait for the proposal in round 0 */
  readonly proposeMs: number
  /** ms: added per round */
  readonly proposeDeltaMs: number
  /** ms: after 2f+1 prevotes of any kind, wait for a prevote quorum */
  readonly prevoteMs: number
  readonly prevoteDeltaMs: number
  /** ms: after 2f+1 precommits of any kind, wait for a precommit quorum */
  readonly precommitMs: number
  readonly precommitDeltaMs: number
}

/** Tuned for about one block per second on a LAN/WAN of a few validators. */
export const DEFAULT_TIMEOUTS: TimeoutConfig = Object.freeze({
  proposeMs: 1000,
  proposeDeltaMs: 500,
  prevoteMs: 500,
  prevoteDeltaMs: 250,
  precommitMs: 500,
  precommitDeltaMs: 250,
})

/** rounds: votes and proposals further ahead of the current round are not stored */
export const DEFAULT_MAX_ROUNDS_AHEAD = 100

/** ms: timeoutPropose/Prevote/Precommit(round) = base + round · delta */
export function timeoutDuration(config: TimeoutConfig, step: Step, round: number): number {
  switch (step) {
    case 'propose': return config.proposeMs + round * config.proposeDeltaMs
    case 'prevote': return config.prevoteMs + round * config.prevoteDeltaMs
    case 'precommit': return config.precommitMs + round * config.precommitDeltaMs
  }
}

// ---------------------------------------------------------------------------------------------
// Inputs and outputs

export interface StartInput {
  readonly type: 'start'
  readonly height: number
  /** the validator set of this height */
  readonly validatorSet: ValidatorSet
}
export interface ProposalInput {
  readonly type: 'proposal'
  /** signature already checked by the driver */
  readonly proposal: SignedProposal
  /** the driver has the block and it passed validation (execution) */
  readonly blockValid: boolean
  /**
   * for a new block (polRound −1): its time passed the timeliness rule (consensus/timeliness.ts)
   * by this node's clock at receipt; false makes line 22 prevote nil. Default true.
   */
  readonly timely?: boolean
  /** for polRound >= 0: the proof-of-lock the proposal carries (prevotes for blockHash in polRound) */
  readonly polPrevotes?: readonly SignedVote[]
}
export interface BlockInput {
  readonly type: 'block'
  readonly height: number
  readonly blockHash: Uint8Array
  readonly valid: boolean
}
export interface VoteInput {
  readonly type: 'vote'
  /** signature already checked by the driver */
  readonly vote: SignedVote
}
export interface TimeoutInput {
  readonly type: 'timeout'
  readonly step: Step
  readonly height: number
  readonly round: number
}
export interface CommitInput {
  readonly type: 'commit'
  /** signatures already checked by the driver (verifyCommit with this height's set) */
  readonly certificate: CommitCertificate
}
export type Input = StartInput | ProposalInput | BlockInput | VoteInput | TimeoutInput | CommitInput

export interface ProposeOutput {
  readonly type: 'propose'
  readonly height: number
  readonly round: number
  /** undefined: build a new block; otherwise re-propose this (valid, already known) block */
  readonly blockHash: Uint8Array | undefined
  /** -1 for a new block; the round whose 2f+1 prevotes justify re-proposing blockHash */
  readonly polRound: number
  /** those prevotes (empty for a new block): gossip them with the proposal */
  readonly polPrevotes: readonly SignedVote[]
}
export interface VoteOutput {
  readonly type: 'vote'
  readonly voteType: VoteType
  readonly height: number
  readonly round: number
  /** undefined: a vote for nil */
  readonly blockHash: Uint8Array | undefined
}
export interface ScheduleTimeoutOutput {
  readonly type: 'scheduleTimeout'
  readonly step: Step
  readonly height: number
  readonly round: number
  readonly durationMs: number
}
export interface DecideOutput {
  readonly type: 'decide'
  readonly height: number
  readonly round: number
  readonly blockHash: Uint8Array
  /** precommits for blockHash in that round from more than 2/3 of the power, validator order (counted here, or a certificate's) */
  readonly commit: readonly SignedVote[]
}
export interface EvidenceOutput {
  readonly type: 'evidence'
  readonly evidence: DuplicateVoteEvidence
}
export interface RequestBlockOutput {
  readonly type: 'requestBlock'
  readonly height: number
  readonly round: number
  readonly blockHash: Uint8Array
}
export type Output = ProposeOutput | VoteOutput | ScheduleTimeoutOutput | DecideOutput | EvidenceOutput | RequestBlockOutput

/** A read-only view for RPC, metrics and logs. */
export interface ConsensusState {
  /** 0 before the first start */
  readonly height: number
  readonly round: number
  readonly step: Phase
  readonly lockedRound: number
  readonly lockedValue: Uint8Array | undefined
  readonly validRound: number
  readonly validValue: Uint8Array | undefined
  readonly decision: { readonly round: number; readonly blockHash: Uint8Array } | undefined
  /** the current round's proposer */
  readonly proposer: Uint8Array | undefined
  /** whether ownKey is in this height's validator set */
  readonly isValidator: boolean
}

export interface ConsensusStateMachineOptions {
  /** this node's ed25519 consensus public key; undefined for a node that never votes */
  readonly ownKey?: Uint8Array
  readonly timeouts?: Partial<TimeoutConfig>
  /** rounds: how far ahead of the current round votes and proposals are kept (default 100) */
  readonly maxRoundsAhead?: number
}

function sameHash(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return compareBlockHashes(a, b) === 0
}

interface CommitCandidate {
  readonly round: number
  readonly blockHash: Uint8Array
  /** the precommits of a certificate; undefined: the ones counted in the vote set */
  readonly precommits: readonly SignedVote[] | undefined
}

interface Height {
  readonly height: number
  readonly set: ValidatorSet
  readonly votes: HeightVoteSet
  readonly ownIndex: number | undefined
}

export class ConsensusStateMachine {
  readonly #ownKey: Uint8Array | undefined
  readonly #timeouts: TimeoutConfig
  readonly #maxRoundsAhead: number

  #current: Height | undefined
  #round = 0
  #step: Phase = 'idle'
  #lockedValue: Uint8Array | undefined
  #lockedRound = -1
  #validValue: Uint8Array | undefined
  #validRound = -1
  #decision: { readonly round: number; readonly blockHash: Uint8Array } | undefined
  /** round → the first proposal from that round's proposer */
  #proposals = new Map<number, SignedProposal>()
  /** rounds whose proposal was not timely */
  #untimely = new Set<number>()
  /** block key → validity, for blocks the driver has */
  #blocks = new Map<string, boolean>()
  #requested = new Set<string>()
  /** rounds whose precommits reached 2/3 for a block (counted here, or a certificate): the candidates for line 49 */
  #commitRounds: CommitCandidate[] = []
  /** `${polRound}/${block key}` of proofs-of-lock that came with proposals */
  #justifiedPols = new Set<string>()
  /** `${round}/${kind}` of every vote and proposal emitted at this height */
  #emitted = new Set<string>()
  #proposers = new Map<number, number>()
  // "for the first time" flags of the current round
  #prevoteTimeoutScheduled = false
  #precommitTimeoutScheduled = false
  #polkaHandled = false

  constructor(options: ConsensusStateMachineOptions = {}) {
    if (options.ownKey !== undefined && !(options.ownKey instanceof Uint8Array && options.ownKey.length === 32)) {
      throw new ConsensusError('INVALID_OPTIONS', 'ownKey: expected a 32-byte ed25519 public key')
    }
    const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts }
    for (const [name, value] of Object.entries(timeouts)) {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new ConsensusError('INVALID_OPTIONS', `timeouts.${name}: expected a non-negative number of ms`)
    }
    const maxRoundsAhead = options.maxRoundsAhead ?? DEFAULT_MAX_ROUNDS_AHEAD
    if (!Number.isSafeInteger(maxRoundsAhead) || maxRoundsAhead < 1) throw new ConsensusError('INVALID_OPTIONS', 'maxRoundsAhead: expected an integer of at least 1')
    this.#ownKey = options.ownKey === undefined ? undefined : Uint8Array.from(options.ownKey)
    this.#timeouts = Object.freeze(timeouts)
    this.#maxRoundsAhead = maxRoundsAhead
  }

  /** Applies one input; returns what the driver must do, in order. */
  apply(input: Input): Output[] {
    const out: Output[] = []
    switch (input.type) {
      case 'start': this.#onStart(input, out); break
      case 'proposal': this.#onProposal(input); break
      case 'block': this.#onBlock(input); break
      case 'vote': this.#onVote(input.vote, out); break
      case 'timeout': this.#onTimeout(input, out); break
      case 'commit': this.#onCommit(input.certificate, out); break
    }
    this.#progress(out)
    return out
  }

  state(): ConsensusState {
    const current = this.#current
    return Object.freeze({
      height: current?.height ?? 0,
      round: this.#round,
      step: this.#step,
      lockedRound: this.#lockedRound,
      lockedValue: this.#lockedValue,
      validRound: this.#validRound,
      validValue: this.#validValue,
      decision: this.#decision,
      proposer: current === undefined ? undefined : current.set.validators[this.#proposerOf(this.#round)]?.publicKey,
      isValidator: current?.ownIndex !== undefined,
    })
  }

  // -------------------------------------------------------------------------------------------
  // inputs

  #onStart(input: StartInput, out: Output[]): void {
    if (!Number.isSafeInteger(input.height) || input.height < 1) throw new ConsensusError('INVALID_INPUT', `start.height: expected a height of at least 1, got ${input.height}`)
    // heights only move forward: a replayed or stale start changes nothing
    if (this.#current !== undefined && input.height <= this.#current.height) return
    const set = input.validatorSet
    this.#current = {
      height: input.height,
      set,
      votes: new HeightVoteSet({ height: input.height, validatorSet: set, maxRoundsAhead: this.#maxRoundsAhead }),
      ownIndex: this.#ownKey === undefined ? undefined : validatorIndex(set, this.#ownKey),
    }
    this.#lockedValue = undefined
    this.#lockedRound = -1
    this.#validValue = undefined
    this.#validRound = -1
    this.#decision = undefined
    this.#proposals = new Map()
    this.#untimely = new Set()
    this.#blocks = new Map()
    this.#requested = new Set()
    this.#commitRounds = []
    this.#justifiedPols = new Set()
    this.#emitted = new Set()
    this.#proposers = new Map()
    this.#startRound(0, out)
  }

  #onProposal(input: ProposalInput): void {
    const current = this.#active()
    const proposal = input.proposal
    if (current === undefined || proposal.height !== current.height) return
    if (!Number.isSafeInteger(proposal.round) || proposal.round < 0 || proposal.round > MAX_ROUND) return
    const index = validatorIndex(current.set, proposal.proposer)
    if (index === undefined) return
    current.votes.noteMessage(index, proposal.round)
    if (!current.votes.accepts(proposal.round) || index !== this.#proposerOf(proposal.round)) return
    if (!Number.isSafeInteger(proposal.polRound) || proposal.polRound < -1 || proposal.polRound >= proposal.round) return
    // the first proposal of a round counts; an equivocating proposer's others are ignored
    if (this.#proposals.has(proposal.round)) return
    this.#proposals.set(proposal.round, proposal)
    if (input.timely === false) this.#untimely.add(proposal.round)
    this.#recordBlock(proposal.blockHash, input.blockValid)
    if (proposal.polRound >= 0 && input.polPrevotes !== undefined &&
      this.#isQuorum(current, input.polPrevotes, 'prevote', proposal.polRound, proposal.blockHash)) {
      this.#justifiedPols.add(`${proposal.polRound}/${blockKey(proposal.blockHash)}`)
    }
  }

  #onBlock(input: BlockInput): void {
    const current = this.#active()
    if (current === undefined || input.height !== current.height) return
    this.#recordBlock(input.blockHash, input.valid)
  }

  #onVote(vote: SignedVote, out: Output[]): void {
    const current = this.#active()
    if (current === undefined) return
    const result = current.votes.addVote(vote)
    if (result.kind === 'conflict') {
      out.push({ type: 'evidence', evidence: result.evidence })
      return
    }
    if (result.kind !== 'added') return
    const quorumHash = result.tally.quorumValue?.blockHash
    if (quorumHash === undefined) return
    if (vote.type === 'precommit' && !this.#commitRounds.some((c) => c.round === vote.round && c.precommits === undefined)) {
      this.#commitRounds.push({ round: vote.round, blockHash: quorumHash, precommits: undefined })
    }
    this.#requestIfMissing(current, vote.round, quorumHash, out)
  }

  #onCommit(certificate: CommitCertificate, out: Output[]): void {
    const current = this.#active()
    if (current === undefined || certificate.height !== current.height || this.#commitRounds.some((c) => c.precommits !== undefined)) return
    if (!Number.isSafeInteger(certificate.round) || certificate.round < 0 || certificate.round > MAX_ROUND) return
    if (!(certificate.blockHash instanceof Uint8Array) || certificate.blockHash.length !== 32) return
    const precommits: SignedVote[] = []
    for (const entry of certificate.signatures) {
      const validator = current.set.validators[entry.validatorIndex]
      if (validator === undefined) return
      precommits.push(Object.freeze({
        type: 'precommit', height: certificate.height, round: certificate.round, blockHash: certificate.blockHash, validator: validator.publicKey, signature: entry.signature,
      }))
    }
    if (!this.#isQuorum(current, precommits, 'precommit', certificate.round, certificate.blockHash)) return
    this.#commitRounds.push({ round: certificate.round, blockHash: certificate.blockHash, precommits: Object.freeze(precommits) })
    this.#requestIfMissing(current, certificate.round, certificate.blockHash, out)
  }

  #onTimeout(input: TimeoutInput, out: Output[]): void {
    const current = this.#active()
    if (current === undefined || input.height !== current.height || input.round !== this.#round) return
    switch (input.step) {
      case 'propose': // line 57
        if (this.#step === 'propose') {
          this.#vote('prevote', undefined, out)
          this.#step = 'prevote'
        }
        break
      case 'prevote': // line 61
        if (this.#step === 'prevote') {
          this.#vote('precommit', undefined, out)
          this.#step = 'precommit'
        }
        break
      case 'precommit': // line 65
        this.#startRound(this.#round + 1, out)
        break
    }
  }

  // -------------------------------------------------------------------------------------------
  // the rules

  /** Fires every enabled rule until none is; each rule changes state so it cannot fire again. */
  #progress(out: Output[]): void {
    for (;;) {
      const current = this.#active()
      if (current === undefined) return
      if (this.#tryDecide(current, out)) return
      const skip = current.votes.skipRound()
      if (skip !== undefined && skip > this.#round) { // line 55
        this.#startRound(skip, out)
        continue
      }
      if (this.#step === 'propose' && this.#tryPrevoteProposal(current, out)) continue
      const prevotes = current.votes.prevotes(this.#round)
      if (this.#step === 'prevote' && !this.#prevoteTimeoutScheduled && prevotes?.hasQuorumAny === true) { // line 34
        this.#prevoteTimeoutScheduled = true
        this.#schedule('prevote', out)
        continue
      }
      const polka = prevotes?.quorumValue
      if ((this.#step === 'prevote' || this.#step === 'precommit') && !this.#polkaHandled && polka !== undefined && polka.blockHash !== undefined &&
        this.#blocks.get(blockKey(polka.blockHash)) === true) { // line 36
        this.#polkaHandled = true
        if (this.#step === 'prevote') {
          this.#lockedValue = polka.blockHash
          this.#lockedRound = this.#round
          this.#vote('precommit', polka.blockHash, out)
          this.#step = 'precommit'
        }
        this.#validValue = polka.blockHash
        this.#validRound = this.#round
        continue
      }
      if (this.#step === 'prevote' && polka !== undefined && polka.blockHash === undefined) { // line 44
        this.#vote('precommit', undefined, out)
        this.#step = 'precommit'
        continue
      }
      if (!this.#precommitTimeoutScheduled && current.votes.precommits(this.#round)?.hasQuorumAny === true) { // line 47
        this.#precommitTimeoutScheduled = true
        this.#schedule('precommit', out)
        continue
      }
      return
    }
  }

  /** Line 49: more than 2/3 precommits for a valid block in any round decide it. */
  #tryDecide(current: Height, out: Output[]): boolean {
    for (const candidate of this.#commitRounds) {
      if (this.#blocks.get(blockKey(candidate.blockHash)) !== true) continue
      const commit = candidate.precommits ?? current.votes.precommits(candidate.round)?.votesFor(candidate.blockHash) ?? []
      this.#step = 'decided'
      this.#decision = Object.freeze({ round: candidate.round, blockHash: candidate.blockHash })
      out.push({ type: 'decide', height: current.height, round: candidate.round, blockHash: candidate.blockHash, commit: Object.freeze(commit) })
      return true
    }
    return false
  }

  /** Lines 22 and 28: prevote on the current round's proposal. */
  #tryPrevoteProposal(current: Height, out: Output[]): boolean {
    const proposal = this.#proposals.get(this.#round)
    if (proposal === undefined) return false
    const valid = this.#blocks.get(blockKey(proposal.blockHash)) === true
    let acceptable: boolean
    if (proposal.polRound === -1) {
      acceptable = !this.#untimely.has(this.#round) && (this.#lockedRound === -1 || sameHash(this.#lockedValue, proposal.blockHash))
    } else {
      const pol = current.votes.prevotes(proposal.polRound)?.quorumValue
      const counted = pol !== undefined && sameHash(pol.blockHash, proposal.blockHash)
      // without 2f+1 prevotes for it in polRound the proposal waits (for them, or the timeout)
      if (!counted && !this.#justifiedPols.has(`${proposal.polRound}/${blockKey(proposal.blockHash)}`)) return false
      acceptable = this.#lockedRound <= proposal.polRound || sameHash(this.#lockedValue, proposal.blockHash)
    }
    this.#vote('prevote', valid && acceptable ? proposal.blockHash : undefined, out)
    this.#step = 'prevote'
    return true
  }

  #startRound(round: number, out: Output[]): void {
    const current = this.#current as Height
    this.#round = round
    this.#step = 'propose'
    this.#prevoteTimeoutScheduled = false
    this.#precommitTimeoutScheduled = false
    this.#polkaHandled = false
    current.votes.currentRound = round
    if (current.ownIndex !== undefined && this.#proposerOf(round) === current.ownIndex && !this.#emitted.has(`${round}/proposal`)) {
      this.#emitted.add(`${round}/proposal`)
      const validValue = this.#validValue
      const polPrevotes = validValue === undefined ? [] : current.votes.prevotes(this.#validRound)?.votesFor(validValue) ?? []
      out.push({ type: 'propose', height: current.height, round, blockHash: validValue, polRound: validValue === undefined ? -1 : this.#validRound, polPrevotes: Object.freeze(polPrevotes) })
    }
    this.#schedule('propose', out)
  }

  // -------------------------------------------------------------------------------------------
  // helpers

  #active(): Height | undefined {
    return this.#step === 'idle' || this.#step === 'decided' ? undefined : this.#current
  }

  #vote(voteType: VoteType, blockHash: Uint8Array | undefined, out: Output[]): void {
    const current = this.#current as Height
    if (current.ownIndex === undefined) return
    const key = `${this.#round}/${voteType}`
    if (this.#emitted.has(key)) return
    this.#emitted.add(key)
    out.push({ type: 'vote', voteType, height: current.height, round: this.#round, blockHash })
  }

  #schedule(step: Step, out: Output[]): void {
    const current = this.#current as Height
    out.push({ type: 'scheduleTimeout', step, height: current.height, round: this.#round, durationMs: timeoutDuration(this.#timeouts, step, this.#round) })
  }

  /** Whether `votes` are `type` votes for (this height, round, blockHash) from distinct members holding more than 2/3 of the power. */
  #isQuorum(current: Height, votes: readonly SignedVote[], type: VoteType, round: number, blockHash: Uint8Array): boolean {
    const seen = new Set<number>()
    let power = 0n
    for (const vote of votes) {
      if (vote.type !== type || vote.height !== current.height || vote.round !== round || !sameHash(vote.blockHash, blockHash)) return false
      const index = validatorIndex(current.set, vote.validator)
      if (index === undefined || seen.has(index)) return false
      seen.add(index)
      power += (current.set.validators[index] as Validator).power
    }
    return power >= current.set.quorum
  }

  #requestIfMissing(current: Height, round: number, blockHash: Uint8Array, out: Output[]): void {
    const key = blockKey(blockHash)
    if (this.#blocks.has(key) || this.#requested.has(key)) return
    this.#requested.add(key)
    out.push({ type: 'requestBlock', height: current.height, round, blockHash })
  }

  #recordBlock(blockHash: Uint8Array, valid: boolean): void {
    const key = blockKey(blockHash)
    // validity is a function of the block's content, which its hash fixes: the first verdict stands
    if (!this.#blocks.has(key)) this.#blocks.set(key, valid)
  }

  #proposerOf(round: number): number {
    let index = this.#proposers.get(round)
    if (index === undefined) {
      const current = this.#current as Height
      index = proposerIndex(current.set, current.height, round)
      this.#proposers.set(round, index)
    }
    return index
  }
}
