// What the CLI says to a newcomer's common mistakes (issue 22): each message names the flag and
// what would work, before anything is sent to a node.
import t from 'tap'
import { existsSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { runCli } from '../e2e/harness.ts'
import { devAccount } from '../../genesis/devAccounts.ts'
import { toHex } from '../../runtime/crypto/hash.ts'

t.test('a negative amount is refused as such, with or without =', async (t) => {
  for (const args of [['--amount', '-1'], ['--amount=-1']]) {
    const run = await runCli(['tx', 'transfer', '--from', 'alice', '--to', 'bob', ...args, '--rpc', 'http://127.0.0.1:1'])
    t.equal(run.code, 2, args.join(' '))
    t.match(run.stderr, /error \[BAD_ARGUMENT\]: --amount cannot be negative \(got -1\)/)
  }
})

t.test('--rpc takes host:port as http://, and names what it wants otherwise', async (t) => {
  const bare = await runCli(['query', 'balance', 'bob', '--rpc', '127.0.0.1:1'])
  t.equal(bare.code, 1)
  t.notMatch(bare.stderr, /BAD_ARGUMENT/, 'host:port is accepted')
  t.match(bare.stderr, /127\.0\.0\.1:1/, 'the failure to connect names the address')
  const wrong = await runCli(['query', 'balance', 'bob', '--rpc', 'ftp://example.org'])
  t.equal(wrong.code, 2)
  t.match(wrong.stderr, /--rpc must be a node's address such as http:\/\/127\.0\.0\.1:9944 \(got ftp:\/\/example\.org\)/)
})

t.test('unknown commands get a suggestion; -V and version print the version', async (t) => {
  const typo = await runCli(['stat'])
  t.equal(typo.code, 2)
  t.match(typo.stderr, /unknown command 'stat' — did you mean 'start'\?/)
  const none = await runCli(['zzzzzz'])
  t.notMatch(none.stderr, /did you mean/)
  for (const flag of ['-V', '--version', 'version']) {
    const run = await runCli([flag])
    t.equal(run.code, 0)
    t.match(run.stdout, /^openledger \d+\.\d+\.\d+ \(Node\.js 24\./, flag)
  }
})

t.test('dev accounts are names wherever an address is asked for', async (t) => {
  const bob = toHex(devAccount('bob').address)
  const inspect = await runCli(['keys', 'inspect', 'bob', '--home', t.testdir()])
  t.equal(inspect.code, 0, inspect.stderr)
  t.match(inspect.stdout, `address: ${bob}`)
  const badTo = await runCli(['tx', 'transfer', '--from', 'alice', '--to', 'bobby', '--amount', '1', '--rpc', 'http://127.0.0.1:1'])
  t.equal(badTo.code, 2)
  t.match(badTo.stderr, /--to must be a 0x-prefixed 20-byte address or a dev account \(alice, bob, charlie, dave, eve, ferdie\)/)
})

t.test('a port in use: LISTEN_FAILED names the address, why and the flag; a new home is left unmade', async (t) => {
  const taken = createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => taken.close(() => resolve())))
  const port = (taken.address() as AddressInfo).port
  const home = join(t.testdir(), 'fresh-home')
  const rpcTaken = await runCli(['dev', '--home', home, '--rpc-port', String(port), '--no-metrics'])
  t.equal(rpcTaken.code, 1)
  t.match(rpcTaken.stderr, new RegExp(`error \\[LISTEN_FAILED\\]: cannot listen on 127\\.0\\.0\\.1:${port}: the address is already in use \\(another node running\\?\\); choose another with --rpc-port`))
  t.notOk(existsSync(home), 'the failed first start wrote nothing into the new home')
  const metricsTaken = await runCli(['dev', '--home', home, '--rpc-port', '0', '--metrics-port', String(port)])
  t.equal(metricsTaken.code, 1)
  t.match(metricsTaken.stderr, /LISTEN_FAILED.*choose another with --metrics-port \(or --no-metrics\)/)
  t.notOk(existsSync(home))
})
