// MemoryNetwork: the shared behaviour suite on one hub, then its test hooks (partitions, dropped
// messages, settling).
import t, { type Test } from 'tap'
import { Counter, Gauge, Registry } from 'prom-client'
import { ReqRespProtocol, Topic } from '../../p2p/interface.ts'
import { MemoryNetworkHub, type MemoryNetwork } from '../../p2p/memoryNetwork.ts'
import type { P2pMetrics } from '../../p2p/metrics.ts'
import { bytes, eventually, isConnected, text, type NetworkHarness } from './helpers.ts'
import { networkBehaviour } from './networkBehaviour.ts'

t.test('behaviour suite (memory)', (t) => {
  const hub = new MemoryNetworkHub()
  const harness: NetworkHarness = {
    create: (t, options = {}, components = {}) => {
      const node = hub.createNode(options, components)
      t.teardown(() => node.stop())
      return Promise.resolve(node)
    },
    connect: async (nodes) => {
      for (const node of nodes) await node.start()
      await eventually(() => nodes.every((node) => nodes.every((other) => other === node || isConnected(node, other.peerId))), 'all connected')
    },
    settle: () => hub.settled(),
  }
  networkBehaviour(t, harness)
  t.end()
})

async function startedNodes(t: Test, hub: MemoryNetworkHub, count: number): Promise<MemoryNetwork[]> {
  const nodes = Array.from({ length: count }, () => hub.createNode())
  for (const node of nodes) {
    t.teardown(() => node.stop())
    await node.start()
  }
  return nodes
}

function inbox(node: MemoryNetwork, topic: Topic): string[] {
  const received: string[] = []
  node.subscribe(topic, ({ data }) => {
    received.push(text(data))
    return 'accept'
  })
  return received
}

t.test('partition and heal', async (t) => {
  const hub = new MemoryNetworkHub()
  const [a, b, c] = await startedNodes(t, hub, 3)
  if (a === undefined || b === undefined || c === undefined) throw new Error('three nodes')
  const [inA, inB, inC] = [inbox(a, Topic.proposals), inbox(b, Topic.proposals), inbox(c, Topic.proposals)]
  const events: string[] = []
  c.onPeerDisconnected((peer) => events.push(`lost ${peer}`))
  c.onPeerConnected((peer) => events.push(`found ${peer.id}`))

  hub.partition([a.peerId, b.peerId], [c.peerId])
  t.same(events.sort(), [`lost ${a.peerId}`, `lost ${b.peerId}`])
  t.same(c.peers(), [])
  t.same(a.subscribers(Topic.proposals), [b.peerId])
  await a.publish(Topic.proposals, bytes('during the partition'))
  await t.rejects(a.request(c.peerId, ReqRespProtocol.status, bytes('x')), { code: 'PEER_UNREACHABLE' })
  await hub.settled()
  t.same([inA, inB, inC], [[], ['during the partition'], []])

  hub.heal()
  t.same(c.peers().map((peer) => peer.id).sort(), [a.peerId, b.peerId].sort())
  t.equal(events.length, 4, 'found both again')
  await c.publish(Topic.proposals, bytes('after healing'))
  await hub.settled()
  t.same([inA, inB, inC], [['after healing'], ['during the partition', 'after healing'], []])
})

t.test('dropped messages and requests', async (t) => {
  const hub = new MemoryNetworkHub()
  const [a, b, c] = await startedNodes(t, hub, 3)
  if (a === undefined || b === undefined || c === undefined) throw new Error('three nodes')
  const [inB, inC] = [inbox(b, Topic.votes), inbox(c, Topic.votes)]
  b.handle(ReqRespProtocol.status, () => Promise.resolve(bytes('ok')))
  hub.setDropFilter((event) => event.to === c.peerId || (event.kind === 'request' && event.protocol === ReqRespProtocol.status))
  await a.publish(Topic.votes, bytes('vote'))
  await hub.settled()
  t.same([inB, inC], [['vote'], []], 'no relaying: c lost it')
  await t.rejects(a.request(b.peerId, ReqRespProtocol.status, bytes('x'), { timeoutMs: 50 }), { code: 'REQUEST_TIMEOUT' })
  hub.setDropFilter(undefined)
  t.equal(text(await a.request(b.peerId, ReqRespProtocol.status, bytes('x'))), 'ok')
})

t.test('messages are copies, delivered after publish returns', async (t) => {
  const hub = new MemoryNetworkHub()
  const [a, b] = await startedNodes(t, hub, 2)
  if (a === undefined || b === undefined) throw new Error('two nodes')
  const received = inbox(b, Topic.transactions)
  const data = bytes('original')
  await a.publish(Topic.transactions, data)
  t.same(received, [], 'not yet')
  data.fill(0)
  await hub.settled()
  t.same(received, ['original'])
  t.throws(() => hub.createNode({ peerId: a.peerId }), { code: 'INVALID_OPTION' })
})

t.test('prom-client metrics fit P2pMetrics as they are', async (t) => {
  const registry = new Registry()
  const registers = [registry]
  const metrics: P2pMetrics = {
    peers: new Gauge({ name: 'p2p_peers', help: 'connected peers', registers }),
    gossipMessages: new Counter({ name: 'p2p_gossip_messages_total', help: 'gossip by topic and verdict', labelNames: ['topic', 'verdict'], registers }),
    reqRespRequests: new Counter({ name: 'p2p_reqresp_requests_total', help: 'calls', labelNames: ['protocol', 'direction', 'result'], registers }),
    peerPenalties: new Counter({ name: 'p2p_peer_penalties_total', help: 'penalties', labelNames: ['reason'], registers }),
    peerBans: new Counter({ name: 'p2p_peer_bans_total', help: 'bans', registers }),
  }
  const hub = new MemoryNetworkHub()
  const a = hub.createNode()
  const b = hub.createNode({}, { metrics })
  t.teardown(() => Promise.all([a.stop(), b.stop()]))
  await a.start()
  await b.start()
  b.subscribe(Topic.votes, () => 'accept')
  await a.publish(Topic.votes, bytes('vote'))
  await hub.settled()
  const exposition = await registry.metrics()
  t.match(exposition, /p2p_peers 1/)
  t.match(exposition, /p2p_gossip_messages_total\{topic="votes",verdict="accept"\} 1/)
})
