// The `openledger` command line: the only place that prints to the terminal.
import { EXIT_UPGRADE_REQUIRED } from './nodeRun.ts'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline/promises'
import { OpenLedgerError } from '../runtime/errors.ts'
import { commands } from './commands/index.ts'
import type { CliIo } from './io.ts'

const io: CliIo = {
  out: (line) => void process.stdout.write(line + '\n'),
  err: (line) => void process.stderr.write(line + '\n'),
  write: (text) => void process.stdout.write(text),
  async secret(prompt) {
    const fromEnv = process.env['OPENLEDGER_PASSPHRASE']
    if (fromEnv !== undefined) return fromEnv
    if (!process.stdin.isTTY) throw new OpenLedgerError('USAGE', 'no terminal to ask for a passphrase: set OPENLEDGER_PASSPHRASE')
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true })
    try {
      return await rl.question(prompt)
    } finally {
      rl.close()
    }
  },
}

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length))
  return [
    'openledger — node for the OpenLedger AI data-economy chain',
    '',
    'Usage: openledger <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `openledger <command> --help` for the options of one command.',
  ].join('\n')
}

function version(): string {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
  return `openledger ${manifest.version} (Node.js ${process.versions.node})`
}

/** Levenshtein distance, for "did you mean". */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[b.length] as number
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(help())
    return name === undefined ? 1 : 0
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    io.out(version())
    return 0
  }
  const entry = commands.find((c) => c.name === name)
  if (entry === undefined) {
    const near = [...commands.map((c) => c.name), 'version'].filter((candidate) => editDistance(candidate, name) <= Math.max(1, Math.floor(name.length / 3)) || candidate.startsWith(name))
    io.err(`error [USAGE]: unknown command '${name}'${near.length > 0 ? ` — did you mean ${near.map((n) => `'${n}'`).join(' or ')}?` : ''}\n\n${help()}`)
    return 2
  }
  // parseArgs calls `--amount -1` ambiguous and suggests `--amount=-1`, which no flag accepts
  for (let i = 0; i + 1 < rest.length; i++) {
    const [flag, value] = [rest[i] as string, rest[i + 1] as string]
    if (flag.startsWith('--') && !flag.includes('=') && /^-[0-9.]/.test(value)) {
      io.err(`error [BAD_ARGUMENT]: ${flag} cannot be negative (got ${value})`)
      return 2
    }
  }
  const command = await entry.load()
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(`${entry.summary}\n\nUsage: ${command.usage}`)
    return 0
  }
  try {
    return await command.run(rest, io)
  } catch (error) {
    if (error instanceof OpenLedgerError) {
      io.err(`error [${error.code}]: ${error.message}`)
      if (error.code === 'UPGRADE_REQUIRED') return EXIT_UPGRADE_REQUIRED
      return error.code === 'USAGE' || error.code === 'BAD_ARGUMENT' ? 2 : 1
    }
    if (error instanceof Error && 'code' in error && typeof error.code === 'string' && error.code.startsWith('ERR_PARSE_ARGS')) {
      io.err(`error [USAGE]: ${error.message}\n\nUsage: ${command.usage}`)
      return 2
    }
    io.err(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
    return 1
  }
}

process.exitCode = await main(process.argv.slice(2))
