// `openledger model`: ModelFactory from the command line.
//
//   register   upload a base model's weights (and ONNX export) and register it
//   train      pay for a LoRA training job on datanet versions (--wait: follow it to publication)
//   status     a job's state, assignment, result and attestations (--watch: a progress bar)
//   list       base models, published model versions (--jobs: training jobs)
//   show       a published model version with its full lineage
//   download   an adapter (checked against its on-chain weights hash) and its lineage
//   evaluate   re-runs the held-out evaluation locally (base vs adapted, from the datanet rows on
//              chain and the shipped base model) and prints the margin next to the chain's record
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { adapterShapes, paramShapes, type ModelConfig } from '../../ml/model/config.ts'
import { decodeTensors, tensorsHash } from '../../ml/model/params.ts'
import { ENGINE_VERSION } from '../../ml/index.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import { createRuntime } from '../../runtime/index.ts'
import { ContributionStatus, Format, inVersion, parseRows, type FormatName, type Row } from '../../runtime/modules/datanets/index.ts'
import { canonicalArchitecture } from '../../runtime/modules/models/index.ts'
import type { Hyperparameters } from '../../runtime/modules/models/state.ts'
import { formatOpen } from '../../genesis/tokenomics.ts'
import { downloadBlob, uploadBlob } from '../../node/blobs/blobClient.ts'
import { shippedManifest } from '../../node/models/baseModels.ts'
import { loadBaseModel } from '../../node/models/assets.ts'
import { evaluatePlan, planJob } from '../../node/models/jobPlan.ts'
import { RpcClient } from '../../node/rpc/client.ts'
import { resolveHome } from '../home.ts'
import { CliError, type CliIo, type Command } from '../io.ts'
import { parseOpenAmount, parsePositiveInt, parseRpcUrl } from '../parse.ts'
import { resolveAccountSigner } from '../signer.ts'
import { TxBatch, type BatchReceipt } from '../txBatch.ts'

const runtime = createRuntime()

const common = { rpc: { type: 'string' }, home: { type: 'string' }, json: { type: 'boolean' } } as const

interface JobJson {
  id: number
  owner: string
  base: number
  status: string
  attempt: number
  trainer: string
  verifiers: string[]
  arbiters: string[]
  deadline: number
  hyper: Hyperparameters & { learningRate: number }
  datanets: Array<{ datanet: number; version: number; root: string }>
  result: { adapter: string; weightsHash: string; checkpointRoot: string; metrics: Record<string, number> } | null
  attestations: Array<{ worker: string; weightsHash: string; checkpointRoot: string; height: number }>
  modelVersion: number | null
  progress: { phase: string; step: number; steps: number; loss?: number; role: string; error?: { code: string; message: string } } | null
}

interface ModelVersionJson {
  id: number
  job: number
  owner: string
  base: number
  adapter: string
  weightsHash: string
  hyper: Hyperparameters
  verifiers: string[]
  trainer: string
  publishedHeight: number
  lineage: {
    baseModel: { id: number; name: string | null; weightsHash: string }
    datanets: Array<{ datanet: number; version: number; root: string }>
    hyperparameters: Record<string, unknown>
    engineVersion: string
    checkpointRoot: string
  }
  evaluation: { baseLoss: number; adaptedLoss: number; lossGain: number; baseAccuracy?: number; adaptedAccuracy?: number }
}

interface BaseModelJson {
  id: number
  name: string
  kind: string
  config: ModelConfig | null
  weightsHash: string
  artifact: string
  onnx: string
  tokenizer: string
  tokenizerHash: string
  engineVersion: string
}

function need<T>(value: T | undefined, flag: string): T {
  if (value === undefined) throw new CliError('USAGE', `${flag} is required`)
  return value
}

function client(values: { rpc?: string | undefined }): RpcClient {
  return new RpcClient(parseRpcUrl(values.rpc))
}

async function send(io: CliIo, values: { rpc?: string | undefined; home?: string | undefined; from?: string | undefined }, callName: string, args: unknown): Promise<BatchReceipt & { hash: string }> {
  const signer = await resolveAccountSigner(need(values.from, '--from'), resolveHome(values.home), io)
  const batch = new TxBatch(client(values), runtime)
  const hash = await batch.submit(signer, 'models', callName, args)
  const [receipt] = await batch.wait([hash], { allowFailures: true })
  if (receipt === undefined) throw new CliError('FAILED', 'no receipt')
  if (receipt.status !== 'success') throw new CliError('FAILED', `models.${callName} failed: ${receipt.error ?? 'unknown error'} (transaction ${hash})`)
  return { ...receipt, hash }
}

/** "3" or "3:2" → datanet 3 at its latest (or the given) published version. */
async function datanetRef(rpc: RpcClient, text: string): Promise<{ datanet: number; version: number }> {
  const [d, v] = text.split(':')
  const datanet = parsePositiveInt(d ?? '', '--datanet')
  if (v !== undefined) return { datanet, version: parsePositiveInt(v, '--datanet version') }
  const record = await rpc.call<{ versions: number } | null>('openledger_getDatanet', [datanet])
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

function bar(step: number, steps: number, width = 30): string {
  const filled = steps === 0 ? width : Math.round((step / steps) * width)
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`
}

function printJob(io: CliIo, job: JobJson): void {
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
    io.out(`               held-out loss ${((m['baseLossMicro'] ?? 0) / 1e6).toFixed(4)} → ${((m['adaptedLossMicro'] ?? 0) / 1e6).toFixed(4)}`)
  }
  for (const a of job.attestations) io.out(`  attested     ${a.worker} ${a.weightsHash === job.result?.weightsHash ? 'agrees' : `DISAGREES (${a.weightsHash})`} at #${a.height}`)
  if (job.modelVersion !== null) io.out(`  published    model version ${job.modelVersion}`)
  if (job.progress !== null) {
    const p = job.progress
    io.out(`  this node    ${p.role}, ${p.phase} ${bar(p.step, p.steps)} ${p.step}/${p.steps}${p.loss === undefined ? '' : ` loss ${p.loss.toFixed(4)}`}${p.error === undefined ? '' : ` — ${p.error.code}: ${p.error.message}`}`)
  }
}

/** Polls the job until it is published or refunded, printing a progress line whenever it changes. */
/** The job once its trainer and verifiers are drawn (it leaves `assigning`). */
async function assignment(rpc: RpcClient, id: number, timeoutMs: number): Promise<JobJson> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const job = await rpc.call<JobJson | null>('openledger_getTrainingJob', [id])
    if (job === null) throw new CliError('NOT_FOUND', `no training job ${id}`)
    if (job.status !== 'assigning') return job
    if (Date.now() > deadline) throw new CliError('FAILED', `job ${id} is still waiting for its workers after ${Math.round(timeoutMs / 1000)} s`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

async function follow(io: CliIo, rpc: RpcClient, id: number, timeoutMs: number): Promise<JobJson> {
  const deadline = Date.now() + timeoutMs
  let last = ''
  for (;;) {
    const job = await rpc.call<JobJson | null>('openledger_getTrainingJob', [id])
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
    if (Date.now() > deadline) throw new CliError('FAILED', `job ${id} is still ${job.status} after ${Math.round(timeoutMs / 1000)} s`)
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
}

function printVersion(io: CliIo, v: ModelVersionJson): void {
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

interface ContributionJson {
  index: number
  cid: string
  format: string | number
  status: string
  position: number | null
  withdrawnAfterVersion: number | null
}

/** The rows of a datanet version, read over RPC exactly as validators gather them (node/models/jobData.ts). */
async function versionRows(rpc: RpcClient, ref: { datanet: number; version: number; root: string }): Promise<Row[]> {
  const version = await rpc.call<{ root: string; positions: number } | null>('openledger_getDatanetVersion', [ref.datanet, ref.version])
  if (version === null) throw new CliError('NOT_FOUND', `datanet ${ref.datanet} has no version ${ref.version}`)
  if (version.root !== ref.root) throw new CliError('FAILED', `datanet ${ref.datanet} version ${ref.version} has root ${version.root}, the lineage names ${ref.root}`)
  const all: ContributionJson[] = []
  for (let start = 0; ; start += 100) {
    const page = await rpc.call<ContributionJson[]>('openledger_listContributions', [ref.datanet, start, 100])
    all.push(...page)
    if (page.length < 100) break
  }
  // the runtime's membership rule, on the records as the RPC shows them
  const included = all.filter((c) => inVersion({
    status: ContributionStatus[c.status as keyof typeof ContributionStatus] ?? -1,
    position: c.position ?? undefined,
    withdrawnAfterVersion: c.withdrawnAfterVersion ?? undefined,
  }, { version: ref.version, positions: version.positions }))
  included.sort((a, b) => (a.position as number) - (b.position as number))
  const rows: Row[] = []
  for (const c of included) {
    const format = typeof c.format === 'number' ? c.format : Format[c.format as FormatName]
    rows.push(...parseRows(await downloadBlob(rpc, c.cid), format))
  }
  return rows
}

export const modelCommand: Command = {
  usage: [
    'openledger model list [--jobs] [--owner ADDRESS] [--rpc URL] [--json]',
    '       openledger model show ID [--base] [--rpc URL] [--json]',
    '       openledger model train --from NAME --base ID --datanet ID[:VERSION]... [--rank 8] [--alpha 16] [--steps 60] [--batch 8]',
    '                              [--length 64] [--lr 0.002] [--seed 1] [--checkpoint-every 10] [--fee OPEN] [--wait] [--timeout S]',
    '       openledger model status JOB [--watch] [--timeout S] [--rpc URL] [--json]',
    '       openledger model download ID --out DIR [--rpc URL]',
    '       openledger model evaluate ID [--rpc URL] [--json]',
    '       openledger model register --from NAME --name NAME --config FILE --weights FILE [--onnx FILE] [--rpc URL]',
    '',
    'train escrows the fee (default: the chain minimum for steps × batch); validators train, re-execute and',
    'attest; --wait follows the job to publication with a progress bar. evaluate re-runs the held-out evaluation',
    'on this machine (datanet rows from the chain, base weights shipped with openledger) and prints the margin.',
  ].join('\n'),
  async run(argv, io) {
    const [sub, ...rest] = argv
    switch (sub) {
      case 'list': {
        const { values } = parseArgs({ args: rest, strict: true, options: { ...common, jobs: { type: 'boolean' }, owner: { type: 'string' } } })
        const rpc = client(values)
        if (values.jobs === true) {
          const jobs = await rpc.call<JobJson[]>('openledger_listTrainingJobs', values.owner === undefined ? [] : [null, null, values.owner])
          if (values.json === true) io.out(JSON.stringify(jobs))
          else for (const j of jobs) io.out(`job ${j.id}  ${j.status.padEnd(9)}  base ${j.base}  datanets ${j.datanets.map((d) => `${d.datanet}:${d.version}`).join(',')}  steps ${j.hyper.steps}  owner ${j.owner}${j.modelVersion === null ? '' : `  → model ${j.modelVersion}`}`)
          return 0
        }
        const bases = await rpc.call<BaseModelJson[]>('openledger_listBaseModels')
        const versions = await rpc.call<ModelVersionJson[]>('openledger_listModelVersions')
        if (values.json === true) {
          io.out(JSON.stringify({ baseModels: bases, modelVersions: versions }))
          return 0
        }
        io.out('base models')
        for (const b of bases) io.out(`  ${String(b.id).padStart(3)}  ${b.name.padEnd(16)} ${b.kind.padEnd(10)} ${b.config === null ? '' : `${b.config.layers}x${b.config.dim}, vocab ${b.config.vocab}, context ${b.config.context}`}  weights ${b.weightsHash.slice(0, 18)}…`)
        io.out('published models')
        if (versions.length === 0) io.out('  (none yet)')
        for (const v of versions) io.out(`  ${String(v.id).padStart(3)}  job ${v.job}  base ${v.base}  loss ${v.evaluation.baseLoss.toFixed(3)} → ${v.evaluation.adaptedLoss.toFixed(3)}  adapter ${v.adapter.slice(0, 18)}…  owner ${v.owner}`)
        return 0
      }
      case 'show': {
        const { values, positionals } = parseArgs({ args: rest, strict: true, allowPositionals: true, options: { ...common, base: { type: 'boolean' } } })
        const id = parsePositiveInt(need(positionals[0], 'ID'), 'ID')
        const rpc = client(values)
        if (values.base === true) {
          const base = await rpc.call<BaseModelJson | null>('openledger_getBaseModel', [id])
          if (base === null) throw new CliError('NOT_FOUND', `no base model ${id}`)
          io.out(values.json === true ? JSON.stringify(base) : JSON.stringify(base, null, 2))
          return 0
        }
        const version = await rpc.call<ModelVersionJson | null>('openledger_getModelVersion', [id])
        if (version === null) throw new CliError('NOT_FOUND', `no published model version ${id}`)
        if (values.json === true) io.out(JSON.stringify(version))
        else printVersion(io, version)
        return 0
      }
      case 'train': {
        const { values } = parseArgs({
          args: rest, strict: true,
          options: {
            ...common, from: { type: 'string' }, base: { type: 'string' }, datanet: { type: 'string', multiple: true }, rank: { type: 'string' }, alpha: { type: 'string' },
            steps: { type: 'string' }, batch: { type: 'string' }, length: { type: 'string' }, lr: { type: 'string' }, seed: { type: 'string' },
            'checkpoint-every': { type: 'string' }, fee: { type: 'string' }, wait: { type: 'boolean' }, timeout: { type: 'string' },
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
        const params = await rpc.call<{ minFeePerStep: string }>('openledger_getModelsParams')
        const minimum = BigInt(params.minFeePerStep) * BigInt(hyper.steps) * BigInt(hyper.batchSize)
        const fee = values.fee === undefined ? minimum : parseOpenAmount(values.fee, '--fee')
        const receipt = await send(io, values, 'createJob', { base, datanets, hyper, fee: fee.toString() })
        const created = receipt.events.find((e) => e.event === 'JobCreated')?.data
        const id = Number(created?.['job'])
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
        const job = await follow(io, rpc, id, parsePositiveInt(values.timeout ?? '3600', '--timeout') * 1000)
        if (job.status !== 'published' || job.modelVersion === null) {
          io.out(`job ${id} was refunded`)
          return 1
        }
        const version = await rpc.call<ModelVersionJson>('openledger_getModelVersion', [job.modelVersion])
        if (values.json === true) io.out(JSON.stringify(version))
        else printVersion(io, version)
        return 0
      }
      case 'status': {
        const { values, positionals } = parseArgs({ args: rest, strict: true, allowPositionals: true, options: { ...common, watch: { type: 'boolean' }, timeout: { type: 'string' } } })
        const id = parsePositiveInt(need(positionals[0], 'JOB'), 'JOB')
        const rpc = client(values)
        const job = values.watch === true
          ? await follow(io, rpc, id, parsePositiveInt(values.timeout ?? '3600', '--timeout') * 1000)
          : await rpc.call<JobJson | null>('openledger_getTrainingJob', [id])
        if (job === null) throw new CliError('NOT_FOUND', `no training job ${id}`)
        if (values.json === true) io.out(JSON.stringify(job))
        else printJob(io, job)
        return 0
      }
      case 'download': {
        const { values, positionals } = parseArgs({ args: rest, strict: true, allowPositionals: true, options: { ...common, out: { type: 'string' } } })
        const id = parsePositiveInt(need(positionals[0], 'ID'), 'ID')
        const out = need(values.out, '--out')
        const rpc = client(values)
        const version = await rpc.call<ModelVersionJson | null>('openledger_getModelVersion', [id])
        if (version === null) throw new CliError('NOT_FOUND', `no published model version ${id}`)
        const base = await rpc.call<BaseModelJson | null>('openledger_getBaseModel', [version.base])
        if (base?.config === null || base === null) throw new CliError('FAILED', `base model ${version.base} has no readable architecture`)
        const bytes = await downloadBlob(rpc, version.adapter)
        const shapes = adapterShapes(base.config, { rank: version.hyper.rank, alpha: version.hyper.alpha })
        const hash = toHex(tensorsHash(shapes, decodeTensors(bytes, shapes)))
        if (hash !== version.weightsHash) throw new CliError('FAILED', `the adapter downloaded hashes to ${hash}, the chain records ${version.weightsHash}`)
        await mkdir(out, { recursive: true })
        await writeFile(join(out, 'adapter.bin'), bytes)
        await writeFile(join(out, 'lineage.json'), JSON.stringify({ ...version, baseModel: base }, null, 2) + '\n')
        io.out(`adapter of model ${id} (${bytes.length} bytes, weights hash ${hash}, verified) and its lineage written to ${out}`)
        return 0
      }
      case 'evaluate': {
        const { values, positionals } = parseArgs({ args: rest, strict: true, allowPositionals: true, options: { ...common } })
        const id = parsePositiveInt(need(positionals[0], 'ID'), 'ID')
        const rpc = client(values)
        const version = await rpc.call<ModelVersionJson | null>('openledger_getModelVersion', [id])
        if (version === null) throw new CliError('NOT_FOUND', `no published model version ${id}`)
        const baseJson = await rpc.call<BaseModelJson | null>('openledger_getBaseModel', [version.base])
        if (baseJson === null) throw new CliError('NOT_FOUND', `no base model ${version.base}`)
        const manifest = await shippedManifest()
        const shipped = manifest?.models.find((m) => m.weights.hash === baseJson.weightsHash)
        if (manifest === undefined || shipped === undefined) throw new CliError('FAILED', `base model ${version.base} (${baseJson.name}) is not one this openledger ships; evaluate needs its weights locally`)
        const model = await loadBaseModel(shipped.name, { manifest })
        const adapterBytes = await downloadBlob(rpc, version.adapter)
        const shapes = adapterShapes(shipped.config, { rank: version.hyper.rank, alpha: version.hyper.alpha })
        const adapter = decodeTensors(adapterBytes, shapes)
        if (toHex(tensorsHash(shapes, adapter)) !== version.weightsHash) throw new CliError('FAILED', 'the adapter downloaded does not match the chain\'s weights hash')
        const rows: Row[] = []
        for (const ref of version.lineage.datanets) rows.push(...(await versionRows(rpc, ref)))
        const plan = planJob(shipped.config, model.weights, model.tokenizer, rows, version.hyper)
        const result = evaluatePlan(plan, adapter)
        const matches = result.metrics.baseLossMicro === Math.round(version.evaluation.baseLoss * 1e6) && result.metrics.adaptedLossMicro === Math.round(version.evaluation.adaptedLoss * 1e6)
        const summary = {
          model: id, rows: rows.length, heldOut: plan.sizes.heldOut, unit: shipped.config.kind === 'lm' ? 'tokens' : 'examples',
          baseLoss: result.base.loss, adaptedLoss: result.adapted.loss, margin: result.base.loss - result.adapted.loss,
          ...(result.base.accuracy === undefined ? {} : { baseAccuracy: result.base.accuracy, adaptedAccuracy: result.adapted.accuracy }),
          matchesChain: matches, engineVersion: ENGINE_VERSION,
        }
        if (values.json === true) io.out(JSON.stringify(summary))
        else {
          io.out(`model ${id} on the held-out split of its datanets (${plan.sizes.heldOut} ${summary.unit} of ${rows.length} rows), evaluated here:`)
          io.out(`  base model      loss ${result.base.loss.toFixed(4)}${result.base.accuracy === undefined ? '' : `, accuracy ${(result.base.accuracy * 100).toFixed(1)} %`}`)
          io.out(`  with adapter    loss ${result.adapted.loss.toFixed(4)}${result.adapted.accuracy === undefined ? '' : `, accuracy ${((result.adapted.accuracy ?? 0) * 100).toFixed(1)} %`}`)
          io.out(`  margin          ${(result.base.loss - result.adapted.loss).toFixed(4)} nats per ${shipped.config.kind === 'lm' ? 'token' : 'example'} (${(((result.base.loss - result.adapted.loss) / result.base.loss) * 100).toFixed(1)} % lower loss)`)
          io.out(`  chain record    ${matches ? 'identical to the metrics recorded on chain (submitted by the trainer, re-executed by the verifiers)' : `DIFFERS from the chain's (${version.evaluation.baseLoss} → ${version.evaluation.adaptedLoss})`}`)
        }
        return matches ? 0 : 1
      }
      case 'register': {
        const { values } = parseArgs({ args: rest, strict: true, options: { ...common, from: { type: 'string' }, name: { type: 'string' }, config: { type: 'string' }, weights: { type: 'string' }, onnx: { type: 'string' } } })
        const rpc = client(values)
        let config: ModelConfig
        try {
          config = JSON.parse(await readFile(need(values.config, '--config'), 'utf8')) as ModelConfig
        } catch (cause) {
          throw new CliError('BAD_ARGUMENT', `cannot read the model config ${values.config ?? ''}`, { cause })
        }
        const weights = new Uint8Array(await readFile(need(values.weights, '--weights')))
        const shapes = paramShapes(config)
        let weightsHash: Uint8Array
        try {
          weightsHash = tensorsHash(shapes, decodeTensors(weights, shapes))
        } catch (cause) {
          throw new CliError('BAD_ARGUMENT', `the weights file does not hold this config's parameters: ${(cause as Error).message}`, { cause })
        }
        const manifest = await shippedManifest()
        if (manifest === undefined) throw new CliError('FAILED', 'this openledger ships no tokenizer to register the model with')
        const artifact = await uploadBlob(rpc, weights)
        const onnx = values.onnx === undefined ? undefined : await uploadBlob(rpc, new Uint8Array(await readFile(values.onnx)))
        const receipt = await send(io, values, 'registerBaseModel', {
          name: need(values.name, '--name'), kind: config.kind === 'lm' ? 0 : 1, architecture: canonicalArchitecture(config), artifact: artifact.cid, weightsHash: toHex(weightsHash),
          onnx: onnx?.cid ?? toHex(new Uint8Array(32)), tokenizer: manifest.tokenizer.name, tokenizerHash: manifest.tokenizer.hash, engineVersion: ENGINE_VERSION,
        })
        const event = receipt.events.find((e) => e.event === 'BaseModelRegistered')?.data
        io.out(`base model ${String(event?.['model'])} registered (transaction ${receipt.hash}): weights ${toHex(weightsHash)} at ${artifact.cid}`)
        return 0
      }
      default:
        throw new CliError('USAGE', `unknown model subcommand '${sub ?? ''}': use list, show, train, status, download, evaluate or register`)
    }
  },
}
