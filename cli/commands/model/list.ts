// `openledger model list`: base models and published model versions (--jobs: training jobs).
import { parseArgs } from 'node:util'
import type { CliIo } from '../../io.ts'
import { client, common } from './shared.ts'

export async function listModels(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args: argv, strict: true, options: { ...common, jobs: { type: 'boolean' }, owner: { type: 'string' } } })
  const rpc = client(values)
  if (values.jobs === true) {
    const jobs = await rpc.call('openledger_listTrainingJobs', values.owner === undefined ? [] : [null, null, values.owner])
    if (values.json === true) io.out(JSON.stringify(jobs))
    else for (const j of jobs) io.out(`job ${j.id}  ${String(j.status).padEnd(9)}  base ${j.base}  datanets ${j.datanets.map((d) => `${d.datanet}:${d.version}`).join(',')}  steps ${j.hyper.steps}  owner ${j.owner}${j.modelVersion === null ? '' : `  → model ${j.modelVersion}`}`)
    return 0
  }
  const bases = await rpc.call('openledger_listBaseModels')
  const versions = await rpc.call('openledger_listModelVersions')
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
