// models (ModelFactory): base models registered on chain (artifact and ONNX content ids, weights
// hash, architecture, tokenizer, engine version); training jobs that escrow a fee, are assigned
// to validators (a trainer and verifiers drawn with the parent block hash), verified by
// re-execution and published as model versions with their lineage when a quorum of identical
// hashes agrees; disputes settled by majority with the losing side slashed; deadlines that
// reassign or refund. See lifecycle.ts for a job's life, architecture.ts for the model check.
import { modelsParams } from './state.ts'
import type { RuntimeModule } from '../../module.ts'
import { ModuleIndex } from '../indices.ts'
import { calls } from './calls.ts'
import { ModelsError } from './errors.ts'
import { events } from './events.ts'
import { modelsEndBlock } from './hooks.ts'
import { applyModelsGenesis, type ModelsGenesis } from './genesis.ts'

export const modelsModule: RuntimeModule = {
  index: ModuleIndex.models,
  name: 'models',
  calls,
  events,
  errors: ModelsError.list,
  endBlock: modelsEndBlock,
  genesis: { apply: (state, config: ModelsGenesis | undefined) => (config === undefined ? undefined : applyModelsGenesis(state, config)) },
  params: modelsParams,
}

export { ARCHITECTURE_LIMITS, canonicalArchitecture, parseArchitecture, type ModelConfig, type ModelKind } from './architecture.ts'
export { HYPER_LIMITS } from './calls.ts'
export { ReassignReason, RefundReason, WorkerSlashReason } from './events.ts'
export { applyModelsGenesis, modelsGenesisKind, type GenesisBaseModel, type ModelsGenesis } from './genesis.ts'
export { ASSIGNMENT_DOMAIN } from './lifecycle.ts'
export {
  baseModelCount, BaseModelKind, baseModels, DEFAULT_MODELS_PARAMS, JOB_STATUS_NAMES, jobCount, jobs, jobsByOwner, JobStatus, MODELS_ACCOUNT,
  modelsParams, modelsParamsProblem, modelVersionCount, modelVersions,
  type Attestation, type BaseModel, type DatanetInput, type Hyperparameters, type Job, type Metrics, type ModelsParams, type ModelVersion, type TrainingResult,
} from './state.ts'
export { baseModelProblem, commit, revealAttestation, revealResult } from './calls.ts'
export { ModelPublished } from './events.ts'
export { commitScope, RESULT_COMMIT_DOMAIN, resultPayload, roundWorkers } from './lifecycle.ts'
export { baseModelKind, jobKind, modelsParamsKind, modelVersionKind } from './state.ts'
