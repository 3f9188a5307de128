import t, { type Test } from 'tap'
import { encode } from '../../../runtime/codec/canonical.ts'
import { MemoryNetworkHub } from '../../../p2p/memoryNetwork.ts'
import { ReqRespProtocol } from '../../../p2p/interface.ts'
import { silentLogger } from '../../../lib/logger.ts'
import { BlobFetcher, BlobFetchError, serveBlobs } from '../../../node/blobs/blobExchange.ts'
import { CHUNK_BYTES, contentId } from '../../../node/blobs/contentId.ts'
import { createBlobStore, testBytes } from './fixtures.ts'

async function network(t: Test, count: number) {
  const hub = new MemoryNetworkHub()
  const nodes = Array.from({ length: count }, (_, i) => hub.createNode({ peerId: `node-${i}` }))
  t.teardown(() => Promise.all(nodes.map((n) => n.stop())))
  return { hub, nodes }
}

t.test('a blob travels from a peer, every chunk verified', async (t) => {
  const { nodes } = await network(t, 2)
  const [server, client] = nodes as [NonNullable<(typeof nodes)[0]>, NonNullable<(typeof nodes)[0]>]
  const { store: serverStore } = await createBlobStore(t)
  const { store: clientStore } = await createBlobStore(t)
  serveBlobs(server, serverStore)
  serveBlobs(client, clientStore)
  await server.start()
  await client.start()
  const bytes = testBytes(20 * CHUNK_BYTES + 77) // more than one request's worth of chunks
  const cid = await serverStore.put(bytes)
  const fetcher = new BlobFetcher({ network: client, store: clientStore, logger: silentLogger })
  await fetcher.fetch(cid)
  t.same(await clientStore.read(cid), bytes)
  await t.rejects(fetcher.fetch(contentId(testBytes(9))), BlobFetchError, 'a blob nobody holds')
})

t.test('a peer serving bad chunks is penalized and the next peer serves the blob', async (t) => {
  const { nodes } = await network(t, 3)
  const [liar, honest, client] = nodes as [NonNullable<(typeof nodes)[0]>, NonNullable<(typeof nodes)[0]>, NonNullable<(typeof nodes)[0]>]
  const bytes = testBytes(2 * CHUNK_BYTES + 5, 7)
  const cid = contentId(bytes)
  liar.handle(ReqRespProtocol.blob, async () => encode([bytes.length, [[bytes.slice(0, CHUNK_BYTES).fill(1), []]]]))
  const { store: honestStore } = await createBlobStore(t)
  await honestStore.put(bytes)
  serveBlobs(honest, honestStore)
  const { store: clientStore } = await createBlobStore(t)
  for (const node of nodes) await node.start()
  const before = client.peers().find((p) => p.id === 'node-0')?.score ?? 0
  const fetcher = new BlobFetcher({ network: client, store: clientStore, logger: silentLogger })
  await fetcher.fetch(cid, { peers: ['node-0', 'node-1'] })
  t.same(await clientStore.read(cid), bytes)
  const after = client.peers().find((p) => p.id === 'node-0')?.score ?? 0
  t.ok(after < before, 'the lying peer was scored down')
})
