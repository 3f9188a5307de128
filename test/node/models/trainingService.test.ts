// The training service on an in-process dev node (alice validates and trains; with no other
// validator a result publishes unverified): a Moby Dick datanet is seeded over RPC, a job is paid
// for and published, and its adapter is bit-identical to a local run of the same job; the models
// RPC answers; bad jobs fail with stable codes; a node stopped mid-training resumes from its
// checkpoints after a restart and publishes the uninterrupted run's hash.
import t from 'tap'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { devAccount } from '../../../genesis/devAccounts.ts'
import { fromHex, toHex } from '../../../runtime/crypto/hash.ts'
import { createRuntime } from '../../../runtime/index.ts'
import type { Hyperparameters } from '../../../runtime/modules/models/state.ts'
import { seedDatanet } from '../../../cli/commands/datanetSeed.ts'
import type { CliIo } from '../../../cli/io.ts'
import { eventData, TxBatch, type BatchReceipt } from '../../../cli/txBatch.ts'
import type { JobDetailView } from '../../../node/rpc/contract.ts'
import type { OpenLedgerNode } from '../../../node/node.ts'
import { loadBaseModel } from '../../../node/models/assets.ts'
import { loadJobRows } from '../../../node/models/jobData.ts'
import { JobCheckpoints, runJob, type JobOutcome } from '../../../node/models/jobRunner.ts'
import { trainingDir } from '../../../node/models/trainingService.ts'
import { found, waitFor } from '../../e2e/harness.ts'
import { startDevNode, TINY_HYPER, type DevNode } from './fixtures.ts'

const runtime = createRuntime()
const quiet: CliIo = { out: () => {}, err: () => {}, secret: async () => '' }
const bob = devAccount('bob')
const BOB = toHex(bob.address)
/** long enough (about 40 steps of ~60 ms) to stop the node in the middle of it */
const LONG_HYPER: Hyperparameters = { ...TINY_HYPER, steps: 40, checkpointEvery: 5 }

async function createJob(rpc: DevNode['rpc'], args: Record<string, unknown>): Promise<BatchReceipt> {
  const batch = new TxBatch(rpc, runtime)
  const [receipt] = await batch.wait([await batch.submit(bob, 'models', 'createJob', args)], { allowFailures: true })
  if (receipt === undefined) throw new Error('no receipt')
  return receipt
}

const fee = (hyper: Hyperparameters) => (10n ** 15n * BigInt(hyper.steps) * BigInt(hyper.batchSize)).toString()

async function published(rpc: DevNode['rpc'], job: number, timeoutMs = 60_000): Promise<JobDetailView> {
  return waitFor(async () => {
    const record = found(await rpc.call('openledger_getTrainingJob', [job]), `job ${job}`)
    if (record.progress?.phase === 'failed') throw new Error(`job ${job} failed: ${JSON.stringify(record.progress)}`)
    return record.status === 'published' ? record : undefined
  }, `job ${job} to publish`, timeoutMs, 50)
}

/** The job run here, on the rows the node's state and blob store hold for it, in a fresh checkpoint folder. */
async function localRun(dev: DevNode, job: JobDetailView, root: string): Promise<JobOutcome> {
  const { node } = dev
  const model = await loadBaseModel('ol-lm-sotu-2m')
  const refs = job.datanets.map((d) => ({ datanet: d.datanet, version: d.version, root: fromHex(d.root) as Uint8Array }))
  const { rows } = await loadJobRows({ state: node.chain.state, store: node.blobs as NonNullable<OpenLedgerNode['blobs']> }, refs)
  const hyper = { rank: job.hyper.rank, alpha: job.hyper.alpha, steps: job.hyper.steps, batchSize: job.hyper.batchSize, length: job.hyper.length, learningRateMicro: job.hyper.learningRateMicro, seed: job.hyper.seed, checkpointEvery: job.hyper.checkpointEvery }
  return runJob({ config: model.entry.config, weights: model.weightsBytes, tokenizerTable: model.tokenizer.table(), rows, hyper, threads: 1 }, new JobCheckpoints(root, job.id))
}


t.test('jobs train and publish bit for bit, the RPC answers, bad jobs fail, a restart resumes', async (t) => {
  const home = await mkdtemp(join(tmpdir(), 'openledger-training-'))
  const scratch = await mkdtemp(join(tmpdir(), 'openledger-training-local-'))
  let dev = await startDevNode(home)
  t.teardown(async () => {
    await dev.node.stop()
    await rm(home, { recursive: true, force: true })
    await rm(scratch, { recursive: true, force: true })
  })
  const { datanet, version } = await seedDatanet(quiet, dev.rpc, runtime, bob, { corpus: 'moby', contributors: 2, limit: 3 })

  // a tiny job: created, assigned to alice, trained, submitted, published (no verifier on one validator)
  const created = await createJob(dev.rpc, { base: 1, datanets: [{ datanet, version }], hyper: TINY_HYPER, fee: fee(TINY_HYPER) })
  t.equal(created.status, 'success', created.error ?? '')
  const id = Number(eventData(created, 'models', 'JobCreated')?.['job'])
  t.equal(id, 1)
  const job = await published(dev.rpc, id)
  t.equal(job.trainer, toHex(devAccount('alice').address), 'assigned to alice (drawn a few blocks after the job\'s block)')
  t.match(job.progress, { role: 'trainer', phase: 'submitted', step: 4, steps: 4 }, 'this node\'s progress: trained all four steps')
  t.ok((job.progress?.trainSize ?? 0) > 0 && (job.progress?.heldOutSize ?? 0) > 0, 'planned sizes reported')
  t.equal(job.progress?.outcome?.weightsHash, job.result?.weightsHash)

  const local = await localRun(dev, job, scratch)
  const modelVersion = found(await dev.rpc.call('openledger_getModelVersion', [found(job.modelVersion, 'the model version of the job')]), 'the model version')
  t.equal(modelVersion.weightsHash, toHex(local.weightsHash), 'published weights hash = a local re-execution')
  t.equal(modelVersion.lineage.checkpointRoot, toHex(local.checkpointRoot), 'and the checkpoint root too')
  t.equal(modelVersion.evaluation.adaptedLoss, local.metrics.adaptedLossMicro / 1e6)
  t.match(modelVersion.lineage, { baseModel: { id: 1, name: 'ol-lm-sotu-2m' }, datanets: [{ datanet, version, root: job.datanets[0]?.root }], job: id, hyperparameters: { learningRate: 0.002 } })
  t.equal(typeof modelVersion.lineage.engineVersion, 'string')

  const blobs = dev.node.blobs
  const adapter = fromHex(modelVersion.adapter) as Uint8Array
  t.same(Buffer.from(await blobs!.read(adapter)), Buffer.from(local.adapter), 'the adapter blob is in the node\'s store, byte for byte')
  await waitFor(async () => ((await blobs!.info(adapter))?.refs ?? 0) >= 1 ? true : undefined, 'the adapter to be pinned as a published model')
  await waitFor(async () => (existsSync(join(trainingDir(home), `job-${id}`)) ? undefined : true), 'the job\'s checkpoints to be removed once published')

  // the read methods
  const bases = await dev.rpc.call('openledger_listBaseModels')
  t.same(bases.map((b) => [b.id, b.name, b.kind]), [[1, 'ol-lm-sotu-2m', 'lm'], [2, 'ol-spam-cls', 'classifier']])
  t.equal(bases[0]?.config?.context, 64)
  t.match(await dev.rpc.call('openledger_getModelsParams'), { minVerifiers: 0, trainBlocks: 200, minFeePerStep: (10n ** 15n).toString() })
  t.same((await dev.rpc.call('openledger_listTrainingJobs')).map((j) => j.id), [1])
  t.same((await dev.rpc.call('openledger_listTrainingJobs', [null, null, BOB])).map((j) => j.id), [1], 'by owner')
  t.same(await dev.rpc.call('openledger_listTrainingJobs', [null, null, toHex(devAccount('eve').address)]), [], 'another owner has none')
  t.equal(await dev.rpc.call('openledger_getTrainingJob', [99]), null)
  t.equal(await dev.rpc.call('openledger_getModelVersion', [99]), null)

  // bad jobs fail in their block with the module's stable codes, and create nothing
  const cases: Array<[string, Record<string, unknown>]> = [
    ['models.UnknownBaseModel', { base: 99, datanets: [{ datanet, version }], hyper: TINY_HYPER, fee: fee(TINY_HYPER) }],
    ['models.UnknownDatanetVersion', { base: 1, datanets: [{ datanet, version: version + 5 }], hyper: TINY_HYPER, fee: fee(TINY_HYPER) }],
    ['models.InvalidHyperparameters', { base: 1, datanets: [{ datanet, version }], hyper: { ...TINY_HYPER, rank: 0 }, fee: fee(TINY_HYPER) }],
    ['models.InvalidHyperparameters', { base: 1, datanets: [{ datanet, version }], hyper: { ...TINY_HYPER, length: 65 }, fee: fee(TINY_HYPER) }],
    ['models.InsufficientEscrow', { base: 1, datanets: [{ datanet, version }], hyper: TINY_HYPER, fee: (BigInt(fee(TINY_HYPER)) - 1n).toString() }],
  ]
  for (const [code, args] of cases) {
    const receipt = await createJob(dev.rpc, args)
    t.same([receipt.status, receipt.error], ['failed', code], code)
  }
  t.same((await dev.rpc.call('openledger_listTrainingJobs')).map((j) => j.id), [1], 'no job created by a failed call')

  // a longer job, and the node stopped while it trains: the restart resumes from the checkpoints
  const long = await createJob(dev.rpc, { base: 1, datanets: [{ datanet, version }], hyper: LONG_HYPER, fee: fee(LONG_HYPER) })
  const longId = Number(eventData(long, 'models', 'JobCreated')?.['job'])
  await waitFor(async () => ((dev.node.training?.progress(longId)?.step ?? 0) >= 11 ? true : undefined), 'the long job past its second checkpoint', 60_000, 10)
  await dev.node.stop()
  const saved = await new JobCheckpoints(trainingDir(home), longId).latest()
  t.ok(saved !== undefined && saved.step >= 10 && saved.step < LONG_HYPER.steps, `stopped mid-training with checkpoint ${saved?.step} on disk`)
  const resumedAt = saved?.step ?? 0
  dev = await startDevNode(home)
  const seen = new Set<number>()
  const longJob = await waitFor(async () => {
    const step = dev.node.training?.progress(longId)?.step
    if (step !== undefined && step > 0) seen.add(step)
    const record = found(await dev.rpc.call('openledger_getTrainingJob', [longId]), 'the long job')
    return record.status === 'published' ? record : undefined
  }, 'the long job to publish after the restart', 60_000, 10)
  t.ok(seen.size > 0, 'progress observed after the restart')
  t.same([...seen].filter((step) => step <= resumedAt), [], `no step up to ${resumedAt} trained again`)
  const uninterrupted = await localRun(dev, longJob, scratch)
  t.equal(longJob.result?.weightsHash, toHex(uninterrupted.weightsHash), 'the restarted node published the uninterrupted run\'s weights hash')
  t.equal(longJob.result?.checkpointRoot, toHex(uninterrupted.checkpointRoot), 'and checkpoint root')
})
