// A training job's life after createJob: who works on it, how votes are counted, and how it ends.
// Shared by the calls (commit, revealResult, revealAttestation) and the end-of-block deadline hook,
// so a job moves the same way whichever of them moves it. Functions take the job, write what they
// must (escrow moves, slashes, model versions, deadline index) and return the updated job for the
// caller to store.
//
//   training ──trainer commits──▶ verifying: commit ──verifiers committed──▶ verifying: reveal
//      ▲  │                                                                   │ trainer, then verifiers
//      │  │ deadline                          all agree: published (fee paid) ◀┤ reveal
//      │  └─▶ reassigned (or refunded)                          one disagrees ▼
//      │                              disputed: commit ──arbiters committed──▶ disputed: reveal
//      │                                                                   │ arbiters reveal / deadline
//      └──────────────────────────── majority: trainer wrong: losers slashed, reassigned (or refunded)
//                                              trainer right: losers slashed, published;  tie: refunded
//
// Results are committed before any is revealed (runtime/commitReveal.ts): a verifier cannot copy
// the trainer's hashes, nor an arbiter another's. A commitment never revealed costs slashBps, like
// a wrong result (not revealing is how one would hide a wrong result); a missed commit deadline
// costs missedDeadlineSlashBps and the worker is replaced while nothing is revealed yet.
//
// Assignment: the active validator set at this height, in an order drawn by stake
// (system/randomness.ts drawWeighted) from the beacon's mix for the job, minus the operators that
// already failed this job. Never from a block hash: its proposer can grind it (ARCHITECTURE.md
// "Randomness").
import { CommitPhase, commitmentBy } from '../../commitReveal.ts'
import { concatBytes, toHex } from '../../crypto/hash.ts'
import type { Address } from '../../crypto/secp256k1.ts'
import type { ExecutionContext } from '../../module.ts'
import { RANDOMNESS_LOOKAHEAD } from '../system/index.ts'
import type { StateOverlay } from '../../state/overlay.ts'
import { bpsOf, sameAddress } from '../accounts.ts'
import { payFromModuleAccount } from '../balances/index.ts'
import { countedSetAt, drawValidators, slashForWork, SlashReason } from '../staking/index.ts'
import {
  DisputeOpened, DisputeResolved, JobAssigned, JobReassigned, ReassignReason, JobRefunded, ModelPublished, RefundReason, RevealOpened, VerifiersReplaced, WorkerSlashed,
  WorkerSlashReason,
} from './events.ts'
import { u64Key } from '../../storage.ts'
import {
  baseModels, deadlines, JobStatus, MODELS_ACCOUNT, modelVersionCount, modelVersions, type Attestation, type Job, type ModelsParams,
} from './state.ts'

const includes = (list: readonly Address[], account: Address): boolean => list.some((entry) => sameAddress(entry, account))
const without = (list: readonly Address[], drop: readonly Address[]): Address[] => list.filter((entry) => !includes(drop, entry))

/** Domain of the assignment draws (runtime/modules/system/randomness.ts). */
export const ASSIGNMENT_DOMAIN = 'openledger/models/assignment/v1'

/**
 * This height's active operators whose stake still counts, in the job's assignment order (drawn
 * by power from the mix of this height), and their number.
 */
async function ordering(context: ExecutionContext, job: number): Promise<{ order: Address[]; setSize: number }> {
  const { height } = context.block
  const order = await drawValidators(context, { domain: ASSIGNMENT_DOMAIN, subject: u64Key(job), height })
  return { order, setSize: order.length }
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

/**
 * Whether this height's set could staff a round (a trainer and the verifiers assignRound needs):
 * createJob refuses a job that could not be assigned, without drawing (the draw comes later).
 */
export async function canAssign(context: ExecutionContext, params: ModelsParams): Promise<boolean> {
  const setSize = (await countedSetAt(context.state, context.block.height)).filter((member) => member.power > 0n).length
  const needed = setSize >= 2 ? Math.max(1, params.minVerifiers) : params.minVerifiers
  return setSize >= 1 + needed
}

/**
 * The job's first round, RANDOMNESS_LOOKAHEAD blocks after createJob (the deadline hook): drawn from
 * this height's mix, which did not exist when the job was included; refunded if the set can no
 * longer staff it.
 */
async function assignCreated(context: ExecutionContext, job: Job, params: ModelsParams): Promise<Job> {
  const round = await assignRound(context, job.id, job.excluded, params)
  if (round === undefined) return refund(context, job, RefundReason.noValidators)
  const next = await startTraining(context, job, round, job.attempt, params)
  context.emit(JobAssigned.create({ job: job.id, trainer: round.trainer, verifiers: round.verifiers, trainDeadline: next.deadline, attempt: next.attempt }))
  return next
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
    phase: CommitPhase.commit, commitments: [], deadline: context.block.height + params.trainBlocks,
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
  const stakingReason = reason === WorkerSlashReason.wrongResult ? SlashReason.wrongWork : SlashReason.missedWork
  if (await slashForWork(context, operator, bps, infractionHeight, stakingReason)) context.emit(WorkerSlashed.create({ job, worker: operator, reason, slashBps: bps }))
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

/** Domain and scope of a round's commitments (runtime/commitReveal.ts): the job, its attempt, and whether a dispute. */
export const RESULT_COMMIT_DOMAIN = 'openledger/models/result/v1'
export function commitScope(job: Job): Uint8Array {
  return concatBytes(u64Key(job.id), u64Key(job.attempt), u64Key(job.status === JobStatus.disputed ? 1 : 0))
}
export function resultPayload(result: { weightsHash: Uint8Array; checkpointRoot: Uint8Array }): Uint8Array {
  return concatBytes(result.weightsHash, result.checkpointRoot)
}

/** Who commits in this round besides the trainer: the verifiers (verifying) or the arbiters (disputed). */
export function roundWorkers(job: Job): Address[] {
  return job.status === JobStatus.disputed ? job.arbiters : job.verifiers
}

const committed = (job: Job, workers: readonly Address[]): Address[] => workers.filter((worker) => commitmentBy(job.commitments, worker) !== undefined)
const attested = (job: Job, worker: Address): boolean => job.attestations.some((a) => sameAddress(a.worker, worker))

/** The reveal phase: every committed result may now be revealed, until the deadline. */
export async function openReveal(context: ExecutionContext, job: Job, params: ModelsParams): Promise<Job> {
  const next: Job = { ...job, phase: CommitPhase.reveal, deadline: context.block.height + params.verifyBlocks }
  await scheduleDeadline(context.state, next)
  context.emit(RevealOpened.create({ job: job.id, revealDeadline: next.deadline }))
  return settleIfRevealed(context, next, params)
}

/**
 * Once every committer revealed (the trainer's result first, then each committed verifier or
 * arbiter): verifying publishes if all agree and disputes otherwise; a dispute is resolved. A
 * settlement that draws (a dispute's arbiters, the next attempt after a lost dispute) is not made
 * here: the caller is a transaction, and its block's proposer knows that block's mix and chose to
 * include it there (or could hold it for a later block of its own). The round closes instead and
 * the deadline hook settles it RANDOMNESS_LOOKAHEAD blocks later, from a mix nobody knew when the
 * last reveal was included (ARCHITECTURE.md "Randomness").
 */
export async function settleIfRevealed(context: ExecutionContext, job: Job, params: ModelsParams): Promise<Job> {
  if (job.phase !== CommitPhase.reveal) return job
  const complete = job.status === JobStatus.verifying
    ? job.result !== undefined && committed(job, job.verifiers).every((worker) => attested(job, worker))
    : job.status === JobStatus.disputed && committed(job, job.arbiters).every((worker) => attested(job, worker))
  if (!complete) return job
  if (settlementDraws(job)) return settleLater(context, job)
  return job.status === JobStatus.verifying ? settleVerification(context, job, params) : resolveDispute(context, job, params)
}

/** Whether settling a complete round draws: a disagreeing verifier opens a dispute; a trainer that lost one is reassigned. */
function settlementDraws(job: Job): boolean {
  if (job.status === JobStatus.verifying) return job.attestations.some((a) => !agrees(job, a))
  const { winning } = tally(job)
  return winning !== undefined && !agrees(job, winning)
}

/** The round is over (every committer revealed): the hook settles it RANDOMNESS_LOOKAHEAD blocks from now (expire). */
async function settleLater(context: ExecutionContext, job: Job): Promise<Job> {
  const next: Job = { ...job, deadline: context.block.height + RANDOMNESS_LOOKAHEAD }
  await scheduleDeadline(context.state, next)
  return next
}

/** The revealed verifier results against the trainer's: none (refund), all agree (publish), or a dispute. */
async function settleVerification(context: ExecutionContext, job: Job, params: ModelsParams): Promise<Job> {
  if (job.attestations.some((a) => !agrees(job, a))) return openDispute(context, job, params)
  return publish(context, job, job.attestations.map((a) => a.worker), params)
}

/** An attestation disagreed: assign arbiters among the validators not yet on the job; they commit, then reveal. */
export async function openDispute(context: ExecutionContext, job: Job, params: ModelsParams): Promise<Job> {
  const { order } = await ordering(context, job.id)
  const arbiters = without(order, [...job.excluded, job.trainer, ...job.verifiers]).slice(0, params.arbiters)
  const next: Job = { ...job, status: JobStatus.disputed, phase: CommitPhase.commit, arbiters, deadline: context.block.height + params.verifyBlocks }
  context.emit(DisputeOpened.create({ job: job.id, arbiters, verifyDeadline: next.deadline }))
  if (arbiters.length === 0) return resolveDispute(context, next, params)
  await scheduleDeadline(context.state, next)
  return next
}

/** The votes (the trainer's result one, each attestation one), the largest count, and the unique leader (undefined on a tie). */
function tally(job: Job): { votes: Attestation[]; top: number; winning: Attestation | undefined } {
  const result = job.result
  if (result === undefined) throw new Error(`models: job ${job.id} disputed without a result`)
  const votes = [{ worker: job.trainer, weightsHash: result.weightsHash, checkpointRoot: result.checkpointRoot, height: result.submittedHeight }, ...job.attestations]
  const counts = new Map<string, number>()
  for (const vote of votes) counts.set(voteKey(vote), (counts.get(voteKey(vote)) ?? 0) + 1)
  const top = Math.max(...counts.values())
  const leaders = [...counts.entries()].filter(([, count]) => count === top)
  const winning = leaders.length === 1 ? votes.find((vote) => voteKey(vote) === leaders[0]?.[0]) : undefined
  return { votes, top, winning }
}

/**
 * Counts the votes (tally). A tie refunds the fee and
 * slashes nobody. Otherwise everyone on the losing side is slashed slashBps; if the trainer's
 * result won it is published (the agreeing attesters share the verifiers' part), if it lost the
 * losers are excluded and the training is reassigned.
 */
export async function resolveDispute(context: ExecutionContext, job: Job, params: ModelsParams): Promise<Job> {
  const { votes, top, winning } = tally(job)
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
  const slashAll = async (workers: readonly Address[], bps: number, reason: number): Promise<void> => {
    for (const worker of workers) await slashWorker(context, job.id, worker, bps, height, reason)
  }
  switch (job.status) {
    case JobStatus.training: {
      await slashWorker(context, job.id, job.trainer, params.missedDeadlineSlashBps, height, WorkerSlashReason.missedDeadline)
      return nextAttempt(context, { ...job, excluded: [...job.excluded, job.trainer] }, ReassignReason.missedDeadline, params)
    }
    case JobStatus.verifying: {
      if (job.phase === CommitPhase.reveal) {
        // every commitment not revealed is slashed like a wrong result (verifiers reveal after the
        // trainer, so a trainer that never revealed is the only one silent then)
        const silent = job.result === undefined ? [job.trainer] : committed(job, job.verifiers).filter((worker) => !attested(job, worker))
        await slashAll(silent, params.slashBps, WorkerSlashReason.unrevealed)
        const next: Job = { ...job, excluded: [...job.excluded, ...silent] }
        if (job.result === undefined) return nextAttempt(context, next, ReassignReason.missedDeadline, params)
        if (job.attestations.length === 0) return refund(context, next, RefundReason.unverified)
        return settleVerification(context, next, params)
      }
      const committers = committed(job, job.verifiers)
      const missing = without(job.verifiers, committers)
      await slashAll(missing, params.missedDeadlineSlashBps, WorkerSlashReason.missedDeadline)
      const excluded = [...job.excluded, ...missing]
      const { order } = await ordering(context, job.id)
      const replacements = params.publishOnPartialQuorum && committers.length > 0 ? [] : without(order, [...excluded, job.trainer, ...job.verifiers]).slice(0, missing.length)
      if (replacements.length === 0) {
        // nothing is revealed yet: with nobody left to check, the job cannot be verified
        if (committers.length === 0) return refund(context, { ...job, excluded }, RefundReason.unverified)
        return openReveal(context, { ...job, excluded, verifiers: committers }, params)
      }
      const next: Job = { ...job, excluded, verifiers: [...committers, ...replacements], deadline: height + params.verifyBlocks }
      await scheduleDeadline(context.state, next)
      context.emit(VerifiersReplaced.create({ job: job.id, verifiers: next.verifiers, verifyDeadline: next.deadline }))
      return next
    }
    case JobStatus.disputed: {
      if (job.phase === CommitPhase.reveal) {
        const silent = committed(job, job.arbiters).filter((worker) => !attested(job, worker))
        await slashAll(silent, params.slashBps, WorkerSlashReason.unrevealed)
        return resolveDispute(context, { ...job, excluded: [...job.excluded, ...silent] }, params)
      }
      const committers = committed(job, job.arbiters)
      const missing = without(job.arbiters, committers)
      await slashAll(missing, params.missedDeadlineSlashBps, WorkerSlashReason.missedDeadline)
      const next: Job = { ...job, excluded: [...job.excluded, ...missing], arbiters: committers }
      return committers.length === 0 ? resolveDispute(context, next, params) : openReveal(context, next, params)
    }
    case JobStatus.assigning:
      return assignCreated(context, job, params)
    default:
      return job
  }
}
