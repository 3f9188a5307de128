// governance calls: submit a proposal (with a first deposit), add to a deposit, vote (or change a
// vote). Everything a proposal asks for is checked when it is submitted — a parameter change
// against the registry, a spend against the treasury, an upgrade height against the chain — and
// checked again when it is enacted, since the chain may have moved on in between.
import * as k from '../../codec/schema.ts'
import type { Address } from '../../crypto/secp256k1.ts'
import { defineCall, type CallContext, type CallDefinition, type CallResult, type ExecutionContext, type ModuleError } from '../../module.ts'
import { ParamProblemCode, type ParamProblem, type ParamRegistry } from '../../params.ts'
import { sameAddress } from '../accounts.ts'
import { transfer } from '../balances/index.ts'
import { delegation, validatorInfo } from '../staking/index.ts'
import { spendProblem } from '../treasury/index.ts'
import { GovernanceError } from './errors.ts'
import { Deposited, ProposalSubmitted, Voted, VotingStarted } from './events.ts'
import {
  depositors, deposits, GOVERNANCE_ACCOUNT, MAX_DEPOSITORS, MAX_VOTE_VALIDATORS, MAX_VOTERS, params as governanceParams, proposalContentKind, proposalCount, proposals,
  ProposalKind, ProposalStatus, queue, voters, votes, VoteOption, type Proposal, type ProposalContent,
} from './state.ts'

// Weights (gas): about 150 per state read or write.
/** the proposal, its queue entry, the deposit move; a parameter change reads each touched module's set */
export const SUBMIT_WEIGHT = 5_000
export const DEPOSIT_WEIGHT = 2_000
/** the vote record and, per listed validator, the delegation and validator read */
export const VOTE_WEIGHT = 1_500
export const VOTE_WEIGHT_PER_VALIDATOR = 400

const SEMVER = /^(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})$/

const PARAM_ERRORS: Record<ParamProblemCode, ModuleError> = {
  UNKNOWN_MODULE: GovernanceError.UnknownModule,
  UNKNOWN_PARAMETER: GovernanceError.UnknownParameter,
  WRONG_TYPE: GovernanceError.WrongParameterType,
  OUT_OF_BOUNDS: GovernanceError.ParameterOutOfBounds,
  INCONSISTENT: GovernanceError.InconsistentParameters,
}

export function paramProblemError(problem: ParamProblem): ModuleError {
  return PARAM_ERRORS[problem.code]
}

/** Why `content` cannot be proposed (or enacted) now, or undefined. */
export async function contentProblem(context: ExecutionContext, registry: ParamRegistry, content: ProposalContent): Promise<CallResult> {
  const { kind, changes, recipient, amount, upgradeHeight, upgradeVersion } = content
  if (kind > ProposalKind.softwareUpgrade) return GovernanceError.InvalidKind
  if (content.title.trim() === '') return GovernanceError.InvalidContent
  const usesChanges = kind === ProposalKind.parameterChange
  const usesSpend = kind === ProposalKind.treasurySpend
  const usesUpgrade = kind === ProposalKind.softwareUpgrade
  if ((!usesChanges && changes.length > 0) || (!usesSpend && (recipient !== undefined || amount !== 0n)) || (!usesUpgrade && (upgradeHeight !== 0 || upgradeVersion !== ''))) {
    return GovernanceError.InvalidContent
  }
  if (usesChanges) {
    if (changes.length === 0) return GovernanceError.NoChanges
    const resolved = await registry.resolve(context.state, changes)
    if (!(resolved instanceof Map)) return paramProblemError(resolved)
  }
  if (usesSpend) {
    if (recipient === undefined) return GovernanceError.InvalidContent
    const problem = await spendProblem(context.state, amount)
    if (problem !== undefined) return amount === 0n ? GovernanceError.ZeroSpend : GovernanceError.SpendExceedsTreasury
  }
  if (usesUpgrade) {
    if (upgradeHeight <= context.block.height) return GovernanceError.UpgradeHeightPassed
    if (!SEMVER.test(upgradeVersion)) return GovernanceError.InvalidVersion
  }
  return undefined
}

async function enqueue(context: ExecutionContext, height: number, proposal: number): Promise<void> {
  const list = (await queue.get(context.state, height)) ?? []
  if (!list.includes(proposal)) queue.set(context.state, height, [...list, proposal])
}

/** Moves a deposit into escrow and opens the vote once the total reaches minDeposit. */
async function addDeposit(context: CallContext, proposal: Proposal, amount: bigint): Promise<CallResult> {
  const { state, sender } = context
  const key = { proposal: proposal.id, account: sender }
  const previous = await deposits.get(state, key)
  if (previous === undefined) {
    const list = (await depositors.get(state, proposal.id)) ?? []
    if (list.length >= MAX_DEPOSITORS) return GovernanceError.TooManyDepositors
    depositors.set(state, proposal.id, [...list, sender])
  }
  const moved = await transfer(context, sender, GOVERNANCE_ACCOUNT, amount)
  if (moved !== undefined) return moved
  deposits.set(state, key, (previous ?? 0n) + amount)
  proposal.totalDeposit += amount
  context.emit(Deposited.create({ proposal: proposal.id, depositor: sender, amount, total: proposal.totalDeposit }))
  const params = await governanceParams.get(state)
  if (proposal.status === ProposalStatus.depositPeriod && proposal.totalDeposit >= params.minDeposit) {
    proposal.status = ProposalStatus.votingPeriod
    proposal.votingStart = context.block.height
    proposal.votingEnd = context.block.height + params.votingPeriod
    await enqueue(context, proposal.votingEnd, proposal.id)
    context.emit(VotingStarted.create({ proposal: proposal.id, votingEnd: proposal.votingEnd }))
  }
  return undefined
}

export function createCalls(registry: () => ParamRegistry): CallDefinition<never>[] {
  const submitProposal = defineCall({
    index: 0,
    name: 'submitProposal',
    args: k.struct({ content: proposalContentKind, deposit: k.amount }),
    weight: ({ content }) => SUBMIT_WEIGHT + content.changes.length * 300,
    async execute(context, { content, deposit }) {
      const { state, sender } = context
      if (deposit === 0n) return GovernanceError.ZeroDeposit
      const problem = await contentProblem(context, registry(), content)
      if (problem !== undefined) return problem
      const params = await governanceParams.get(state)
      const id = (await proposalCount.get(state)) + 1
      const height = context.block.height
      const proposal: Proposal = {
        id, proposer: sender, content, status: ProposalStatus.depositPeriod, submitHeight: height, depositEnd: height + params.depositPeriod,
        votingStart: 0, votingEnd: 0, enactHeight: 0, totalDeposit: 0n, tally: { yes: 0n, no: 0n, abstain: 0n, veto: 0n, totalPower: 0n },
      }
      context.emit(ProposalSubmitted.create({ proposal: id, proposer: sender, kind: content.kind, deposit, depositEnd: proposal.depositEnd }))
      const added = await addDeposit(context, proposal, deposit)
      if (added !== undefined) return added
      if (proposal.status === ProposalStatus.depositPeriod) await enqueue(context, proposal.depositEnd, id)
      proposalCount.set(state, id)
      proposals.set(state, id, proposal)
      return undefined
    },
  })

  const deposit = defineCall({
    index: 1,
    name: 'deposit',
    args: k.struct({ proposal: k.uint, amount: k.amount }),
    weight: () => DEPOSIT_WEIGHT,
    async execute(context, { proposal: id, amount }) {
      if (amount === 0n) return GovernanceError.ZeroDeposit
      const proposal = await proposals.get(context.state, id)
      if (proposal === undefined) return GovernanceError.UnknownProposal
      if (proposal.status !== ProposalStatus.depositPeriod && proposal.status !== ProposalStatus.votingPeriod) return GovernanceError.NotInDepositPeriod
      const added = await addDeposit(context, proposal, amount)
      if (added !== undefined) return added
      proposals.set(context.state, id, proposal)
      return undefined
    },
  })

  const vote = defineCall({
    index: 2,
    name: 'vote',
    args: k.struct({ proposal: k.uint, option: k.uint, validators: k.list(k.address, MAX_VOTE_VALIDATORS) }),
    weight: ({ validators }) => VOTE_WEIGHT + validators.length * VOTE_WEIGHT_PER_VALIDATOR,
    async execute(context, { proposal: id, option, validators: listed }) {
      const { state, sender } = context
      const proposal = await proposals.get(state, id)
      if (proposal === undefined) return GovernanceError.UnknownProposal
      if (proposal.status !== ProposalStatus.votingPeriod || context.block.height > proposal.votingEnd) return GovernanceError.NotInVotingPeriod
      if (option > VoteOption.veto) return GovernanceError.InvalidOption
      const problem = await stakeProblem(state, sender, listed)
      if (problem !== undefined) return problem
      const key = { proposal: id, account: sender }
      const changed = (await votes.get(state, key)) !== undefined
      if (!changed) {
        const list = (await voters.get(state, id)) ?? []
        if (list.length >= MAX_VOTERS) return GovernanceError.TooManyVoters
        voters.set(state, id, [...list, sender])
      }
      votes.set(state, key, { option, validators: listed, height: context.block.height })
      context.emit(Voted.create({ proposal: id, voter: sender, option, changed }))
      return undefined
    },
  })

  return [submitProposal, deposit, vote] as CallDefinition<never>[]
}

/** A voter must hold stake now: operate a validator, or delegate to every validator it lists. */
async function stakeProblem(state: CallContext['state'], voter: Address, listed: readonly Address[]): Promise<CallResult> {
  for (const [i, validator] of listed.entries()) {
    if (listed.slice(0, i).some((other) => sameAddress(other, validator))) return GovernanceError.DuplicateValidator
    if ((await delegation(state, voter, validator)) === undefined) return GovernanceError.NoDelegation
  }
  if (listed.length === 0 && (await validatorInfo(state, voter)) === undefined) return GovernanceError.NoStake
  return undefined
}
