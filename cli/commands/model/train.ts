// `openledger model train`: pays for a LoRA training job on datanet versions (--wait: follows it to
// publication with a progress bar).
import { parseArgs } from 'node:util'
import { formatOpen } from '../../../genesis/tokenomics.ts'
import type { RpcClient } from '../../../node/rpc/client.ts'
import type { JobDetailView } from '../../../node/rpc/contract.ts'
import { CliError, type CliIo } from '../../io.ts'
import { parseOpenAmount, parsePositiveInt } from '../../parse.ts'
import { eventData } from '../../txBatch.ts'
import { client, common, follow, need, printVersion, send, timeoutMs } from './shared.ts'

/** "3" or "3:2" → datanet 3 at its latest (or the given) published version. */
async function datanetRef(rpc: RpcClient, text: string): Promise<{ datanet: number; version: number }> {
  const [d, v] = text.split(':')
  const datanet = parsePositiveInt(d ?? '', '--datanet')
  if (v !== undefined) return { datanet, version: parsePositiveInt(v, '--datanet version') }
  const record = await rpc.call('openledger_getDatanet', [datanet])
  if (record === null) throw new CliError('NOT_FOUND', `no datanet ${datanet}`)
  if (record.versions === 0) throw new CliError('BAD_ARGUMENT', `datanet ${datanet} has no published version yet`)
  return { datanet, version: record.versions }
}

/** A learning rate as micro-units (the chain stores learningRate × 1e6 as an integer). */
function parseLearningRate(text: string): number {
  const value = Number(text)
  const micro = Math.round(value * 1_000_000)
  if (!Number.isFinite(value) || micro < 1 || micro > 1_000_000 || Math.abs(micro / 1_000_000 - value) > 1e-12) {
    throw new CliError('BAD_ARGUMENT', '--lr must be a multiple of 0.000001 in [0.000001, 1]')
  }
  return micro
}

/** The job once its trainer and verifiers are drawn (it leaves `assigning`). */
async function assignment(rpc: RpcClient, id: number, timeoutMs: number): Promise<JobDetailView> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const job = await rpc.call('openledger_getTrainingJob', [id])
    if (job === null) throw new CliError('NOT_FOUND', `no training job ${id}`)
    if (job.status !== 'assigning') return job
    if (Date.now() > deadline) throw new CliError('FAILED', `job ${id} is still waiting for its workers after ${Math.round(timeoutMs / 1000)} s`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

export async function trainModel(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv, strict: true,
    options: {
      ...common, from: { type: 'string' }, base: { type: 'string' }, datanet: { type: 'string', multiple: true }, rank: { type: 'string' }, alpha: { type: 'string' },
      steps: { type: 'string' }, batch: { type: 'string' }, length: { type: 'string' }, lr: { type: 'string' }, seed: { type: 'string' },
      'checkpoint-every': { type: 'string' }, fee: { type: 'string' }, wait: { type: 'boolean' }, timeout: { type: 'string' }, force: { type: 'boolean' },
    },
  })
  const rpc = client(values)
  const base = parsePositiveInt(need(values.base, '--base'), '--base')
  const datanets = []
  for (const text of need(values.datanet, '--datanet')) datanets.push(await datanetRef(rpc, text))
  const steps = parsePositiveInt(values.steps ?? '60', '--steps')
  const hyper = {
    rank: parsePositiveInt(values.rank ?? '8', '--rank'),
    alpha: parsePositiveInt(values.alpha ?? '16', '--alpha'),
    steps,
    batchSize: parsePositiveInt(values.batch ?? '8', '--batch'),
    length: parsePositiveInt(values.length ?? '64', '--length'),
    learningRateMicro: parseLearningRate(values.lr ?? '0.002'),
    seed: parsePositiveInt(values.seed ?? '1', '--seed', 0),
    checkpointEvery: parsePositiveInt(values['checkpoint-every'] ?? String(Math.max(1, Math.floor(steps / 6))), '--checkpoint-every'),
  }
  const params = await rpc.call('openledger_getModelsParams')
  const minimum = BigInt(params.minFeePerStep) * BigInt(hyper.steps) * BigInt(hyper.batchSize)
  const fee = values.fee === undefined ? minimum : parseOpenAmount(values.fee, '--fee')
  const receipt = await send(io, values, 'createJob', { base, datanets, hyper, fee: fee.toString() })
  const id = Number(eventData(receipt, 'models', 'JobCreated')?.['job'])
  // the workers are drawn a few blocks after the job's block (the randomness beacon's lookahead)
  const assigned = await assignment(rpc, id, 120_000)
  if (values.json === true && values.wait !== true) {
    io.out(JSON.stringify({ job: id, transaction: receipt.hash, fee: fee.toString(), trainer: assigned.trainer, verifiers: assigned.verifiers }))
    return 0
  }
  io.out(`training job ${id} created (transaction ${receipt.hash}), ${formatOpen(fee)} OPEN in escrow`)
  io.out(`  trainer    ${assigned.trainer}`)
  io.out(`  verifiers  ${assigned.verifiers.join(', ') || '(none)'}`)
  if (values.wait !== true) return 0
  const job = await follow(io, rpc, id, timeoutMs(values))
  if (job.status !== 'published' || job.modelVersion === null) {
    io.out(`job ${id} was refunded`)
    return 1
  }
  const version = await rpc.call('openledger_getModelVersion', [job.modelVersion])
  if (version === null) throw new CliError('NOT_FOUND', `job ${id} names model version ${job.modelVersion}, which the node does not have`)
  if (values.json === true) io.out(JSON.stringify(version))
  else printVersion(io, version)
  return 0
}
