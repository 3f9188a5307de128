import t from 'tap'
import { toHex } from '../../../../runtime/crypto/hash.ts'
import { ValidatorSetChanged } from '../../../../runtime/modules/staking/events.ts'
import { StakingQueryError, validatorSetAt, type ValidatorSetMember } from '../../../../runtime/modules/staking/index.ts'
import { epoch, validatorSets } from '../../../../runtime/modules/staking/state.ts'
import type { StateReader } from '../../../../runtime/state/overlay.ts'
import { addressOf, eventsNamed, fakeEvidence, keyOf, OPEN, stakingSpec, StakingHarness, TEST_PARAMS } from './harness.ts'

const E = TEST_PARAMS.epochLength

async function operatorsAt(state: StateReader, height: number): Promise<string[]> {
  return (await validatorSetAt(state, height)).map((m) => toHex(m.operator))
}
const names = (...list: Array<Parameters<typeof addressOf>[0]>): string[] => list.map((n) => toHex(addressOf(n)))

t.test('genesis puts the active set in force for heights 0, 1 and 2, ordered by stake', async (t) => {
  const h = await StakingHarness.create()
  for (const height of [0, 1, 2]) {
    const set = await validatorSetAt(h.state, height)
    t.same(set.map((m) => toHex(m.operator)), names('alice', 'bob', 'charlie'), `height ${height}`)
    t.same(set.map((m) => m.power), [10_000n, 8_000n, 6_000n], 'power in whole OPEN')
    t.same(set.map((m) => toHex(m.consensusKey)), ['alice', 'bob', 'charlie'].map((n) => toHex(keyOf(n))))
  }
  t.same(await epoch.get(h.state), { index: 0, startHeight: 0 })
})

t.test('the set is recomputed at epoch boundaries and takes effect two heights later', async (t) => {
  const h = await StakingHarness.create()
  // dave outbids everyone; charlie (the smallest) drops out of the top 3
  t.equal((await h.call('dave', 'createValidator', { consensusKey: keyOf('dave'), commissionBps: 0, selfBond: 20_000n * OPEN })).error, undefined)
  // eve's delegation lifts bob above alice
  t.equal((await h.call('eve', 'bond', { validator: addressOf('bob'), amount: 2_500n * OPEN })).error, undefined)
  const before = await h.advanceTo(E - 1)
  t.same(eventsNamed(ValidatorSetChanged, before), [], 'no change inside the epoch')
  for (let height = h.height; height <= h.height + 2; height++) t.same(await operatorsAt(h.state, height), names('alice', 'bob', 'charlie'))

  const events = await h.step()
  t.equal(h.height, E)
  const changes = eventsNamed(ValidatorSetChanged, events)
  t.equal(changes.length, 1)
  t.equal(changes[0]?.epoch, 1)
  t.equal(changes[0]?.effectiveHeight, E + 2)
  t.same(changes[0]?.validators.map((m) => [toHex(m.operator), m.power]), [[names('dave')[0], 20_000], [names('bob')[0], 10_500], [names('alice')[0], 10_000]])
  t.same(await epoch.get(h.state), { index: 1, startHeight: E })
  t.same(await operatorsAt(h.state, E), names('alice', 'bob', 'charlie'), 'height h: old set')
  t.same(await operatorsAt(h.state, E + 1), names('alice', 'bob', 'charlie'), 'height h + 1: old set')
  t.same(await operatorsAt(h.state, E + 2), names('dave', 'bob', 'alice'), 'height h + 2: new set')

  await h.step()
  t.same(await operatorsAt(h.state, E + 1), names('alice', 'bob', 'charlie'))
  await h.step()
  t.same(await operatorsAt(h.state, E + 2), names('dave', 'bob', 'alice'))
  t.equal((await validatorSets.get(h.state)).length, 1, 'the old set is pruned once no height needs it')
  await t.rejects(validatorSetAt(h.state, E + 1), StakingQueryError)
  await t.rejects(validatorSetAt(h.state, E + 1), { code: 'HEIGHT_PRUNED' })

  // the next boundary with no stake change schedules nothing
  const quiet = await h.advanceTo(2 * E)
  t.same(eventsNamed(ValidatorSetChanged, quiet), [])
  t.same(await epoch.get(h.state), { index: 2, startHeight: 2 * E })
})

t.test('ties are broken by consensus key bytes', async (t) => {
  const spec = stakingSpec({
    params: { ...TEST_PARAMS, maxValidators: 2 },
    validators: [{ name: 'alice', selfBond: 10_000n * OPEN }, { name: 'bob', selfBond: 5_000n * OPEN }, { name: 'charlie', selfBond: 5_000n * OPEN }],
  })
  const h = await StakingHarness.create(spec)
  const smaller = Buffer.compare(Buffer.from(keyOf('bob')), Buffer.from(keyOf('charlie'))) < 0 ? 'bob' : 'charlie'
  t.same(await operatorsAt(h.state, 0), names('alice', smaller))
})

t.test('jailed validators leave the set two heights after the block that jailed them', async (t) => {
  const h = await StakingHarness.create()
  await h.advanceTo(3)
  await h.begin()
  t.equal((await h.call('eve', 'submitEvidence', { evidence: fakeEvidence(keyOf('bob'), 2) })).error, undefined)
  const events = await h.end()
  const [change] = eventsNamed(ValidatorSetChanged, events)
  t.equal(change?.epoch, 0, 'same epoch')
  t.equal(change?.effectiveHeight, 6)
  t.same(await operatorsAt(h.state, 5), names('alice', 'bob', 'charlie'))
  t.same(await operatorsAt(h.state, 6), names('alice', 'charlie'))
})

t.test('an operator below the minimum self-bond leaves the set at the next boundary', async (t) => {
  const h = await StakingHarness.create()
  await h.call('eve', 'bond', { validator: addressOf('charlie'), amount: 50_000n * OPEN })
  await h.call('charlie', 'unbond', { validator: addressOf('charlie'), amount: 6_000n * OPEN })
  await h.advanceTo(E)
  t.same(await operatorsAt(h.state, E + 2), names('alice', 'bob'), 'charlie, though the largest, keeps no self-bond')
})

t.test('a set with nobody eligible is never scheduled: the previous one stays', async (t) => {
  const spec = stakingSpec({ validators: [{ name: 'alice', selfBond: 10_000n * OPEN }] })
  const h = await StakingHarness.create(spec)
  await h.begin()
  t.equal((await h.call('eve', 'submitEvidence', { evidence: fakeEvidence(keyOf('alice'), 0) })).error, undefined)
  t.same(eventsNamed(ValidatorSetChanged, await h.end()), [])
  await h.advanceTo(E)
  t.same(await operatorsAt(h.state, E + 2), names('alice'))
})

t.test('power is whole OPEN, rounded down', async (t) => {
  const h = await StakingHarness.create()
  await h.call('eve', 'bond', { validator: addressOf('charlie'), amount: OPEN - 1n })
  await h.advanceTo(E)
  const set: ValidatorSetMember[] = await validatorSetAt(h.state, E + 2)
  t.same(set.map((m) => m.power), [10_000n, 8_000n, 6_000n])
  await h.call('eve', 'bond', { validator: addressOf('charlie'), amount: 1n })
  await h.advanceTo(2 * E)
  t.same((await validatorSetAt(h.state, 2 * E + 2)).map((m) => m.power), [10_000n, 8_000n, 6_001n])
})
