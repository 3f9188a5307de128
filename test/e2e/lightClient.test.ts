// `openledger light` against a 4-validator testnet whose validator set changes: it starts from the
// genesis file alone, verifies headers by their commit certificates across the change, and proves
// a balance that matches what the full node reports at the same block.
import t from 'tap'
import { join } from 'node:path'
import { devAccount } from '../../genesis/devAccounts.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import { runCli, waitFor } from './harness.ts'
import { createTestnet, nodeKeys, waitForHeight, type TestnetNode } from './testnet.ts'

const PASSPHRASE = { OPENLEDGER_PASSPHRASE: 'light e2e' }
const NEW_SELF_BOND = 160_000n

t.test('the light client follows a validator-set change and proves a balance', async (t) => {
  const net = await createTestnet({ validators: 4, blockTimeMs: 500, epochLength: 10, maxValidators: 4, audit: false })
  t.teardown(net.remove)
  const genesisNodes = net.nodes.slice() as TestnetNode[]
  await Promise.all(genesisNodes.map((node) => net.start(node)))
  await waitForHeight(genesisNodes, 2)
  const [node0, node1] = genesisNodes as [TestnetNode, TestnetNode]
  const cli = (args: string[], node: TestnetNode, env: Record<string, string> = {}) => runCli([...args, '--rpc', node.rpcUrl], env)

  const node4 = await net.addNode('node4')
  const newKeys = await nodeKeys(node4)
  await net.start(node4)
  const [imported, funded] = await Promise.all([
    runCli(['keys', 'import', '--name', 'operator', '--private-key', newKeys.operatorPrivateKey, '--home', node4.home], PASSPHRASE),
    cli(['tx', 'transfer', '--from', 'bob', '--to', newKeys.operator, '--amount', String(NEW_SELF_BOND + 1_000n)], node0),
  ])
  t.equal(imported.code, 0, imported.stderr)
  t.equal(funded.code, 0, funded.stderr + funded.stdout)
  const created = await cli(['tx', 'stake', 'create-validator', '--from', 'operator', '--home', node4.home, '--consensus-key', join(node4.home, 'validator_key.json'), '--self-bond', String(NEW_SELF_BOND), '--commission', '5'], node1, PASSPHRASE)
  t.equal(created.code, 0, created.stderr + created.stdout)
  const switchedAt = await waitFor(async () => {
    const view = await node0.rpc.call<{ active: { effectiveHeight: number; validators: Array<{ operator: string }> } | null }>('openledger_getValidators')
    return view.active?.validators.some((m) => m.operator === newKeys.operator) === true ? view.active.effectiveHeight : undefined
  }, 'the new validator in the set in force', 180_000, 250)
  await waitForHeight([node0], switchedAt + 3, 120_000)

  const bob = toHex(devAccount('bob').address)
  const light = await runCli(['light', '--genesis', join(net.dir, 'genesis.json'), '--rpc', node0.rpcUrl, '--balance', bob, '--json'])
  t.equal(light.code, 0, light.stderr)
  const lines = light.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>)
  const verified = lines.find((line) => line.height !== undefined) as { height: number; hash: string; verified: number[] } | undefined
  const balance = lines.find((line) => line.balance !== undefined) as { balance: string; height: number } | undefined
  t.ok(verified !== undefined && verified.height >= switchedAt, `verified up to ${verified?.height}, past the set change at ${switchedAt}`)
  t.ok(verified?.verified.some((h) => h >= switchedAt), `checked heights ${verified?.verified.join(', ')} include one signed by the new set`)
  t.equal(verified?.hash, await node0.rpc.call<string>('chain_getBlockHash', [verified?.height]), 'the same block the node finalized')
  const reported = BigInt(await node0.rpc.call<string>('eth_getBalance', [bob, `0x${(balance?.height ?? 0).toString(16)}`]))
  t.equal(BigInt(balance?.balance ?? -1), reported, 'the proven balance is the node\'s at that block')
})
