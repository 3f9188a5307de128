import * as k from '../../codec/schema.ts'
import { defineEvent } from '../../module.ts'
import { ModuleIndex } from '../indices.ts'
import { MAX_ARBITERS, MAX_NAME_CHARS, MAX_VERIFIERS } from './state.ts'

const M = ModuleIndex.models
const job = k.uint
const workers = k.list(k.address, MAX_VERIFIERS + MAX_ARBITERS)

/** why a job's training was assigned to another validator */
export const ReassignReason = { missedDeadline: 0, lostDispute: 1 } as const
/** why a job's fee went back to its owner */
export const RefundReason = { maxAttempts: 0, noValidators: 1, tie: 2, unverified: 3 } as const
/** why a worker was slashed */
/** why a worker was slashed (`unrevealed`: committed to a result and never revealed it) */
export const WorkerSlashReason = { wrongResult: 0, missedDeadline: 1, unrevealed: 2 } as const

export const BaseModelRegistered = defineEvent(M, 0, 'BaseModelRegistered', k.struct({ model: k.uint, owner: k.address, name: k.string(MAX_NAME_CHARS), kind: k.uint, weightsHash: k.hash, deposit: k.amount }))
export const JobCreated = defineEvent(M, 1, 'JobCreated', k.struct({ job, owner: k.address, base: k.uint, fee: k.amount }))
/** the job's workers for this attempt: the trainer trains until trainDeadline, the verifiers then re-execute */
export const JobAssigned = defineEvent(M, 2, 'JobAssigned', k.struct({ job, trainer: k.address, verifiers: workers, trainDeadline: k.uint, attempt: k.uint }))
export const ResultSubmitted = defineEvent(M, 3, 'ResultSubmitted', k.struct({ job, trainer: k.address, adapter: k.hash, weightsHash: k.hash, checkpointRoot: k.hash, verifyDeadline: k.uint }))
export const Attested = defineEvent(M, 4, 'Attested', k.struct({ job, worker: k.address, weightsHash: k.hash, checkpointRoot: k.hash, agrees: k.bool }))
/** an attestation differed from the trainer's result: the arbiters re-execute too */
export const DisputeOpened = defineEvent(M, 5, 'DisputeOpened', k.struct({ job, arbiters: workers, verifyDeadline: k.uint }))
/** the majority (trainer's result one vote, each attestation one) or, with `tie`, none */
export const DisputeResolved = defineEvent(M, 6, 'DisputeResolved', k.struct({ job, tie: k.bool, trainerWon: k.bool, weightsHash: k.hash, checkpointRoot: k.hash, votes: k.uint, totalVotes: k.uint }))
export const WorkerSlashed = defineEvent(M, 7, 'WorkerSlashed', k.struct({ job, worker: k.address, reason: k.uint, slashBps: k.uint }))
export const ModelPublished = defineEvent(M, 8, 'ModelPublished', k.struct({
  model: k.uint, job, owner: k.address, base: k.uint, adapter: k.hash, weightsHash: k.hash, checkpointRoot: k.hash,
  trainer: k.address, trainerPaid: k.amount, verifiers: workers, verifierPaid: k.amount,
}))
/** the training moved to another validator (attempt + 1), with a fresh set of verifiers */
export const JobReassigned = defineEvent(M, 9, 'JobReassigned', k.struct({ job, trainer: k.address, verifiers: workers, trainDeadline: k.uint, attempt: k.uint, reason: k.uint }))
/** verifiers that missed the deadline were replaced; `verifiers` is the full new list */
export const VerifiersReplaced = defineEvent(M, 10, 'VerifiersReplaced', k.struct({ job, verifiers: workers, verifyDeadline: k.uint }))
export const JobRefunded = defineEvent(M, 11, 'JobRefunded', k.struct({ job, owner: k.address, amount: k.amount, reason: k.uint }))

/** a worker committed to its result (its hash only: results stay unreadable until the reveal phase) */
export const Committed = defineEvent(M, 12, 'Committed', k.struct({ job, worker: k.address, commitment: k.hash }))
/** every worker committed (or the commit deadline passed): the committers reveal until revealDeadline */
export const RevealOpened = defineEvent(M, 13, 'RevealOpened', k.struct({ job, revealDeadline: k.uint }))

export const events = [
  BaseModelRegistered, JobCreated, JobAssigned, ResultSubmitted, Attested, DisputeOpened, DisputeResolved, WorkerSlashed, ModelPublished, JobReassigned,
  VerifiersReplaced, JobRefunded, Committed, RevealOpened,
]
