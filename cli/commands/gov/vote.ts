// `openledger gov vote ID OPTION`: a vote (or a change of one). Without --validators the vote
// covers every delegation the sender holds now (read over RPC); a validator operator's vote also
// covers its delegators who do not vote themselves.
import { parseArgs } from 'node:util'
import { toHex } from '../../../runtime/crypto/hash.ts'
import { VOTE_OPTION_NAMES } from '../../../runtime/modules/governance/index.ts'
import { RpcClient } from '../../../node/rpc/client.ts'
import { CliError, type CliIo } from '../../io.ts'
import { parseAddress, parsePositiveInt } from '../../parse.ts'
import { common, sendCall, sendOptions } from '../../send.ts'

/** at most this many validators per vote (the runtime's MAX_VOTE_VALIDATORS) */
const MAX_LISTED = 8

export const voteSubcommand = {
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseArgs({ args: argv, strict: true, allowPositionals: true, options: { ...common, validators: { type: 'string' } } })
    const [id, optionName] = positionals
    if (id === undefined || optionName === undefined) throw new CliError('USAGE', `gov vote needs ID and one of ${VOTE_OPTION_NAMES.join(', ')}`)
    const option = (VOTE_OPTION_NAMES as readonly string[]).indexOf(optionName)
    if (option === -1) throw new CliError('BAD_ARGUMENT', `the option must be one of ${VOTE_OPTION_NAMES.join(', ')} (got ${optionName})`)
    const proposal = parsePositiveInt(id, 'ID')
    const options = sendOptions(values)
    const listed = values.validators?.split(',').filter((v) => v !== '').map((v) => toHex(parseAddress(v, '--validators')))
    if (listed !== undefined && listed.length > MAX_LISTED) throw new CliError('BAD_ARGUMENT', `--validators lists at most ${MAX_LISTED}`)
    return sendCall(io, options, 'governance', 'vote', async (sender: string) => ({ proposal, option, validators: listed ?? (await delegatedTo(options.rpc, sender)) }))
  },
}

/** The validators `delegator` holds a delegation to now (its own validator's self-bond excluded: its vote covers it). */
async function delegatedTo(rpc: string, delegator: string): Promise<string[]> {
  const client = new RpcClient(rpc)
  const { validators } = await client.call('openledger_getValidators')
  const found: string[] = []
  for (const { operator } of validators) {
    if (operator === delegator.toLowerCase()) continue
    const held = await client.call('openledger_getDelegation', [delegator, operator])
    if (held !== null && BigInt(held.shares) > 0n) found.push(operator)
    if (found.length === MAX_LISTED) break
  }
  return found
}
