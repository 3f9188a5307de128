// Network partitions between validator processes (cut with the operator's peer blocking RPC):
// a side with at most 2/3 of the power finalizes nothing; after healing every node agrees.
import t from 'tap'
import { assertSameChain, createTestnet, headHeight, peerIdOf, waitForHeight, type TestnetNode } from './testnet.ts'

/** Cuts every link between the two sides (each node refuses the other side's peers). */
async function partition(sides: ReadonlyArray<readonly TestnetNode[]>, peerIds: Map<TestnetNode, string>, method: 'system_blockPeer' | 'system_unblockPeer'): Promise<void> {
  const [a, b] = sides as [readonly TestnetNode[], readonly TestnetNode[]]
  for (const [here, there] of [[a, b], [b, a]] as const) {
    for (const node of here) for (const other of there) await node.rpc.call(method, [peerIds.get(other)])
  }
}

t.test('a partitioned minority finalizes nothing; after healing all agree', async (t) => {
  const net = await createTestnet({ validators: 4, blockTimeMs: 500 })
  t.teardown(net.remove)
  const nodes = net.nodes
  const [node0, node1, node2, node3] = nodes as [TestnetNode, TestnetNode, TestnetNode, TestnetNode]
  await Promise.all(nodes.map((node) => net.start(node, ['--rpc-methods', 'unsafe'])))
  await waitForHeight(nodes, 3)
  const peerIds = new Map(await Promise.all(nodes.map(async (node) => [node, await peerIdOf(node)] as const)))

  // 1 | 3: the three (75% of the power) go on, the one is stuck
  await partition([[node0], [node1, node2, node3]], peerIds, 'system_blockPeer')
  const cutAt = await headHeight(node0)
  const majorityAt = await headHeight(node1)
  await waitForHeight([node1, node2, node3], majorityAt + 4)
  t.ok((await headHeight(node0)) <= cutAt + 1, 'the isolated validator finalized nothing new while the majority did')
  t.same((await node0.rpc.call('system_peers')).length, 0, 'the isolated validator has no peers')

  await partition([[node0], [node1, node2, node3]], peerIds, 'system_unblockPeer')
  const healedAt = await headHeight(node1)
  await waitForHeight(nodes, healedAt + 2)
  t.pass('after healing the isolated validator caught up')

  // 2 | 2: no side has more than 2/3, so nobody finalizes
  await partition([[node0, node1], [node2, node3]], peerIds, 'system_blockPeer')
  const splitAt = Math.max(...(await Promise.all(nodes.map(headHeight))))
  await new Promise((resolve) => setTimeout(resolve, 5_000))
  const during = Math.max(...(await Promise.all(nodes.map(headHeight))))
  t.ok(during <= splitAt + 1, `split 2|2: height ${splitAt} -> ${during} in 5 s`)
  await partition([[node0, node1], [node2, node3]], peerIds, 'system_unblockPeer')
  await waitForHeight(nodes, during + 3)
  t.pass('after healing the 2|2 split the chain finalizes again')

  const upTo = Math.min(...(await Promise.all(nodes.map(headHeight))))
  t.same((await assertSameChain(nodes, upTo)).problems, [], `identical hashes at heights 1..${upTo} on every node`)
})

t.test('operator-only methods are refused without --rpc-methods unsafe', async (t) => {
  const net = await createTestnet({ validators: 1, blockTimeMs: 500 })
  t.teardown(net.remove)
  const [node] = net.nodes as [TestnetNode]
  await net.start(node)
  const error = await node.rpc.call('system_blockPeer', ['12D3KooWAugYe3juiRsnDb1Cr21C9yfhjrUWcqegbVZhg6TFMxVt']).then(() => undefined, (e: unknown) => e)
  t.match(error, { code: 'UNSAFE_METHOD' }, 'system_blockPeer is refused with UNSAFE_METHOD')
  await waitForHeight([node], 2)
  t.pass('a single validator finalizes on its own')
})
