// The composition root: a node stops what it started in exactly the reverse order, so nothing
// gossips, submits or serves after what it stands on has stopped (the network after the
// producer, RPC, availability; the store last).
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { devAccount, devKey } from '../../genesis/devAccounts.ts'
import { devChainSpec } from '../../genesis/devSpec.ts'
import { createLogger } from '../../lib/logger.ts'
import { OpenLedgerNode } from '../../node/node.ts'
import { generateNodeKey } from '../../p2p/nodeKey.ts'

t.test('a node stops its services in exactly the reverse order of their start', async (t) => {
  const home = await mkdtemp(join(tmpdir(), 'openledger-node-'))
  t.teardown(() => rm(home, { recursive: true, force: true }))
  const lines: string[] = []
  const node = new OpenLedgerNode(
    {
      home,
      spec: devChainSpec(),
      rpc: { host: '127.0.0.1', port: 0 },
      metrics: { host: '127.0.0.1', port: 0 },
      verifierThreads: 0,
      models: false,
      network: { nodeKey: generateNodeKey(), listen: ['/ip4/127.0.0.1/tcp/0'], bootnodes: [] },
      dev: { blockTime: 1_000, author: devAccount('alice').address, operator: devKey('alice') },
    },
    { logger: createLogger({ level: 'debug', format: 'json', write: (line) => lines.push(line) }) },
  )
  await node.start()
  const started = node.services
  t.same(started, [
    'storage health', 'store', 'upgrade watch', 'verifier', 'transaction watcher', 'informant', 'metrics of blocks', 'blob store',
    'transaction gossip', 'network', 'clock monitor', 'transaction journal', 'availability', 'attribution', 'rpc', 'metrics server', 'producer',
  ], 'started bottom up: the free-space watch and the store first (then the software-upgrade watch over it), the producer last')
  await node.stop()
  const stopped = lines.map((line) => JSON.parse(line) as { msg: string; service?: string }).filter((record) => record.msg === 'stopping').map((record) => record.service)
  t.same(stopped, [...started].reverse(), 'stopped top down')
  t.ok(stopped.indexOf('network') > stopped.indexOf('producer') && stopped.indexOf('network') > stopped.indexOf('rpc') && stopped.indexOf('network') > stopped.indexOf('availability'), 'the network outlives what gossips and submits')
  t.same(node.services, [], 'nothing is left running')
})
