// The clock monitor over an in-memory network: four nodes, one of them with its clock off. The
// skewed node learns it from its peers' median (and logs a warning, sets its metrics); the others
// see one outlier, which the median ignores. The `time` protocol refuses a non-empty request.
import t, { type Test } from 'tap'
import { ClockMonitor } from '../../../node/consensus/clockMonitor.ts'
import { createLogger } from '../../../lib/logger.ts'
import { MemoryNetworkHub, type MemoryNetwork } from '../../../p2p/memoryNetwork.ts'
import { ReqRespProtocol } from '../../../p2p/interface.ts'
import { DEFAULT_TIMELINESS } from '../../../runtime/consensusParams.ts'

async function monitors(t: Test, offsets: number[]) {
  const hub = new MemoryNetworkHub()
  const nodes = offsets.map((offsetMs, i) => {
    const lines: string[] = []
    const gauges = { offset: Number.NaN, skewed: Number.NaN }
    const network = hub.createNode({ peerId: `n${i}` })
    const monitor = new ClockMonitor({ timeliness: DEFAULT_TIMELINESS, intervalMs: 60_000 }, {
      network,
      clock: { now: () => Date.now() + offsetMs },
      logger: createLogger({ level: 'info', write: (line) => lines.push(line) }),
      metrics: { peerOffsetSeconds: { set: (v) => (gauges.offset = v) }, skewed: { set: (v) => (gauges.skewed = v) } },
    })
    return { network, monitor, lines, gauges }
  })
  for (const node of nodes) await node.network.start()
  for (const node of nodes) node.monitor.start()
  t.teardown(async () => {
    for (const node of nodes) await node.monitor.stop()
    for (const node of nodes) await node.network.stop()
  })
  return nodes
}

t.test('the skewed node of four says so; the others are in step', async (t) => {
  const nodes = await monitors(t, [0, 0, 0, 30_000])
  for (const node of nodes) await node.monitor.check()
  const skewed = nodes[3]!
  const status = skewed.monitor.status()
  t.equal(status.skewed, true, 'the node 30 s ahead is skewed')
  t.equal(status.peers, 3)
  t.ok(Math.abs((status.peerOffsetMs ?? 0) + 30_000) < 1_000, `its peers' clocks are ${status.peerOffsetMs} ms from its own`)
  t.equal(skewed.gauges.skewed, 1)
  t.ok(Math.abs(skewed.gauges.offset + 30) < 1, 'the offset gauge in seconds')
  t.match(skewed.lines.join('\n'), /WARN.*clock is ahead of its peers/i, 'a warning')
  for (const node of nodes.slice(0, 3)) {
    t.equal(node.monitor.status().skewed, false, 'an honest node is in step: the median ignores one outlier')
    t.ok(Math.abs(node.monitor.status().peerOffsetMs ?? Number.NaN) <= DEFAULT_TIMELINESS.precisionMs)
    t.equal(node.gauges.skewed, 0)
  }
})

t.test('a node behind its peers by just over the precision is skewed; just within it is not', async (t) => {
  const [, , , behind] = await monitors(t, [0, 0, 0, -(DEFAULT_TIMELINESS.precisionMs + 200)])
  await behind!.monitor.check()
  t.equal(behind!.monitor.status().skewed, true)
  t.match(behind!.lines.join('\n'), /behind its peers/)
  const [, , , close] = await monitors(t, [0, 0, 0, -(DEFAULT_TIMELINESS.precisionMs - 200)])
  await close!.monitor.check()
  t.equal(close!.monitor.status().skewed, false)
})

t.test('the first check runs when a peer connects; a non-empty time request is refused', async (t) => {
  const nodes = await monitors(t, [0, 0])
  const first = nodes[0]!
  const deadline = Date.now() + 10_000
  while (first.monitor.status().peers === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(first.monitor.status().peers, 1, 'checked without waiting for the interval')
  const network: MemoryNetwork = nodes[1]!.network
  await t.rejects(network.request('n0', ReqRespProtocol.time, Uint8Array.of(1)), { code: 'INVALID_REQUEST' })
})

t.test('with two peers answering, one wrong peer does not make a node look wrong', async (t) => {
  const [honest, , wrong] = await monitors(t, [0, 0, 1_500 * 86_400_000])
  await honest!.monitor.check()
  t.equal(honest!.monitor.status().peers, 2)
  t.equal(honest!.monitor.status().skewed, false, 'one of two peers 1,500 days off: not this node')
  await wrong!.monitor.check()
  t.equal(wrong!.monitor.status().skewed, true, 'both peers disagree with the wrong one: it is')
})
