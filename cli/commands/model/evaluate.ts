// `openledger model evaluate`: re-runs the held-out evaluation locally (base vs adapted, from the
// datanet rows on chain and the shipped base model) and prints the margin next to the chain's record.
import { parseArgs } from 'node:util'
import { ENGINE_VERSION } from '../../../ml/index.ts'
import { adapterShapes } from '../../../ml/model/config.ts'
import { decodeTensors, tensorsHash } from '../../../ml/model/params.ts'
import { downloadBlob } from '../../../node/blobs/blobClient.ts'
import { loadBaseModel } from '../../../node/models/assets.ts'
import { shippedManifest } from '../../../node/models/baseModels.ts'
import { evaluatePlan, planJob } from '../../../node/models/jobPlan.ts'
import { toHex } from '../../../runtime/crypto/hash.ts'
import type { Row } from '../../../runtime/modules/datanets/index.ts'
import { CliError, type CliIo } from '../../io.ts'
import { parsePositiveInt } from '../../parse.ts'
import { client, common, need, versionRows } from './shared.ts'

export async function evaluateModel(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, strict: true, allowPositionals: true, options: { ...common } })
  const id = parsePositiveInt(need(positionals[0], 'ID'), 'ID')
  const rpc = client(values)
  const version = await rpc.call('openledger_getModelVersion', [id])
  if (version === null) throw new CliError('NOT_FOUND', `no published model version ${id}`)
  const baseJson = await rpc.call('openledger_getBaseModel', [version.base])
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
    // who vouched for the chain's metrics, as `model show` names them: on a dev chain no verifier re-ran the job
    const vouched = version.verifiers.length > 0 ? `submitted by the trainer, re-executed by ${version.verifiers.length} verifier${version.verifiers.length === 1 ? '' : 's'}` : 'submitted by the trainer only: no verifier re-executed it'
    io.out(`  chain record    ${matches ? `identical to the metrics recorded on chain (${vouched})` : `DIFFERS from the chain's (${version.evaluation.baseLoss} → ${version.evaluation.adaptedLoss})`}`)
  }
  return matches ? 0 : 1
}
