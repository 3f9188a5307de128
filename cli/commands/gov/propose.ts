// `openledger gov propose`: a proposal of one kind with its first deposit. Parameter values are
// checked here against the runtime's own registry (type, bounds), the same check the chain makes.
import { parseArgs } from 'node:util'
import { toHex } from '../../../runtime/crypto/hash.ts'
import { createRuntime } from '../../../runtime/index.ts'
import { ProposalKind } from '../../../runtime/modules/governance/index.ts'
import { paramValueToWire, parseParamValue } from '../../../runtime/params.ts'
import { CliError, type CliIo } from '../../io.ts'
import { parseAddress, parseOpenAmount, parsePositiveInt } from '../../parse.ts'
import { common, sendCall, sendOptions } from '../../send.ts'

/** "fees.burnShareBps=4000" -> a wire change, checked against the declaration. */
export function parseParamChange(text: string): { module: string; name: string; value: string } {
  const match = /^([a-zA-Z]+)\.([a-zA-Z0-9]+)=(.+)$/.exec(text)
  if (match === null) throw new CliError('BAD_ARGUMENT', `--param must be MODULE.NAME=VALUE (got ${text})`)
  const [, module = '', name = '', raw = ''] = match
  const registry = createRuntime().params
  const params = registry.module(module)
  if (params === undefined) throw new CliError('BAD_ARGUMENT', `UNKNOWN_MODULE: no module ${module} declares parameters; modules: ${registry.modules.map((m) => m.module).join(', ')}`)
  const declaration = params.declarations.find((d) => d.name === name)
  if (declaration === undefined) throw new CliError('BAD_ARGUMENT', `UNKNOWN_PARAMETER: ${module} has no parameter ${name}; it has ${params.declarations.map((d) => d.name).join(', ')}`)
  const value = parseParamValue(module, declaration, raw)
  if (typeof value === 'object') throw new CliError('BAD_ARGUMENT', `${value.code}: ${value.message}`)
  return { module, name, value: paramValueToWire(value).toString() }
}

export const proposeSubcommand = {
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        ...common,
        title: { type: 'string' },
        description: { type: 'string' },
        deposit: { type: 'string' },
        text: { type: 'boolean' },
        param: { type: 'string', multiple: true },
        spend: { type: 'string' },
        to: { type: 'string' },
        'upgrade-height': { type: 'string' },
        'upgrade-version': { type: 'string' },
      },
    })
    const options = sendOptions(values)
    if (values.title === undefined) throw new CliError('USAGE', 'gov propose needs --title TEXT')
    if (values.deposit === undefined) throw new CliError('USAGE', 'gov propose needs --deposit OPEN')
    const kinds = [values.text === true, values.param !== undefined, values.spend !== undefined, values['upgrade-height'] !== undefined].filter(Boolean).length
    if (kinds !== 1) throw new CliError('USAGE', 'gov propose needs exactly one kind: --text, --param, --spend or --upgrade-height')
    const content = {
      kind: ProposalKind.text as number, title: values.title, description: values.description ?? '', changes: [] as unknown[], recipient: null as string | null, amount: '0', upgradeHeight: 0, upgradeVersion: '',
    }
    if (values.param !== undefined) {
      content.kind = ProposalKind.parameterChange
      content.changes = values.param.map(parseParamChange)
    } else if (values.spend !== undefined) {
      if (values.to === undefined) throw new CliError('USAGE', 'a treasury spend needs --to ADDRESS')
      content.kind = ProposalKind.treasurySpend
      content.amount = parseOpenAmount(values.spend, '--spend').toString()
      content.recipient = toHex(parseAddress(values.to, '--to'))
    } else if (values['upgrade-height'] !== undefined) {
      if (values['upgrade-version'] === undefined) throw new CliError('USAGE', 'an upgrade needs --upgrade-version X.Y.Z')
      content.kind = ProposalKind.softwareUpgrade
      content.upgradeHeight = parsePositiveInt(values['upgrade-height'], '--upgrade-height')
      content.upgradeVersion = values['upgrade-version']
    }
    return sendCall(io, options, 'governance', 'submitProposal', { content, deposit: parseOpenAmount(values.deposit, '--deposit').toString() })
  },
}
