// `openledger testnet init` staking options and `testnet add-node`, run as a user would.
import t from 'tap'
import { readdir, readFile, stat } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { parseChainSpec } from '../../genesis/spec.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import { runCli } from '../e2e/harness.ts'

t.test('init takes the epoch length and set size, and governance\'s voting period and timelock; add-node makes a home that joins the same network', async (t) => {
  const out = join(t.testdir(), 'net')
  const init = await runCli(['testnet', 'init', '--validators', '2', '--out', out, '--epoch-length', '7', '--max-validators', '3', '--voting-period', '30', '--timelock', '2', '--block-time', '700', '--unbonding-period', '900', '--p2p-port', '41000', '--rpc-port', '42000', '--metrics-port', '43000'])
  t.equal(init.code, 0, init.stderr)
  const spec = parseChainSpec(await readFile(join(out, 'genesis.json'), 'utf8'))
  t.equal(spec.staking?.params?.epochLength, 7)
  t.equal(spec.staking?.params?.maxValidators, 3)
  t.equal(spec.staking?.params?.unbondingPeriod, 900)
  t.equal(spec.staking?.validators.length, 2)
  t.match(spec.governance?.params, { votingPeriod: 30, timelockBlocks: 2, quorumBps: 3_340 }, 'short periods, the default shares')
  t.equal(spec.consensus?.blockTimeMs, 700, 'the block time is the chain\'s: in the genesis')
  const initConfig = JSON.parse(await readFile(join(out, 'node0', 'config.json'), 'utf8')) as { consensus: Record<string, unknown> }
  t.equal(initConfig.consensus['blockTimeMs'], undefined, 'not repeated in each node\'s config (it would override the chain\'s)')

  const added = await runCli(['testnet', 'add-node', '--out', out, '--name', 'node2'])
  t.equal(added.code, 0, added.stderr)
  const home = join(out, 'node2')
  const config = JSON.parse(await readFile(join(home, 'config.json'), 'utf8')) as { rpc: { port: number }; metrics: { port: number }; p2p: { listen: string[]; bootnodes: string[] }; validatorKey: string }
  t.same([config.rpc.port, config.metrics.port, config.p2p.listen], [42002, 43002, ['/ip4/127.0.0.1/tcp/41002']], 'ports one past the highest in use')
  t.equal(config.p2p.bootnodes.length, 2, 'every existing node is a bootnode')
  t.equal(await readFile(join(home, 'genesis.json'), 'utf8'), await readFile(join(out, 'genesis.json'), 'utf8'), 'the same genesis')
  t.equal((await stat(join(home, 'validator_key.json'))).mode & 0o777, 0o600)
  const key = JSON.parse(await readFile(join(home, 'validator_key.json'), 'utf8')) as { publicKey: string }
  t.match(added.stdout, `consensus key    ${key.publicKey}`)
  t.notOk(spec.staking?.validators.some((v) => toHex(v.consensusKey) === key.publicKey), 'not a genesis validator')

  const again = await runCli(['testnet', 'add-node', '--out', out, '--name', 'node2'])
  t.equal(again.code, 2)
  t.match(again.stderr, /already exists/)
  const missing = await runCli(['testnet', 'add-node', '--out', join(out, 'nowhere'), '--name', 'x'])
  t.equal(missing.code, 1)
  t.match(missing.stderr, /no genesis\.json/)
})

t.test('run stops every node and says which failed when one cannot start (its RPC port is taken)', async (t) => {
  const out = join(t.testdir(), 'net')
  const init = await runCli(['testnet', 'init', '--validators', '2', '--out', out, '--p2p-port', '44100', '--rpc-port', '44200', '--metrics-port', '44300'])
  t.equal(init.code, 0, init.stderr)
  const [home] = (await readdir(out, { withFileTypes: true })).filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort()
  const taken = createServer()
  await new Promise<void>((resolve) => taken.listen(44200, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => taken.close(() => resolve())))
  // before the fix the other node kept running and this never returned
  const run = await runCli(['testnet', 'run', '--out', out, '--log-level', 'warn'])
  t.equal(run.code, 1, run.stderr)
  t.match(run.stderr, /exited \(exit code 1\): stopping the other nodes/)
  t.match(run.stderr, new RegExp(`error \\[FAILED\\]: node ${home} .* failed \\(exit code 1\\); all nodes stopped`))
  t.match(run.stderr, /stopped \((exit code 0|signal SIGTERM)\)/, 'the healthy node was stopped')
})
