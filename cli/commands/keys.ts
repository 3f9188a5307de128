// `openledger keys …`: create, import and look at the keys of the encrypted keystore in <home>/keystore.
// Secrets never reach the terminal: passphrases come from io.secret, and only public parts are printed.
import { parseArgs } from 'node:util'
import { KEY_TYPES, Keystore, isKeyType, type KeyInfo, type KeyType } from '../../node/keystore/keystore.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import { devAccount, devAccounts, isDevAccountName } from '../../genesis/devAccounts.ts'
import { keystoreDir, resolveHome } from '../home.ts'
import { CliError, type CliIo, type Command } from '../io.ts'

const USAGE = `openledger keys <subcommand> [options]

  keys generate --name NAME [--type account|validator] [--home DIR]
  keys import --name NAME --private-key HEX [--type account|validator] [--home DIR]
  keys list [--home DIR]
  keys inspect NAME [--home DIR]

The passphrase is asked for on the terminal, or read from OPENLEDGER_PASSPHRASE.
The home directory defaults to $OPENLEDGER_HOME, else ~/.openledger.`

function publicLine(key: KeyInfo): string {
  return key.type === 'account' ? `address: ${toHex(key.address)}` : `public key: ${toHex(key.publicKey)}`
}

function describe(key: KeyInfo): string[] {
  return [`name: ${key.name}`, `type: ${key.type}`, publicLine(key), `file: ${key.file}`]
}

function keyType(value: string | undefined): KeyType {
  if (value === undefined) return 'account'
  if (!isKeyType(value)) throw new CliError('BAD_ARGUMENT', `--type must be ${KEY_TYPES.join(' or ')}, not '${value}'`)
  return value
}

function required(value: string | undefined, flag: string): string {
  if (value === undefined) throw new CliError('USAGE', `${flag} is required\n\nUsage: ${USAGE}`)
  return value
}

/** Asks twice, so a typo does not lock the key away. */
async function newPassphrase(io: CliIo, name: string): Promise<string> {
  const passphrase = await io.secret(`Passphrase for key '${name}': `)
  if (passphrase === '') throw new CliError('BAD_ARGUMENT', 'the passphrase must not be empty')
  const again = await io.secret('Repeat the passphrase: ')
  if (again !== passphrase) throw new CliError('BAD_ARGUMENT', 'the passphrases do not match')
  return passphrase
}

const common = { home: { type: 'string' } } as const

async function generate(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args: argv, strict: true, options: { ...common, name: { type: 'string' }, type: { type: 'string' } } })
  const name = required(values.name, '--name')
  const type = keyType(values.type)
  const keystore = new Keystore(keystoreDir(resolveHome(values.home)))
  const key = await keystore.generate(name, type, await newPassphrase(io, name))
  io.out(`generated ${type} key '${name}'`)
  for (const line of describe(key).slice(2)) io.out(line)
  return 0
}

async function importKey(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: { ...common, name: { type: 'string' }, type: { type: 'string' }, 'private-key': { type: 'string' } },
  })
  const name = required(values.name, '--name')
  const privateKey = required(values['private-key'], '--private-key')
  const type = keyType(values.type)
  const keystore = new Keystore(keystoreDir(resolveHome(values.home)))
  const key = await keystore.import(name, type, privateKey, await newPassphrase(io, name))
  io.out(`imported ${type} key '${name}'`)
  for (const line of describe(key).slice(2)) io.out(line)
  return 0
}

async function list(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args: argv, strict: true, options: common })
  const dir = keystoreDir(resolveHome(values.home))
  const keys = await new Keystore(dir).list()
  const dev = devAccounts()
  const width = Math.max(7, ...keys.map((key) => key.name.length))
  io.out(`${'NAME'.padEnd(width)}  ${'TYPE'.padEnd(9)}  ADDRESS / PUBLIC KEY`)
  if (keys.length === 0) io.out(`(no keys in ${dir})`)
  for (const key of keys) {
    io.out(`${key.name.padEnd(width)}  ${key.type.padEnd(9)}  ${toHex(key.type === 'account' ? key.address : key.publicKey)}`)
  }
  io.out('')
  io.out(`dev accounts (well-known keys, usable as --from/--to NAME; funded on the dev chain and local testnets only):`)
  for (const account of dev) io.out(`${account.name.padEnd(width)}  ${'account'.padEnd(9)}  ${toHex(account.address)}`)
  return 0
}

async function inspect(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, strict: true, allowPositionals: true, options: common })
  if (positionals.length !== 1) throw new CliError('USAGE', `keys inspect takes one key name\n\nUsage: ${USAGE}`)
  const name = positionals[0] ?? ''
  const keystore = new Keystore(keystoreDir(resolveHome(values.home)))
  // a key of the keystore wins over a dev account of the same name, as for --from
  if (isDevAccountName(name) && !(await keystore.list()).some((key) => key.name === name)) {
    const account = devAccount(name)
    for (const line of [`name: ${name}`, 'type: account (dev account: a well-known key, never for real funds)', `address: ${toHex(account.address)}`, `private key: ${toHex(account.privateKey)}`]) io.out(line)
    return 0
  }
  for (const line of describe(await keystore.inspect(name))) io.out(line)
  return 0
}

const subcommands: Record<string, (argv: string[], io: CliIo) => Promise<number>> = { generate, import: importKey, list, inspect }

export const keysCommand: Command = {
  usage: USAGE,
  async run(argv, io) {
    const [subcommand, ...rest] = argv
    const handler = subcommand === undefined ? undefined : subcommands[subcommand]
    if (handler === undefined) {
      throw new CliError('USAGE', `${subcommand === undefined ? 'missing subcommand' : `unknown subcommand '${subcommand}'`}\n\nUsage: ${USAGE}`)
    }
    return handler(rest, io)
  },
}
