// A training job's life after createJob: who works on it, how votes are counted, and how it ends.
// Shared by the calls (submitResult, attest) and the end-of-block deadline hook, so a job moves
// the same way whichever of them moves it. Functions take the job, write what they must (escrow
// moves, slashes, model versions, deadline index) and return the updated job for the caller to
// store.
//
//   training ──submitResult──▶ verifying ──all verifiers agree──▶ published (fee paid out)
//      ▲  │                       │ one disagrees
//      │  │ deadline              ▼
//      │  └─▶ reassigned     disputed ──arbiters attested / deadline──▶ majority:
//      │      (or refunded)              trainer right: losers slashed, published
//      └──────────────────────────────── trainer wrong: losers slashed, reassigned (or refunded)
//                                        tie: refunded
//
// Assignment: the active validator set at this height, ordered by
// keccak256(parentHash ‖ job id ‖ operator) with the parent hash of the block that assigns (the
// chain's only randomness), minus the operators that already failed this job.
import { concatBytes, keccak256, toHex } from '../../crypto/hash.ts'
import type { Address } from '../../crypto/secp256k1.ts'
import type { ExecutionContext } from '../../module.ts'
import type { StateOverlay } from '../../state/overlay.ts'
import { bpsOf, sameAddress } from '../accounts.ts'
import { payFromModuleAccount } from '../balances/ledger.ts'
import { SlashReason } from '../staking/events.ts'
import { slash } from '../staking/stake.ts'
import { validators } from '../staking/state.ts'
import { countedSetAt } from '../staking/validatorSet.ts'
import {
  DisputeOpened, DisputeResolved, JobReassigned, ReassignReason, JobRefunded, ModelPublished, RefundReason, VerifiersReplaced, WorkerSlashed, WorkerSlashReason,
} from './events.ts'
import {
  baseModels, deadlines, JobStatus, MODELS_ACCOUNT, modelVersionCount, modelVersions, u64, type Job, type ModelsParams,
} from './state.ts'

const includes = (list: readonly Address[], account: Address): boolean => list.some((entry) => sameAddress(entry, account))
const without = (list: readonly Address[], drop: readonly Address[]): Address[] => list.filter((entry) => !includes(drop, entry))

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b)
}

/** The operators ordered by keccak256(seed ‖ job id as 8 bytes ‖ operator), ascending. */
export function assignmentOrder(seed: Uint8Array, job: number, operators: readonly Address[]): Address[] {
  const keyed = operators.map((operator) => ({ operator, key: keccak256(concatBytes(seed, u64(job), operator)) }))
  keyed.sort((a, b) => compareBytes(a.key, b.key))
  return keyed.map(({ operator }) => operator)
}

/** This height's active operators whose stake still counts, in the job's assignment order, and their number. */
async function ordering(context: ExecutionContext, job: number): Promise<{ order: Address[]; setSize: number }> {
  const members = (await countedSetAt(context.state, context.block.height)).filter((member) => member.power > 0n)
  return { order: assignmentOrder(context.block.parentHash, job, members.map((member) => member.operator)), setSize: members.length }
}

export interface Round {
  readonly trainer: Address
  readonly verifiers: Address[]
}

/**
 * A trainer and up to `verifiers` verifiers, none of them excluded; undefined if fewer than
 * minVerifiers (at least one on a set of two or more validators) can be found.
 */
export async function assignRound(context: ExecutionContext, job: number, excluded: readonly Address[], params: ModelsParams): Promise<Round | undefined> {
  const { order, setSize } = await ordering(context, job)
  const eligible = without(order, excluded)
  const trainer = eligible[0]
  if (trainer === undefined) return undefined
  const verifiers = eligible.slice(1, 1 + params.verifiers)
  const needed = setSize >= 2 ? Math.max(1, params.minVerifiers) : params.minVerifiers
  return verifiers.length < needed ? undefined : { trainer, verifiers }
}

/** Adds the job to the deadline index at its `deadline`. */
export async function scheduleDeadline(state: StateOverlay, job: Job): Promise<void> {
  const due = (await deadlines.get(state, job.deadline)) ?? []
  if (!due.includes(job.id)) deadlines.set(state, job.deadline, [...due, job.id])
}

/** A fresh training round: no result, no attestations, no arbiters. */
export async function startTraining(context: ExecutionContext, job: Job, round: Round, attempt: number, params: ModelsParams): Promise<Job> {
  const next: Job = {
    ...job, status: JobStatus.training, attempt, trainer: round.trainer, verifiers: round.verifiers, arbiters: [], result: undefined, attestations: [],
    deadline: context.block.height + params.trainBlocks,
  }
  await scheduleDeadline(context.state, next)
  return next
}

/** Escrow moves: the module account always holds every open job's fee. */
function payFromEscrow(context: ExecutionContext, to: Address, amount: bigint): Promise<void> {
  return payFromModuleAccount(context, MODELS_ACCOUNT, to, amount, 'models')
}

export async function refund(context: ExecutionContext, job: Job, reason: number): Promise<Job> {
  await payFromEscrow(context, job.owner, job.fee)
  context.emit(JobRefunded.create({ job: job.id, owner: job.owner, amount: job.fee, reason }))
  return { ...job, status: JobStatus.refunded, closedHeight: context.block.height }
}

/**
 * Publishes the job's result as the next model version with its lineage and pays the fee:
 * trainerShareBps to the trainer, the rest in equal parts to the agreeing verifiers (the
 * remainder of the division, or everything if none, to the trainer).
 */
export async function publish(context: ExecutionContext, job: Job, agreeing: readonly Address[], params: ModelsParams): Promise<Job> {
  const { state } = context
  const result = job.result
  const base = await baseModels.get(state, job.base)
  if (result === undefined || base === undefined) throw new Error(`models: job ${job.id} published without a result or base model`)
  const share = bpsOf(job.fee, params.trainerShareBps)
  const rest = job.fee - share
  const each = agreeing.length === 0 ? 0n : rest / BigInt(agreeing.length)
  const trainerPaid = job.fee - each * BigInt(agreeing.length)
  await payFromEscrow(context, job.trainer, trainerPaid)
  for (const verifier of agreeing) await payFromEscrow(context, verifier, each)
  const id = (await modelVersionCount.get(state)) + 1
  modelVersionCount.set(state, id)
  modelVersions.set(state, id, {
    id, job: job.id, owner: job.owner, base: job.base, baseWeightsHash: base.weightsHash, engineVersion: base.engineVersion, datanets: job.datanets,
    hyper: job.hyper, adapter: result.adapter, weightsHash: result.weightsHash, checkpointRoot: result.checkpointRoot, metrics: result.metrics,
    trainer: job.trainer, verifiers: [...agreeing], publishedHeight: context.block.height, publishedAt: context.block.timestamp,
  })
  context.emit(ModelPublished.create({
    model: id, job: job.id, owner: job.owner, base: job.base, adapter: result.adapter, weightsHash: result.weightsHash, checkpointRoot: result.checkpointRoot,
    trainer: job.trainer, trainerPaid, verifiers: [...agreeing], verifierPaid: each,
  }))
  return { ...job, status: JobStatus.published, modelVersion: id, closedHeight: context.block.height }
}

/** Burns `bps` of the operator's bonded stake through staking's slash (nothing if it is no validator any more). */
async function slashWorker(context: ExecutionContext, job: number, operator: Address, bps: number, infractionHeight: number, reason: number): Promise<void> {
  if (bps === 0) return
  const validator = await validators.get(context.state, operator)
  if (validator === undefined) return
  await slash(context, validator, bps, infractionHeight, reason === WorkerSlashReason.wrongResult ? SlashReason.wrongWork : SlashReason.missedWork)
  validators.set(context.state, operator, validator)
  context.emit(WorkerSlashed.create({ job, worker: operator, reason, slashBps: bps }))
}

/** The next attempt with a fresh trainer and verifiers, or a refund after maxAttempts or when nobody is left. */
async function nextAttempt(context: ExecutionContext, job: Job, reason: number, params: ModelsParams): Promise<Job> {
  if (job.attempt >= params.maxAttempts) return refund(context, job, RefundReason.maxAttempts)
  const round = await assignRound(context, job.id, job.excluded, params)
  if (round === undefined) return refund(context, job, RefundReason.noValidators)
  const next = await startTraining(context, job, round, job.attempt + 1, params)
  context.emit(JobReassigned.create({ job: job.id, trainer: round.trainer, verifiers: round.verifiers, trainDeadline: next.deadline, attempt: next.attempt, reason }))
  return next
}

const voteKey = (vote: { weightsHash: Uint8Array; checkpointRoot: Uint8Array }): string => toHex(vote.weightsHash) + toHex(vote.checkpointRoot)

export function agrees(job: Job, vote: { weightsHash: Uint8Array; checkpointRoot: Uint8Array }): boolean {
  return job.result !== undefined && voteKey(job.result) === voteKey(vote)
}

/** Verifying: every verifier attested, all in agreement (a disagreement opens a dispute at once). */
export function verified(job: Job): boolean {
  return job.verifiers.every((verifier) => job.attestations.some((a) => sameAddress(a.worker, verifier)))
}

/** Disputed: every arbiter attested or, with no arbiter to be had, every verifier. */
export function disputeSettled(job: Job): boolean {
  const voters = job.arbiters.length > 0 ? job.arbiters : job.verifiers
  return voters.every((voter) => job.attestations.some((a) => sameAddress(a.worker, voter)))
}

/** An attestation disagreed: assign arbiters among the validators not yet on the job, restart the clock. */
export async function openDispute(context: ExecutionContext, job: Job, params: ModelsParams): Promise<Job> {
  const { order } = await ordering(context, job.id)
  const arbiters = without(order, [...job.excluded, job.trainer, ...job.verifiers]).slice(0, params.arbiters)
  const next: Job = { ...job, status: JobStatus.disputed, arbiters, deadline: context.block.height + params.verifyBlocks }
  await scheduleDeadline(context.state, next)
  context.emit(DisputeOpened.create({ job: job.id, arbiters, verifyDeadline: next.deadline }))
  return disputeSettled(next) ? resolveDispute(context, next, params) : next
}

/**
 * Counts the votes (the trainer's result one, each attestation one). A tie refunds the fee and
 * slashes nobody. Otherwise everyone on the losing side is slashed slashBps; if the trainer's
 * result won it is published (the agreeing attesters share the verifiers' part), if it lost the
 * losers are excluded and the training is reassigned.
 */
export async function resolveDispute(context: ExecutionContext, job: Job, params: ModelsParams): Promise<Job> {
  const result = job.result
  if (result === undefined) throw new Error(`models: job ${job.id} disputed without a result`)
  const votes = [{ worker: job.trainer, weightsHash: result.weightsHash, checkpointRoot: result.checkpointRoot, height: result.submittedHeight }, ...job.attestations]
  const counts = new Map<string, number>()
  for (const vote of votes) counts.set(voteKey(vote), (counts.get(voteKey(vote)) ?? 0) + 1)
  const top = Math.max(...counts.values())
  const leaders = [...counts.entries()].filter(([, count]) => count === top)
  const winning = leaders.length === 1 ? votes.find((vote) => voteKey(vote) === leaders[0]?.[0]) : undefined
  const trainerWon = winning !== undefined && agrees(job, winning)
  context.emit(DisputeResolved.create({
    job: job.id, tie: winning === undefined, trainerWon, weightsHash: winning?.weightsHash ?? new Uint8Array(32), checkpointRoot: winning?.checkpointRoot ?? new Uint8Array(32),
    votes: top, totalVotes: votes.length,
  }))
  if (winning === undefined) return refund(context, job, RefundReason.tie)
  const losers = votes.filter((vote) => voteKey(vote) !== voteKey(winning))
  for (const loser of losers) await slashWorker(context, job.id, loser.worker, params.slashBps, loser.height, WorkerSlashReason.wrongResult)
  if (trainerWon) {
    const agreeing = job.attestations.filter((a) => voteKey(a) === voteKey(winning)).map((a) => a.worker)
    return publish(context, job, agreeing, params)
  }
  return nextAttempt(context, { ...job, excluded: [...job.excluded, ...losers.map((loser) => loser.worker)] }, ReassignReason.lostDispute, params)
}

/** The end-of-block work for a job whose deadline is this height. */
export async function expire(context: ExecutionContext, job: Job, params: ModelsParams): Promise<Job> {
  const height = context.block.height
  switch (job.status) {
    case JobStatus.training: {
      await slashWorker(context, job.id, job.trainer, params.missedDeadlineSlashBps, height, WorkerSlashReason.missedDeadline)
      return nextAttempt(context, { ...job, excluded: [...job.excluded, job.trainer] }, ReassignReason.missedDeadline, params)
    }
    case JobStatus.verifying: {
      const attested = job.attestations.map((a) => a.worker)
      const missing = without(job.verifiers, attested)
      for (const verifier of missing) await slashWorker(context, job.id, verifier, params.missedDeadlineSlashBps, height, WorkerSlashReason.missedDeadline)
      const excluded = [...job.excluded, ...missing]
      if (attested.length > 0 && params.publishOnPartialQuorum) return publish(context, { ...job, excluded }, attested, params)
      const { order } = await ordering(context, job.id)
      const replacements = without(order, [...excluded, job.trainer, ...job.verifiers]).slice(0, missing.length)
      if (replacements.length === 0) {
        return attested.length > 0 ? publish(context, { ...job, excluded }, attested, params) : refund(context, { ...job, excluded }, RefundReason.unverified)
      }
      const next: Job = { ...job, excluded, verifiers: [...without(job.verifiers, missing), ...replacements], deadline: height + params.verifyBlocks }
      await scheduleDeadline(context.state, next)
      context.emit(VerifiersReplaced.create({ job: job.id, verifiers: next.verifiers, verifyDeadline: next.deadline }))
      return next
    }
    case JobStatus.disputed:
      return resolveDispute(context, job, params)
    default:
      return job
  }
}
