// The votes of one height: per round and vote type, the first vote of each validator and the power
// behind each block hash (nil included). A validator's second, different vote for the same
// (round, type) is not counted: it becomes duplicate-vote evidence (reported once). Memory is
// bounded: only this height's votes, only rounds up to `currentRound + maxRoundsAhead`, at most one
// counted vote per validator per (round, type). For round skipping, the highest round each
// validator has sent anything for is kept for every round (one number per validator).
import { toHex } from '../runtime/crypto/hash.ts'
import { createDuplicateVoteEvidence, compareBlockHashes, validatorIndex, type DuplicateVoteEvidence, type SignedVote, type ValidatorSet, type Validator, type VoteType } from './types.ts'

/** A block hash as a map key; nil is its own key. */
export function blockKey(blockHash: Uint8Array | undefined): string {
  return blockHash === undefined ? 'nil' : toHex(blockHash)
}

/** One (round, type) tally. */
export class VoteTally {
  readonly #quorum: bigint
  readonly #votes = new Map<number, SignedVote>()
  readonly #power = new Map<string, bigint>()
  #total = 0n
  #quorumValue: { readonly blockHash: Uint8Array | undefined } | undefined

  constructor(quorum: bigint) {
    this.#quorum = quorum
  }

  /** Counts a validator's first vote; returns the earlier vote when this one conflicts with it. */
  add(index: number, power: bigint, vote: SignedVote): 'added' | 'duplicate' | { readonly conflictsWith: SignedVote } {
    const previous = this.#votes.get(index)
    if (previous !== undefined) return compareBlockHashes(previous.blockHash, vote.blockHash) === 0 ? 'duplicate' : { conflictsWith: previous }
    this.#votes.set(index, vote)
    const key = blockKey(vote.blockHash)
    const power_ = (this.#power.get(key) ?? 0n) + power
    this.#power.set(key, power_)
    this.#total += power
    // at most one value can pass 2/3 when each validator counts once
    if (power_ >= this.#quorum && this.#quorumValue === undefined) this.#quorumValue = Object.freeze({ blockHash: vote.blockHash })
    return 'added'
  }

  /** power of all counted votes, whatever their value */
  get totalPower(): bigint {
    return this.#total
  }

  powerFor(blockHash: Uint8Array | undefined): bigint {
    return this.#power.get(blockKey(blockHash)) ?? 0n
  }

  /** The value (a block hash, or undefined for nil) more than 2/3 of the power voted for, if any. */
  get quorumValue(): { readonly blockHash: Uint8Array | undefined } | undefined {
    return this.#quorumValue
  }

  /** Whether more than 2/3 of the power voted, for anything. */
  get hasQuorumAny(): boolean {
    return this.#total >= this.#quorum
  }

  /** The counted votes for `blockHash`, in validator order. */
  votesFor(blockHash: Uint8Array | undefined): SignedVote[] {
    return [...this.#votes.entries()]
      .filter(([, vote]) => compareBlockHashes(vote.blockHash, blockHash) === 0)
      .sort(([a], [b]) => a - b)
      .map(([, vote]) => vote)
  }

  get size(): number {
    return this.#votes.size
  }
}

export type AddVoteResult =
  | { readonly kind: 'added'; readonly tally: VoteTally }
  | { readonly kind: 'duplicate' }
  | { readonly kind: 'conflict'; readonly evidence: DuplicateVoteEvidence }
  | { readonly kind: 'ignored'; readonly reason: 'wrongHeight' | 'unknownValidator' | 'roundTooFar' | 'conflictKnown' }

export interface HeightVoteSetOptions {
  readonly height: number
  readonly validatorSet: ValidatorSet
  /** rounds above currentRound + this are not stored (but still count for round skipping) */
  readonly maxRoundsAhead: number
}

interface RoundTallies {
  readonly prevote: VoteTally
  readonly precommit: VoteTally
}

export class HeightVoteSet {
  readonly height: number
  readonly validatorSet: ValidatorSet
  readonly #maxRoundsAhead: number
  #currentRound = 0
  readonly #rounds = new Map<number, RoundTallies>()
  readonly #conflicts = new Set<string>()
  /** validator index → the highest round it sent a message for */
  readonly #latestRound = new Map<number, number>()
  #skipRound: number | undefined = undefined
  #skipDirty = false

  constructor(options: HeightVoteSetOptions) {
    this.height = options.height
    this.validatorSet = options.validatorSet
    this.#maxRoundsAhead = options.maxRoundsAhead
  }

  set currentRound(round: number) {
    this.#currentRound = round
  }

  /** Whether a message for `round` is inside the stored window. */
  accepts(round: number): boolean {
    return round <= this.#currentRound + this.#maxRoundsAhead
  }

  addVote(vote: SignedVote): AddVoteResult {
    if (vote.height !== this.height) return { kind: 'ignored', reason: 'wrongHeight' }
    const index = validatorIndex(this.validatorSet, vote.validator)
    if (index === undefined) return { kind: 'ignored', reason: 'unknownValidator' }
    this.noteMessage(index, vote.round)
    if (!this.accepts(vote.round)) return { kind: 'ignored', reason: 'roundTooFar' }
    const tally = this.#tally(vote.round, vote.type, true) as VoteTally
    const power = (this.validatorSet.validators[index] as Validator).power
    const result = tally.add(index, power, vote)
    if (result === 'added') return { kind: 'added', tally }
    if (result === 'duplicate') return { kind: 'duplicate' }
    const conflictKey = `${index}/${vote.round}/${vote.type}`
    if (this.#conflicts.has(conflictKey)) return { kind: 'ignored', reason: 'conflictKnown' }
    this.#conflicts.add(conflictKey)
    return { kind: 'conflict', evidence: createDuplicateVoteEvidence(result.conflictsWith, vote) }
  }

  /** Records that validator `index` sent something (a proposal, a vote) for `round`. */
  noteMessage(index: number, round: number): void {
    const latest = this.#latestRound.get(index)
    if (latest !== undefined && latest >= round) return
    this.#latestRound.set(index, round)
    this.#skipDirty = true
  }

  prevotes(round: number): VoteTally | undefined {
    return this.#tally(round, 'prevote', false)
  }

  precommits(round: number): VoteTally | undefined {
    return this.#tally(round, 'precommit', false)
  }

  /** The stored rounds, ascending. */
  rounds(): number[] {
    return [...this.#rounds.keys()].sort((a, b) => a - b)
  }

  /**
   * The highest round R such that validators holding more than 1/3 of the power have sent messages
   * for round R or higher: at least one of them is honest, so an honest node has reached R and
   * waiting in a lower round is pointless (Algorithm 1's "f+1 messages of a higher round"). Using
   * each validator's latest round rather than per-round sets keeps this bounded and loses nothing:
   * it is the same rule applied to the highest round that qualifies.
   */
  skipRound(): number | undefined {
    if (!this.#skipDirty) return this.#skipRound
    this.#skipDirty = false
    const entries = [...this.#latestRound.entries()].sort((a, b) => b[1] - a[1])
    let power = 0n
    this.#skipRound = undefined
    for (const [index, round] of entries) {
      power += (this.validatorSet.validators[index] as Validator).power
      if (power >= this.validatorSet.overOneThird) {
        this.#skipRound = round
        break
      }
    }
    return this.#skipRound
  }

  #tally(round: number, type: VoteType, create: boolean): VoteTally | undefined {
    let tallies = this.#rounds.get(round)
    if (tallies === undefined) {
      if (!create) return undefined
      tallies = { prevote: new VoteTally(this.validatorSet.quorum), precommit: new VoteTally(this.validatorSet.quorum) }
      this.#rounds.set(round, tallies)
    }
    return tallies[type]
  }
}
