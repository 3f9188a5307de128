// A validator that double-signs is caught on a live network: four validator processes, one run
// with the TEST-ONLY --test-equivocate flag (a second, conflicting prevote in every round). The
// honest validators see the conflicting votes, pool and gossip the evidence, the next proposer
// puts it in its block, the runtime slashes the equivocator by the genesis doubleSignSlashBps exactly once and jails it, the
// next set leaves it out, every node agrees over RPC, and the chain keeps finalizing on three.
import t from 'tap'
import { DEV_STAKING_PARAMS } from '../../genesis/devSpec.ts'
import { TESTNET_VALIDATOR_SELF_BOND } from '../../genesis/testnetSpec.ts'
import { waitFor } from './harness.ts'
import { assertSameChain, consensusValidators, createTestnet, doubleSigns, headHeight, nodeKeys, validatorsAt, waitForHeight, type TestnetNode } from './testnet.ts'

const SLASH_BPS = BigInt(DEV_STAKING_PARAMS.doubleSignSlashBps)

t.test('an equivocating validator is slashed once, jailed and dropped from the set; the others finalize on', async (t) => {
  const net = await createTestnet({ validators: 4, blockTimeMs: 500, epochLength: 20 })
  t.teardown(net.remove)
  const nodes = net.nodes as [TestnetNode, TestnetNode, TestnetNode, TestnetNode]
  const honest = nodes.slice(0, 3)
  const cheater = nodes[3]
  const cheat = await nodeKeys(cheater)
  await Promise.all([...honest.map((node) => net.start(node)), net.start(cheater, ['--test-equivocate'])])
  await waitForHeight(nodes, 2)

  // the slash and the jailing land on chain, seen the same way by every node
  const jailedAt = await waitFor(async () => {
    const views = await Promise.all(nodes.map((node) => node.rpc.call('openledger_getValidator', [cheat.operator]).catch(() => null)))
    return views.every((v) => v?.jailed === true) ? Math.min(...(await Promise.all(nodes.map(headHeight)))) : undefined
  }, 'the equivocator jailed on every node', 90_000, 250)
  t.ok(jailedAt <= 12, `evidence landed and jailed it within a few blocks (by height ${jailedAt})`)

  // two heights after the jailing block the set in force no longer has it, on every node
  const outAt = await waitFor(async () => {
    const height = Math.min(...(await Promise.all(honest.map(headHeight))))
    const views = await validatorsAt(honest, height)
    return views.every((v) => v.active?.validators.every((m) => m.operator !== cheat.operator) === true) ? height : undefined
  }, 'the equivocator out of the active set', 60_000, 250)
  const finalViews = await validatorsAt(honest, outAt)
  for (const [i, view] of finalViews.entries()) {
    const record = view.validators.find((v) => v.operator === cheat.operator)
    t.equal(record?.status, 'jailed', `${honest[i]?.name}: status jailed`)
    const slashed = (TESTNET_VALIDATOR_SELF_BOND * SLASH_BPS) / 10_000n
    t.equal(record?.slashed, slashed.toString(), `${honest[i]?.name}: slashed exactly ${SLASH_BPS} bps of its stake, once`)
    t.equal(record?.tokens, (TESTNET_VALIDATOR_SELF_BOND - slashed).toString(), `${honest[i]?.name}: its stake went down by the slash`)
    t.equal(record?.power, ((TESTNET_VALIDATOR_SELF_BOND - slashed) / 10n ** 18n).toString(), `${honest[i]?.name}: and so did its power`)
    t.equal(view.active?.validators.length, 3, `${honest[i]?.name}: three validators in the set in force at ${outAt}`)
  }
  t.same(finalViews.map((v) => JSON.stringify(v.active)), finalViews.map(() => JSON.stringify(finalViews[0]?.active)), 'the same set everywhere')

  // consensus itself now runs with the three honest validators
  const honestKeys = (await Promise.all(honest.map(nodeKeys))).map((k) => k.consensusKey).sort()
  await waitFor(async () => {
    const states = await Promise.all(honest.map(consensusValidators))
    return states.every((s) => s.height > outAt && JSON.stringify(s.keys) === JSON.stringify(honestKeys)) ? true : undefined
  }, 'consensus voting with the three honest validators', 30_000, 250)
  t.pass('openledger_consensusState on every honest node lists exactly the three honest validators')

  // and keeps finalizing without it
  const before = Math.max(...(await Promise.all(honest.map(headHeight))))
  await waitForHeight(honest, before + 5, 60_000)
  t.pass(`finalized ${before} -> ${before + 5} after the equivocator left the set`)
  const upTo = Math.min(...(await Promise.all(nodes.map(headHeight))))
  t.same((await assertSameChain(nodes, upTo)).problems, [], `one chain at heights 1..${upTo}`)

  await net.stopAll()
  const honestSigns = await doubleSigns(nodes, new Set([cheat.consensusKey]))
  t.same(honestSigns.conflicts, [], `the honest validators never double-signed (${honestSigns.votes} votes audited)`)
  const all = await doubleSigns(nodes)
  t.ok(all.conflicts.length > 0, `the equivocator did (${all.conflicts.length} conflicting votes)`)
})
