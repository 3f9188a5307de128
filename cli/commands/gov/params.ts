// `openledger gov params [MODULE]`: every governable parameter with its type, bounds and current value.
import { parseArgs } from 'node:util'
import { RpcClient } from '../../../node/rpc/client.ts'
import type { CliIo } from '../../io.ts'
import { parseRpcUrl } from '../../parse.ts'

export const paramsSubcommand = {
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseArgs({ args: argv, strict: true, allowPositionals: true, options: { rpc: { type: 'string' }, json: { type: 'boolean' } } })
    const [module] = positionals
    const view = await new RpcClient(parseRpcUrl(values.rpc)).call('openledger_getParams', module === undefined ? [] : [module])
    if (values.json === true) {
      io.out(JSON.stringify(view))
      return 0
    }
    const rows = view.modules.flatMap((m) => m.params.map((p) => [`${m.module}.${p.name}`, p.type, String(p.value), `[${p.min}, ${p.max}]`, p.value === p.default ? '' : `(default ${String(p.default)})`]))
    const header = ['PARAMETER', 'TYPE', 'VALUE', 'BOUNDS', '']
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)))
    io.out(`at height ${view.height}`)
    for (const row of [header, ...rows]) io.out(row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd())
    return 0
  },
}
