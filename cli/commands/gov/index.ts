// `openledger gov …`: governance proposals, deposits, votes and the parameter registry, one file
// per subcommand. Reads go through the openledger_* governance RPC; writes are signed calls of the
// governance module (cli/send.ts).
import { CliError, type Command } from '../../io.ts'

const SUBCOMMANDS: Record<string, () => Promise<{ run(argv: string[], io: Parameters<Command['run']>[1]): Promise<number> }>> = {
  propose: async () => (await import('./propose.ts')).proposeSubcommand,
  deposit: async () => (await import('./deposit.ts')).depositSubcommand,
  vote: async () => (await import('./vote.ts')).voteSubcommand,
  show: async () => (await import('./show.ts')).showSubcommand,
  list: async () => (await import('./list.ts')).listSubcommand,
  params: async () => (await import('./params.ts')).paramsSubcommand,
  tally: async () => (await import('./tally.ts')).tallySubcommand,
}

export const govCommand: Command = {
  usage: [
    'openledger gov propose --from NAME --title TEXT [--description TEXT] --deposit OPEN KIND [common options]',
    '         KIND: --text | --param MODULE.NAME=VALUE (repeatable) | --spend OPEN --to ADDRESS | --upgrade-height H --upgrade-version X.Y.Z',
    '       openledger gov deposit ID --amount OPEN --from NAME [common options]',
    '       openledger gov vote ID yes|no|abstain|veto --from NAME [--validators ADDRESS,…] [common options]',
    '         (default: the validators the sender delegates to, found over RPC; a validator operator votes for its delegators)',
    '       openledger gov show ID | tally ID [--rpc URL] [--json]',
    '       openledger gov list [--status STATUS] [--start ID] [--count N] [--rpc URL] [--json]',
    '       openledger gov params [MODULE] [--rpc URL] [--json]',
    '',
    'Common options: --rpc URL, --home DIR, --no-wait, --json, --tip WEI, --nonce N.',
  ].join('\n'),
  async run(argv, io) {
    const [sub, ...rest] = argv
    const load = sub === undefined ? undefined : SUBCOMMANDS[sub]
    if (load === undefined) throw new CliError('USAGE', `gov needs one of: ${Object.keys(SUBCOMMANDS).join(', ')}`)
    return (await load()).run(rest, io)
  },
}
