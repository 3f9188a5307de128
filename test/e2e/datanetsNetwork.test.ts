// Datanets across a 4-validator network of real processes: a contributor uploads a file to one
// node; the validators fetch it from the network (libp2p blob protocol), check it and attest its
// availability; a curator talking to another node accepts it; the owner publishes a version
// through a third; the inclusion proof and the version's state proof verify against a finalized
// state root on the fourth, which also serves the bytes (fetched over the network). `openledger
// light`, trusting only the genesis file, proves the contribution's inclusion through node3 too.
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { devAccount } from '../../genesis/devAccounts.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import { found, runCli, waitFor } from './harness.ts'
import { createTestnet, waitForHeight, type TestnetNode } from './testnet.ts'

t.test('a contribution uploaded to one node is fetched, attested, accepted and proved across the network', async (t) => {
  const net = await createTestnet({ validators: 4, blockTimeMs: 500, audit: false })
  t.teardown(net.remove)
  const [node0, node1, node2, node3] = net.nodes as [TestnetNode, TestnetNode, TestnetNode, TestnetNode]
  await Promise.all(net.nodes.map((node) => net.start(node)))
  await waitForHeight(net.nodes, 2)
  const cli = async (node: TestnetNode, ...args: string[]) => runCli(['datanet', ...args, '--rpc', node.rpcUrl])

  const created = await cli(node0, 'create', '--from', 'bob', '--name', 'Mails', '--deposit', '2', '--formats', 'labelled', '--curators', toHex(devAccount('dave').address))
  t.equal(created.code, 0, `datanet created` + (created.code === 0 ? '' : `: ${created.stdout}${created.stderr}`))

  const file = join(net.dir, 'mails.jsonl')
  await writeFile(file, '{"text":"win a prize now","label":"spam"}\n{"text":"see you at lunch","label":"ham"}\n')
  const contributed = await cli(node1, 'contribute', file, '--datanet', '1', '--from', 'eve')
  t.equal(contributed.code, 0, `datanet contributed` + (contributed.code === 0 ? '' : `: ${contributed.stdout}${contributed.stderr}`))

  // every validator fetched the bytes from node1 over libp2p and attested: available on every node
  await waitFor(async () => {
    const views = await Promise.all(net.nodes.map((node) => node.rpc.call('openledger_getContribution', [1, 0])))
    return views.every((view) => view?.status === 'available') ? true : undefined
  }, 'the contribution available on every node', 90_000, 250)
  t.pass('validators fetched the blob over the network and attested its availability')
  const blob = await node3.rpc.call('openledger_getBlobInfo', [(found(await node3.rpc.call('openledger_getContribution', [1, 0]), 'contribution 0')).cid])
  t.ok(blob !== null, 'node3 holds a copy it fetched from its peers')

  const accepted = await cli(node2, 'accept', '--datanet', '1', '--contribution', '0', '--from', 'dave')
  t.equal(accepted.code, 0, `datanet accepted` + (accepted.code === 0 ? '' : `: ${accepted.stdout}${accepted.stderr}`))
  const published = await cli(node2, 'publish', '--datanet', '1', '--from', 'bob')
  t.equal(published.code, 0, `datanet published` + (published.code === 0 ? '' : `: ${published.stdout}${published.stderr}`))

  const proved = await cli(node3, 'prove', '--datanet', '1', '--contribution', '0')
  t.equal(proved.code, 0, `datanet proved` + (proved.code === 0 ? '' : `: ${proved.stdout}${proved.stderr}`))
  t.match(proved.stdout, /inclusion .*verified/, 'the inclusion proof verifies against the version root')
  t.match(proved.stdout, /state .*finalized #\d+ .*verified/, 'the version verifies against a finalized state root')

  // the light client checks the headers' certificates itself, then the version record's state
  // proof and the contribution's path under its root
  const light = await runCli(['light', '--genesis', join(net.dir, 'genesis.json'), '--rpc', node3.rpcUrl, '--contribution', '1:0', '--json'])
  t.equal(light.code, 0, light.stderr)
  const included = light.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => line['included'] !== undefined)
  const record = found(await node3.rpc.call('openledger_getContribution', [1, 0]), 'contribution 0')
  t.same(
    { included: included?.['included'], version: included?.['version'], contributor: included?.['contributor'], cid: included?.['cid'] },
    { included: true, version: 1, contributor: toHex(devAccount('eve').address), cid: record.cid },
    'the light client proves eve\'s contribution in version 1',
  )

  const copy = join(net.dir, 'copy.jsonl')
  const downloaded = await cli(node3, 'download', '--datanet', '1', '--contribution', '0', '--out', copy)
  t.equal(downloaded.code, 0, downloaded.stderr)
  t.equal(await readFile(copy, 'utf8'), await readFile(file, 'utf8'), 'the bytes downloaded from node3 are the ones uploaded to node1')
})
