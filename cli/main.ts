// The `openledger` command line: the only place that prints to the terminal.
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

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(help())
    return name === undefined ? 1 : 0
  }
  if (name === '--version' || name === '-V') {
    io.out(process.env['npm_package_version'] ?? '0.1.0')
    return 0
  }
  const entry = commands.find((c) => c.name === name)
  if (entry === undefined) {
    io.err(`error: unknown command '${name}'\n\n${help()}`)
    return 2
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
