import * as k from '../../codec/schema.ts'
import { defineEvent } from '../../module.ts'
import { ModuleIndex } from '../indices.ts'
import { MAX_WORKERS } from './state.ts'

const M = ModuleIndex.attribution

/** why a record got another attributor */
export const ReassignReason = { missedDeadline: 0, lostCheck: 1, tiedCheck: 2 } as const
/** why a worker's stake was slashed */
export const AttributionSlashReason = { missedDeadline: 0, wrongReceipt: 1, wrongCheck: 2, unrevealed: 3 } as const
/** why a record's pool went to the treasury */
export const UnattributedReason = { noLineage: 0, noValidators: 1, maxAttempts: 2, nobodyCredited: 3 } as const

export const AttributorAssigned = defineEvent(M, 0, 'AttributorAssigned', k.struct({ record: k.uint, attributor: k.address, attempt: k.uint, deadline: k.uint }))
export const AttributorReassigned = defineEvent(M, 1, 'AttributorReassigned', k.struct({ record: k.uint, attributor: k.address, attempt: k.uint, deadline: k.uint, reason: k.uint }))
export const ReceiptSubmitted = defineEvent(M, 2, 'ReceiptSubmitted', k.struct({ record: k.uint, attributor: k.address, receiptHash: k.hash, contributions: k.uint }))
/** the receipt drew a re-check: verifiers recompute it, commit, then reveal */
export const CheckOpened = defineEvent(M, 3, 'CheckOpened', k.struct({ record: k.uint, verifiers: k.list(k.address, MAX_WORKERS), commitDeadline: k.uint }))
export const CheckRevealOpened = defineEvent(M, 4, 'CheckRevealOpened', k.struct({ record: k.uint, revealDeadline: k.uint }))
/** votes for the receipt's hash against the others */
export const CheckSettled = defineEvent(M, 5, 'CheckSettled', k.struct({ record: k.uint, receiptUpheld: k.bool, tie: k.bool, votesFor: k.uint, totalVotes: k.uint }))
/** the receipt is final: its record's pool paid into the contributors' rewards */
export const AttributionFinal = defineEvent(M, 6, 'AttributionFinal', k.struct({ record: k.uint, receiptHash: k.hash, paid: k.amount, toTreasury: k.amount, contributors: k.uint }))
export const RecordUnattributed = defineEvent(M, 7, 'RecordUnattributed', k.struct({ record: k.uint, toTreasury: k.amount, reason: k.uint }))
export const WorkerSlashed = defineEvent(M, 8, 'WorkerSlashed', k.struct({ record: k.uint, worker: k.address, reason: k.uint, slashBps: k.uint }))
/** a contribution's accumulated harmful score passed the threshold: it earns nothing more, part of its deposit went to the treasury */
export const ContributionCutOff = defineEvent(M, 9, 'ContributionCutOff', k.struct({ datanet: k.uint, index: k.uint, score: k.uint, slashed: k.amount }))
export const RewardClaimed = defineEvent(M, 10, 'RewardClaimed', k.struct({ contributor: k.address, amount: k.amount }))

export const events = [
  AttributorAssigned, AttributorReassigned, ReceiptSubmitted, CheckOpened, CheckRevealOpened, CheckSettled, AttributionFinal, RecordUnattributed, WorkerSlashed,
  ContributionCutOff, RewardClaimed,
]
