// models calls. Every call checks everything before its first write, or relies on the state
// transition's per-call checkpoint to revert: a failed call changes nothing but its fee.
import * as k from '../../codec/schema.ts'
import { allCommitted, commitmentBy, CommitPhase, opens } from '../../commitReveal.ts'
import { defineCall, type CallResult } from '../../module.ts'
import { RANDOMNESS_LOOKAHEAD } from '../system/index.ts'
import type { StateOverlay } from '../../state/overlay.ts'
import { transfer } from '../balances/index.ts'
import { datanets as datanetRecords, Format, versions } from '../datanets/index.ts'
import { parseArchitecture } from './architecture.ts'
import { ModelsError } from './errors.ts'
import { Attested, BaseModelRegistered, Committed, JobCreated, ResultSubmitted } from './events.ts'
import {
  agrees, canAssign, commitScope, openReveal, RESULT_COMMIT_DOMAIN, resultPayload, roundWorkers, scheduleDeadline, settleIfRevealed,
} from './lifecycle.ts'
import { sameAddress } from '../accounts.ts'
import {
  BaseModelKind, baseModelArgsKind, baseModelByWeights, baseModelCount, baseModels, datanetVersionRefKind, hyperparametersKind, JobStatus, jobCount, jobs, jobsByOwner,
  MAX_JOB_DATANETS, metricsKind, MODELS_ACCOUNT, params as modelsParams, type BaseModelArgs, type DatanetInput, type Hyperparameters, type Job,
  type ModelsParams,
} from './state.ts'

// Weights (gas): about 150 per state read or write, more for hashing and slashing.
/** the architecture's JSON parse (≤ 1 KiB), the deposit transfer, the record and its weights index */
export const REGISTER_BASE_MODEL_WEIGHT = 4_000
/** the base model, the escrow transfer, the job, its owner and deadline index entries */
export const CREATE_JOB_WEIGHT = 4_000
/** per datanet version: the version record read */
export const CREATE_JOB_WEIGHT_PER_DATANET = 300
/** the validator set read and one keccak per active validator (at most 1,000) */
export const ASSIGNMENT_WEIGHT = 10_000
/** model version record and fee payout to the trainer and up to 32 verifiers and arbiters */
export const PUBLISH_WEIGHT = 12_000
/** slashing every losing voter (each walks its validator's unbonding delegators) and reassigning */
export const DISPUTE_RESOLUTION_WEIGHT = 100_000 + ASSIGNMENT_WEIGHT
/** the job, its deadline index, the reveal phase's opening */
export const COMMIT_WEIGHT = 3_000
/** the commitment's hash; with no verifier to wait for (a one-validator chain) it publishes at once */
export const REVEAL_RESULT_WEIGHT = 3_000 + PUBLISH_WEIGHT
/** the job and, as the reveal that completes a round may, a dispute's opening and resolution or a publication */
export const REVEAL_ATTESTATION_WEIGHT = 3_000 + ASSIGNMENT_WEIGHT + DISPUTE_RESOLUTION_WEIGHT + PUBLISH_WEIGHT

export const HYPER_LIMITS = Object.freeze({ maxRank: 64, maxAlpha: 256, maxBatchSize: 64, minLength: 8, maxLearningRateMicro: 1_000_000 })
const MAX_ACCURACY_BPS = 10_000
/**
 * The node holds out every tenth row (classifier) or block of tokens (language model) for the
 * evaluation it publishes (node/models/jobPlan.ts): with fewer than ten rows, or fewer tokens than
 * ten sequences, the held-out part overlaps the training data or holds less than one sequence.
 */
export const MIN_CLASSIFIER_ROWS = 10
const HELD_OUT_SHARE = 10

/**
 * Why the job's data cannot serve its base model, or undefined. A classifier trains on labels, so
 * every datanet must accept labelled rows only; a language model reads any format's text. The
 * amounts are checked against the versions' recorded rows and bytes: a token is at least one byte,
 * so fewer than 10 × (length + 1) bytes cannot hold ten sequences of length + 1 tokens.
 */
async function dataProblem(state: StateOverlay, kind: number, refs: ReadonlyArray<{ datanet: number }>, totals: { rows: number; bytes: number }, hyper: Hyperparameters): Promise<CallResult> {
  if (kind === BaseModelKind.classifier) {
    for (const { datanet } of refs) {
      const record = await datanetRecords.get(state, datanet)
      if (record === undefined || !record.rules.formats.every((format) => format === Format.labelled)) return ModelsError.DataFormatMismatch
    }
    return totals.rows < MIN_CLASSIFIER_ROWS ? ModelsError.InsufficientData : undefined
  }
  return totals.bytes < HELD_OUT_SHARE * (hyper.length + 1) ? ModelsError.InsufficientData : undefined
}

/** Why a base model registration (call or genesis entry) is unacceptable, or undefined. */
export function baseModelProblem(args: BaseModelArgs): { error: NonNullable<CallResult>; detail: string } | undefined {
  if (args.name.trim().length === 0) return { error: ModelsError.InvalidName, detail: 'name is empty' }
  const architecture = parseArchitecture(args.architecture, args.kind)
  if (architecture.problem !== undefined) return { error: ModelsError.InvalidArchitecture, detail: architecture.problem }
  if (args.tokenizer.trim().length === 0) return { error: ModelsError.InvalidTokenizer, detail: 'tokenizer is empty' }
  if (args.engineVersion.trim().length === 0) return { error: ModelsError.InvalidEngineVersion, detail: 'engineVersion is empty' }
  return undefined
}

/** Stores a base model under the next id (the caller checked it and took the deposit). */
export async function storeBaseModel(state: StateOverlay, args: BaseModelArgs, owner: Uint8Array, deposit: bigint, height: number): Promise<number> {
  const id = (await baseModelCount.get(state)) + 1
  baseModelCount.set(state, id)
  baseModels.set(state, id, { id, owner, ...args, deposit, registeredHeight: height })
  baseModelByWeights.set(state, args.weightsHash, id)
  return id
}

export function hyperparametersValid(hyper: Hyperparameters, context: number, dim: number, params: ModelsParams): boolean {
  const inRange = (value: number, min: number, max: number): boolean => value >= min && value <= max
  return inRange(hyper.rank, 1, Math.min(HYPER_LIMITS.maxRank, dim)) && inRange(hyper.alpha, 1, HYPER_LIMITS.maxAlpha) && inRange(hyper.steps, 1, params.maxSteps)
    && inRange(hyper.batchSize, 1, HYPER_LIMITS.maxBatchSize) && inRange(hyper.length, HYPER_LIMITS.minLength, context)
    && inRange(hyper.learningRateMicro, 1, HYPER_LIMITS.maxLearningRateMicro) && inRange(hyper.checkpointEvery, 1, hyper.steps)
}

/** Anyone registers a base model, escrowing registrationDeposit in the module account. */
export const registerBaseModel = defineCall({
  index: 0,
  name: 'registerBaseModel',
  args: baseModelArgsKind,
  weight: () => REGISTER_BASE_MODEL_WEIGHT,
  async execute(context, args) {
    const problem = baseModelProblem(args)
    if (problem !== undefined) return problem.error
    if ((await baseModelByWeights.get(context.state, args.weightsHash)) !== undefined) return ModelsError.DuplicateBaseModel
    const { registrationDeposit } = await modelsParams.get(context.state)
    if (registrationDeposit > 0n) {
      const failed = await transfer(context, context.sender, MODELS_ACCOUNT, registrationDeposit)
      if (failed !== undefined) return failed
    }
    const id = await storeBaseModel(context.state, args, context.sender, registrationDeposit, context.block.height)
    context.emit(BaseModelRegistered.create({ model: id, owner: context.sender, name: args.name, kind: args.kind, weightsHash: args.weightsHash, deposit: registrationDeposit }))
    return undefined
  },
})

/**
 * A training job: the fee goes into escrow; RANDOMNESS_LOOKAHEAD blocks later the deadline hook
 * draws a trainer and verifiers from the active set (lifecycle.ts) with the mix of that height —
 * one the proposer including this call could not know — and workers learn of the job from its
 * JobAssigned event. Until then the job is `assigning` and has no trainer (the zero address).
 */
const UNASSIGNED = new Uint8Array(20)
export const createJob = defineCall({
  index: 1,
  name: 'createJob',
  args: k.struct({ base: k.uint, datanets: k.list(datanetVersionRefKind, MAX_JOB_DATANETS), hyper: hyperparametersKind, fee: k.amount }),
  weight: ({ datanets }) => CREATE_JOB_WEIGHT + CREATE_JOB_WEIGHT_PER_DATANET * datanets.length + ASSIGNMENT_WEIGHT,
  async execute(context, args) {
    const { state, sender } = context
    const height = context.block.height
    const base = await baseModels.get(state, args.base)
    if (base === undefined) return ModelsError.UnknownBaseModel
    const refs = new Set(args.datanets.map(({ datanet, version }) => `${datanet}/${version}`))
    if (args.datanets.length === 0 || refs.size !== args.datanets.length) return ModelsError.InvalidDatanetList
    const inputs: DatanetInput[] = []
    const amounts = { rows: 0, bytes: 0 }
    for (const { datanet, version } of args.datanets) {
      const published = await versions.get(state, { datanet, version })
      if (published === undefined) return ModelsError.UnknownDatanetVersion
      inputs.push({ datanet, version, root: published.root })
      amounts.rows += published.rows
      amounts.bytes += published.bytes
    }
    const params = await modelsParams.get(state)
    const { config } = parseArchitecture(base.architecture, base.kind)
    if (config === undefined) throw new Error(`models: stored base model ${base.id} has an invalid architecture`)
    if (!hyperparametersValid(args.hyper, config.context, config.dim, params)) return ModelsError.InvalidHyperparameters
    const unfit = await dataProblem(state, base.kind, args.datanets, amounts, args.hyper)
    if (unfit !== undefined) return unfit
    if (args.fee < params.minFeePerStep * BigInt(args.hyper.steps) * BigInt(args.hyper.batchSize)) return ModelsError.InsufficientEscrow
    const id = (await jobCount.get(state)) + 1
    if (!(await canAssign(context, params))) return ModelsError.NotEnoughValidators
    if (args.fee > 0n) {
      const failed = await transfer(context, sender, MODELS_ACCOUNT, args.fee)
      if (failed !== undefined) return failed
    }
    const job: Job = {
      id, owner: sender, base: base.id, datanets: inputs, hyper: args.hyper, fee: args.fee, status: JobStatus.assigning, attempt: 1,
      trainer: UNASSIGNED, verifiers: [], arbiters: [], excluded: [], deadline: height + RANDOMNESS_LOOKAHEAD, result: undefined, attestations: [],
      phase: CommitPhase.commit, commitments: [],
      modelVersion: undefined, createdHeight: height, closedHeight: 0,
    }
    jobCount.set(state, id)
    jobs.set(state, id, job)
    jobsByOwner.set(state, { owner: sender, job: id }, id)
    await scheduleDeadline(state, job)
    context.emit(JobCreated.create({ job: id, owner: sender, base: base.id, fee: args.fee }))
    return undefined
  },
})

/**
 * A worker commits to its result (runtime/commitReveal.ts): the trainer while training (the job
 * moves to verifying), each verifier while verifying, each arbiter in a dispute, always in the
 * commit phase. The commitment is keccak256(RESULT_COMMIT_DOMAIN ‖ job, attempt, dispute ‖ worker
 * ‖ salt ‖ weightsHash ‖ checkpointRoot). When every worker of the round has committed the reveal
 * phase opens (RevealOpened).
 */
export const commit = defineCall({
  index: 4,
  name: 'commit',
  args: k.struct({ job: k.uint, commitment: k.hash }),
  weight: () => COMMIT_WEIGHT,
  async execute(context, args) {
    const { state, sender } = context
    const height = context.block.height
    const job = await jobs.get(state, args.job)
    if (job === undefined) return ModelsError.UnknownJob
    if (job.status !== JobStatus.training && job.status !== JobStatus.verifying && job.status !== JobStatus.disputed) return ModelsError.WrongJobStatus
    if (height > job.deadline) return ModelsError.DeadlinePassed
    if (job.status !== JobStatus.training && job.phase !== CommitPhase.commit) return ModelsError.WrongPhase
    const assigned = job.status === JobStatus.training ? sameAddress(job.trainer, sender) : roundWorkers(job).some((worker) => sameAddress(worker, sender))
    if (!assigned) return ModelsError.NotAssigned
    if (commitmentBy(job.commitments, sender) !== undefined) return ModelsError.AlreadyCommitted
    const params = await modelsParams.get(state)
    let next: Job = { ...job, commitments: [...job.commitments, { worker: sender, commitment: args.commitment, height }] }
    if (job.status === JobStatus.training) {
      next = { ...next, status: JobStatus.verifying, phase: CommitPhase.commit, deadline: height + params.verifyBlocks }
      await scheduleDeadline(state, next)
    }
    context.emit(Committed.create({ job: job.id, worker: sender, commitment: args.commitment }))
    if (allCommitted(next.commitments, roundWorkers(next))) next = await openReveal(context, next, params)
    jobs.set(state, job.id, next)
    return undefined
  },
})

/** The trainer reveals its committed result, with the adapter's content id and the metrics, in the reveal phase. */
export const revealResult = defineCall({
  index: 5,
  name: 'revealResult',
  args: k.struct({ job: k.uint, salt: k.hash, adapter: k.hash, weightsHash: k.hash, checkpointRoot: k.hash, metrics: metricsKind }),
  weight: () => REVEAL_RESULT_WEIGHT,
  async execute(context, args) {
    const { state, sender } = context
    const height = context.block.height
    const job = await jobs.get(state, args.job)
    if (job === undefined) return ModelsError.UnknownJob
    if (job.status !== JobStatus.verifying || job.result !== undefined) return ModelsError.WrongJobStatus
    if (!sameAddress(job.trainer, sender)) return ModelsError.NotAssigned
    if (height > job.deadline) return ModelsError.DeadlinePassed
    if (job.phase !== CommitPhase.reveal) return ModelsError.WrongPhase
    const own = commitmentBy(job.commitments, sender)
    if (own === undefined) return ModelsError.NotCommitted
    if (!opens(own, RESULT_COMMIT_DOMAIN, commitScope(job), args.salt, resultPayload(args))) return ModelsError.CommitmentMismatch
    if (args.metrics.baseAccuracyBps > MAX_ACCURACY_BPS || args.metrics.adaptedAccuracyBps > MAX_ACCURACY_BPS) return ModelsError.InvalidMetrics
    const params = await modelsParams.get(state)
    let next: Job = {
      ...job, result: { adapter: args.adapter, weightsHash: args.weightsHash, checkpointRoot: args.checkpointRoot, metrics: args.metrics, submittedHeight: own.height },
    }
    context.emit(ResultSubmitted.create({ job: job.id, trainer: job.trainer, adapter: args.adapter, weightsHash: args.weightsHash, checkpointRoot: args.checkpointRoot, verifyDeadline: job.deadline }))
    // no verifier could be assigned (a one-validator chain with minVerifiers 0): nothing to wait for
    next = await settleIfRevealed(context, next, params)
    jobs.set(state, job.id, next)
    return undefined
  },
})

/**
 * A verifier (or, in a dispute, arbiter) reveals the hashes its own re-execution gave and it
 * committed to; verifiers after the trainer's reveal. Once every committer revealed, agreement
 * publishes, a disagreement opens a dispute, and a dispute is resolved.
 */
export const revealAttestation = defineCall({
  index: 6,
  name: 'revealAttestation',
  args: k.struct({ job: k.uint, salt: k.hash, weightsHash: k.hash, checkpointRoot: k.hash }),
  weight: () => REVEAL_ATTESTATION_WEIGHT,
  async execute(context, args) {
    const { state, sender } = context
    const height = context.block.height
    const job = await jobs.get(state, args.job)
    if (job === undefined) return ModelsError.UnknownJob
    if (job.status !== JobStatus.verifying && job.status !== JobStatus.disputed) return ModelsError.WrongJobStatus
    if (height > job.deadline) return ModelsError.DeadlinePassed
    if (!roundWorkers(job).some((worker) => sameAddress(worker, sender))) return ModelsError.NotAssigned
    if (job.phase !== CommitPhase.reveal) return ModelsError.WrongPhase
    if (job.result === undefined) return ModelsError.TrainerNotRevealed
    if (job.attestations.some((a) => sameAddress(a.worker, sender))) return ModelsError.AlreadyAttested
    const own = commitmentBy(job.commitments, sender)
    if (own === undefined) return ModelsError.NotCommitted
    const vote = { weightsHash: args.weightsHash, checkpointRoot: args.checkpointRoot }
    if (!opens(own, RESULT_COMMIT_DOMAIN, commitScope(job), args.salt, resultPayload(vote))) return ModelsError.CommitmentMismatch
    const params = await modelsParams.get(state)
    const agreed = agrees(job, vote)
    let next: Job = { ...job, attestations: [...job.attestations, { worker: sender, ...vote, height: own.height }] }
    context.emit(Attested.create({ job: job.id, worker: sender, ...vote, agrees: agreed }))
    next = await settleIfRevealed(context, next, params)
    jobs.set(state, job.id, next)
    return undefined
  },
})

/** Call indices 2 (submitResult) and 3 (attest) are retired: results are committed, then revealed. */
export const calls = [registerBaseModel, createJob, commit, revealResult, revealAttestation]
