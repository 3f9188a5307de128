// `openledger gov tally ID`: the final tally, or while the vote is open the tally as it would be
// taken at the current head, with each option's share and the quorum reached.
import { parseArgs } from 'node:util'
import { RpcClient } from '../../../node/rpc/client.ts'
import type { TallyView } from '../../../node/rpc/contract.ts'
import { CliError, type CliIo } from '../../io.ts'
import { parsePositiveInt, parseRpcUrl } from '../../parse.ts'

function percent(part: bigint, whole: bigint): string {
  return whole === 0n ? '0.00%' : `${(Number((part * 10_000n) / whole) / 100).toFixed(2)}%`
}

export const tallySubcommand = {
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseArgs({ args: argv, strict: true, allowPositionals: true, options: { rpc: { type: 'string' }, json: { type: 'boolean' } } })
    const [id] = positionals
    if (id === undefined) throw new CliError('USAGE', 'gov tally needs ID')
    const proposal = await new RpcClient(parseRpcUrl(values.rpc)).call('openledger_getProposal', [parsePositiveInt(id, 'ID')])
    if (proposal === null) throw new CliError('NOT_FOUND', `no proposal ${id}`)
    const tally = proposal.tally ?? proposal.currentTally
    if (values.json === true) {
      io.out(JSON.stringify({ status: proposal.status, final: proposal.tally !== null, tally }))
      return 0
    }
    if (tally === null) {
      io.out(`proposal ${id} is ${proposal.status}: no votes are counted yet`)
      return 0
    }
    const n = (key: keyof TallyView) => BigInt(tally[key])
    const turnout = n('yes') + n('no') + n('abstain') + n('veto')
    io.out(`proposal ${id}: ${proposal.status} (${proposal.tally === null ? 'tally if taken now' : 'final tally'})`)
    for (const option of ['yes', 'no', 'abstain', 'veto'] as const) io.out(`  ${option.padEnd(8)} ${tally[option]} (${percent(n(option), turnout)} of votes)`)
    io.out(`  turnout  ${turnout} of ${tally.totalPower} (${percent(turnout, n('totalPower'))})`)
    return 0
  },
}
