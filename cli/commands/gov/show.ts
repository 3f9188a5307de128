// `openledger gov show ID`: a proposal as the chain holds it.
import { parseArgs } from 'node:util'
import { RpcClient } from '../../../node/rpc/client.ts'
import { CliError, type CliIo } from '../../io.ts'
import { parsePositiveInt, parseRpcUrl } from '../../parse.ts'

export const showSubcommand = {
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseArgs({ args: argv, strict: true, allowPositionals: true, options: { rpc: { type: 'string' }, json: { type: 'boolean' } } })
    const [id] = positionals
    if (id === undefined) throw new CliError('USAGE', 'gov show needs ID')
    const proposal = await new RpcClient(parseRpcUrl(values.rpc)).call('openledger_getProposal', [parsePositiveInt(id, 'ID')])
    if (proposal === null) throw new CliError('NOT_FOUND', `no proposal ${id}`)
    io.out(JSON.stringify(proposal, null, values.json === true ? undefined : 2))
    return 0
  },
}
