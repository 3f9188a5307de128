// The governance end-of-block hook: the proposals queued at this height, and only those. A deposit
// period that ends short of minDeposit expires the proposal; a voting period that ends is tallied
// (tally.ts) and its deposits settled; a passed proposal's timelock that ends enacts it. All of it
// runs in the end-of-block hook of one height, from the state every node has: every node enacts
// the same proposal at the same height.
//
// Deposits: returned to each depositor when the vote reached quorum and was not vetoed (passed
// or rejected); burned when vetoed or short of quorum (spam and abuse cost the proposer, as in
// Cosmos SDK x/gov); forfeited to the treasury when the deposit period ends short of minDeposit.
import type { ExecutionContext } from '../../module.ts'
import type { ParamRegistry } from '../../params.ts'
import { TREASURY_ACCOUNT } from '../accounts.ts'
import { balanceOf, burn, payFromModuleAccount, setBalance } from '../balances/index.ts'
import { spendFromTreasury } from '../treasury/index.ts'
import { contentProblem } from './calls.ts'
import { DepositOutcome, DepositsSettled, EnactmentFailed, ProposalEnacted, ProposalExpired, ProposalTallied, UpgradeScheduled } from './events.ts'
import { depositors, deposits, GOVERNANCE_ACCOUNT, params as governanceParams, ProposalKind, proposals, ProposalStatus, queue, scheduledUpgrade, type Proposal } from './state.ts'
import { computeTally, outcomeOf, readTallyInput } from './tally.ts'

export async function governanceEndBlock(context: ExecutionContext, registry: ParamRegistry): Promise<void> {
  const { state } = context
  const height = context.block.height
  const due = await queue.get(state, height)
  if (due === undefined) return
  queue.delete(state, height)
  for (const id of due) {
    const proposal = await proposals.get(state, id)
    if (proposal === undefined) continue
    if (proposal.status === ProposalStatus.depositPeriod && proposal.depositEnd === height) await expire(context, proposal)
    else if (proposal.status === ProposalStatus.votingPeriod && proposal.votingEnd === height) await tally(context, proposal)
    else if (proposal.status === ProposalStatus.passed && proposal.enactHeight === height) await enact(context, registry, proposal)
    else continue
    proposals.set(state, id, proposal)
  }
}

async function expire(context: ExecutionContext, proposal: Proposal): Promise<void> {
  proposal.status = ProposalStatus.expired
  context.emit(ProposalExpired.create({ proposal: proposal.id, deposit: proposal.totalDeposit }))
  await settleDeposits(context, proposal, DepositOutcome.forfeited)
}

async function tally(context: ExecutionContext, proposal: Proposal): Promise<void> {
  const params = await governanceParams.get(context.state)
  const input = await readTallyInput(context.state, proposal.id, context.block.height)
  proposal.tally = computeTally(input.validators, input.votes)
  proposal.status = outcomeOf(proposal.tally, params)
  if (proposal.status === ProposalStatus.passed) {
    proposal.enactHeight = context.block.height + params.timelockBlocks
    const list = (await queue.get(context.state, proposal.enactHeight)) ?? []
    queue.set(context.state, proposal.enactHeight, [...list, proposal.id])
  }
  context.emit(ProposalTallied.create({ proposal: proposal.id, status: proposal.status, tally: proposal.tally, enactHeight: proposal.enactHeight }))
  const burned = proposal.status === ProposalStatus.vetoed || proposal.status === ProposalStatus.failedQuorum
  await settleDeposits(context, proposal, burned ? DepositOutcome.burned : DepositOutcome.returned)
}

async function settleDeposits(context: ExecutionContext, proposal: Proposal, outcome: number): Promise<void> {
  const { state } = context
  const list = (await depositors.get(state, proposal.id)) ?? []
  for (const depositor of list) {
    const key = { proposal: proposal.id, account: depositor }
    const amount = (await deposits.get(state, key)) ?? 0n
    deposits.delete(state, key)
    if (outcome === DepositOutcome.returned) await payFromModuleAccount(context, GOVERNANCE_ACCOUNT, depositor, amount, 'governance')
  }
  depositors.delete(state, proposal.id)
  if (outcome === DepositOutcome.forfeited) await payFromModuleAccount(context, GOVERNANCE_ACCOUNT, TREASURY_ACCOUNT, proposal.totalDeposit, 'governance')
  if (outcome === DepositOutcome.burned) await burnFromEscrow(context, proposal.totalDeposit)
  context.emit(DepositsSettled.create({ proposal: proposal.id, outcome, amount: proposal.totalDeposit }))
}

async function burnFromEscrow(context: ExecutionContext, amount: bigint): Promise<void> {
  // withdraw from the escrow first (the ledger's burn destroys what was already withdrawn)
  const held = await balanceOf(context.state, GOVERNANCE_ACCOUNT)
  if (held < amount) throw new Error(`governance: escrow holds ${held}, cannot burn ${amount}: accounting bug`)
  await setBalance(context.state, GOVERNANCE_ACCOUNT, held - amount)
  await burn(context, GOVERNANCE_ACCOUNT, amount)
}

async function enact(context: ExecutionContext, registry: ParamRegistry, proposal: Proposal): Promise<void> {
  const { content } = proposal
  const fail = (code: string) => {
    proposal.status = ProposalStatus.enactmentFailed
    context.emit(EnactmentFailed.create({ proposal: proposal.id, error: code }))
  }
  // the chain may have moved since the vote: everything is checked again against the state now
  const problem = await contentProblem(context, registry, content)
  if (problem !== undefined) return fail(problem.code)
  if (content.kind === ProposalKind.parameterChange) {
    const applied = await registry.apply(context.state, content.changes)
    if (applied !== undefined) return fail(applied.code)
  } else if (content.kind === ProposalKind.treasurySpend && content.recipient !== undefined) {
    const spent = await spendFromTreasury(context, proposal.id, content.recipient, content.amount)
    if (spent !== undefined) return fail(spent.code)
  } else if (content.kind === ProposalKind.softwareUpgrade) {
    scheduledUpgrade.set(context.state, { proposal: proposal.id, height: content.upgradeHeight, version: content.upgradeVersion })
    context.emit(UpgradeScheduled.create({ proposal: proposal.id, height: content.upgradeHeight, version: content.upgradeVersion }))
  }
  proposal.status = ProposalStatus.enacted
  context.emit(ProposalEnacted.create({ proposal: proposal.id, kind: content.kind }))
}
