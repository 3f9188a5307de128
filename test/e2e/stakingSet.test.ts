// Bonding and delegation change the validator set of a live network: four validator processes
// (active set limited to four), a fifth node home made with `testnet add-node`, its operator
// funded by a transfer and registered with `tx stake create-validator` using the node's consensus
// key, a delegation with `tx stake delegate`. At the next epoch boundary every node switches to
// the same new set (the weakest genesis validator drops out), and the fifth process, whose power
// the chain now needs to finalize, votes on the blocks. `openledger light`, trusting only the
// genesis file, follows the chain across that change and proves a balance the node agrees with.
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { devAccount } from '../../genesis/devAccounts.ts'
import { ONE_OPEN } from '../../genesis/tokenomics.ts'
import { TESTNET_VALIDATOR_SELF_BOND } from '../../genesis/testnetSpec.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import { found, runCli, waitFor } from './harness.ts'
import { assertSameChain, consensusValidators, createTestnet, doubleSigns, headHeight, nodeKeys, validatorsAt, waitForHeight, type TestnetNode } from './testnet.ts'

const PASSPHRASE = { OPENLEDGER_PASSPHRASE: 'staking e2e' }
/** the other three members of the new set then hold less than two thirds of its power: the chain cannot finalize without the new node */
const NEW_SELF_BOND = 160_000n
const DELEGATION = 5_000n

t.test('a validator created and a delegation made over the CLI change the set at the next epoch; the new node votes', async (t) => {
  const net = await createTestnet({ validators: 4, blockTimeMs: 500, epochLength: 10, maxValidators: 4 })
  t.teardown(net.remove)
  const genesisNodes = net.nodes.slice() as TestnetNode[]
  await Promise.all(genesisNodes.map((node) => net.start(node)))
  await waitForHeight(genesisNodes, 2)
  const [node0, node1] = genesisNodes as [TestnetNode, TestnetNode]
  const cli = (args: string[], node: TestnetNode, env: Record<string, string> = {}) => runCli([...args, '--rpc', node.rpcUrl], env)

  // a new node home, its operator key imported into that home's keystore and funded by bob; at
  // the same time charlie delegates to node1's validator
  const node4 = await net.addNode('node4')
  const newKeys = await nodeKeys(node4)
  // the fifth process starts at once as a follower (its key is in no set yet) and syncs meanwhile
  await net.start(node4)
  const keys = await Promise.all(genesisNodes.map(nodeKeys))
  const delegatedTo = keys[1]?.operator as string
  const [imported, funded, delegated] = await Promise.all([
    runCli(['keys', 'import', '--name', 'operator', '--private-key', newKeys.operatorPrivateKey, '--home', node4.home], PASSPHRASE),
    cli(['tx', 'transfer', '--from', 'bob', '--to', newKeys.operator, '--amount', String(NEW_SELF_BOND + 1_000n)], node0),
    cli(['tx', 'stake', 'delegate', '--from', 'charlie', '--validator', delegatedTo, '--amount', String(DELEGATION)], node1),
  ])
  t.equal(imported.code, 0, imported.stderr)
  t.equal(funded.code, 0, funded.stderr + funded.stdout)
  t.equal(delegated.code, 0, delegated.stderr + delegated.stdout)
  const delegation = found(await node0.rpc.call('openledger_getDelegation', [toHex(devAccount('charlie').address), delegatedTo]), 'the delegation')
  t.equal(delegation.amount, (DELEGATION * ONE_OPEN).toString(), 'the delegation, over RPC')

  // the new operator registers the node's consensus key with enough self-bond to enter the top four
  const created = await cli(['tx', 'stake', 'create-validator', '--from', 'operator', '--home', node4.home, '--consensus-key', join(node4.home, 'validator_key.json'), '--self-bond', String(NEW_SELF_BOND), '--commission', '5'], node1, PASSPHRASE)
  t.equal(created.code, 0, created.stderr + created.stdout)

  // expected at the boundary: node4, node1 (with the delegation) and the two genesis validators of
  // 100,000 with the lowest consensus keys; the one with the highest key drops out
  const plain = keys.filter((k) => k.operator !== delegatedTo).sort((a, b) => (a.consensusKey < b.consensusKey ? -1 : 1))
  const dropped = plain.at(-1) as (typeof plain)[number]
  const expected = [newKeys.consensusKey, ...keys.filter((k) => k !== dropped).map((k) => k.consensusKey)].sort()

  const all = net.nodes
  const switchedAt = await waitFor(async () => {
    const view = await node0.rpc.call('openledger_getValidators')
    return view.active?.validators.some((m) => m.operator === newKeys.operator) === true ? view.active.effectiveHeight : undefined
  }, 'the new validator in the set in force', 120_000, 250)
  t.pass(`the new set took effect at height ${switchedAt}`)
  const info = await node0.rpc.call<{ epoch: { startHeight: number }; params: { epochLength: number } }>('openledger_getStakingInfo')
  t.equal((switchedAt - 2) % info.params.epochLength, 0, 'two heights after an epoch boundary')

  // every node, at the same height past the change, reports the same set
  const height = switchedAt + 3
  await waitForHeight(all, height, 120_000)
  const views = await validatorsAt(all, height)
  for (const [i, view] of views.entries()) {
    t.same(view.active?.validators.map((m) => m.consensusKey).sort(), expected, `${all[i]?.name}: the expected set at height ${height}`)
    const byOperator = new Map(view.validators.map((v) => [v.operator, v]))
    t.equal(byOperator.get(newKeys.operator)?.status, 'bonded', `${all[i]?.name}: the new validator is bonded`)
    t.equal(byOperator.get(newKeys.operator)?.power, NEW_SELF_BOND.toString(), `${all[i]?.name}: with its self-bond as power`)
    t.equal(byOperator.get(delegatedTo)?.power, (TESTNET_VALIDATOR_SELF_BOND / ONE_OPEN + DELEGATION).toString(), `${all[i]?.name}: the delegation adds to node1's power`)
    t.equal(byOperator.get(dropped.operator)?.status, 'unbonded', `${all[i]?.name}: the weakest genesis validator left the set`)
  }
  t.same(views.map((v) => JSON.stringify(v.active)), views.map(() => JSON.stringify(views[0]?.active)), 'identical on all five nodes')

  // consensus runs with the new set, and the chain (which needs node4's power) keeps finalizing
  await waitFor(async () => {
    const states = await Promise.all(all.map(consensusValidators))
    return states.every((s) => JSON.stringify(s.keys) === JSON.stringify(expected)) ? true : undefined
  }, 'every node voting with the new set', 60_000, 250)
  t.pass('openledger_consensusState lists the new set on all five nodes')
  await waitForHeight(all, height + 5, 120_000)
  const votes = (await readFile(node0.voteLog, 'utf8')).split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as { validator: string; height: number; type: string })
  const fromNew = votes.filter((v) => v.validator === newKeys.consensusKey && v.type === 'precommit' && v.height >= switchedAt)
  t.ok(fromNew.length >= 5, `node0 saw ${fromNew.length} precommits of the new validator from height ${switchedAt} on`)

  // the light client, from the genesis file alone, verifies a header the new set signed and proves
  // bob's balance in its state
  const bob = toHex(devAccount('bob').address)
  const light = await runCli(['light', '--genesis', join(net.dir, 'genesis.json'), '--rpc', node0.rpcUrl, '--balance', bob, '--json'])
  t.equal(light.code, 0, light.stderr)
  const lines = light.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>)
  const verified = lines.find((line) => line['verified'] !== undefined) as { height: number; hash: string; verified: number[] } | undefined
  const proven = lines.find((line) => line['balance'] !== undefined) as { balance: string; height: number } | undefined
  t.ok(verified !== undefined && verified.height > switchedAt, `the light client verified block ${verified?.height}, past the set change at ${switchedAt}`)
  t.equal(verified?.hash, await node0.rpc.call<string>('chain_getBlockHash', [verified?.height]), 'the block the node finalized')
  t.ok(proven !== undefined && proven.height === verified?.height, 'the balance proven at the verified block')
  t.equal(BigInt(proven?.balance ?? -1), BigInt(await node0.rpc.call<string>('eth_getBalance', [bob, `0x${(proven?.height ?? 0).toString(16)}`])), 'the proven balance is the node\'s at that block')

  const upTo = Math.min(...(await Promise.all(all.map(headHeight))))
  t.same((await assertSameChain(all, upTo)).problems, [], `one chain at heights 1..${upTo}`)
  await net.stopAll()
  const signs = await doubleSigns(all)
  t.same(signs.conflicts, [], `nobody double-signed (${signs.votes} votes audited)`)
})
