import * as k from '../../codec/schema.ts'
import { defineEvent } from '../../module.ts'
import { ModuleIndex } from '../indices.ts'
import { MAX_VERSION_CHARS, tallyKind } from './state.ts'

const M = ModuleIndex.governance
const proposal = k.uint

export const ProposalSubmitted = defineEvent(M, 0, 'ProposalSubmitted', k.struct({ proposal, proposer: k.address, kind: k.uint, deposit: k.amount, depositEnd: k.uint }))
export const Deposited = defineEvent(M, 1, 'Deposited', k.struct({ proposal, depositor: k.address, amount: k.amount, total: k.amount }))
/** the deposit reached minDeposit: the vote is open until `votingEnd` (inclusive) */
export const VotingStarted = defineEvent(M, 2, 'VotingStarted', k.struct({ proposal, votingEnd: k.uint }))
/** a vote, or a change of one (`changed`) */
export const Voted = defineEvent(M, 3, 'Voted', k.struct({ proposal, voter: k.address, option: k.uint, changed: k.bool }))
/** the vote closed: `status` is passed, rejected, vetoed or failedQuorum */
export const ProposalTallied = defineEvent(M, 4, 'ProposalTallied', k.struct({ proposal, status: k.uint, tally: tallyKind, enactHeight: k.uint }))
export const ProposalEnacted = defineEvent(M, 5, 'ProposalEnacted', k.struct({ proposal, kind: k.uint }))
/** a passed proposal could not be enacted (e.g. the treasury no longer holds the spend): `error` is the stable code */
export const EnactmentFailed = defineEvent(M, 6, 'EnactmentFailed', k.struct({ proposal, error: k.string(64) }))
/** what became of the deposits: returned to each depositor, burned, or forfeited to the treasury */
export const DepositsSettled = defineEvent(M, 7, 'DepositsSettled', k.struct({ proposal, outcome: k.uint, amount: k.amount }))
export const UpgradeScheduled = defineEvent(M, 8, 'UpgradeScheduled', k.struct({ proposal, height: k.uint, version: k.string(MAX_VERSION_CHARS) }))
/** the deposit period ended below minDeposit */
export const ProposalExpired = defineEvent(M, 9, 'ProposalExpired', k.struct({ proposal, deposit: k.amount }))

export const DepositOutcome = { returned: 0, burned: 1, forfeited: 2 } as const

export const events = [ProposalSubmitted, Deposited, VotingStarted, Voted, ProposalTallied, ProposalEnacted, EnactmentFailed, DepositsSettled, UpgradeScheduled, ProposalExpired]
