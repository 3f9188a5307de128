// `openledger query`: read chain state from a node over JSON-RPC.
import { parseArgs } from 'node:util'
import { formatOpen } from '../../genesis/tokenomics.ts'
import { RpcClient } from '../../node/rpc/client.ts'
import type { ValidatorView } from '../../node/rpc/contract.ts'
import { CliError, type Command } from '../io.ts'
import { parseAddress, parsePositiveInt, parseRpcUrl } from '../parse.ts'
import { toHex } from '../../runtime/crypto/hash.ts'

const SUBCOMMANDS = ['balance', 'account', 'block', 'tx', 'receipt', 'supply', 'head', 'validators', 'validator', 'delegation', 'staking'] as const

/** One line per validator: what an operator scans for. */
function validatorTable(validators: readonly ValidatorView[]): string[] {
  const rows = validators.map((v) => [v.operator, v.status, v.power, formatOpen(BigInt(v.selfBond)), `${v.commissionBps / 100}%`, formatOpen(BigInt(v.slashed)), String(v.missedBlocks), v.status === 'jailed' ? String(v.jailedUntil) : '-'])
  const header = ['OPERATOR', 'STATUS', 'POWER', 'SELF-BOND', 'COMMISSION', 'SLASHED', 'MISSED', 'JAILED-UNTIL']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)))
  return [header, ...rows].map((row) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd())
}

export const queryCommand: Command = {
  usage: [
    'openledger query balance ADDRESS [--rpc URL] [--json]',
    '       openledger query account ADDRESS | block [NUMBER|HASH] | tx HASH | receipt HASH | supply | head',
    '       openledger query validators [--json] | validator ADDRESS | delegation DELEGATOR VALIDATOR | staking',
  ].join('\n'),
  async run(argv, io) {
    const { values, positionals } = parseArgs({ args: argv, strict: true, allowPositionals: true, options: { rpc: { type: 'string' }, json: { type: 'boolean' } } })
    const [sub, target, second] = positionals
    const client = new RpcClient(parseRpcUrl(values.rpc))
    const print = (value: unknown) => io.out(JSON.stringify(value, null, 2))
    const needTarget = (what: string): string => {
      if (target === undefined) throw new CliError('USAGE', `query ${sub ?? ''} needs ${what}`)
      return target
    }
    switch (sub) {
      case 'balance': {
        const address = toHex(parseAddress(needTarget('ADDRESS'), 'ADDRESS'))
        const balance = await client.call('openledger_getBalance', [address])
        io.out(values.json === true ? JSON.stringify({ address, balance }) : `${formatOpen(BigInt(balance))} OPEN (${balance} base units)`)
        return 0
      }
      case 'account':
        print(await client.call('openledger_getAccount', [toHex(parseAddress(needTarget('ADDRESS'), 'ADDRESS'))]))
        return 0
      case 'block': {
        let hash: string | null | undefined
        if (target === undefined) hash = undefined
        else if (/^0x[0-9a-fA-F]{64}$/.test(target)) hash = target
        else hash = await client.call('chain_getBlockHash', [parsePositiveInt(target, 'NUMBER', 0)])
        if (hash === null) throw new CliError('NOT_FOUND', `no block ${target ?? ''}`)
        const block = await client.call('chain_getBlock', hash === undefined ? [] : [hash])
        if (block === null) throw new CliError('NOT_FOUND', `no block ${target ?? ''}`)
        print(block)
        return 0
      }
      case 'tx':
      case 'receipt': {
        const hash = needTarget('HASH')
        if (!/^0x[0-9a-fA-F]{64}$/.test(hash)) throw new CliError('BAD_ARGUMENT', 'HASH must be 0x-prefixed 32-byte hex')
        const result = await client.call(sub === 'tx' ? 'openledger_getTransaction' : 'openledger_getReceipt', [hash])
        if (result === null) throw new CliError('NOT_FOUND', `no ${sub === 'tx' ? 'transaction' : 'receipt'} ${hash}`)
        print(result)
        return 0
      }
      case 'supply':
        print(await client.call('openledger_getSupply'))
        return 0
      case 'head':
        print(await client.call('chain_getHeader'))
        return 0
      case 'validators': {
        const result = await client.call('openledger_getValidators')
        if (values.json === true) {
          print(result)
          return 0
        }
        io.out(`at height ${result.height}: ${result.active?.validators.length ?? 0} active validators, total power ${result.active?.totalPower ?? 0}${result.next === null ? '' : `; a new set takes effect at height ${result.next.effectiveHeight}`}`)
        for (const line of validatorTable(result.validators)) io.out(line)
        return 0
      }
      case 'validator': {
        const address = toHex(parseAddress(needTarget('ADDRESS'), 'ADDRESS'))
        const result = await client.call('openledger_getValidator', [address])
        if (result === null) throw new CliError('NOT_FOUND', `no validator operated by ${address}`)
        print(result)
        return 0
      }
      case 'delegation': {
        const delegator = toHex(parseAddress(needTarget('DELEGATOR VALIDATOR'), 'DELEGATOR'))
        if (second === undefined) throw new CliError('USAGE', 'query delegation needs DELEGATOR VALIDATOR')
        const validator = toHex(parseAddress(second, 'VALIDATOR'))
        const result = await client.call('openledger_getDelegation', [delegator, validator])
        if (result === null) throw new CliError('NOT_FOUND', `${delegator} has no delegation to ${validator}`)
        print(result)
        return 0
      }
      case 'staking':
        print(await client.call('openledger_getStakingInfo'))
        return 0
      default:
        throw new CliError('USAGE', `query needs one of: ${SUBCOMMANDS.join(', ')}`)
    }
  },
}
