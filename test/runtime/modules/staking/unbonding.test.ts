import t from 'tap'
import { toHex } from '../../../../runtime/crypto/hash.ts'
import { Transferred } from '../../../../runtime/modules/balances/events.ts'
import { ModuleIndex } from '../../../../runtime/modules/indices.ts'
import { UnbondingReleased } from '../../../../runtime/modules/staking/events.ts'
import { STAKING_ACCOUNT } from '../../../../runtime/modules/staking/index.ts'
import { totals, unbondingQueue, unbondings, validatorUnbonders } from '../../../../runtime/modules/staking/state.ts'
import { eventsOf } from '../../chainFixtures.ts'
import { addressOf, eventsNamed, invariantProblems, OPEN, StakingHarness, TEST_PARAMS } from './harness.ts'

const alice = addressOf('alice')
const bob = addressOf('bob')
const eve = addressOf('eve')
const P = TEST_PARAMS

t.test('an unbonding entry is released at the end of block creation + unbondingPeriod, not before', async (t) => {
  const h = await StakingHarness.create()
  await h.call('eve', 'bond', { validator: alice, amount: 5_000n * OPEN })
  await h.advanceTo(3)
  await h.begin()
  const created = h.block.height
  await h.call('eve', 'unbond', { validator: alice, amount: 1_000n * OPEN })
  await h.call('eve', 'unbond', { validator: alice, amount: 500n * OPEN }) // same block: one queue slot
  await h.end()
  t.same((await unbondingQueue.get(h.state, created + P.unbondingPeriod))?.length, 1)
  await h.advanceTo(created + 2)
  await h.call('eve', 'unbond', { validator: alice, amount: 250n * OPEN })
  const balance = await h.balance('eve')
  const early = await h.advanceTo(created + P.unbondingPeriod - 1)
  t.same(eventsNamed(UnbondingReleased, early), [])
  t.equal(await h.balance('eve'), balance, 'nothing one block early')

  const events = await h.step()
  t.equal(h.height, created + P.unbondingPeriod)
  t.same(eventsNamed(UnbondingReleased, events), [{ delegator: eve, validator: alice, amount: 1_500n * OPEN }])
  t.same(eventsOf(ModuleIndex.balances, Transferred, events), [{ from: STAKING_ACCOUNT, to: eve, amount: 1_500n * OPEN }])
  t.equal(await h.balance('eve'), balance + 1_500n * OPEN)
  t.same((await unbondings.get(h.state, { delegator: eve, validator: alice }))?.map((e) => e.amount), [250n * OPEN], 'the later entry waits')
  t.equal(await unbondingQueue.get(h.state, created + P.unbondingPeriod), undefined, 'the queue slot is gone')
  t.same((await validatorUnbonders.get(h.state, alice))?.map(toHex), [toHex(eve)])

  const last = await h.advanceTo(created + 3 + P.unbondingPeriod)
  t.same(eventsNamed(UnbondingReleased, last), [{ delegator: eve, validator: alice, amount: 250n * OPEN }])
  t.equal(await unbondings.get(h.state, { delegator: eve, validator: alice }), undefined)
  t.equal(await validatorUnbonders.get(h.state, alice), undefined)
  t.equal((await totals.get(h.state)).unbonding, 0n)
  t.same(await invariantProblems(h.committed), [])
})

t.test('entries of several delegators and validators complete independently', async (t) => {
  const h = await StakingHarness.create()
  await h.call('eve', 'bond', { validator: bob, amount: 1_000n * OPEN })
  await h.begin()
  const created = h.block.height
  await h.call('eve', 'unbond', { validator: bob, amount: 1_000n * OPEN })
  await h.call('alice', 'unbond', { validator: alice, amount: 100n * OPEN })
  await h.call('bob', 'unbond', { validator: bob, amount: 7_000n * OPEN })
  await h.end()
  const before = await Promise.all(['alice', 'bob', 'eve'].map((n) => h.balance(n as 'alice')))
  const events = await h.advanceTo(created + P.unbondingPeriod)
  t.same(eventsNamed(UnbondingReleased, events).map((e) => [toHex(e.delegator), toHex(e.validator), e.amount]), [
    [toHex(eve), toHex(bob), 1_000n * OPEN],
    [toHex(alice), toHex(alice), 100n * OPEN],
    [toHex(bob), toHex(bob), 7_000n * OPEN],
  ])
  const after = await Promise.all(['alice', 'bob', 'eve'].map((n) => h.balance(n as 'alice')))
  t.same(after.map((b, i) => b - (before[i] ?? 0n)), [100n * OPEN, 7_000n * OPEN, 1_000n * OPEN])
  t.same(await invariantProblems(h.committed), [])
})
