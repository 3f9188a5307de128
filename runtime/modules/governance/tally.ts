// The tally: stake-weighted, taken once, at the last block of the voting period (the snapshot).
//
// Voting power is bonded stake (base units) of the validators in the active set at that height
// (jailed ones excluded). A delegator's vote covers the delegations it lists; a validator
// operator's vote covers the rest of its validator's stake — every delegation whose delegator did
// not vote with it (Cosmos SDK x/gov's inheritance). Every power is read at the one height, from
// the one staking state, so stake that moved during the vote (unbonded, bonded again elsewhere)
// is counted where it is at the snapshot and nowhere else: no base unit can count twice.
import type { Address } from '../../crypto/secp256k1.ts'
import type { StateReader } from '../../state/overlay.ts'
import { BPS, sameAddress } from '../accounts.ts'
import { delegation, validatorInfo, validatorSetAt } from '../staking/index.ts'
import { ProposalStatus, voters, votes, type GovernanceParams, type Tally, type VoteOption } from './state.ts'

export interface TallyValidator {
  readonly operator: Address
  /** bonded base units */
  readonly tokens: bigint
  /** delegation shares outstanding */
  readonly shares: bigint
}

export interface TallyVote {
  readonly voter: Address
  readonly option: VoteOption
  /** the voter's delegations the vote covers, as shares of each validator */
  readonly delegations: ReadonlyArray<{ readonly validator: Address; readonly shares: bigint }>
}

const OPTIONS = ['yes', 'no', 'abstain', 'veto'] as const

/** The tally of `votes` over `validators` (the eligible set at the snapshot). Pure. */
export function computeTally(validators: readonly TallyValidator[], votes: readonly TallyVote[]): Tally {
  const result = { yes: 0n, no: 0n, abstain: 0n, veto: 0n, totalPower: 0n }
  const deducted = new Map<TallyValidator, bigint>()
  const find = (operator: Address) => validators.find((v) => sameAddress(v.operator, operator))
  for (const validator of validators) result.totalPower += validator.tokens
  for (const vote of votes) {
    for (const { validator: operator, shares } of vote.delegations) {
      const validator = find(operator)
      if (validator === undefined || validator.shares === 0n) continue
      deducted.set(validator, (deducted.get(validator) ?? 0n) + shares)
      result[OPTIONS[vote.option]] += (shares * validator.tokens) / validator.shares
    }
  }
  for (const validator of validators) {
    const vote = votes.find((v) => sameAddress(v.voter, validator.operator))
    if (vote === undefined || validator.shares === 0n) continue
    const inherited = validator.shares - (deducted.get(validator) ?? 0n)
    result[OPTIONS[vote.option]] += (inherited * validator.tokens) / validator.shares
  }
  return result
}

/** The tally's inputs read from the state at `height`: the eligible validators and every vote's delegations now. */
export async function readTallyInput(state: StateReader, proposal: number, height: number): Promise<{ validators: TallyValidator[]; votes: TallyVote[] }> {
  const validators: TallyValidator[] = []
  for (const member of await validatorSetAt(state, height)) {
    const info = await validatorInfo(state, member.operator)
    if (info === undefined || info.jailed) continue
    validators.push({ operator: info.operator, tokens: info.tokens, shares: info.shares })
  }
  const list: TallyVote[] = []
  for (const voter of (await voters.get(state, proposal)) ?? []) {
    const vote = await votes.get(state, { proposal, account: voter })
    if (vote === undefined) continue
    const delegations: Array<{ validator: Address; shares: bigint }> = []
    for (const validator of vote.validators) {
      const found = await delegation(state, voter, validator)
      if (found !== undefined) delegations.push({ validator, shares: found.shares })
    }
    list.push({ voter, option: vote.option as VoteOption, delegations })
  }
  return { validators, votes: list }
}

/** What a tally decides: failedQuorum, vetoed, passed or rejected (in that order of precedence). */
export function outcomeOf(tally: Tally, params: GovernanceParams): ProposalStatus {
  const turnout = tally.yes + tally.no + tally.abstain + tally.veto
  if (tally.totalPower === 0n || turnout * BPS < BigInt(params.quorumBps) * tally.totalPower) return ProposalStatus.failedQuorum
  if (tally.veto * BPS >= BigInt(params.vetoBps) * turnout) return ProposalStatus.vetoed
  const decisive = turnout - tally.abstain
  if (decisive > 0n && tally.yes * BPS > BigInt(params.thresholdBps) * decisive) return ProposalStatus.passed
  return ProposalStatus.rejected
}
