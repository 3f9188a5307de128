// governance storage: parameters, proposals, deposits and votes, the per-height queue of
// proposals whose deposit period, voting period or timelock ends, and the scheduled upgrade.
// Item indices are permanent. The state is read key by key (no prefix scans in a block), so the
// lists a tally walks (voters, depositors) are explicit and bounded.
import * as k from '../../codec/schema.ts'
import { concatBytes } from '../../crypto/hash.ts'
import type { Address } from '../../crypto/secp256k1.ts'
import { defineParams, paramChangeKind } from '../../params.ts'
import { storageMap, storageValue, u64Key } from '../../storage.ts'
import { moduleAccount } from '../accounts.ts'
import { ModuleIndex } from '../indices.ts'

/** holds every proposal's deposits until they are returned, burned or forfeited */
export const GOVERNANCE_ACCOUNT = moduleAccount('governance')

export const StorageItem = {
  params: 0,
  proposalCount: 1,
  proposal: 2,
  deposit: 3,
  depositors: 4,
  vote: 5,
  voters: 6,
  queue: 7,
  upgrade: 8,
} as const

/** bounds of what one proposal may hold */
export const MAX_TITLE_CHARS = 128
export const MAX_DESCRIPTION_CHARS = 4_096
export const MAX_CHANGES = 16
export const MAX_DEPOSITORS = 64
export const MAX_VOTERS = 2_000
/** validators whose delegations one vote covers */
export const MAX_VOTE_VALIDATORS = 8
export const MAX_VERSION_CHARS = 32

const OPEN = 10n ** 18n

export const governanceParamsKind = k.struct({
  minDeposit: k.amount,
  depositPeriod: k.uint,
  votingPeriod: k.uint,
  quorumBps: k.uint,
  thresholdBps: k.uint,
  vetoBps: k.uint,
  timelockBlocks: k.uint,
})
export type GovernanceParams = k.Infer<typeof governanceParamsKind>

/** 6 s blocks assumed for the durations in the comments; the shares are Cosmos SDK x/gov's */
export const DEFAULT_GOVERNANCE_PARAMS: GovernanceParams = Object.freeze({
  minDeposit: 10_000n * OPEN,
  depositPeriod: 28_800, // 2 days
  votingPeriod: 100_800, // 7 days
  quorumBps: 3_340,
  thresholdBps: 5_000,
  vetoBps: 3_340,
  timelockBlocks: 14_400, // 1 day
})

export const governanceParams = defineParams(
  { index: ModuleIndex.governance, name: 'governance' },
  StorageItem.params,
  governanceParamsKind,
  DEFAULT_GOVERNANCE_PARAMS,
  {
    minDeposit: { type: 'amount', min: 1n, description: 'base units of deposit a proposal needs before its voting period starts' },
    depositPeriod: { type: 'blocks', min: 1, max: 10_000_000, description: 'blocks a proposal has to reach minDeposit' },
    votingPeriod: { type: 'blocks', min: 1, max: 10_000_000, description: 'blocks the vote lasts; the tally is taken at its last block' },
    quorumBps: { type: 'bps', min: 1, description: 'share of the active set\'s bonded stake that must vote' },
    thresholdBps: { type: 'bps', min: 1, description: 'share of yes among yes + no (abstain excluded) that a proposal must exceed' },
    vetoBps: { type: 'bps', min: 1, description: 'share of veto among all votes at which a proposal is vetoed' },
    timelockBlocks: { type: 'blocks', min: 1, max: 10_000_000, description: 'blocks between passing and enactment' },
  },
)
export const params = governanceParams.storage

export const ProposalKind = { text: 0, parameterChange: 1, treasurySpend: 2, softwareUpgrade: 3 } as const
export type ProposalKind = (typeof ProposalKind)[keyof typeof ProposalKind]
export const PROPOSAL_KIND_NAMES = ['text', 'parameterChange', 'treasurySpend', 'softwareUpgrade'] as const

export const ProposalStatus = {
  depositPeriod: 0,
  votingPeriod: 1,
  /** passed, waiting out the timelock */
  passed: 2,
  rejected: 3,
  vetoed: 4,
  /** too little of the stake voted */
  failedQuorum: 5,
  /** the deposit period ended below minDeposit */
  expired: 6,
  enacted: 7,
  /** passed, but its enactment was refused at the enactment height (recorded in the event) */
  enactmentFailed: 8,
} as const
export type ProposalStatus = (typeof ProposalStatus)[keyof typeof ProposalStatus]
export const PROPOSAL_STATUS_NAMES = ['depositPeriod', 'votingPeriod', 'passed', 'rejected', 'vetoed', 'failedQuorum', 'expired', 'enacted', 'enactmentFailed'] as const

export const VoteOption = { yes: 0, no: 1, abstain: 2, veto: 3 } as const
export type VoteOption = (typeof VoteOption)[keyof typeof VoteOption]
export const VOTE_OPTION_NAMES = ['yes', 'no', 'abstain', 'veto'] as const

/**
 * What a proposal asks for. One flat shape for every kind (fields a kind does not use must be
 * empty, zero or absent): `changes` for a parameter change, `recipient` and `amount` for a
 * treasury spend, `upgradeHeight` and `upgradeVersion` for a software upgrade.
 */
export const proposalContentKind = k.struct({
  kind: k.uint,
  title: k.string(MAX_TITLE_CHARS),
  description: k.string(MAX_DESCRIPTION_CHARS),
  changes: k.list(paramChangeKind, MAX_CHANGES),
  recipient: k.optional(k.address),
  amount: k.amount,
  upgradeHeight: k.uint,
  upgradeVersion: k.string(MAX_VERSION_CHARS),
})
export type ProposalContent = k.Infer<typeof proposalContentKind>

export const tallyKind = k.struct({ yes: k.amount, no: k.amount, abstain: k.amount, veto: k.amount, totalPower: k.amount })
export type Tally = k.Infer<typeof tallyKind>

export const proposalKind = k.struct({
  id: k.uint,
  proposer: k.address,
  content: proposalContentKind,
  status: k.uint,
  submitHeight: k.uint,
  /** the last height of the deposit period */
  depositEnd: k.uint,
  /** 0 until the voting period starts */
  votingStart: k.uint,
  /** the last height of the voting period: the tally is taken in its end-of-block hook */
  votingEnd: k.uint,
  /** the height whose end-of-block hook enacts a passed proposal */
  enactHeight: k.uint,
  totalDeposit: k.amount,
  /** the final tally (zeros until taken) */
  tally: tallyKind,
})
export type Proposal = k.Infer<typeof proposalKind>

export const voteKind = k.struct({
  option: k.uint,
  /** the validators whose delegations from the voter this vote covers */
  validators: k.list(k.address, MAX_VOTE_VALIDATORS),
  height: k.uint,
})
export type Vote = k.Infer<typeof voteKind>

export const upgradeKind = k.struct({ proposal: k.uint, height: k.uint, version: k.string(MAX_VERSION_CHARS) })
export type ScheduledUpgrade = k.Infer<typeof upgradeKind>

export const proposalVoterKey = ({ proposal, account }: { proposal: number; account: Address }): Uint8Array => concatBytes(u64Key(proposal), account)

const M = ModuleIndex.governance
export const proposalCount = storageValue(M, StorageItem.proposalCount, k.uint, 0)
export const proposals = storageMap(M, StorageItem.proposal, u64Key, proposalKind)
/** (proposal, depositor) -> base units deposited */
export const deposits = storageMap(M, StorageItem.deposit, proposalVoterKey, k.amount)
export const depositors = storageMap(M, StorageItem.depositors, u64Key, k.list(k.address, MAX_DEPOSITORS))
/** (proposal, voter) -> the voter's current vote (a later vote replaces it) */
export const votes = storageMap(M, StorageItem.vote, proposalVoterKey, voteKind)
export const voters = storageMap(M, StorageItem.voters, u64Key, k.list(k.address, MAX_VOTERS))
/** height -> proposals with a deadline (deposit end, voting end, enactment) at that height */
export const queue = storageMap(M, StorageItem.queue, u64Key, k.list(k.uint, 1_000_000))
/** the upgrade most recently enacted: nodes older than `version` stop before executing `height` */
export const scheduledUpgrade = storageValue(M, StorageItem.upgrade, k.optional(upgradeKind), undefined)
