import t from 'tap'
import { decode, encode } from '../../../../runtime/codec/canonical.ts'
import { readArray, readBytes, readUint } from '../../../../runtime/codec/read.ts'
import { toHex } from '../../../../runtime/crypto/hash.ts'
import { Burned } from '../../../../runtime/modules/balances/events.ts'
import { totalIssuance } from '../../../../runtime/modules/balances/state.ts'
import { ModuleIndex } from '../../../../runtime/modules/indices.ts'
import { StakingError } from '../../../../runtime/modules/staking/errors.ts'
import { Jailed, Slashed, UnbondingReleased, ValidatorSetChanged } from '../../../../runtime/modules/staking/events.ts'
import { delegation, infractionId, STAKING_ACCOUNT, validatorInfo, validatorSetAt, type EvidenceVerifier } from '../../../../runtime/modules/staking/index.ts'
import { missedCounts, processedEvidence, unbondings } from '../../../../runtime/modules/staking/state.ts'
import { countedSetAt } from '../../../../runtime/modules/staking/validatorSet.ts'
import type { BlockInfo } from '../../../../runtime/module.ts'
import { eventsOf } from '../../chainFixtures.ts'
import { addressOf, eventsNamed, fakeEvidence, invariantProblems, keyOf, OPEN, stakingSpec, StakingHarness, TEST_PARAMS } from './harness.ts'

const bob = addressOf('bob')
const charlie = addressOf('charlie')
const eve = addressOf('eve')
const ferdie = addressOf('ferdie')
const P = TEST_PARAMS

t.test('the default runtime accepts no evidence; malformed evidence is invalid', async (t) => {
  const strict = await StakingHarness.create(stakingSpec(), () => undefined)
  t.same((await strict.call('eve', 'submitEvidence', { evidence: fakeEvidence(keyOf('bob'), 0) })).error, StakingError.InvalidEvidence)
  const h = await StakingHarness.create()
  t.same((await h.call('eve', 'submitEvidence', { evidence: Uint8Array.of(0xc1) })).error, StakingError.InvalidEvidence, 'a verifier throwing CodecError')
  t.same((await h.call('eve', 'submitEvidence', { evidence: fakeEvidence(keyOf('nobody'), 0) })).error, StakingError.UnknownValidator)
  t.same((await h.call('eve', 'submitEvidence', { evidence: fakeEvidence(keyOf('bob'), h.height + 2) })).error, StakingError.InvalidEvidence, 'from the future')
  const buggy = await StakingHarness.create(stakingSpec(), () => { throw new TypeError('verifier bug') })
  await t.rejects(buggy.call('eve', 'submitEvidence', { evidence: Uint8Array.of(1) }), TypeError, 'a bug is not hidden')
})

t.test('double sign: bonded stake and unbonding entries that could still count at the infraction are slashed pro rata and burned; the validator is jailed', async (t) => {
  const h = await StakingHarness.create()
  await h.call('eve', 'bond', { validator: bob, amount: 10_000n * OPEN }) // height 1
  await h.call('ferdie', 'bond', { validator: bob, amount: 1_000n * OPEN }) // height 2
  await h.call('ferdie', 'unbond', { validator: bob, amount: 1_000n * OPEN }) // height 3: could count until 4, before the infraction
  await h.advanceTo(4)
  await h.call('eve', 'unbond', { validator: bob, amount: 2_000n * OPEN }) // height 5: at it
  await h.advanceTo(7)
  const issuance = await totalIssuance.get(h.state)
  const staking = await h.balance(STAKING_ACCOUNT)
  await h.begin()
  const { error, events } = await h.call('charlie', 'submitEvidence', { evidence: fakeEvidence(keyOf('bob'), 5) })
  const blockEvents = await h.end()
  t.equal(error, undefined)
  // bob had 8,000 own + 8,000 of eve's bonded: 5 % is 800; eve's 2,000 unbonding since height 5 lose 100
  t.same(eventsNamed(Slashed, events), [{ validator: bob, reason: 'doubleSign', infractionHeight: 5, bonded: 800n * OPEN, unbonding: 100n * OPEN }])
  t.same(eventsNamed(Jailed, events), [{ validator: bob, reason: 'doubleSign', until: 8 + P.doubleSignJailBlocks }])
  t.same(eventsOf(ModuleIndex.balances, Burned, events), [{ account: STAKING_ACCOUNT, amount: 900n * OPEN }])
  t.equal(await totalIssuance.get(h.state), issuance - 900n * OPEN, 'issuance falls by exactly the slash')
  t.equal(await h.balance(STAKING_ACCOUNT), staking - 900n * OPEN)
  const info = await validatorInfo(h.state, bob)
  t.equal(info?.tokens, 15_200n * OPEN)
  t.equal(info?.jailed, true)
  t.equal(info?.selfBond, 7_600n * OPEN, 'the operator loses 5 %')
  t.equal((await delegation(h.state, eve, bob))?.amount, 7_600n * OPEN, 'so does the delegator')
  t.same((await unbondings.get(h.state, { delegator: eve, validator: bob }))?.map((e) => [e.initialAmount, e.amount]), [[2_000n * OPEN, 1_900n * OPEN]])
  t.same((await unbondings.get(h.state, { delegator: ferdie, validator: bob }))?.map((e) => e.amount), [1_000n * OPEN], 'unbonded before the infraction: untouched')
  t.equal(eventsNamed(ValidatorSetChanged, blockEvents)[0]?.effectiveHeight, 10, 'leaves the set two heights later')
  t.same(await invariantProblems(h.committed), [])

  // the unbonding entries are released at their completion heights with what is left
  const released = await h.advanceTo(5 + P.unbondingPeriod)
  t.same(eventsNamed(UnbondingReleased, released).map((e) => [toHex(e.delegator), e.amount]), [[toHex(ferdie), 1_000n * OPEN], [toHex(eve), 1_900n * OPEN]])
  t.same(await invariantProblems(h.committed), [])
})

t.test('evidence is punished once, and only while young enough', async (t) => {
  // a verifier that, like a real one, accepts several encodings of one infraction
  const lenient: EvidenceVerifier = (bytes) => {
    const items = readArray(decode(bytes), 'evidence')
    return { consensusKey: readBytes(items[0] ?? null, 'key', 32), height: readUint(items[1] ?? null, 'height') }
  }
  const h = await StakingHarness.create(stakingSpec(), lenient)
  await h.advanceTo(P.evidenceMaxAgeBlocks + 3)
  await h.begin()
  const now = h.block.height
  const infraction = now - P.evidenceMaxAgeBlocks
  t.same((await h.call('eve', 'submitEvidence', { evidence: fakeEvidence(keyOf('bob'), infraction - 1) })).error, StakingError.EvidenceTooOld)
  t.equal((await h.call('eve', 'submitEvidence', { evidence: fakeEvidence(keyOf('bob'), infraction) })).error, undefined, 'exactly evidenceMaxAgeBlocks old')
  t.same((await h.call('eve', 'submitEvidence', { evidence: fakeEvidence(keyOf('bob'), infraction) })).error, StakingError.DuplicateEvidence, 'the same bytes again')
  t.same((await h.call('eve', 'submitEvidence', { evidence: encode([keyOf('bob'), infraction, 'other votes']) })).error, StakingError.DuplicateEvidence, 'other bytes, same infraction')
  await h.end()
  t.ok(await processedEvidence.get(h.state, infractionId({ consensusKey: keyOf('bob'), height: infraction })))
  t.same((await h.call('eve', 'submitEvidence', { evidence: fakeEvidence(keyOf('bob'), infraction + 5) })).error, StakingError.AlreadySlashed, 'another height of the episode already punished')
  // the record is dropped once the evidence is too old to be submitted anyway
  await h.advanceTo(infraction + P.evidenceMaxAgeBlocks + 1)
  t.equal(await processedEvidence.get(h.state, infractionId({ consensusKey: keyOf('bob'), height: infraction })), undefined)
  t.same((await h.call('eve', 'submitEvidence', { evidence: fakeEvidence(keyOf('bob'), infraction) })).error, StakingError.EvidenceTooOld)
  t.same(await invariantProblems(h.committed), [])
})

t.test('one slash per episode: equivocations up to the height the punished validator leaves the set are not slashed again', async (t) => {
  const h = await StakingHarness.create()
  await h.advanceTo(5)
  // a validator that equivocates keeps doing so, and each height's evidence is reported
  t.equal((await h.call('eve', 'submitEvidence', { evidence: fakeEvidence(keyOf('bob'), 4) })).error, undefined) // block 6
  const slashedOnce = 7_600n * OPEN
  t.equal((await validatorInfo(h.state, bob))?.tokens, slashedOnce)
  await h.begin() // block 7: bob is still in the set scheduled for it
  t.same((await h.call('eve', 'submitEvidence', { evidence: fakeEvidence(keyOf('bob'), 3) })).error, StakingError.AlreadySlashed, 'earlier in the episode')
  t.same((await h.call('eve', 'submitEvidence', { evidence: fakeEvidence(keyOf('bob'), 5) })).error, StakingError.AlreadySlashed, 'the next height')
  t.same((await h.call('eve', 'submitEvidence', { evidence: fakeEvidence(keyOf('bob'), 7) })).error, StakingError.AlreadySlashed, 'the last height it was in a set')
  await h.end()
  t.equal((await validatorInfo(h.state, bob))?.tokens, slashedOnce, 'slashed once')
  t.same(await validatorSetAt(h.state, 8).then((set) => set.some((m) => toHex(m.operator) === toHex(bob))), false, 'out of the set from height 8')

  // unjailed after its term, it equivocates again: a new episode, slashed again
  await h.advanceTo(6 + P.doubleSignJailBlocks)
  t.equal((await h.call('bob', 'unjail', {})).error, undefined)
  await h.advanceTo(h.height + P.epochLength) // back in the set at the next boundary
  const again = h.height
  t.equal((await h.call('eve', 'submitEvidence', { evidence: fakeEvidence(keyOf('bob'), again) })).error, undefined, 'a new episode')
  t.equal((await validatorInfo(h.state, bob))?.tokens, slashedOnce - (slashedOnce * 5n) / 100n)
  t.same(await invariantProblems(h.committed), [])
})

t.test('evidence from before the validator existed is invalid', async (t) => {
  const h = await StakingHarness.create()
  await h.advanceTo(3)
  await h.call('dave', 'createValidator', { consensusKey: keyOf('dave'), commissionBps: 0, selfBond: 2_000n * OPEN }) // height 4
  t.same((await h.call('eve', 'submitEvidence', { evidence: fakeEvidence(keyOf('dave'), 3) })).error, StakingError.InvalidEvidence)
  t.equal((await h.call('eve', 'submitEvidence', { evidence: fakeEvidence(keyOf('dave'), 4) })).error, undefined)
})

/** every active validator signs except those named */
function commitWithout(h: StakingHarness, ...absent: string[]): (height: number) => Partial<BlockInfo> {
  const missing = new Set(absent.map((name) => toHex(keyOf(name))))
  return () => ({ lastCommitSigners: ['alice', 'bob', 'charlie', 'dave'].map(keyOf).filter((key) => !missing.has(toHex(key))) })
}

t.test('downtime: missing more than downtimeMaxMissed of the window jails and slashes', async (t) => {
  const h = await StakingHarness.create()
  // block h records the commit of block h - 1, from height 2 on; charlie misses from block 1
  const events = await h.advanceTo(P.downtimeMaxMissed + 1, commitWithout(h, 'charlie'))
  t.same(eventsNamed(Jailed, events), [], `${P.downtimeMaxMissed} missed: not yet`)
  t.equal(await missedCounts.get(h.state, charlie), P.downtimeMaxMissed)
  const jailing = await h.step(commitWithout(h, 'charlie')(0))
  const height = h.height
  t.same(eventsNamed(Jailed, jailing), [{ validator: charlie, reason: 'downtime', until: height + P.downtimeJailBlocks }])
  t.same(eventsNamed(Slashed, jailing), [{ validator: charlie, reason: 'downtime', infractionHeight: height - 1, bonded: 60n * OPEN, unbonding: 0n }])
  t.equal(eventsNamed(ValidatorSetChanged, jailing)[0]?.effectiveHeight, height + 2)
  t.equal(await missedCounts.get(h.state, charlie), undefined, 'the record starts over')
  t.equal((await validatorInfo(h.state, charlie))?.tokens, 5_940n * OPEN)
  // still in the set for two heights, but jailed validators are not tracked
  const after = await h.advanceTo(height + 2, commitWithout(h, 'charlie'))
  t.same(eventsNamed(Jailed, after), [])
  t.same((await validatorSetAt(h.state, height + 2)).map((m) => toHex(m.operator)), ['alice', 'bob'].map((n) => toHex(addressOf(n as 'alice'))))
  t.same(await invariantProblems(h.committed), [])

  // unjail after the term; back in the set at the next epoch boundary
  await h.advanceTo(height + P.downtimeJailBlocks - 1)
  t.same((await h.call('charlie', 'unjail', {})).error, undefined)
  const boundary = Math.ceil((h.height + 1) / P.epochLength) * P.epochLength
  await h.advanceTo(boundary, commitWithout(h))
  t.same((await validatorSetAt(h.state, boundary + 2)).map((m) => toHex(m.operator)), ['alice', 'bob', 'charlie'].map((n) => toHex(addressOf(n as 'alice'))))
})

t.test('downtime is a sliding window: missing exactly the maximum in every window never jails', async (t) => {
  const h = await StakingHarness.create()
  // miss the commits of the first five heights of every ten
  const pattern = (height: number): Partial<BlockInfo> => ((height - 1) % P.downtimeWindow < P.downtimeMaxMissed ? commitWithout(h, 'bob')(height) : commitWithout(h)(height))
  const events = await h.advanceTo(4 * P.downtimeWindow + P.downtimeMaxMissed, pattern)
  t.same(eventsNamed(Jailed, events), [])
  t.equal(await missedCounts.get(h.state, bob), P.downtimeMaxMissed)
  // one more miss where the window holds a signature crosses the line
  const more = await h.step(commitWithout(h, 'bob')(0))
  t.equal(eventsNamed(Jailed, more).length, 1)
})

t.test('blocks without commit information (the dev chain) record no downtime', async (t) => {
  const h = await StakingHarness.create()
  const events = await h.advanceTo(3 * P.downtimeWindow)
  t.same(eventsNamed(Jailed, events), [])
  for (const name of ['alice', 'bob', 'charlie'] as const) t.equal(await missedCounts.get(h.state, addressOf(name)), undefined)
})

t.test('evidence carried by the block is punished at its start; bad, stale or repeated evidence is skipped', async (t) => {
  const h = await StakingHarness.create()
  await h.advanceTo(P.evidenceMaxAgeBlocks + 2)
  const stale = fakeEvidence(keyOf('alice'), 0)
  const good = fakeEvidence(keyOf('bob'), h.height)
  const events = await h.step({ evidence: [Uint8Array.of(0xc1), stale, good, good, fakeEvidence(keyOf('nobody'), 1)] })
  t.same(eventsNamed(Slashed, events).map((e) => [toHex(e.validator), e.infractionHeight]), [[toHex(bob), h.height - 1]])
  t.equal(eventsNamed(Jailed, events).length, 1)
  t.equal((await validatorInfo(h.state, bob))?.jailed, true)
  t.equal((await validatorInfo(h.state, addressOf('alice')))?.jailed, false)
  t.same(eventsNamed(Slashed, await h.step({ evidence: [good] })), [], 'not twice')
  t.same(await invariantProblems(h.committed), [])
})

t.test('issue 27 (2): stake unbonded while it still counts in a set is slashed for a fault in that window, and stops counting two heights on', async (t) => {
  const plain = await StakingHarness.create()
  const early = await StakingHarness.create()
  await plain.advanceTo(5)
  await early.advanceTo(4)
  // the reproduction: bob takes out all of its stake at height 5...
  await early.begin()
  t.equal((await early.call('bob', 'unbond', { validator: bob, amount: 8_000n * OPEN })).error, undefined)
  const unbondBlock = await early.end()
  // ...is dropped from the set computed at once, in force two heights later (no epoch wait)
  t.same(eventsNamed(ValidatorSetChanged, unbondBlock).map((e) => [e.effectiveHeight, e.validators.map((v) => toHex(v.operator))]), [[7, [toHex(addressOf('alice')), toHex(charlie)]]])
  t.ok((await validatorSetAt(early.state, 6)).some((m) => toHex(m.operator) === toHex(bob)), 'still in consensus\'s set at height 6')
  // the runtime's own decisions (availability attestations, worker draws) see its stake as it is now
  t.same((await countedSetAt(early.state, 6)).map((m) => [toHex(m.operator), m.power]), [[toHex(addressOf('alice')), 10_000n], [toHex(bob), 0n], [toHex(charlie), 6_000n]])
  // ...and double-signs at height 6 while its stale power still counts
  const burned = async (h: StakingHarness): Promise<bigint> => {
    await h.advanceTo(8)
    const { error, events } = await h.call('charlie', 'submitEvidence', { evidence: fakeEvidence(keyOf('bob'), 6) })
    t.equal(error, undefined)
    const [slashed] = eventsNamed(Slashed, events)
    t.same(await invariantProblems(h.committed), [])
    return (slashed?.bonded ?? 0n) + (slashed?.unbonding ?? 0n)
  }
  t.equal(await burned(plain), 400n * OPEN, 'without the early unbond: 5 % of 8,000')
  t.equal(await burned(early), 400n * OPEN, 'with it: the same 400 OPEN, from the unbonding entry')
  // an entry created after the stake stopped counting is not reached by a later fault
  const late = await StakingHarness.create()
  await late.call('eve', 'bond', { validator: bob, amount: 1_000n * OPEN })
  await late.advanceTo(4)
  await late.call('eve', 'unbond', { validator: bob, amount: 1_000n * OPEN }) // height 5: counted until 6
  await late.advanceTo(8)
  const { events } = await late.call('charlie', 'submitEvidence', { evidence: fakeEvidence(keyOf('bob'), 7) })
  t.equal(eventsNamed(Slashed, events)[0]?.unbonding, 0n, 'a fault at 7 does not reach stake that stopped counting at 6')
})
