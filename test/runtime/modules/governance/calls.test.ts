import t from 'tap'
import { TREASURY_ACCOUNT } from '../../../../runtime/modules/accounts.ts'
import { totalIssuance } from '../../../../runtime/modules/balances/state.ts'
import { feeParams } from '../../../../runtime/modules/fees/state.ts'
import { DepositsSettled, EnactmentFailed, ProposalEnacted, ProposalTallied } from '../../../../runtime/modules/governance/events.ts'
import {
  DepositOutcome, GOVERNANCE_ACCOUNT, GovernanceError, ProposalKind, proposals, ProposalStatus, scheduledUpgrade, VoteOption,
} from '../../../../runtime/modules/governance/index.ts'
import { Spent } from '../../../../runtime/modules/treasury/events.ts'
import { eventsOf } from '../../chainFixtures.ts'
import { ModuleIndex } from '../../../../runtime/modules/indices.ts'
import { addressOf, OPEN } from '../staking/harness.ts'
import { content, GOV_PARAMS, governanceEvents, governanceHarness } from './harness.ts'

const DEPOSIT = GOV_PARAMS.minDeposit

t.test('submission refuses what could never be enacted, with stable codes, and changes nothing', async (t) => {
  const h = await governanceHarness()
  const cases: Array<[string, Parameters<typeof content>[0], string]> = [
    ['unknown module', { kind: ProposalKind.parameterChange, changes: [{ module: 'nope', name: 'x', value: 1n }] }, 'governance.UnknownModule'],
    ['unknown parameter', { kind: ProposalKind.parameterChange, changes: [{ module: 'fees', name: 'nope', value: 1n }] }, 'governance.UnknownParameter'],
    ['out of bounds', { kind: ProposalKind.parameterChange, changes: [{ module: 'fees', name: 'burnShareBps', value: 10_001n }] }, 'governance.ParameterOutOfBounds'],
    ['wrong type', { kind: ProposalKind.parameterChange, changes: [{ module: 'models', name: 'publishOnPartialQuorum', value: 7n }] }, 'governance.WrongParameterType'],
    ['inconsistent', { kind: ProposalKind.parameterChange, changes: [{ module: 'fees', name: 'targetBlockGas', value: 10n ** 12n }] }, 'governance.InconsistentParameters'],
    ['no changes', { kind: ProposalKind.parameterChange }, 'governance.NoChanges'],
    ['spend above the treasury', { kind: ProposalKind.treasurySpend, recipient: addressOf('dave'), amount: 1n }, 'governance.SpendExceedsTreasury'],
    ['zero spend', { kind: ProposalKind.treasurySpend, recipient: addressOf('dave'), amount: 0n }, 'governance.ZeroSpend'],
    ['upgrade height in the past', { kind: ProposalKind.softwareUpgrade, upgradeHeight: 1, upgradeVersion: '2.0.0' }, 'governance.UpgradeHeightPassed'],
    ['bad version', { kind: ProposalKind.softwareUpgrade, upgradeHeight: 1_000, upgradeVersion: 'v2' }, 'governance.InvalidVersion'],
    ['unknown kind', { kind: 9 }, 'governance.InvalidKind'],
    ['text carrying a spend', { kind: ProposalKind.text, amount: 5n }, 'governance.InvalidContent'],
    ['empty title', { kind: ProposalKind.text, title: '  ' }, 'governance.InvalidContent'],
  ]
  for (const [name, fields, code] of cases) {
    const before = await h.balance('dave')
    const { error } = await h.call('dave', 'submitProposal', { content: content(fields), deposit: DEPOSIT })
    t.equal(error?.code, code, name)
    t.equal(await h.balance('dave'), before, `${name}: no deposit taken`)
  }
  t.equal(await proposals.get(h.state, 1), undefined)
  t.equal((await h.call('dave', 'submitProposal', { content: content({}), deposit: 0n })).error, GovernanceError.ZeroDeposit)
})

t.test('a parameter change passes and takes effect at its enactment height, not before; deposits return', async (t) => {
  const h = await governanceHarness()
  const daveBefore = await h.balance('dave')
  const change = content({ kind: ProposalKind.parameterChange, changes: [{ module: 'fees', name: 'burnShareBps', value: 1_234n }] })
  t.equal((await h.call('dave', 'submitProposal', { content: change, deposit: DEPOSIT })).error, undefined)
  const proposal = await proposals.get(h.state, 1)
  t.match(proposal, { status: ProposalStatus.votingPeriod, votingEnd: h.height + GOV_PARAMS.votingPeriod, totalDeposit: DEPOSIT })
  t.equal(await h.balance(GOVERNANCE_ACCOUNT), DEPOSIT)
  t.equal((await h.call('alice', 'vote', { proposal: 1, option: VoteOption.yes, validators: [] })).error, undefined)
  const votingEnd = proposal?.votingEnd ?? 0
  const tallied = await h.advanceTo(votingEnd)
  const [result] = governanceEvents(ProposalTallied, tallied)
  t.match(result, { proposal: 1, status: ProposalStatus.passed, enactHeight: votingEnd + GOV_PARAMS.timelockBlocks })
  t.equal(result?.tally.yes, 10_000n * OPEN, "alice's validator's whole stake")
  t.equal(result?.tally.totalPower, 24_000n * OPEN)
  t.equal(await h.balance('dave'), daveBefore, 'deposit returned')
  t.equal(await h.balance(GOVERNANCE_ACCOUNT), 0n)
  await h.advanceTo(votingEnd + GOV_PARAMS.timelockBlocks - 1)
  t.equal((await feeParams.get(h.state)).burnShareBps, 5_000, 'not before the enactment height')
  const enacted = await h.step()
  t.same(governanceEvents(ProposalEnacted, enacted), [{ proposal: 1, kind: ProposalKind.parameterChange }])
  t.equal((await feeParams.get(h.state)).burnShareBps, 1_234, 'at the enactment height')
  t.equal((await proposals.get(h.state, 1))?.status, ProposalStatus.enacted)
})

t.test('under quorum and vetoed deposits burn, rejected ones return, expired ones go to the treasury', async (t) => {
  const h = await governanceHarness()
  const issuance = await totalIssuance.get(h.state)
  for (let i = 0; i < 3; i++) t.equal((await h.call('dave', 'submitProposal', { content: content({ title: `p${i}` }), deposit: DEPOSIT })).error, undefined)
  // 1: charlie alone (6,000 of 24,000 = 25 %) is under quorum; 2: alice and bob veto; 3: alice no
  await h.call('charlie', 'vote', { proposal: 1, option: VoteOption.yes, validators: [] })
  await h.call('alice', 'vote', { proposal: 2, option: VoteOption.yes, validators: [] })
  await h.call('bob', 'vote', { proposal: 2, option: VoteOption.veto, validators: [] })
  await h.call('alice', 'vote', { proposal: 2, option: VoteOption.veto, validators: [] })
  await h.call('alice', 'vote', { proposal: 3, option: VoteOption.no, validators: [] })
  // a deposit that never reaches the minimum
  t.equal((await h.call('eve', 'submitProposal', { content: content({ title: 'short' }), deposit: DEPOSIT / 2n })).error, undefined)
  const events = await h.advanceTo(h.height + GOV_PARAMS.votingPeriod + 1)
  const statuses = governanceEvents(ProposalTallied, events).map((e) => [e.proposal, e.status])
  t.same(statuses, [[1, ProposalStatus.failedQuorum], [2, ProposalStatus.vetoed], [3, ProposalStatus.rejected]])
  t.same(governanceEvents(DepositsSettled, events).map((e) => [e.proposal, e.outcome]).sort(), [
    [1, DepositOutcome.burned], [2, DepositOutcome.burned], [3, DepositOutcome.returned], [4, DepositOutcome.forfeited],
  ])
  t.equal(await totalIssuance.get(h.state), issuance - 2n * DEPOSIT, 'two deposits burned')
  t.equal(await h.balance(TREASURY_ACCOUNT), DEPOSIT / 2n, 'the expired deposit is the treasury\'s')
  t.equal(await h.balance(GOVERNANCE_ACCOUNT), 0n, 'escrow empty')
  t.equal((await proposals.get(h.state, 4))?.status, ProposalStatus.expired)
})

t.test('a treasury spend reaches its recipient; one the treasury can no longer pay fails at enactment', async (t) => {
  const h = await governanceHarness()
  t.equal((await h.call('ferdie', 'transfer', { to: TREASURY_ACCOUNT, amount: 500n * OPEN })).error, undefined)
  const recipient = addressOf('eve')
  const before = await h.balance(recipient)
  await h.call('dave', 'submitProposal', { content: content({ kind: ProposalKind.treasurySpend, recipient, amount: 300n * OPEN }), deposit: DEPOSIT })
  await h.call('dave', 'submitProposal', { content: content({ kind: ProposalKind.treasurySpend, recipient, amount: 300n * OPEN }), deposit: DEPOSIT })
  for (const proposal of [1, 2]) await h.call('alice', 'vote', { proposal, option: VoteOption.yes, validators: [] })
  const events = await h.advanceTo(h.height + GOV_PARAMS.votingPeriod + GOV_PARAMS.timelockBlocks + 1)
  t.same(eventsOf(ModuleIndex.treasury, Spent, events), [{ proposal: 1, recipient, amount: 300n * OPEN }])
  t.same(governanceEvents(EnactmentFailed, events), [{ proposal: 2, error: 'governance.SpendExceedsTreasury' }])
  t.equal(await h.balance(recipient), before + 300n * OPEN)
  t.equal(await h.balance(TREASURY_ACCOUNT), 200n * OPEN)
  t.equal((await proposals.get(h.state, 2))?.status, ProposalStatus.enactmentFailed)
})

t.test('an upgrade proposal schedules the upgrade; votes need stake and an open vote', async (t) => {
  const h = await governanceHarness()
  await h.call('dave', 'submitProposal', { content: content({ kind: ProposalKind.softwareUpgrade, upgradeHeight: 100, upgradeVersion: '2.0.0' }), deposit: DEPOSIT })
  t.equal((await h.call('dave', 'vote', { proposal: 1, option: VoteOption.yes, validators: [] })).error, GovernanceError.NoStake)
  t.equal((await h.call('dave', 'vote', { proposal: 1, option: VoteOption.yes, validators: [addressOf('alice')] })).error, GovernanceError.NoDelegation)
  t.equal((await h.call('alice', 'vote', { proposal: 1, option: 4, validators: [] })).error, GovernanceError.InvalidOption)
  t.equal((await h.call('alice', 'vote', { proposal: 2, option: VoteOption.yes, validators: [] })).error, GovernanceError.UnknownProposal)
  t.equal((await h.call('alice', 'vote', { proposal: 1, option: VoteOption.yes, validators: [] })).error, undefined)
  await h.advanceTo(h.height + GOV_PARAMS.votingPeriod + GOV_PARAMS.timelockBlocks)
  t.same(await scheduledUpgrade.get(h.state), { proposal: 1, height: 100, version: '2.0.0' })
  t.equal((await h.call('alice', 'vote', { proposal: 1, option: VoteOption.no, validators: [] })).error, GovernanceError.NotInVotingPeriod)
})
