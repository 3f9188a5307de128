// What the `openledger model` subcommands share: options, the RPC client, sending a models call,
// printing a job or a model version, following a job, and the rows of a datanet version.
import { downloadBlob } from '../../../node/blobs/blobClient.ts'
import { RpcClient } from '../../../node/rpc/client.ts'
import type { JobDetailView, ModelVersionView } from '../../../node/rpc/contract.ts'
import { createRuntime } from '../../../runtime/index.ts'
import { Format, parseRows, type Row } from '../../../runtime/modules/datanets/index.ts'
import { resolveHome } from '../../home.ts'
import { CliError, type CliIo } from '../../io.ts'
import { parsePositiveInt, parseRpcUrl } from '../../parse.ts'
import { resolveAccountSigner } from '../../signer.ts'
import { TxBatch, type BatchReceipt } from '../../txBatch.ts'

export const runtime = createRuntime()

export const common = { rpc: { type: 'string' }, home: { type: 'string' }, json: { type: 'boolean' } } as const

export function need<T>(value: T | undefined, flag: string): T {
  if (value === undefined) throw new CliError('USAGE', `${flag} is required`)
  return value
}

export function client(values: { rpc?: string | undefined }): RpcClient {
  return new RpcClient(parseRpcUrl(values.rpc))
}

/** Signs, dry-runs, submits and waits for one models call; a failed call is an error. */
export async function send(io: CliIo, values: { rpc?: string | undefined; home?: string | undefined; from?: string | undefined; force?: boolean | undefined }, callName: string, args: unknown): Promise<BatchReceipt & { hash: string }> {
  const signer = await resolveAccountSigner(need(values.from, '--from'), resolveHome(values.home), io)
  const batch = new TxBatch(client(values), runtime)
  const hash = await batch.submit(signer, 'models', callName, args, { check: values.force !== true })
  const [receipt] = await batch.wait([hash], { allowFailures: true })
  if (receipt === undefined) throw new CliError('FAILED', 'no receipt')
  if (receipt.status !== 'success') throw new CliError('FAILED', `models.${callName} failed: ${receipt.error ?? 'unknown error'} (transaction ${hash})`)
  return { ...receipt, hash }
}

export function timeoutMs(values: { timeout?: string | undefined }): number {
  return parsePositiveInt(values.timeout ?? '3600', '--timeout') * 1000
}

function bar(step: number, steps: number, width = 30): string {
  const filled = steps === 0 ? width : Math.round((step / steps) * width)
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`
}

export function printJob(io: CliIo, job: JobDetailView): void {
  io.out(`job ${job.id}: ${job.status} (attempt ${job.attempt})`)
  io.out(`  owner        ${job.owner}`)
  io.out(`  base model   ${job.base}`)
  io.out(`  datanets     ${job.datanets.map((d) => `${d.datanet}:${d.version} (root ${d.root.slice(0, 18)}…)`).join(', ')}`)
  const h = job.hyper
  io.out(`  hyper        rank ${h.rank}, alpha ${h.alpha}, steps ${h.steps}, batch ${h.batchSize}, length ${h.length}, lr ${h.learningRate}, seed ${h.seed}, checkpoint every ${h.checkpointEvery}`)
  io.out(`  trainer      ${job.trainer}`)
  io.out(`  verifiers    ${job.verifiers.join(', ') || '(none)'}${job.arbiters.length > 0 ? `; arbiters ${job.arbiters.join(', ')}` : ''}`)
  io.out(`  deadline     block #${job.deadline}`)
  if (job.result !== null) {
    io.out(`  result       adapter ${job.result.adapter}`)
    io.out(`               weights ${job.result.weightsHash}, checkpoints ${job.result.checkpointRoot}`)
    const m = job.result.metrics
    io.out(`               held-out loss ${(m.baseLossMicro / 1e6).toFixed(4)} → ${(m.adaptedLossMicro / 1e6).toFixed(4)}`)
  }
  for (const a of job.attestations) io.out(`  attested     ${a.worker} ${a.weightsHash === job.result?.weightsHash ? 'agrees' : `DISAGREES (${a.weightsHash})`} at #${a.height}`)
  if (job.modelVersion !== null) io.out(`  published    model version ${job.modelVersion}`)
  if (job.progress !== null) {
    const p = job.progress
    io.out(`  this node    ${p.role}, ${p.phase} ${bar(p.step, p.steps)} ${p.step}/${p.steps}${p.loss === undefined ? '' : ` loss ${p.loss.toFixed(4)}`}${p.error === undefined ? '' : ` — ${p.error.code}: ${p.error.message}`}`)
  }
}

/** Polls the job until it is published or refunded, printing a progress line whenever it changes. */
export async function follow(io: CliIo, rpc: RpcClient, id: number, timeout: number): Promise<JobDetailView> {
  const deadline = Date.now() + timeout
  let last = ''
  for (;;) {
    const job = await rpc.call('openledger_getTrainingJob', [id])
    if (job === null) throw new CliError('NOT_FOUND', `no training job ${id}`)
    const p = job.progress
    const line = p === null || job.status !== 'training'
      ? `job ${id}: ${job.status}${job.status === 'verifying' || job.status === 'disputed' ? ` (${job.attestations.length} of ${job.verifiers.length + job.arbiters.length} attested)` : ''}`
      : `job ${id}: ${p.phase} ${bar(p.step, p.steps)} ${p.step}/${p.steps}${p.loss === undefined ? '' : ` loss ${p.loss.toFixed(4)}`}`
    if (line !== last) io.out(line)
    last = line
    if (job.status === 'published' || job.status === 'refunded') return job
    // this node trained (or re-executed) the job and its worker failed: the chain keeps the job
    // open until its deadline, when it is reassigned or refunded, but nothing here will change it
    if (p !== null && p.phase === 'failed') {
      const why = p.error === undefined ? '' : `: ${p.error.code}: ${p.error.message}`
      throw new CliError('FAILED', `job ${id} failed on this node as ${p.role}${why}; on chain it stays ${job.status} until block #${job.deadline}, then it is reassigned or refunded`)
    }
    if (Date.now() > deadline) throw new CliError('FAILED', `job ${id} is still ${job.status} after ${Math.round(timeout / 1000)} s`)
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
}

export function printVersion(io: CliIo, v: ModelVersionView): void {
  io.out(`model version ${v.id} (job ${v.job})`)
  io.out(`  owner        ${v.owner}`)
  io.out(`  adapter      ${v.adapter}`)
  io.out(`  weights      ${v.weightsHash}`)
  io.out(`  base model   ${v.lineage.baseModel.id} ${v.lineage.baseModel.name ?? ''} (weights ${v.lineage.baseModel.weightsHash})`)
  for (const d of v.lineage.datanets) io.out(`  datanet      ${d.datanet} version ${d.version}, root ${d.root}`)
  io.out(`  hyper        ${JSON.stringify(v.lineage.hyperparameters)}`)
  io.out(`  engine       ${v.lineage.engineVersion}, checkpoint root ${v.lineage.checkpointRoot}`)
  io.out(`  trainer      ${v.trainer}`)
  io.out(`  verified by  ${v.verifiers.join(', ') || '(trainer only)'}`)
  const e = v.evaluation
  io.out(`  held-out     loss ${e.baseLoss.toFixed(4)} (base) → ${e.adaptedLoss.toFixed(4)} (adapted), gain ${e.lossGain.toFixed(4)}${e.baseAccuracy === undefined ? '' : `; accuracy ${e.baseAccuracy} → ${e.adaptedAccuracy}`}`)
  io.out(`  published    block #${v.publishedHeight}`)
}

/**
 * The rows of a datanet version, read over RPC exactly as validators gather them
 * (node/models/jobData.ts): the members the node lists by the runtime's rule, in tree order.
 */
export async function versionRows(rpc: RpcClient, ref: { datanet: number; version: number; root: string }): Promise<Row[]> {
  const version = await rpc.call('openledger_getDatanetVersion', [ref.datanet, ref.version])
  if (version === null) throw new CliError('NOT_FOUND', `datanet ${ref.datanet} has no version ${ref.version}`)
  if (version.root !== ref.root) throw new CliError('FAILED', `datanet ${ref.datanet} version ${ref.version} has root ${version.root}, the lineage names ${ref.root}`)
  const rows: Row[] = []
  for (let start = 0; ; start += 100) {
    const page = await rpc.call('openledger_listVersionContributions', [ref.datanet, ref.version, start, 100])
    for (const c of page) {
      if (typeof c.format === 'number') throw new CliError('FAILED', `contribution ${c.index} has format ${c.format}, which this openledger does not know`)
      rows.push(...parseRows(await downloadBlob(rpc, c.cid), Format[c.format]))
    }
    if (page.length < 100) break
  }
  return rows
}
