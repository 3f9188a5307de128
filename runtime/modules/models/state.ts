// models storage: parameters, base models (and their index by weights hash), training jobs (with
// their assignment, result and attestations), published model versions, the open jobs by
// deadline height (what the end-of-block hook reads instead of scanning jobs) and the jobs by
// owner. Item indices are permanent. Keys are fixed-width big-endian.
import * as k from '../../codec/schema.ts'
import { concatBytes } from '../../crypto/hash.ts'
import type { Address } from '../../crypto/secp256k1.ts'
import { commitmentKind } from '../../commitReveal.ts'
import { defineParams } from '../../params.ts'
import { bytesKey, storageMap, storageValue, u64Key } from '../../storage.ts'
import { moduleAccount } from '../accounts.ts'
import { ModuleIndex } from '../indices.ts'

/** holds every base-model deposit and the fee of every open training job */
export const MODELS_ACCOUNT = moduleAccount('models')

export const StorageItem = {
  params: 0,
  baseModelCount: 1,
  baseModel: 2,
  baseModelByWeights: 3,
  jobCount: 4,
  job: 5,
  jobByOwner: 6,
  modelVersionCount: 7,
  modelVersion: 8,
  deadline: 9,
} as const

export const MAX_NAME_CHARS = 64
export const MAX_ARCHITECTURE_CHARS = 1_024
export const MAX_TOKENIZER_CHARS = 64
export const MAX_ENGINE_VERSION_CHARS = 64
/** datanet versions one job trains on */
export const MAX_JOB_DATANETS = 8
/** bounds of `verifiers` and `arbiters` (and so of the lists in a job) */
export const MAX_VERIFIERS = 16
export const MAX_ARBITERS = 16
/** bounds a job's excluded operators: distinct validators that failed it, far more than any active set holds */
export const MAX_EXCLUDED = 10_000

export const modelsParamsKind = k.struct({
  /** base units a registrant escrows in the module account per base model */
  registrationDeposit: k.amount,
  /** base units per (step × sample): a job's fee is at least this × steps × batchSize */
  minFeePerStep: k.amount,
  /** the most training steps a job may ask for */
  maxSteps: k.uint,
  /** verifiers assigned per job (fewer if the validator set is small, never zero with ≥ 2 validators) */
  verifiers: k.uint,
  /** createJob fails unless at least this many verifiers can be assigned (0 lets a one-validator chain train unverified) */
  minVerifiers: k.uint,
  /** extra validators assigned to re-execute when a dispute opens */
  arbiters: k.uint,
  /** blocks the trainer has to submit its result */
  trainBlocks: k.uint,
  /** blocks the verifiers (and, in a dispute, the arbiters) have to attest */
  verifyBlocks: k.uint,
  /** basis points of the fee paid to the trainer; the rest is split among the agreeing verifiers */
  trainerShareBps: k.uint,
  /** basis points of bonded stake burned from each operator on the losing side of a dispute */
  slashBps: k.uint,
  /** basis points of bonded stake burned from a worker that misses its deadline */
  missedDeadlineSlashBps: k.uint,
  /** training attempts (the first and each reassignment) before the fee is refunded */
  maxAttempts: k.uint,
  /** at the verify deadline, publish if every verifier that attested agreed (at least one did) */
  publishOnPartialQuorum: k.bool,
})
export type ModelsParams = k.Infer<typeof modelsParamsKind>

const OPEN = 10n ** 18n

/** 6 s blocks assumed for the durations in the comments */
export const DEFAULT_MODELS_PARAMS: ModelsParams = Object.freeze({
  registrationDeposit: 1_000n * OPEN,
  minFeePerStep: OPEN / 1_000n,
  maxSteps: 10_000,
  verifiers: 2,
  minVerifiers: 1,
  arbiters: 2,
  trainBlocks: 600, // 1 hour
  verifyBlocks: 600,
  trainerShareBps: 7_000,
  slashBps: 500, // 5 %
  missedDeadlineSlashBps: 0,
  maxAttempts: 3,
  publishOnPartialQuorum: false,
})

/** The governable models parameters (runtime/params.ts): training, verification and dispute rules. */
export const modelsParams = defineParams(
  { index: ModuleIndex.models, name: 'models' },
  StorageItem.params,
  modelsParamsKind,
  DEFAULT_MODELS_PARAMS,
  {
    registrationDeposit: { type: 'amount', description: 'base units a registrant escrows per base model' },
    minFeePerStep: { type: 'amount', description: "base units per (step x sample): a job's least fee" },
    maxSteps: { type: 'integer', min: 1, max: 10_000_000, description: 'the most training steps a job may ask for' },
    verifiers: { type: 'integer', min: 1, max: MAX_VERIFIERS, description: 'verifiers assigned per job' },
    minVerifiers: { type: 'integer', max: MAX_VERIFIERS, description: 'createJob fails unless this many verifiers can be assigned' },
    arbiters: { type: 'integer', max: MAX_ARBITERS, description: 'extra validators assigned when a dispute opens' },
    trainBlocks: { type: 'blocks', min: 1, description: 'blocks the trainer has to submit its result' },
    verifyBlocks: { type: 'blocks', min: 1, description: 'blocks the verifiers (and arbiters) have to attest' },
    trainerShareBps: { type: 'bps', description: "share of a job's fee paid to the trainer; the rest to agreeing verifiers" },
    slashBps: { type: 'bps', description: 'share of bonded stake burned from each operator on the losing side of a dispute' },
    missedDeadlineSlashBps: { type: 'bps', description: 'share of bonded stake burned from a worker that misses its deadline' },
    maxAttempts: { type: 'integer', min: 1, max: 16, description: 'training attempts before the fee is refunded' },
    publishOnPartialQuorum: { type: 'bool', description: 'at the verify deadline, publish if every verifier that attested agreed' },
  },
  (params) => (params.minVerifiers > params.verifiers ? 'minVerifiers must be at most verifiers' : undefined),
)

/** Why models parameters are unusable, or undefined; genesis and governance check this. */
export function modelsParamsProblem(params: ModelsParams): string | undefined {
  return modelsParams.problem(params)?.message
}

/** `kind` of a base model: the ModelConfig kinds of ml/model/config.ts */
export const BaseModelKind = { lm: 0, classifier: 1 } as const
export type BaseModelKind = (typeof BaseModelKind)[keyof typeof BaseModelKind]

/** A base model's registration: the call's arguments and a genesis entry. */
export const baseModelFields = {
  name: k.string(MAX_NAME_CHARS),
  /** 0 lm, 1 classifier: must match the architecture's kind */
  kind: k.uint,
  /** canonical JSON of the ModelConfig (architecture.ts) */
  architecture: k.string(MAX_ARCHITECTURE_CHARS),
  /** content id of the weights blob */
  artifact: k.hash,
  /** hash of the weights in canonical parameter order (ml/model/config.ts paramShapes) */
  weightsHash: k.hash,
  /** content id of the ONNX file that serves it */
  onnx: k.hash,
  tokenizer: k.string(MAX_TOKENIZER_CHARS),
  tokenizerHash: k.hash,
  /** version of the deterministic training engine every worker must run: the lineage's code version */
  engineVersion: k.string(MAX_ENGINE_VERSION_CHARS),
}
export const baseModelArgsKind = k.struct(baseModelFields)
export type BaseModelArgs = k.Infer<typeof baseModelArgsKind>

export const baseModelKind = k.struct({
  id: k.uint,
  /** the registrant; the module account for genesis models */
  owner: k.address,
  ...baseModelFields,
  /** base units escrowed (0 for genesis models) */
  deposit: k.amount,
  registeredHeight: k.uint,
})
export type BaseModel = k.Infer<typeof baseModelKind>

export const datanetVersionRefKind = k.struct({ datanet: k.uint, version: k.uint })
/** a datanet version a job trains on, with the version's root as it was recorded at creation */
export const datanetInputKind = k.struct({ datanet: k.uint, version: k.uint, root: k.hash })
export type DatanetInput = k.Infer<typeof datanetInputKind>

export const hyperparametersKind = k.struct({
  /** LoRA rank, 1..64 (and at most the model's dim) */
  rank: k.uint,
  /** LoRA alpha, 1..256 (scale = alpha / rank) */
  alpha: k.uint,
  /** optimizer steps, 1..maxSteps */
  steps: k.uint,
  /** sequences per step, 1..64 */
  batchSize: k.uint,
  /** tokens per sequence, 8..the base model's context */
  length: k.uint,
  /** learning rate × 1e6, 1..1000000 */
  learningRateMicro: k.uint,
  /** seeds the data order and the adapter's initialization */
  seed: k.uint,
  /** steps between committed checkpoints, 1..steps */
  checkpointEvery: k.uint,
})
export type Hyperparameters = k.Infer<typeof hyperparametersKind>

export const metricsKind = k.struct({
  /** mean evaluation loss of the base model × 1e6 */
  baseLossMicro: k.uint,
  /** mean evaluation loss with the adapter × 1e6 */
  adaptedLossMicro: k.uint,
  /** classifiers: accuracy of the base model in basis points (0 for a language model) */
  baseAccuracyBps: k.uint,
  /** classifiers: accuracy with the adapter in basis points (0 for a language model) */
  adaptedAccuracyBps: k.uint,
})
export type Metrics = k.Infer<typeof metricsKind>

/**
 * assigning: created, its trainer and verifiers drawn RANDOMNESS_LOOKAHEAD blocks later from the
 * mix of that height (system/randomness.ts), so the proposer that included the job did not know them
 */
export const JobStatus = { training: 0, verifying: 1, disputed: 2, published: 3, refunded: 4, assigning: 5 } as const
export type JobStatus = (typeof JobStatus)[keyof typeof JobStatus]
export const JOB_STATUS_NAMES = Object.keys(JobStatus) as Array<keyof typeof JobStatus>

export const resultKind = k.struct({
  /** content id of the adapter blob */
  adapter: k.hash,
  /** hash of the adapter's tensors in canonical order */
  weightsHash: k.hash,
  /** Merkle root over the hashes of every committed checkpoint */
  checkpointRoot: k.hash,
  metrics: metricsKind,
  submittedHeight: k.uint,
})
export type TrainingResult = k.Infer<typeof resultKind>

export const attestationKind = k.struct({ worker: k.address, weightsHash: k.hash, checkpointRoot: k.hash, height: k.uint })
export type Attestation = k.Infer<typeof attestationKind>

export const jobKind = k.struct({
  id: k.uint,
  owner: k.address,
  base: k.uint,
  datanets: k.list(datanetInputKind, MAX_JOB_DATANETS),
  hyper: hyperparametersKind,
  /** base units escrowed in the module account until the job is published or refunded */
  fee: k.amount,
  status: k.uint,
  /** 1 for the first assignment, +1 for each reassignment of the training */
  attempt: k.uint,
  trainer: k.address,
  verifiers: k.list(k.address, MAX_VERIFIERS),
  /** assigned when a dispute opens */
  arbiters: k.list(k.address, MAX_ARBITERS),
  /** operators that failed this job (missed a deadline, lost a dispute): never assigned to it again */
  excluded: k.list(k.address, MAX_EXCLUDED),
  /** the current round's last height: for the trainer's commitment (training), the commitments or reveals (verifying, disputed, by phase) */
  deadline: k.uint,
  result: k.optional(resultKind),
  /** this round's attestations (revealed verifier and arbiter results), in arrival order */
  attestations: k.list(attestationKind, MAX_VERIFIERS + MAX_ARBITERS),
  /** verifying and disputed: CommitPhase (commit, then reveal), each with its own deadline */
  phase: k.uint,
  /** this round's commitments (runtime/commitReveal.ts): the trainer's and the verifiers', then the arbiters' */
  commitments: k.list(commitmentKind, 1 + MAX_VERIFIERS + MAX_ARBITERS),
  /** the published model version */
  modelVersion: k.optional(k.uint),
  createdHeight: k.uint,
  /** height of publication or refund (0 while open) */
  closedHeight: k.uint,
})
export type Job = k.Infer<typeof jobKind>

/** What a published model is and where it came from. */
export const modelVersionKind = k.struct({
  id: k.uint,
  job: k.uint,
  /** the job's owner */
  owner: k.address,
  base: k.uint,
  baseWeightsHash: k.hash,
  /** the base model's engineVersion: the code that trained and verified it */
  engineVersion: k.string(MAX_ENGINE_VERSION_CHARS),
  datanets: k.list(datanetInputKind, MAX_JOB_DATANETS),
  hyper: hyperparametersKind,
  adapter: k.hash,
  weightsHash: k.hash,
  checkpointRoot: k.hash,
  metrics: metricsKind,
  trainer: k.address,
  /** the verifiers and arbiters whose attestation matched */
  verifiers: k.list(k.address, MAX_VERIFIERS + MAX_ARBITERS),
  publishedHeight: k.uint,
  /** ms since epoch (block time) */
  publishedAt: k.uint,
})
export type ModelVersion = k.Infer<typeof modelVersionKind>


export const ownerJobKey = ({ owner, job }: { owner: Address; job: number }): Uint8Array => concatBytes(owner, u64Key(job))

const M = ModuleIndex.models
export const params = modelsParams.storage
export const baseModelCount = storageValue(M, StorageItem.baseModelCount, k.uint, 0)
/** id (from 1) -> base model */
export const baseModels = storageMap(M, StorageItem.baseModel, u64Key, baseModelKind)
/** weights hash -> base model id: one registration per set of weights */
export const baseModelByWeights = storageMap(M, StorageItem.baseModelByWeights, bytesKey, k.uint)
export const jobCount = storageValue(M, StorageItem.jobCount, k.uint, 0)
/** id (from 1) -> job */
export const jobs = storageMap(M, StorageItem.job, u64Key, jobKind)
/** (owner, job) -> job: an owner's jobs sit together and can be listed by prefix off chain */
export const jobsByOwner = storageMap(M, StorageItem.jobByOwner, ownerJobKey, k.uint)
export const modelVersionCount = storageValue(M, StorageItem.modelVersionCount, k.uint, 0)
/** id (from 1) -> published model version with its lineage */
export const modelVersions = storageMap(M, StorageItem.modelVersion, u64Key, modelVersionKind)
/**
 * height -> jobs whose deadline was set to that height. Entries go stale when a job moves on
 * (the hook skips a job whose deadline is no longer that height); the hook deletes each entry.
 */
export const deadlines = storageMap(M, StorageItem.deadline, u64Key, k.list(k.uint, 1_000_000))
