// Bonding and delegation change the validator set of a live network: four validator processes
// (active set limited to four), a fifth node home made with `testnet add-node`, its operator
// funded by a transfer and registered with `tx stake create-validator` using the node's consensus
// key, a delegation with `tx stake delegate`. At the next epoch boundary every node switches to
// the same new set (the weakest genesis validator drops out), and the fifth process, whose power
// the chain now needs to finalize, votes on the blocks. The new validator's beacon chain, registered
// by create-validator from its key file, gives its blocks their reveals; it rotates to generation 1
// with `tx stake set-beacon`, in force a few blocks later. `openledger light`, trusting only the
// genesis file, follows the chain across that change and proves a balance the node agrees with.
// Meanwhile governance runs on the same network: dave proposes a lower burn share, three of the four
// genesis validators vote yes with their operator keys, and at the enactment height every node
// enacts it (the event in the same block, the parameter, and the next transfer's fee settlement).
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { devAccount } from '../../genesis/devAccounts.ts'
import { ONE_OPEN } from '../../genesis/tokenomics.ts'
import { TESTNET_VALIDATOR_SELF_BOND } from '../../genesis/testnetSpec.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import { BEACON_CHAIN_LENGTH } from '../../runtime/modules/staking/index.ts'
import { found, runCli, waitFor } from './harness.ts'
import { assertSameChain, consensusValidators, createTestnet, doubleSigns, headHeight, nodeKeys, validatorsAt, waitForHeight, type TestnetNode } from './testnet.ts'

const PASSPHRASE = { OPENLEDGER_PASSPHRASE: 'staking e2e' }
/** the other three members of the new set then hold less than two thirds of its power: the chain cannot finalize without the new node */
const NEW_SELF_BOND = 160_000n
const DELEGATION = 5_000n
const VOTING_PERIOD = 30
const TIMELOCK = 2

/** the burn share (bps) of block `n`'s fee settlement on `node`, undefined without one */
async function burnShareAt(node: TestnetNode, n: number): Promise<number | undefined> {
  const block = await node.rpc.call('openledger_getBlockEvents', [n])
  const settled = block?.events.find((e) => e.module === 'fees' && e.event === 'FeesSettled')
  const data = settled?.data
  if (data === undefined || data === null) return undefined
  const burned = BigInt(data['burned'] as string)
  return Number((burned * 10_000n) / (burned + BigInt(data['treasury'] as string)))
}

t.test('a validator created and a delegation made over the CLI change the set at the next epoch; the new node votes', async (t) => {
  // the light client below starts from the genesis: 2,400 blocks of unbonding at 500 ms trust it for 800 s (600 gave 200 s, which a loaded machine can spend before that step)
  const net = await createTestnet({ validators: 4, blockTimeMs: 500, epochLength: 10, maxValidators: 4, unbondingPeriod: 2_400, votingPeriod: VOTING_PERIOD, timelockBlocks: TIMELOCK })
  t.teardown(net.remove)
  const genesisNodes = net.nodes.slice() as TestnetNode[]
  await Promise.all(genesisNodes.map((node) => net.start(node)))
  await waitForHeight(genesisNodes, 2)
  const [node0, node1, node2, node3] = genesisNodes as [TestnetNode, TestnetNode, TestnetNode, TestnetNode]
  const cli = (args: string[], node: TestnetNode, env: Record<string, string> = {}) => runCli([...args, '--rpc', node.rpcUrl], env)

  // a new node home, its operator key imported into that home's keystore and funded by bob; at
  // the same time charlie delegates to node1's validator
  const node4 = await net.addNode('node4')
  const newKeys = await nodeKeys(node4)
  // the fifth process starts at once as a follower (its key is in no set yet) and syncs meanwhile
  await net.start(node4)
  const keys = await Promise.all(genesisNodes.map(nodeKeys))
  const delegatedTo = keys[1]?.operator as string
  // and dave proposes; the voters' operator keys go into their nodes' keystores
  const voters = genesisNodes.slice(0, 3)
  const [imported, funded, delegated, proposed, ...votersImported] = await Promise.all([
    runCli(['keys', 'import', '--name', 'operator', '--private-key', newKeys.operatorPrivateKey, '--home', node4.home], PASSPHRASE),
    cli(['tx', 'transfer', '--from', 'bob', '--to', newKeys.operator, '--amount', String(NEW_SELF_BOND + 1_000n)], node0),
    cli(['tx', 'stake', 'delegate', '--from', 'charlie', '--validator', delegatedTo, '--amount', String(DELEGATION)], node1),
    cli(['gov', 'propose', '--from', 'dave', '--title', 'burn less', '--deposit', '10000', '--param', 'fees.burnShareBps=1000'], node2),
    ...voters.map((node, i) => runCli(['keys', 'import', '--name', 'operator', '--private-key', keys[i]?.operatorPrivateKey as string, '--home', node.home], PASSPHRASE)),
  ])
  t.equal(imported.code, 0, imported.stderr)
  t.equal(funded.code, 0, funded.stderr + funded.stdout)
  t.equal(delegated.code, 0, delegated.stderr + delegated.stdout)
  t.equal(proposed.code, 0, proposed.stderr + proposed.stdout)
  t.same(votersImported.map((r) => r.code), [0, 0, 0], votersImported.map((r) => r.stderr).join(''))
  const proposal = found((await node0.rpc.call('openledger_listProposals', [null, 10])).find((p) => p.content.title === 'burn less'), 'the proposal')
  // each of three validators votes through its own node, while the staking change goes on
  const voting = Promise.all(voters.map((node) => cli(['gov', 'vote', String(proposal.id), 'yes', '--from', 'operator', '--home', node.home], node, PASSPHRASE)))
  const delegation = found(await node0.rpc.call('openledger_getDelegation', [toHex(devAccount('charlie').address), delegatedTo]), 'the delegation')
  t.equal(delegation.amount, (DELEGATION * ONE_OPEN).toString(), 'the delegation, over RPC')

  // the new operator registers the node's consensus key with enough self-bond to enter the top four
  const created = await cli(['tx', 'stake', 'create-validator', '--from', 'operator', '--home', node4.home, '--consensus-key', join(node4.home, 'validator_key.json'), '--self-bond', String(NEW_SELF_BOND), '--commission', '5'], node1, PASSPHRASE)
  t.equal(created.code, 0, created.stderr + created.stdout)
  const voted = await voting
  t.same(voted.map((r) => r.code), [0, 0, 0], voted.map((r) => r.stderr + r.stdout).join(''))
  const ballots = await node0.rpc.call('openledger_getVotes', [proposal.id])
  t.same(ballots.votes.map((v) => [v.voter, v.option]).sort(), keys.slice(0, 3).map((k) => [k.operator, 'yes']).sort(), 'three validators voted yes')

  // given the key file, create-validator registered the validator's beacon chain too (generation 0)
  const registered = found(await node0.rpc.call('openledger_getValidator', [newKeys.operator]), 'the new validator')
  const coming = registered.beaconRotation ?? registered.beacon
  t.ok(coming !== null && coming.generation === 0, 'its beacon chain registered at generation 0')
  // (a second transaction after createValidator: if the epoch ends first, the validator's first
  // blocks come before its chain is in force and rightly reveal nothing)
  const chainFrom = registered.beaconRotation?.effectiveHeight ?? 0

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
  const info = await node0.rpc.call('openledger_getStakingInfo')
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
  t.equal(verified?.hash, await node0.rpc.call('chain_getBlockHash', [verified?.height]), 'the block the node finalized')
  t.ok(proven !== undefined && proven.height === verified?.height, 'the balance proven at the verified block')
  t.equal(BigInt(proven?.balance ?? -1), BigInt(await node0.rpc.call('eth_getBalance', [bob, `0x${(proven?.height ?? 0).toString(16)}`])), 'the proven balance is the node\'s at that block')

  // the proposal, decided at the end of its vote, is enacted by every node at the same height
  const decided = await waitFor(async () => {
    const view = found(await node0.rpc.call('openledger_getProposal', [proposal.id]), `proposal ${proposal.id}`)
    return view.status === 'enacted' || view.status === 'rejected' || view.status === 'failedQuorum' || view.status === 'vetoed' || view.status === 'enactmentFailed' ? view : undefined
  }, 'the proposal decided', 120_000, 250)
  t.equal(decided.status, 'enacted', 'three of four validators passed it')
  const enactedAt = decided.enactHeight ?? 0
  t.equal(enactedAt, (decided.votingEnd ?? 0) + TIMELOCK, 'enacted after the timelock')
  await waitForHeight(all, enactedAt, 60_000)
  for (const node of all) {
    const block = found(await node.rpc.call('openledger_getBlockEvents', [enactedAt]), `block ${enactedAt}`)
    t.ok(block.events.some((e) => e.event === 'ProposalEnacted' && e.data?.['proposal'] === proposal.id), `${node.name}: enacted in block ${enactedAt}`)
    const params = await node.rpc.call('openledger_getParams', ['fees'])
    t.equal(String(params.modules[0]?.params.find((p) => p.name === 'burnShareBps')?.value), '1000', `${node.name}: the new burn share in force`)
  }
  // behaviour: the next transfer's fees are settled with the new share on every node
  const after = await cli(['tx', 'transfer', '--from', 'bob', '--to', newKeys.operator, '--amount', '1', '--json'], node3)
  t.equal(after.code, 0, after.stderr)
  const settledIn = (JSON.parse(after.stdout) as { blockNumber: number }).blockNumber
  t.ok(settledIn > enactedAt, `the transfer in block ${settledIn}, after the enactment`)
  await waitForHeight(all, settledIn, 60_000)
  t.same(await Promise.all(all.map((node) => burnShareAt(node, settledIn))), all.map(() => 1_000), 'every node settled it burning 10 %')

  // its blocks carry reveals down the registered chain (a wrong one would be refused, and the
  // chain, which needs its power, would stop); then it rotates to the next generation by the CLI
  const revealsOfNew = async (from: number, to: number): Promise<string[]> => {
    const out: string[] = []
    for (let height = from; height <= to; height++) {
      const header = await node0.rpc.call('chain_getHeader', [await node0.rpc.call('chain_getBlockHash', [height])])
      if (header?.proposer === newKeys.consensusKey) out.push(`${height}:${header.randomnessReveal}`)
    }
    return out
  }
  const revealed = await waitFor(async () => {
    const reveals = await revealsOfNew(Math.max(switchedAt, chainFrom), await headHeight(node0))
    return reveals.length > 0 ? reveals : undefined
  }, 'a block proposed by the new validator', 60_000, 500)
  const zero = revealed.filter((reveal) => /:0x0+$/.test(reveal)).map((reveal) => reveal.split(':')[0])
  if (zero.length > 0) t.comment(`reveals ${revealed.join(' ')}\n${all.map((n) => (n.running?.log() ?? '').split('\n').filter((l) => /reveal|beacon/i.test(l)).slice(0, 20).map((l) => `${n.name}: ${l}`).join('\n')).join('\n')}`)
  t.same(zero, [], `its ${revealed.length} block(s) carry beacon reveals (from height ${Math.max(switchedAt, chainFrom)}: in the set from ${switchedAt}, its chain in force from ${chainFrom})`)
  const inForce = found(await node0.rpc.call('openledger_getValidator', [newKeys.operator]), 'the new validator').beacon
  t.ok(inForce !== null && inForce.generation === 0 && inForce.remaining < BEACON_CHAIN_LENGTH, `its chain moved down (${inForce?.remaining} values left)`)
  const rotated = await cli(['tx', 'stake', 'set-beacon', '--from', 'operator', '--home', node4.home], node1, PASSPHRASE)
  t.equal(rotated.code, 0, rotated.stderr + rotated.stdout)
  const rotation = found(await node0.rpc.call('openledger_getValidator', [newKeys.operator]), 'the new validator').beaconRotation
  t.equal(rotation?.generation, 1, 'a rotation to generation 1 registered')
  const effective = rotation?.effectiveHeight ?? 0
  // a block of its own after that is imported only with the first value of the new chain
  const laterReveals = await waitFor(async () => {
    const reveals = await revealsOfNew(effective, await headHeight(node0))
    return reveals.length > 0 ? reveals : undefined
  }, 'a block proposed by the new validator after the rotation', 90_000, 500)
  const rotatedChain = found(await node0.rpc.call('openledger_getValidator', [newKeys.operator]), 'the new validator').beacon
  t.equal(rotatedChain?.generation, 1, `generation 1 in force from height ${effective}`)
  t.ok(rotatedChain !== null && rotatedChain !== undefined && rotatedChain.remaining <= BEACON_CHAIN_LENGTH - laterReveals.length, `its ${laterReveals.length} block(s) since revealed down the new chain (${rotatedChain?.remaining} values left)`)

  const upTo = Math.min(...(await Promise.all(all.map(headHeight))))
  t.same((await assertSameChain(all, upTo)).problems, [], `one chain at heights 1..${upTo}`)
  await net.stopAll()
  const signs = await doubleSigns(all)
  t.same(signs.conflicts, [], `nobody double-signed (${signs.votes} votes audited)`)
})
