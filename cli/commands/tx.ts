// `openledger tx`: sign a call with an account key and send it to a node over JSON-RPC.
import { parseArgs } from 'node:util'
import { toHex } from '../../runtime/crypto/hash.ts'
import { CliError, type Command } from '../io.ts'
import { parseAddress, parseOpenAmount } from '../parse.ts'
import { common, sendCall, sendOptions } from '../send.ts'
import { STAKE_USAGE, stakeSubcommand } from './stake.ts'

export const txCommand: Command = {
  usage: [
    'openledger tx transfer --from NAME --to ADDRESS --amount OPEN [common options]',
    '       openledger tx remark --from NAME --text TEXT [common options]',
    '       openledger tx call MODULE CALL --from NAME --args JSON [common options]',
    STAKE_USAGE,
    '',
    'Common options: --rpc URL (default http://127.0.0.1:9944), --home DIR (keystore), --tip BASE_UNITS_PER_GAS,',
    '                --nonce N, --no-wait (do not wait for the receipt), --json, --force (send even when the node\'s',
    '                dry run says the call would fail: by default such a call is refused here, at no fee)',
  ].join('\n'),
  async run(argv, io) {
    const [sub, ...rest] = argv
    if (sub === 'transfer') {
      const { values } = parseArgs({ args: rest, strict: true, options: { ...common, to: { type: 'string' }, amount: { type: 'string' } } })
      if (values.to === undefined || values.amount === undefined) throw new CliError('USAGE', 'tx transfer needs --to ADDRESS and --amount OPEN')
      const to = toHex(parseAddress(values.to, '--to'))
      const amount = parseOpenAmount(values.amount, '--amount')
      return sendCall(io, sendOptions(values), 'balances', 'transfer', { to, amount: amount.toString() })
    }
    if (sub === 'remark') {
      const { values } = parseArgs({ args: rest, strict: true, options: { ...common, text: { type: 'string' } } })
      if (values.text === undefined) throw new CliError('USAGE', 'tx remark needs --text TEXT')
      return sendCall(io, sendOptions(values), 'system', 'remark', { remark: toHex(new TextEncoder().encode(values.text)) })
    }
    if (sub === 'call') {
      const { values, positionals } = parseArgs({ args: rest, strict: true, allowPositionals: true, options: { ...common, args: { type: 'string' } } })
      const [moduleName, callName] = positionals
      if (moduleName === undefined || callName === undefined || positionals.length !== 2) throw new CliError('USAGE', 'tx call needs MODULE and CALL')
      let args: unknown
      try {
        args = JSON.parse(values.args ?? '{}')
      } catch {
        throw new CliError('BAD_ARGUMENT', '--args must be a JSON object')
      }
      return sendCall(io, sendOptions(values), moduleName, callName, args)
    }
    if (sub === 'stake') return stakeSubcommand(rest, io)
    throw new CliError('USAGE', `unknown tx subcommand '${sub ?? ''}': use transfer, remark, stake or call`)
  },
}
