// `openledger gov list`: proposals, newest first, one line each.
import { parseArgs } from 'node:util'
import { RpcClient } from '../../../node/rpc/client.ts'
import type { CliIo } from '../../io.ts'
import { parsePositiveInt, parseRpcUrl } from '../../parse.ts'

export const listSubcommand = {
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values } = parseArgs({ args: argv, strict: true, options: { rpc: { type: 'string' }, json: { type: 'boolean' }, status: { type: 'string' }, start: { type: 'string' }, count: { type: 'string' } } })
    const list = await new RpcClient(parseRpcUrl(values.rpc)).call('openledger_listProposals', [
      values.start === undefined ? null : parsePositiveInt(values.start, '--start'),
      values.count === undefined ? null : parsePositiveInt(values.count, '--count'),
      values.status ?? null,
    ])
    if (values.json === true) {
      io.out(JSON.stringify(list))
      return 0
    }
    if (list.length === 0) io.out('no proposals')
    for (const p of list) io.out(`#${p.id}  ${String(p.status).padEnd(15)} ${String(p.kind).padEnd(15)} votingEnd ${p.votingEnd ?? '-'}  enact ${p.enactHeight ?? '-'}  ${p.content.title}`)
    return 0
  },
}
