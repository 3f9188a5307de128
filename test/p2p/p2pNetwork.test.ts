// P2pNetwork: real libp2p nodes in this process on 127.0.0.1 — the shared behaviour suite, then what
// only a real network has (relaying, discovery, bootnode reconnects, identity, chain separation,
// a clean stop).
import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createLogger, silentLogger } from '../../lib/logger.ts'
import { Topic } from '../../p2p/interface.ts'
import type { P2pMetrics } from '../../p2p/metrics.ts'
import { bootnodeAddress, generateNodeKey, loadOrCreateNodeKey, nodeKeyToHex, peerIdFromNodeKey } from '../../p2p/nodeKey.ts'
import { P2pNetwork, type P2pNetworkOptions } from '../../p2p/p2pNetwork.ts'
import { bytes, eventually, isConnected, text, waitForSubscribers, type NetworkHarness, type Teardown } from './helpers.ts'
import { networkBehaviour } from './networkBehaviour.ts'

const logger = process.env.P2P_TEST_LOG === undefined ? silentLogger : createLogger({ level: 'debug' })

function createNode(t: Teardown, options: Partial<P2pNetworkOptions> = {}, metrics?: P2pMetrics): P2pNetwork {
  const node = new P2pNetwork({ nodeKey: generateNodeKey(), listen: ['/ip4/127.0.0.1/tcp/0'], ...options }, { logger, ...(metrics === undefined ? {} : { metrics }) })
  t.teardown(() => node.stop())
  return node
}

async function connect(nodes: P2pNetwork[]): Promise<void> {
  for (const node of nodes) await node.start()
  for (let i = 0; i < nodes.length; i++) {
    for (let j = i + 1; j < nodes.length; j++) {
      const address = nodes[i]!.listenAddresses()[0]
      if (address === undefined) throw new Error('node has no address')
      await nodes[j]!.dial(address)
    }
  }
  await eventually(() => nodes.every((node) => nodes.every((other) => other === node || isConnected(node, other.peerId))), 'all connected')
}

const harness: NetworkHarness = {
  create: (t, options = {}, components = {}) => Promise.resolve(createNode(t, options, components.metrics)),
  connect: (nodes) => connect(nodes as P2pNetwork[]),
}

t.test('behaviour suite (libp2p)', (t) => {
  networkBehaviour(t, harness)
  t.end()
})

t.test('gossip is relayed through the mesh to peers the author is not connected to', async (t) => {
  // a line a — b — c: one peer each for a and c keeps peer exchange from closing the triangle
  const [a, b, c] = [createNode(t, { maxPeers: 1 }), createNode(t), createNode(t, { maxPeers: 1 })]
  await connect([a, b])
  await connect([b, c])
  const received: string[] = []
  for (const node of [a, b]) node.subscribe(Topic.blocks, () => 'accept')
  c.subscribe(Topic.blocks, ({ data, from }) => {
    received.push(`${text(data)} via ${from === b.peerId ? 'b' : from}`)
    return 'accept'
  })
  t.notOk(isConnected(a, c.peerId), 'a and c are not connected')
  // forwarding goes to mesh peers: wait for b's mesh to hold both
  await eventually(() => b.meshPeers(Topic.blocks).includes(a.peerId) && b.meshPeers(Topic.blocks).includes(c.peerId), 'mesh of b')
  await a.publish(Topic.blocks, bytes('block 1'))
  await eventually(() => received.length === 1, 'relayed block')
  t.same(received, ['block 1 via b'])
  t.notOk(isConnected(a, c.peerId), 'still not connected')
})

t.test('a node that knows only the bootnode discovers the other peers', async (t) => {
  const bootnode = createNode(t)
  await bootnode.start()
  const [address] = bootnode.listenAddresses()
  if (address === undefined) throw new Error('bootnode has no address')
  const b = createNode(t, { bootnodes: [address] })
  await b.start()
  await eventually(() => isConnected(bootnode, b.peerId), 'b reached the bootnode')
  // a short exchange period covers the bootnode not having identified b yet at c's first ask
  const c = createNode(t, { bootnodes: [address], peerExchangeIntervalMs: 200, heartbeatMs: 50 })
  await c.start()
  await eventually(() => isConnected(c, b.peerId), 'c found b')
  t.ok(isConnected(c, bootnode.peerId))
  await eventually(() => isConnected(b, c.peerId), 'b sees c')
})

t.test('bootnodes are redialled with backoff after they restart', async (t) => {
  const key = generateNodeKey()
  const first = createNode(t, { nodeKey: key })
  await first.start()
  const [address] = first.listenAddresses()
  if (address === undefined) throw new Error('bootnode has no address')
  const listen = address.replace(/\/p2p\/.*$/, '')
  const node = createNode(t, { bootnodes: [address], bootnodeBackoff: { initialMs: 50, maxMs: 400 }, heartbeatMs: 50 })
  await node.start()
  await eventually(() => isConnected(node, first.peerId), 'connected to the bootnode')
  await first.stop()
  await eventually(() => !isConnected(node, first.peerId), 'bootnode gone')
  const again = createNode(t, { nodeKey: key, listen: [listen] })
  await again.start()
  t.equal(again.peerId, first.peerId, 'same key, same peer id')
  await eventually(() => isConnected(node, again.peerId), 'reconnected to the restarted bootnode')
})

t.test('a peer of another chain is disconnected; topics and protocols carry the chain tag', async (t) => {
  const genesisA = new Uint8Array(32).fill(1)
  const genesisB = new Uint8Array(32).fill(2)
  const a = createNode(t, { genesisHash: genesisA })
  const b = createNode(t, { genesisHash: genesisB })
  const c = createNode(t, { genesisHash: genesisA })
  await a.start()
  await b.start()
  await c.start()
  const disconnected: string[] = []
  a.onPeerDisconnected((peer) => disconnected.push(peer))
  await b.dial(a.listenAddresses()[0]!)
  await eventually(() => disconnected.includes(b.peerId), 'other chain dropped')
  await c.dial(a.listenAddresses()[0]!)
  const received: string[] = []
  c.subscribe(Topic.votes, ({ data }) => {
    received.push(text(data))
    return 'accept'
  })
  a.subscribe(Topic.votes, () => 'accept')
  await waitForSubscribers(a, Topic.votes, [c])
  await a.publish(Topic.votes, bytes('same chain'))
  await eventually(() => received.length === 1, 'same chain gossip')
  t.ok(isConnected(a, c.peerId), 'same chain stays')
  t.notOk(isConnected(a, b.peerId))
})

t.test('identity: the node key persists, and the peer id is known before any process runs', async (t) => {
  const home = await mkdtemp(join(tmpdir(), 'openledger-p2p-'))
  t.teardown(() => rm(home, { recursive: true, force: true }))
  const file = join(home, 'node_key')
  const key = await loadOrCreateNodeKey(file)
  t.same(await loadOrCreateNodeKey(file), key, 'read back')
  t.equal((await readFile(file, 'utf8')).trim(), nodeKeyToHex(key))
  t.equal((await stat(file)).mode & 0o777, 0o600, 'private file')
  const node = createNode(t, { nodeKey: key })
  t.equal(node.peerId, peerIdFromNodeKey(key), 'peer id before start')
  await node.start()
  t.equal(node.peerId, peerIdFromNodeKey(await loadOrCreateNodeKey(file)))
  t.ok(node.listenAddresses().every((address) => address.endsWith(`/p2p/${node.peerId}`)))
  t.equal(bootnodeAddress('/ip4/10.0.0.1/tcp/30333', key), `/ip4/10.0.0.1/tcp/30333/p2p/${node.peerId}`)
})

t.test('stop() leaves nothing behind: a process that used the network exits by itself', async (t) => {
  const script = fileURLToPath(new URL('./fixtures/cleanStop.ts', import.meta.url))
  const started = Date.now()
  const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) => {
    execFile(process.execPath, [script], { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`exit: ${error.message}\n${stderr}`))
      else resolve({ stdout })
    })
  })
  t.match(stdout, /exchanged gossip and a request/)
  t.ok(Date.now() - started < 30_000)
})

t.test('a listen address in use is a clear error', async (t) => {
  const first = createNode(t)
  await first.start()
  const listen = first.listenAddresses()[0]!.replace(/\/p2p\/.*$/, '')
  const second = createNode(t, { listen: [listen] })
  await t.rejects(second.start(), { code: 'LISTEN_FAILED', message: new RegExp(`cannot listen on ${listen}`) })
  t.throws(() => createNode(t, { bootnodes: ['/ip4/127.0.0.1/tcp/1'] }), { code: 'INVALID_MULTIADDR', message: /must end with \/p2p/ })
  t.throws(() => createNode(t, { listen: ['nonsense'] }), { code: 'INVALID_MULTIADDR' })
  t.throws(() => createNode(t, { maxPeers: 0 }), { code: 'INVALID_OPTION', message: /maxPeers/ })
})
