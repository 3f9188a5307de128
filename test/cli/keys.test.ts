import t from 'tap'
import { execFile } from 'node:child_process'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const BIN = fileURLToPath(new URL('../../bin/openledger.js', import.meta.url))

interface Run {
  code: number
  stdout: string
  stderr: string
}

/** Runs the real command in a child process, like a user in a shell would. */
function openledger(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const { NODE_OPTIONS: _loader, OPENLEDGER_HOME: _home, OPENLEDGER_PASSPHRASE: _passphrase, ...inherited } = process.env
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args], { env: { ...inherited, ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr })
    })
    child.stdin?.end()
  })
}

const PASS = { OPENLEDGER_PASSPHRASE: 'correct horse battery staple' }

t.test('keys generate, list, inspect in a temporary home', async (t) => {
  const home = t.testdir()
  const generated = await openledger(['keys', 'generate', '--name', 'treasury', '--home', home], PASS)
  t.equal(generated.code, 0, generated.stderr)
  t.match(generated.stdout, /generated account key 'treasury'/)
  const address = /address: (0x[0-9a-f]{40})/.exec(generated.stdout)?.[1]
  t.ok(address, 'prints the address')

  const file = join(home, 'keystore', 'treasury.json')
  t.equal((await stat(file)).mode & 0o777, 0o600)
  t.equal(JSON.parse(await readFile(file, 'utf8')).address, address)

  const validator = await openledger(['keys', 'generate', '--name', 'node-1', '--type', 'validator'], { ...PASS, OPENLEDGER_HOME: home })
  t.equal(validator.code, 0, validator.stderr)
  t.match(validator.stdout, /public key: 0x[0-9a-f]{64}/)

  const list = await openledger(['keys', 'list', '--home', home])
  t.equal(list.code, 0, list.stderr)
  const lines = list.stdout.trim().split('\n')
  t.match(lines[0], /^NAME\s+TYPE\s+ADDRESS \/ PUBLIC KEY$/)
  t.match(lines[1], /^node-1\s+validator\s+0x[0-9a-f]{64}$/)
  t.match(lines[2], new RegExp(`^treasury\\s+account\\s+${address}$`))

  const inspect = await openledger(['keys', 'inspect', 'treasury', '--home', home])
  t.equal(inspect.code, 0, inspect.stderr)
  t.match(inspect.stdout, `address: ${address}`)
  t.match(inspect.stdout, 'type: account')

  const again = await openledger(['keys', 'generate', '--name', 'treasury', '--home', home], PASS)
  t.equal(again.code, 1)
  t.match(again.stderr, /error \[KEY_EXISTS\]/)
})

t.test('keys import prints the known address and never the secret', async (t) => {
  const home = t.testdir()
  const privateKey = '0x' + '00'.repeat(31) + '01'
  const imported = await openledger(['keys', 'import', '--name', 'one', '--private-key', privateKey, '--home', home], PASS)
  t.equal(imported.code, 0, imported.stderr)
  t.match(imported.stdout, 'address: 0x7e5f4552091a69125d5dfcb7b8c2659029395bdf')
  const inspect = await openledger(['keys', 'inspect', 'one', '--home', home])
  t.notMatch(inspect.stdout + inspect.stderr, '0'.repeat(62) + '01')

  const seed = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'
  const validator = await openledger(['keys', 'import', '--name', 'v', '--type', 'validator', '--private-key', seed, '--home', home], PASS)
  t.equal(validator.code, 0, validator.stderr)
  t.match(validator.stdout, 'public key: 0xd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a')

  const bad = await openledger(['keys', 'import', '--name', 'bad', '--private-key', '0x1234', '--home', home], PASS)
  t.equal(bad.code, 1)
  t.match(bad.stderr, /error \[INVALID_KEY\]/)
})

t.test('errors: usage, names, missing keys, passphrases', async (t) => {
  const home = t.testdir()
  const cases: [string[], Record<string, string>, number, RegExp][] = [
    [['keys'], {}, 2, /\[USAGE\]: missing subcommand/],
    [['keys', 'rotate'], {}, 2, /\[USAGE\]: unknown subcommand 'rotate'/],
    [['keys', 'generate', '--home', home], PASS, 2, /\[USAGE\]: --name is required/],
    [['keys', 'generate', '--name', 'x', '--bogus', '--home', home], PASS, 2, /\[USAGE\]/],
    [['keys', 'generate', '--name', 'x', '--type', 'wallet', '--home', home], PASS, 2, /\[BAD_ARGUMENT\]: --type must be account or validator/],
    [['keys', 'generate', '--name', '../escape', '--home', home], PASS, 1, /\[INVALID_NAME\]/],
    [['keys', 'generate', '--name', 'x', '--home', home], { OPENLEDGER_PASSPHRASE: '' }, 2, /\[BAD_ARGUMENT\]: the passphrase must not be empty/],
    [['keys', 'generate', '--name', 'x', '--home', home], {}, 2, /OPENLEDGER_PASSPHRASE/],
    [['keys', 'import', '--name', 'x', '--home', home], PASS, 2, /\[USAGE\]: --private-key is required/],
    [['keys', 'inspect', '--home', home], {}, 2, /\[USAGE\]: keys inspect takes one key name/],
    [['keys', 'inspect', 'nobody', '--home', home], {}, 1, /\[KEY_NOT_FOUND\]: no key named 'nobody'/],
  ]
  for (const [args, env, code, message] of cases) {
    const run = await openledger(args, env)
    t.equal(run.code, code, args.join(' '))
    t.match(run.stderr, message, args.join(' '))
    t.equal(run.stdout, '', 'nothing on stdout')
  }
  const empty = await openledger(['keys', 'list', '--home', home])
  t.equal(empty.code, 0)
  t.match(empty.stdout, /^NAME.*\n\(no keys in /)
  t.match(empty.stdout, /dev accounts .*\nalice\s+account\s+0x[0-9a-f]{40}\n/, 'the dev accounts listed after the keystore')
})

t.test('help lists the keys command', async (t) => {
  const help = await openledger(['--help'])
  t.equal(help.code, 0)
  t.match(help.stdout, /keys\s+Manage the encrypted keystore/)
  const keysHelp = await openledger(['keys', '--help'])
  t.match(keysHelp.stdout, 'keys import --name NAME --private-key HEX')
})
