// `openledger model status`: a job's state, assignment, result and attestations (--watch: a progress bar).
import { parseArgs } from 'node:util'
import { CliError, type CliIo } from '../../io.ts'
import { parsePositiveInt } from '../../parse.ts'
import { client, common, follow, need, printJob, timeoutMs } from './shared.ts'

export async function jobStatus(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, strict: true, allowPositionals: true, options: { ...common, watch: { type: 'boolean' }, timeout: { type: 'string' } } })
  const id = parsePositiveInt(need(positionals[0], 'JOB'), 'JOB')
  const rpc = client(values)
  const job = values.watch === true ? await follow(io, rpc, id, timeoutMs(values)) : await rpc.call('openledger_getTrainingJob', [id])
  if (job === null) throw new CliError('NOT_FOUND', `no training job ${id}`)
  if (values.json === true) io.out(JSON.stringify(job))
  else printJob(io, job)
  return 0
}
