// The README walkthrough, end to end: a dev chain process, the CLI, and JSON-RPC.
import { createServer, type AddressInfo } from 'node:net'
import t from 'tap'
import { devAccount } from '../../genesis/devAccounts.ts'
import { ONE_OPEN } from '../../genesis/tokenomics.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import { found, runCli, startDevNode, stopNode, tempHome, waitFor } from './harness.ts'

t.test('dev chain: create a key, send it OPEN from alice with the CLI, watch the balance over RPC, restart', async (t) => {
  const home = await tempHome()
  t.teardown(home.remove)
  let node = await startDevNode(home.path, ['--block-time', '200'])
  t.teardown(() => stopNode(node, 'SIGKILL'))

  const generated = await runCli(['keys', 'generate', '--name', 'carol', '--home', home.path], { OPENLEDGER_PASSPHRASE: 'correct horse' })
  t.equal(generated.code, 0, generated.stderr)
  const address = /0x[0-9a-fA-F]{40}/.exec(generated.stdout)?.[0]
  t.ok(address, 'keys generate prints the address')
  if (address === undefined) return

  t.equal(await node.rpc.call('openledger_getBalance', [address]), '0')
  const sent = await runCli(['tx', 'transfer', '--from', 'alice', '--to', address, '--amount', '12.5', '--rpc', node.rpcUrl])
  t.equal(sent.code, 0, sent.stderr)
  t.match(sent.stdout, /status\s+success/)
  t.equal(await node.rpc.call('openledger_getBalance', [address]), (125n * ONE_OPEN / 10n).toString(), 'balance in base units as a decimal string')

  const queried = await runCli(['query', 'balance', address, '--rpc', node.rpcUrl])
  t.equal(queried.code, 0, queried.stderr)
  t.match(queried.stdout, /^12\.5 OPEN/)

  // the new key can spend what it received
  const back = await runCli(['tx', 'transfer', '--from', 'carol', '--home', home.path, '--to', toHex(devAccount('bob').address), '--amount', '1', '--rpc', node.rpcUrl], { OPENLEDGER_PASSPHRASE: 'correct horse' })
  t.equal(back.code, 0, back.stderr)
  const after = BigInt(await node.rpc.call('openledger_getBalance', [address]))
  t.ok(after < 115n * ONE_OPEN / 10n && after > 114n * ONE_OPEN / 10n, 'sent 1 OPEN plus a small fee')

  const head = found(await node.rpc.call('chain_getHeader'), 'the head')
  t.equal(await stopNode(node, 'SIGTERM'), 0, 'graceful shutdown exits 0')

  node = await startDevNode(home.path, ['--block-time', '200'])
  const resumed = await waitFor(async () => {
    const header = found(await node.rpc.call('chain_getHeader'), 'the head')
    return header.number > head.number ? header : undefined
  }, 'the restarted chain to grow')
  t.ok(resumed.number > head.number, 'continues from the same height')
  t.equal(await node.rpc.call('chain_getBlockHash', [head.number]), head.hash, 'old blocks kept')
  t.equal(BigInt(await node.rpc.call('openledger_getBalance', [address])), after, 'nothing lost')
})

t.test('npx openledger --help lists every command', async (t) => {
  const help = await runCli(['--help'])
  t.equal(help.code, 0)
  for (const command of ['dev', 'tx', 'query', 'keys', 'genesis']) t.match(help.stdout, new RegExp(`\\n  ${command} `), command)
  const unknown = await runCli(['frobnicate'])
  t.equal(unknown.code, 2)
  t.match(unknown.stderr, /unknown command/)
  const badAmount = await runCli(['tx', 'transfer', '--from', 'alice', '--to', '0x' + '11'.repeat(20), '--amount', '1.2.3', '--rpc', 'http://127.0.0.1:1'])
  t.equal(badAmount.code, 2)
  t.match(badAmount.stderr, /BAD_ARGUMENT.*--amount/)
})

t.test('a node whose RPC port is taken exits with LISTEN_FAILED instead of running without RPC', async (t) => {
  const home = await tempHome()
  t.teardown(home.remove)
  const blocker = createServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())))
  const { port } = blocker.address() as AddressInfo
  const started = startDevNode(home.path, ['--rpc-port', String(port)])
  await t.rejects(started, { message: /node exited with 1 before listening[\s\S]*LISTEN_FAILED/ })
})
