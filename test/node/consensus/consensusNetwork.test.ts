// The driver's network port over p2p: topics and penalties map to p2p's, and a catch-up request the
// driver refuses as malformed comes back to the asker as INVALID_REQUEST and scores it down.
import t from 'tap'
import { DriverError } from '../../../consensus/driver/driver.ts'
import { createConsensusNetwork } from '../../../node/consensus/consensusNetwork.ts'
import { isP2pError } from '../../../p2p/errors.ts'
import { MemoryNetworkHub } from '../../../p2p/memoryNetwork.ts'
import { eventually } from '../../p2p/helpers.ts'

t.test('gossip, catch-up and penalties through the consensus port', async (t) => {
  const hub = new MemoryNetworkHub()
  const a = hub.createNode({ peerId: 'a' })
  const b = hub.createNode({ peerId: 'b' })
  t.teardown(async () => {
    await a.stop()
    await b.stop()
  })
  const portA = createConsensusNetwork(a)
  const portB = createConsensusNetwork(b)
  const received: number[] = []
  portB.subscribe('votes', (data) => {
    received.push(data[0] ?? -1)
    return 'accept'
  })
  portA.serveCatchUp((request) => {
    if (request.length === 0) throw new DriverError('INVALID_REQUEST', 'empty catch-up request')
    return Uint8Array.of(request.length)
  })
  await a.start()
  await b.start()
  await eventually(() => portA.peers().includes('b') && portB.peers().includes('a') && a.subscribers('openledger/votes/1').includes('b'), 'connected and subscribed')

  await portA.publish('votes', Uint8Array.of(7))
  await hub.settled()
  t.same(received, [7], 'a vote published through the port arrives on the votes topic')

  t.same(await portB.requestCatchUp('a', Uint8Array.of(1, 2, 3)), Uint8Array.of(3), 'a catch-up request is answered')
  const refused = await portB.requestCatchUp('a', new Uint8Array(0)).catch((error: unknown) => error)
  t.ok(isP2pError(refused, 'INVALID_REQUEST'), 'a malformed one is refused as INVALID_REQUEST')
  await eventually(() => (a.peers().find((peer) => peer.id === 'b')?.score ?? 0) < 0, 'the asker is scored down')

  portB.penalize('a', 'invalidResponse')
  t.ok((b.peers().find((peer) => peer.id === 'a')?.score ?? 0) < 0, 'the driver\'s penalty reaches p2p\'s score book')
})
