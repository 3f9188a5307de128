// Chain time on a 4-validator testnet of real processes (proposer-based timestamps): one validator
// whose clock is +30 s, +1,500 days, then −30 s off (`start --clock-offset`) cannot move the head's
// time away from the honest clocks, cannot unlock a vesting schedule, and says its clock is off;
// the chain keeps finalizing. With two of four clocks off the chain halts without forking, and
// resumes once their clocks agree again.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { DEFAULT_TIMELINESS } from '../../runtime/consensusParams.ts'
import { devKey } from '../../genesis/devAccounts.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import { found, runCli, tempHome, waitFor } from './harness.ts'
import { assertSameChain, createTestnet, doubleSigns, headHeight, waitForHeight, type TestnetNode } from './testnet.ts'

const { precisionMs, messageDelayMs } = DEFAULT_TIMELINESS
const BLOCK_TIME_MS = 500
const DAY_MS = 86_400_000
const PASSPHRASE = { OPENLEDGER_PASSPHRASE: 'vesting test' }

async function headTime(node: TestnetNode): Promise<{ number: number; timestamp: number }> {
  return found(await node.rpc.call('chain_getHeader'), 'the head')
}

/** The timestamps of blocks from..to (inclusive) as `node` has them. */
async function blockTimes(node: TestnetNode, from: number, to: number): Promise<number[]> {
  const times: number[] = []
  for (let height = from; height <= to; height++) {
    const hash = await node.rpc.call('chain_getBlockHash', [height])
    times.push((found(await node.rpc.call('chain_getHeader', [hash]), 'a header')).timestamp)
  }
  return times
}

async function untimelyProposals(node: TestnetNode): Promise<number> {
  const config = JSON.parse(await readFile(join(node.home, 'config.json'), 'utf8')) as { metrics: { port: number } }
  const text = await (await fetch(`http://127.0.0.1:${config.metrics.port}/metrics`)).text()
  let total = 0
  for (const match of text.matchAll(/^openledger_consensus_untimely_proposals_total\{[^}]*\} (\d+)/gm)) total += Number(match[1])
  return total
}

t.test('a validator with a wrong clock cannot move chain time or unlock vesting; two of four halt the chain until clocks agree', async (t) => {
  // four fresh homes store the shipped models at once: on a loaded machine that took over 120 s
  const net = await createTestnet({ validators: 4, blockTimeMs: BLOCK_TIME_MS, startTimeoutMs: 360_000 })
  t.teardown(net.remove)
  const nodes = net.nodes as [TestnetNode, TestnetNode, TestnetNode, TestnetNode]
  await Promise.all(nodes.map((node) => net.start(node)))
  await waitForHeight(nodes, 2)

  // the team allocation: 12-month cliff, then 36 months linear (genesis/tokenomics.ts)
  const wallet = await tempHome('openledger-vesting-')
  t.teardown(wallet.remove)
  const team = devKey('team')
  const imported = await runCli(['keys', 'import', '--name', 'team', '--private-key', toHex(team.privateKey), '--home', wallet.path], PASSPHRASE)
  t.equal(imported.code, 0, imported.stderr)
  // fees are paid from unlocked funds only (the mempool's rule): 100 OPEN that vest nothing
  const funded = await runCli(['tx', 'transfer', '--from', 'alice', '--to', toHex(team.address), '--amount', '100', '--rpc', nodes[0].rpcUrl])
  t.equal(funded.code, 0, funded.stderr + funded.stdout)
  const vestedTransfer = async (through: TestnetNode) => {
    const sent = await runCli(['tx', 'transfer', '--from', 'team', '--home', wallet.path, '--to', toHex(devKey('alice').address), '--amount', '1000000', '--json', '--force', '--rpc', through.rpcUrl], PASSPHRASE)
    try {
      return JSON.parse(sent.stdout.trim().split('\n').at(-1) ?? '') as { status?: string; error?: string | null }
    } catch {
      return { status: `no receipt: exit ${sent.code}: ${sent.stderr.trim()}` }
    }
  }

  const phases: Array<{ node: TestnetNode; offsetMs: number; label: string }> = [
    { node: nodes[1], offsetMs: 30_000, label: '+30 s' },
    { node: nodes[2], offsetMs: 1_500 * DAY_MS, label: '+1,500 days' },
    { node: nodes[3], offsetMs: -30_000, label: '−30 s' },
  ]
  for (const { node, offsetMs, label } of phases) {
    await t.test(`one validator at ${label}`, async (t: Test) => {
      await net.kill(node, 'SIGTERM')
      await net.start(node, [`--clock-offset=${offsetMs}`])
      const honest = nodes.filter((n) => n !== node)
      const untimelyBefore = await Promise.all(honest.map(untimelyProposals))
      const from = (await headHeight(nodes[0])) + 1

      // it says so: system_health, soon after start (the first check runs when a peer connects)
      const health = await waitFor(async () => {
        const h = await node.rpc.call('system_health')
        return h.clockSkewed ? h : undefined
      }, `${node.name} reports its clock skewed`, 60_000, 200)
      t.ok(Math.abs((health.clockOffsetMs ?? 0) + offsetMs) < 5_000, `system_health: clockSkewed, peers' clocks ${health.clockOffsetMs} ms from its own`)
      t.match(node.running?.log() ?? '', /clock is (ahead of|behind) its peers/, 'and a warning in its log')
      for (const other of honest) t.equal((await other.rpc.call('system_health')).clockSkewed, false, `${other.name}'s clock is in step`)

      // the chain keeps finalizing through heights the skewed validator leads (one in four)
      await waitForHeight(nodes, from + 8, 120_000)
      const to = from + 8
      const now = Date.now()
      const times = await blockTimes(nodes[0], from, to)
      const ahead = Math.max(...times.map((time) => time - now))
      t.ok(ahead <= precisionMs, `no block ${from}..${to} is more than the precision (${precisionMs} ms) ahead of the honest clocks (at most ${ahead} ms)`)
      const head = await headTime(nodes[0])
      const lag = Date.now() - head.timestamp
      t.ok(lag >= -precisionMs && lag <= precisionMs + messageDelayMs + 4 * BLOCK_TIME_MS + 5_000, `the head's time is the honest clocks' (${lag} ms behind them)`)
      if (offsetMs > 0) {
        const untimelyAfter = await Promise.all(honest.map(untimelyProposals))
        t.ok(untimelyAfter.every((after, i) => after > (untimelyBefore[i] as number)), `every honest validator refused the skewed proposals as untimely (${untimelyBefore.join(',')} -> ${untimelyAfter.join(',')})`)
      }

      const receipt = await vestedTransfer(honest[0] as TestnetNode)
      t.match(receipt, { status: 'failed', error: 'balances.VestingLocked' }, 'a transfer of the locked team allocation still fails with VestingLocked')

      await net.kill(node, 'SIGTERM')
      await net.start(node)
      await waitForHeight([node], await headHeight(nodes[0]), 120_000)
    })
  }

  await t.test('two of four validators skewed: the chain halts without forking, and resumes when clocks agree', async (t: Test) => {
    const [, , skewedAhead, skewedBehind] = nodes
    await Promise.all([net.kill(skewedAhead, 'SIGTERM'), net.kill(skewedBehind, 'SIGTERM')])
    await Promise.all([net.start(skewedAhead, ['--clock-offset=30000']), net.start(skewedBehind, ['--clock-offset=-30000'])])
    for (const node of [skewedAhead, skewedBehind]) {
      await waitFor(async () => ((await node.rpc.call('system_health')).clockSkewed ? true : undefined), `${node.name} reports its clock skewed`, 60_000, 200)
    }
    t.pass('both skewed validators report it')
    const haltedAt = Math.max(...(await Promise.all(nodes.map(headHeight))))
    // each proposal is timely for at most two of the four: no round reaches 2/3 of the power
    const stuck = await waitFor(async () => {
      const state = await nodes[0].rpc.call('openledger_consensusState')
      return (state.round ?? 0) >= 4 ? state : undefined
    }, 'the honest validators in round 4 of one height', 120_000, 200)
    const stalled = Math.max(...(await Promise.all(nodes.map(headHeight))))
    t.ok(stalled <= haltedAt + 1 && stuck.height === stalled + 1, `halted: height ${haltedAt} -> ${stalled}, height ${stuck.height} still undecided in round ${stuck.round}`)

    await Promise.all([net.kill(skewedAhead, 'SIGTERM'), net.kill(skewedBehind, 'SIGTERM')])
    await Promise.all([net.start(skewedAhead), net.start(skewedBehind)])
    await waitForHeight(nodes, stalled + 3, 120_000)
    t.pass('finalizing again once every clock agrees')
  })

  const upTo = Math.min(...(await Promise.all(nodes.map(headHeight))))
  const same = await assertSameChain(nodes, upTo)
  t.same(same.problems, [], `all four nodes have identical hashes at heights 1..${upTo}`)
  await net.stopAll()
  const signs = await doubleSigns(nodes)
  t.ok(signs.votes > 100, `${signs.votes} votes audited`)
  t.same(signs.conflicts, [], 'no validator ever signed two different votes for one height/round/step')
})
