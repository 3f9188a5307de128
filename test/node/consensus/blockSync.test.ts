// BlockSync over the in-memory network: a node behind fetches blocks with their certificates and
// imports them; a peer that serves a block with an invalid certificate is scored down, while a
// failure of our own (a store that cannot write) leaves the serving peer's score untouched.
import t, { type Test } from 'tap'
import { encodeCommitCertificate } from '../../../consensus/types.ts'
import { BlockSync } from '../../../node/consensus/blockSync.ts'
import { silentLogger } from '../../../lib/logger.ts'
import { ReqRespProtocol } from '../../../p2p/interface.ts'
import { MemoryNetworkHub, type MemoryNetwork } from '../../../p2p/memoryNetwork.ts'
import { decode, encode } from '../../../runtime/codec/canonical.ts'
import { readArray, readUint } from '../../../runtime/codec/read.ts'
import { generateEd25519FromSeed } from '../../../runtime/crypto/ed25519.ts'
import { sha256, toHex, utf8 } from '../../../runtime/crypto/hash.ts'
import { eventually } from '../../p2p/helpers.ts'
import { certify, consensusParts, produce, type ConsensusParts } from './fixtures.ts'

async function syncNode(t: Test, hub: MemoryNetworkHub, parts: ConsensusParts): Promise<{ sync: BlockSync; network: MemoryNetwork; imported: number[] }> {
  const network = hub.createNode()
  // a long interval: the tests trigger rounds themselves
  const sync = new BlockSync({ intervalMs: 3_600_000 }, { chain: parts.chain, consensusChain: parts.consensusChain, network, logger: silentLogger })
  const imported: number[] = []
  sync.onImported((count) => imported.push(count))
  await sync.start()
  await network.start()
  t.teardown(async () => {
    await sync.stop()
    await network.stop()
  })
  return { sync, network, imported }
}

function scoreOf(network: MemoryNetwork, peer: string): number | undefined {
  return network.peers().find((p) => p.id === peer)?.score
}

/** Runs one sync round to its end. */
async function syncRound(sync: BlockSync): Promise<void> {
  sync.trigger()
  await eventually(() => !sync.isSyncing, 'the sync round ended')
}

t.test('a node behind imports the blocks an honest peer serves', async (t) => {
  const hub = new MemoryNetworkHub()
  const source = await consensusParts()
  await produce(source, 5)
  const target = await consensusParts()
  const a = await syncNode(t, hub, source)
  const b = await syncNode(t, hub, target)
  await eventually(() => scoreOf(b.network, a.network.peerId) !== undefined, 'connected')
  await syncRound(b.sync)
  t.equal(target.chain.head.header.height, 5)
  t.equal(toHex(target.chain.head.hash), toHex(source.chain.head.hash))
  t.same(b.imported, [5])
  t.equal(b.sync.highestPeerHeight, 5)
  t.equal(scoreOf(b.network, a.network.peerId), 0, 'the honest peer keeps a neutral score')
})

t.test('a store that fails a write during sync leaves the peer\'s score untouched', async (t) => {
  const hub = new MemoryNetworkHub()
  const source = await consensusParts()
  await produce(source, 3)
  const target = await consensusParts()
  const a = await syncNode(t, hub, source)
  const b = await syncNode(t, hub, target)
  await eventually(() => scoreOf(b.network, a.network.peerId) !== undefined, 'connected')
  target.store.failWrites = true
  await syncRound(b.sync)
  t.ok(target.store.writesFailed >= 1, 'the import reached the failing write')
  t.equal(target.chain.head.header.height, 0, 'nothing was imported')
  t.equal(scoreOf(b.network, a.network.peerId), 0, 'the peer is not blamed for our store')
  t.same(b.imported, [])
  target.store.failWrites = false
  await syncRound(b.sync)
  t.equal(target.chain.head.header.height, 3, 'once the store writes again, the same peer serves the blocks')
})

t.test('a peer serving a block with an invalid certificate is scored down', async (t) => {
  const hub = new MemoryNetworkHub()
  const source = await consensusParts()
  const blocks = await produce(source, 2)
  const stranger = generateEd25519FromSeed(sha256(utf8('not a validator')))
  // a dishonest peer: alice's real blocks, but block 1's certificate signed by a stranger
  const liar = hub.createNode()
  const genesisHash = (await source.chain.chainStore.genesisHash()) as Uint8Array
  liar.handle(ReqRespProtocol.status, async () => encode([genesisHash, 2, source.chain.head.hash]))
  const forged = await Promise.all(blocks.map(async ({ block, certificate }, i) => {
    if (i > 0) return [block, certificate]
    const [height, , blockHash] = decode(certificate) as [number, number, Uint8Array]
    return [block, encodeCommitCertificate(await certify(source, height, blockHash, stranger))]
  }))
  liar.handle(ReqRespProtocol.blocksByRange, async (request) => {
    const from = readUint(readArray(decode(request), 'range', 2)[0] ?? null, 'from')
    return encode(forged.slice(from - 1))
  })
  await liar.start()
  t.teardown(() => liar.stop())
  const target = await consensusParts()
  const b = await syncNode(t, hub, target)
  await eventually(() => scoreOf(b.network, liar.peerId) !== undefined, 'connected')
  await syncRound(b.sync)
  t.equal(target.chain.head.header.height, 0, 'nothing was imported')
  const score = scoreOf(b.network, liar.peerId)
  t.ok(score !== undefined && score < 0, `the peer was scored down (score ${score})`)
})

t.test('a peer answering blocks-by-range with garbage is scored down', async (t) => {
  const hub = new MemoryNetworkHub()
  const source = await consensusParts()
  const liar = hub.createNode()
  const genesisHash = (await source.chain.chainStore.genesisHash()) as Uint8Array
  liar.handle(ReqRespProtocol.status, async () => encode([genesisHash, 4, new Uint8Array(32)]))
  liar.handle(ReqRespProtocol.blocksByRange, async () => encode([[Uint8Array.of(1)]]))
  await liar.start()
  t.teardown(() => liar.stop())
  const target = await consensusParts()
  const b = await syncNode(t, hub, target)
  await eventually(() => scoreOf(b.network, liar.peerId) !== undefined, 'connected')
  await syncRound(b.sync)
  const score = scoreOf(b.network, liar.peerId)
  t.ok(score !== undefined && score < 0, `the peer was scored down (score ${score})`)
})
