// Four validator processes and a late full node on loopback: they finalize the same chain; a
// validator killed with SIGKILL at random moments comes back and catches up without ever signing
// two different votes; with two of four down the chain halts without forking and resumes when they
// return; a full node that joins late syncs (checking commit certificates) and follows the tip.
import t from 'tap'
import fc from 'fast-check'
import { assertSameChain, blocksWithoutReveal, createTestnet, doubleSigns, headHeight, waitForHeight } from './testnet.ts'

t.test('a 4-validator network survives crashes and a halt, and a late full node follows it', async (t) => {
  const net = await createTestnet({ validators: 4, fullNodes: 1, blockTimeMs: 500 })
  t.teardown(net.remove)
  const [node0, node1, node2, node3, full0] = net.nodes as [typeof net.nodes[0], typeof net.nodes[0], typeof net.nodes[0], typeof net.nodes[0], typeof net.nodes[0]]
  const validators = [node0, node1, node2, node3]
  await Promise.all(validators.map((node) => net.start(node)))
  await waitForHeight(validators, 3)
  t.pass('four validators finalize blocks')

  // kill -9 one validator at random moments (seeded), repeatedly; the other three keep finalizing
  const delays = fc.sample(fc.integer({ min: 0, max: 1500 }), { seed: 20261201, numRuns: 4 })
  for (const [round, delay] of delays.entries()) {
    await new Promise((resolve) => setTimeout(resolve, delay))
    await net.kill(node3)
    const before = await headHeight(node0)
    await waitForHeight([node0, node1, node2], before + 2)
    await net.start(node3)
    await waitForHeight([node3], await headHeight(node0))
    t.pass(`kill ${round + 1}: three validators kept finalizing; the restarted one caught up`)
  }

  // two of four down: more than 1/3 of the power is gone, nothing can be finalized
  await Promise.all([net.kill(node2), net.kill(node3)])
  const haltedAt = Math.max(await headHeight(node0), await headHeight(node1))
  // at most the block that was being committed when they died lands; watch for a while
  await new Promise((resolve) => setTimeout(resolve, 5_000))
  const stalled = Math.max(await headHeight(node0), await headHeight(node1))
  t.ok(stalled <= haltedAt + 1, `halted: height ${haltedAt} -> ${stalled} in 5 s with 2 of 4 validators`)
  await Promise.all([net.start(node2), net.start(node3)])
  await waitForHeight(validators, stalled + 3)
  t.pass('finalizing again once they returned')

  // a full node joins late, syncs from its peers, then follows the tip
  await net.start(full0)
  const tip = await headHeight(node0)
  await waitForHeight([full0], tip + 2, 120_000)
  t.pass(`the late full node synced past height ${tip} and follows`)

  const upTo = Math.min(...(await Promise.all(net.nodes.map(headHeight))))
  const same = await assertSameChain(net.nodes, upTo)
  t.same(same.problems, [], `all five nodes have identical hashes at heights 1..${upTo}`)
  const beacon = await blocksWithoutReveal(full0, upTo)
  t.same(beacon.missing, [], `every block 1..${upTo} carries its proposer's beacon reveal (mix now ${beacon.mix.slice(0, 18)})`)

  await net.stopAll()
  const signs = await doubleSigns(net.nodes)
  t.ok(signs.votes > 100, `${signs.votes} votes audited`)
  t.same(signs.conflicts, [], 'no validator ever signed two different votes for one height/round/step')
})
