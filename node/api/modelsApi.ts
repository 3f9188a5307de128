// openledger_* methods for ModelFactory (reads of the head state, plus this node's own progress):
//
//   getBaseModel(id) / listBaseModels(start?, count?)        base models, architecture parsed
//   getTrainingJob(id)                                       a job: status, assignment, result,
//                                                            attestations, and `progress` when
//                                                            this node works on it
//   listTrainingJobs(start?, count?, owner?)                 newest first; by owner via its index
//   getTrainingProgress(id)                                  this node's progress on a job | null
//   getModelsParams()                                        the module's parameters (fees, quorum, deadlines)
//   getModelVersion(id) / listModelVersions(start?, count?)  published models with their lineage:
//                                                            base model, datanet versions and
//                                                            roots, hyperparameters, engine version
import { CommitPhase } from '../../runtime/commitReveal.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import { OpenLedgerError } from '../../runtime/errors.ts'
import { type BaseModel, baseModelCount, baseModelKind, baseModels, type Job, JOB_STATUS_NAMES, jobCount, jobKind, jobs, jobsByOwner, modelsParams, modelsParamsKind, type ModelVersion, modelVersionCount, modelVersionKind, modelVersions, parseArchitecture } from '../../runtime/modules/models/index.ts'
import { toJsonOf } from '../../runtime/codec/schema.ts'
import type { BaseModelView, JobView, ModelVersionView } from '../rpc/contract.ts'
import { defineMethod, param, type RpcMethod } from '../rpc/registry.ts'
import type { ApiComponents } from './context.ts'
import { listByIds, listEntries, MAX_LIST } from './pagination.ts'

export type ModelsApiErrorCode = 'UNKNOWN_BASE_MODEL' | 'UNKNOWN_JOB' | 'UNKNOWN_MODEL'
export class ModelsApiError extends OpenLedgerError<ModelsApiErrorCode> {}


export function baseModelToJson(model: BaseModel): BaseModelView {
  return { ...toJsonOf(baseModelKind, model), kind: model.kind === 0 ? 'lm' : 'classifier', config: parseArchitecture(model.architecture, model.kind).config ?? null }
}

export function jobToJson(job: Job): JobView {
  const json = toJsonOf(jobKind, job)
  const hyper = { ...json.hyper, learningRate: job.hyper.learningRateMicro / 1e6 }
  return { ...json, hyper, status: JOB_STATUS_NAMES[job.status] ?? job.status, phase: job.phase === CommitPhase.reveal ? 'reveal' : 'commit' }
}

export function modelVersionToJson(version: ModelVersion, base: BaseModel | undefined): ModelVersionView {
  const json = toJsonOf(modelVersionKind, version)
  const { metrics } = version
  return {
    ...json,
    lineage: {
      baseModel: { id: version.base, name: base?.name ?? null, weightsHash: toHex(version.baseWeightsHash), artifact: base === undefined ? null : toHex(base.artifact), tokenizer: base?.tokenizer ?? null },
      datanets: version.datanets.map((d) => ({ datanet: d.datanet, version: d.version, root: toHex(d.root) })),
      hyperparameters: { ...json.hyper, learningRate: version.hyper.learningRateMicro / 1e6 },
      engineVersion: version.engineVersion,
      job: version.job,
      checkpointRoot: toHex(version.checkpointRoot),
    },
    evaluation: {
      baseLoss: metrics.baseLossMicro / 1e6,
      adaptedLoss: metrics.adaptedLossMicro / 1e6,
      lossGain: (metrics.baseLossMicro - metrics.adaptedLossMicro) / 1e6,
      ...(metrics.baseAccuracyBps === 0 && metrics.adaptedAccuracyBps === 0 ? {} : { baseAccuracy: metrics.baseAccuracyBps / 1e4, adaptedAccuracy: metrics.adaptedAccuracyBps / 1e4 }),
    },
  }
}

export function modelsMethods({ chain, training }: ApiComponents): RpcMethod[] {
  const state = () => chain.state
  const id = param.uint({ max: Number.MAX_SAFE_INTEGER })
  const start = param.optional(id).named('start')
  const count = param.optional(param.uint({ max: MAX_LIST })).named('count')
  const progressOf = (job: number) => training?.progress(job) ?? null
  return [
    defineMethod({
      name: 'openledger_getBaseModel',
      params: [id.named('model')],
      async handler([model]) {
        const record = await baseModels.get(state(), model)
        return record === undefined ? null : baseModelToJson(record)
      },
    }),
    defineMethod({
      name: 'openledger_listBaseModels',
      params: [start, count],
      async handler([from, n], { signal }) {
        const page = { first: 1, last: await baseModelCount.get(state()), start: from, count: n, order: 'ascending', signal } as const
        return listByIds(page, async (i) => {
          const record = await baseModels.get(state(), i)
          return record === undefined ? undefined : baseModelToJson(record)
        })
      },
    }),
    defineMethod({
      name: 'openledger_getModelsParams',
      params: [],
      handler: async () => toJsonOf(modelsParamsKind, await modelsParams.storage.get(state())),
    }),
    defineMethod({
      name: 'openledger_getTrainingJob',
      params: [id.named('job')],
      async handler([job]) {
        const record = await jobs.get(state(), job)
        return record === undefined ? null : { ...jobToJson(record), progress: progressOf(job) }
      },
    }),
    defineMethod({
      name: 'openledger_listTrainingJobs',
      params: [start, count, param.optional(param.address()).named('owner')],
      async handler([from, n, owner], { signal }) {
        const read = async (job: number) => {
          const record = await jobs.get(state(), job)
          return record === undefined ? undefined : jobToJson(record)
        }
        if (owner !== undefined) {
          // the owner's index in key order (job ids ascending), from `start` up
          const prefix = new Uint8Array([...jobsByOwner.prefix, ...owner])
          return listEntries(state().entries(prefix), { count: n, signal }, ([, value]) => {
            const job = jobsByOwner.decodeValue(value)
            return job >= (from ?? 0) ? read(job) : undefined
          })
        }
        return listByIds({ first: 1, last: await jobCount.get(state()), start: from, count: n, order: 'descending', signal }, read)
      },
    }),
    defineMethod({
      name: 'openledger_getTrainingProgress',
      params: [id.named('job')],
      handler: ([job]) => progressOf(job),
    }),
    defineMethod({
      name: 'openledger_getModelVersion',
      params: [id.named('model')],
      async handler([model]) {
        const record = await modelVersions.get(state(), model)
        if (record === undefined) return null
        return modelVersionToJson(record, await baseModels.get(state(), record.base))
      },
    }),
    defineMethod({
      name: 'openledger_listModelVersions',
      params: [start, count],
      async handler([from, n], { signal }) {
        const page = { first: 1, last: await modelVersionCount.get(state()), start: from, count: n, order: 'descending', signal } as const
        return listByIds(page, async (i) => {
          const record = await modelVersions.get(state(), i)
          return record === undefined ? undefined : modelVersionToJson(record, await baseModels.get(state(), record.base))
        })
      },
    }),
  ]
}
