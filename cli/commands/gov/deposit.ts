// `openledger gov deposit ID --amount OPEN`: adds to a proposal's deposit.
import { parseArgs } from 'node:util'
import { CliError, type CliIo } from '../../io.ts'
import { parseOpenAmount, parsePositiveInt } from '../../parse.ts'
import { common, sendCall, sendOptions } from '../../send.ts'

export const depositSubcommand = {
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseArgs({ args: argv, strict: true, allowPositionals: true, options: { ...common, amount: { type: 'string' } } })
    const [id] = positionals
    if (id === undefined || values.amount === undefined) throw new CliError('USAGE', 'gov deposit needs ID and --amount OPEN')
    return sendCall(io, sendOptions(values), 'governance', 'deposit', { proposal: parsePositiveInt(id, 'ID'), amount: parseOpenAmount(values.amount, '--amount').toString() })
  },
}
