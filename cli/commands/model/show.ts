// `openledger model show`: a published model version with its full lineage (--base: a base model).
import { parseArgs } from 'node:util'
import { CliError, type CliIo } from '../../io.ts'
import { parsePositiveInt } from '../../parse.ts'
import { client, common, need, printVersion } from './shared.ts'

export async function showModel(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, strict: true, allowPositionals: true, options: { ...common, base: { type: 'boolean' } } })
  const id = parsePositiveInt(need(positionals[0], 'ID'), 'ID')
  const rpc = client(values)
  if (values.base === true) {
    const base = await rpc.call('openledger_getBaseModel', [id])
    if (base === null) throw new CliError('NOT_FOUND', `no base model ${id}`)
    io.out(values.json === true ? JSON.stringify(base) : JSON.stringify(base, null, 2))
    return 0
  }
  const version = await rpc.call('openledger_getModelVersion', [id])
  if (version === null) throw new CliError('NOT_FOUND', `no published model version ${id}`)
  if (values.json === true) io.out(JSON.stringify(version))
  else printVersion(io, version)
  return 0
}
