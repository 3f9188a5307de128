// `openledger genesis`: write, inspect and validate chain specs.
import { readFile, writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { devChainSpec } from '../../genesis/devSpec.ts'
import { shippedBaseModels } from '../../node/models/baseModels.ts'
import { chainSpecToJson, parseChainSpec, type ChainSpec } from '../../genesis/spec.ts'
import { ALLOCATION_BPS, formatOpen, TOTAL_SUPPLY } from '../../genesis/tokenomics.ts'
import { devAccounts } from '../../genesis/devAccounts.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import { genesisBlock } from '../../node/chain/chain.ts'
import { CliError, type CliIo, type Command } from '../io.ts'
import { parsePositiveInt } from '../parse.ts'

async function loadSpec(path: string | undefined): Promise<ChainSpec> {
  if (path === undefined) throw new CliError('USAGE', 'a chain spec file is required')
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (cause) {
    throw new CliError('NOT_FOUND', `cannot read ${path}`, { cause })
  }
  return parseChainSpec(text)
}

async function describe(io: CliIo, spec: ChainSpec): Promise<void> {
  const genesis = await genesisBlock(spec)
  io.out(`name          ${spec.name} (${spec.id})`)
  io.out(`chain id      ${spec.chainId}`)
  io.out(`genesis time  ${new Date(spec.genesisTime).toISOString()}`)
  io.out(`genesis hash  ${toHex(genesis.hash)}`)
  io.out(`state root    ${toHex(genesis.header.stateRoot)}`)
  io.out(`supply        ${formatOpen(TOTAL_SUPPLY)} OPEN`)
  for (const category of Object.keys(ALLOCATION_BPS) as Array<keyof typeof ALLOCATION_BPS>) {
    const entries = spec.allocations.filter((a) => a.category === category)
    const sum = entries.reduce((total, a) => total + a.amount, 0n)
    const bps = ALLOCATION_BPS[category]
    io.out(`  ${category.padEnd(10)} ${(Number(bps) / 100).toFixed(2).padStart(6)}%  ${formatOpen(sum).padStart(12)} OPEN in ${entries.length} account(s)${entries.some((a) => a.vesting !== undefined) ? ', 12-month cliff + 36 months linear' : ''}`)
  }
  // the well-known dev keys this spec funds: usable by name (--from/--to alice, keys inspect alice)
  const funded = devAccounts().flatMap((account) => {
    const allocation = spec.allocations.find((a) => toHex(a.address) === toHex(account.address))
    return allocation === undefined ? [] : [`  ${account.name.padEnd(8)} ${toHex(account.address)}  ${formatOpen(allocation.amount)} OPEN (${allocation.category})`]
  })
  if (funded.length > 0) {
    io.out('dev accounts')
    for (const line of funded) io.out(line)
  }
}

export const genesisCommand: Command = {
  usage: [
    'openledger genesis build [--out FILE] [--name NAME] [--id ID] [--chain-id N] [--genesis-time MS]   (a spec with the dev allocations)',
    '       openledger genesis inspect FILE',
    '       openledger genesis validate FILE',
  ].join('\n'),
  async run(argv, io) {
    const [sub, ...rest] = argv
    if (sub === 'build') {
      const { values } = parseArgs({ args: rest, strict: true, options: { out: { type: 'string' }, name: { type: 'string' }, id: { type: 'string' }, 'chain-id': { type: 'string' }, 'genesis-time': { type: 'string' } } })
      const spec = devChainSpec({
        baseModels: await shippedBaseModels(),
        ...(values.name === undefined ? {} : { name: values.name }),
        ...(values.id === undefined ? {} : { id: values.id }),
        ...(values['chain-id'] === undefined ? {} : { chainId: parsePositiveInt(values['chain-id'], '--chain-id') }),
        ...(values['genesis-time'] === undefined ? {} : { genesisTime: parsePositiveInt(values['genesis-time'], '--genesis-time', 0) }),
      })
      const json = chainSpecToJson(parseChainSpec(chainSpecToJson(spec)))
      if (values.out === undefined) io.out(json.trimEnd())
      else {
        await writeFile(values.out, json)
        io.out(`wrote ${values.out}`)
        await describe(io, spec)
      }
      return 0
    }
    if (sub === 'inspect') {
      await describe(io, await loadSpec(rest[0]))
      return 0
    }
    if (sub === 'validate') {
      const spec = await loadSpec(rest[0])
      io.out(`valid: ${spec.id}, genesis ${toHex((await genesisBlock(spec)).hash)}`)
      return 0
    }
    throw new CliError('USAGE', `unknown genesis subcommand '${sub ?? ''}': use build, inspect or validate`)
  },
}
