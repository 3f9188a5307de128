import t from 'tap'
import { toHex } from '../../../../runtime/crypto/hash.ts'
import { BalancesError } from '../../../../runtime/modules/balances/errors.ts'
import { vesting } from '../../../../runtime/modules/balances/state.ts'
import { StakingError } from '../../../../runtime/modules/staking/errors.ts'
import { Bonded, CommissionChanged, RewardsClaimed, Unbonded, Unjailed, ValidatorCreated } from '../../../../runtime/modules/staking/events.ts'
import { delegation, STAKING_ACCOUNT, validatorInfo } from '../../../../runtime/modules/staking/index.ts'
import { totals, unbondings, validatorByKey, validatorCount, validators } from '../../../../runtime/modules/staking/state.ts'
import { devKey, devValidatorKey } from '../../../../genesis/devAccounts.ts'
import { addressOf, eventsNamed, invariantProblems, keyOf, OPEN, patchValidator, StakingHarness, TEST_PARAMS } from './harness.ts'

const alice = addressOf('alice')
const dave = addressOf('dave')
const eve = addressOf('eve')
const hex = toHex

t.test('createValidator: stake moves to the staking account, the validator is registered', async (t) => {
  const h = await StakingHarness.create()
  const before = { dave: await h.balance('dave'), staking: await h.balance(STAKING_ACCOUNT), totals: await totals.get(h.state), count: await validatorCount.get(h.state) }
  const { error, events } = await h.call('dave', 'createValidator', { consensusKey: keyOf('dave'), commissionBps: 700, selfBond: 2_000n * OPEN })
  t.equal(error, undefined)
  t.equal(await h.balance('dave'), before.dave - 2_000n * OPEN)
  t.equal(await h.balance(STAKING_ACCOUNT), before.staking + 2_000n * OPEN)
  t.same(await totals.get(h.state), { ...before.totals, bonded: before.totals.bonded + 2_000n * OPEN })
  t.equal(await validatorCount.get(h.state), before.count + 1)
  t.equal(hex((await validatorByKey.get(h.state, keyOf('dave'))) ?? new Uint8Array(0)), hex(dave))
  const info = await validatorInfo(h.state, dave)
  t.equal(info?.tokens, 2_000n * OPEN)
  t.equal(info?.selfBond, 2_000n * OPEN)
  t.equal(info?.power, 2_000n)
  t.equal(info?.commissionBps, 700)
  t.equal(info?.jailed, false)
  t.same(await delegation(h.state, dave, dave), { shares: 2_000n * OPEN, amount: 2_000n * OPEN, pendingRewards: 0n })
  t.same(eventsNamed(ValidatorCreated, events), [{ operator: dave, consensusKey: keyOf('dave'), commissionBps: 700, selfBond: 2_000n * OPEN }])
  t.same(await invariantProblems(h.committed), [])
})

t.test('createValidator failures change nothing', async (t) => {
  const h = await StakingHarness.create()
  const poor = devKey('poor').address
  const cases: Array<[string, Parameters<StakingHarness['call']>[0], { consensusKey: Uint8Array; commissionBps: number; selfBond: bigint }, unknown]> = [
    ['operator already a validator', 'alice', { consensusKey: keyOf('other'), commissionBps: 0, selfBond: 2_000n * OPEN }, StakingError.ValidatorExists],
    ['key in use', 'dave', { consensusKey: keyOf('bob'), commissionBps: 0, selfBond: 2_000n * OPEN }, StakingError.ConsensusKeyInUse],
    ['small-order key', 'dave', { consensusKey: new Uint8Array(32), commissionBps: 0, selfBond: 2_000n * OPEN }, StakingError.InvalidConsensusKey],
    ['non-canonical key', 'dave', { consensusKey: new Uint8Array(32).fill(0xff), commissionBps: 0, selfBond: 2_000n * OPEN }, StakingError.InvalidConsensusKey],
    ['commission above 100%', 'dave', { consensusKey: keyOf('dave'), commissionBps: 10_001, selfBond: 2_000n * OPEN }, StakingError.InvalidCommission],
    ['self-bond below minimum', 'dave', { consensusKey: keyOf('dave'), commissionBps: 0, selfBond: TEST_PARAMS.minSelfBond - 1n }, StakingError.SelfBondBelowMinimum],
    ['cannot pay', poor, { consensusKey: keyOf('poor'), commissionBps: 0, selfBond: 2_000n * OPEN }, BalancesError.InsufficientBalance],
    ['locked by vesting', devKey('team').address, { consensusKey: keyOf('team'), commissionBps: 0, selfBond: 2_000n * OPEN }, BalancesError.VestingLocked],
  ]
  t.ok(await vesting.get(h.state, devKey('team').address), 'team vests')
  for (const [name, sender, args, expected] of cases) {
    const before = h.committed.clone()
    const { error, events } = await h.call(sender, 'createValidator', args)
    t.same(error, expected, name)
    t.same(events, [], `${name}: no events`)
    t.same([...h.committed.entries.keys()].sort(), [...before.entries.keys()].sort(), `${name}: no keys written`)
    for (const [id, entry] of before.entries) t.equal(hex(h.committed.entries.get(id)?.value ?? new Uint8Array(0)), hex(entry.value))
  }
  t.ok(validatorByKey.key(keyOf('dave')))
  // a commission of exactly 100% and a self-bond of exactly the minimum are fine
  t.equal((await h.call('dave', 'createValidator', { consensusKey: keyOf('dave'), commissionBps: 10_000, selfBond: TEST_PARAMS.minSelfBond })).error, undefined)
})

t.test('bond: more self-bond, or a delegation from anyone else', async (t) => {
  const h = await StakingHarness.create()
  const aliceBefore = await h.balance('alice')
  const eveBefore = await h.balance('eve')
  const stakingBefore = await h.balance(STAKING_ACCOUNT)
  let outcome = await h.call('alice', 'bond', { validator: alice, amount: 500n * OPEN })
  t.equal(outcome.error, undefined)
  t.same(eventsNamed(Bonded, outcome.events), [{ delegator: alice, validator: alice, amount: 500n * OPEN }])
  outcome = await h.call('eve', 'bond', { validator: alice, amount: 3_000n * OPEN })
  t.equal(outcome.error, undefined)
  t.equal(await h.balance('alice'), aliceBefore - 500n * OPEN)
  t.equal(await h.balance('eve'), eveBefore - 3_000n * OPEN)
  t.equal(await h.balance(STAKING_ACCOUNT), stakingBefore + 3_500n * OPEN)
  const info = await validatorInfo(h.state, alice)
  t.equal(info?.tokens, 13_500n * OPEN)
  t.equal(info?.selfBond, 10_500n * OPEN)
  t.same(await delegation(h.state, eve, alice), { shares: 3_000n * OPEN, amount: 3_000n * OPEN, pendingRewards: 0n })

  const failures: Array<[string, unknown, unknown]> = [
    ['zero amount', { validator: alice, amount: 0n }, StakingError.ZeroAmount],
    ['unknown validator', { validator: eve, amount: OPEN }, StakingError.UnknownValidator],
    ['more than the balance', { validator: alice, amount: 10n ** 30n }, BalancesError.InsufficientBalance],
  ]
  for (const [name, args, expected] of failures) {
    const before = await h.balance('eve')
    const { error, events } = await h.call('eve', 'bond', args)
    t.same(error, expected, name)
    t.same(events, [])
    t.equal(await h.balance('eve'), before)
  }
  t.same(await invariantProblems(h.committed), [])
})

t.test('unbond: stake leaves the validator into an entry released unbondingPeriod blocks later', async (t) => {
  const h = await StakingHarness.create()
  await h.call('eve', 'bond', { validator: alice, amount: 3_000n * OPEN })
  const eveBefore = await h.balance('eve')
  await h.begin()
  const height = h.block.height
  const { error, events } = await h.call('eve', 'unbond', { validator: alice, amount: 1_000n * OPEN })
  await h.end()
  t.equal(error, undefined)
  t.same(eventsNamed(Unbonded, events), [{ delegator: eve, validator: alice, amount: 1_000n * OPEN, completionHeight: height + TEST_PARAMS.unbondingPeriod }])
  t.same(await unbondings.get(h.state, { delegator: eve, validator: alice }), [{ initialAmount: 1_000n * OPEN, amount: 1_000n * OPEN, creationHeight: height, completionHeight: height + TEST_PARAMS.unbondingPeriod }])
  t.equal(await h.balance('eve'), eveBefore, 'nothing released yet')
  t.equal((await validatorInfo(h.state, alice))?.tokens, 12_000n * OPEN)
  t.equal((await delegation(h.state, eve, alice))?.amount, 2_000n * OPEN)
  t.same(await totals.get(h.state), { bonded: 26_000n * OPEN, unbonding: 1_000n * OPEN, rewards: 0n })
  t.same(await invariantProblems(h.committed), [])

  // unbonding the rest closes the delegation
  t.equal((await h.call('eve', 'unbond', { validator: alice, amount: 2_000n * OPEN })).error, undefined)
  t.equal(await delegation(h.state, eve, alice), undefined)
  t.same(await invariantProblems(h.committed), [])
})

t.test('unbond failures', async (t) => {
  const h = await StakingHarness.create()
  await h.call('eve', 'bond', { validator: alice, amount: 3_000n * OPEN })
  const cases: Array<[string, Parameters<StakingHarness['call']>[0], unknown, unknown]> = [
    ['zero', 'eve', { validator: alice, amount: 0n }, StakingError.ZeroAmount],
    ['unknown validator', 'eve', { validator: eve, amount: OPEN }, StakingError.UnknownValidator],
    ['no delegation', 'ferdie', { validator: alice, amount: OPEN }, StakingError.NoDelegation],
    ['more than delegated', 'eve', { validator: alice, amount: 3_000n * OPEN + 1n }, StakingError.InsufficientStake],
    ['operator below the minimum self-bond', 'alice', { validator: alice, amount: 9_000n * OPEN + 1n }, StakingError.SelfBondBelowMinimum],
  ]
  for (const [name, sender, args, expected] of cases) {
    const before = h.committed.clone()
    const { error } = await h.call(sender, 'unbond', args)
    t.same(error, expected, name)
    t.same([...h.committed.entries.keys()].sort(), [...before.entries.keys()].sort(), `${name}: nothing written`)
  }
  // too many entries
  for (let i = 0; i < TEST_PARAMS.maxUnbondingEntries; i++) t.equal((await h.call('eve', 'unbond', { validator: alice, amount: OPEN })).error, undefined)
  t.same((await h.call('eve', 'unbond', { validator: alice, amount: OPEN })).error, StakingError.TooManyUnbondingEntries)
  // the operator may keep exactly the minimum, or leave entirely
  t.equal((await h.call('alice', 'unbond', { validator: alice, amount: 9_000n * OPEN })).error, undefined)
  t.equal((await validatorInfo(h.state, alice))?.selfBond, 1_000n * OPEN)
  t.equal((await h.call('alice', 'unbond', { validator: alice, amount: 1_000n * OPEN })).error, undefined)
  t.equal((await validatorInfo(h.state, alice))?.selfBond, 0n)
  t.same(await invariantProblems(h.committed), [])
})

t.test('setCommission: bounded change, once per epoch', async (t) => {
  const h = await StakingHarness.create()
  t.same((await h.call('alice', 'setCommission', { commissionBps: 1_050 })).error, StakingError.CommissionChangeTooSoon, 'not in the epoch the validator was created')
  await h.advanceTo(TEST_PARAMS.epochLength)
  t.same((await h.call('dave', 'setCommission', { commissionBps: 100 })).error, StakingError.UnknownValidator)
  t.same((await h.call('alice', 'setCommission', { commissionBps: 10_001 })).error, StakingError.InvalidCommission)
  t.same((await h.call('alice', 'setCommission', { commissionBps: 1_101 })).error, StakingError.CommissionChangeTooLarge)
  t.same((await h.call('alice', 'setCommission', { commissionBps: 899 })).error, StakingError.CommissionChangeTooLarge)
  const { error, events } = await h.call('alice', 'setCommission', { commissionBps: 1_100 })
  t.equal(error, undefined)
  t.same(eventsNamed(CommissionChanged, events), [{ validator: alice, commissionBps: 1_100 }])
  t.equal((await validators.get(h.state, alice))?.commissionBps, 1_100)
  t.same((await h.call('alice', 'setCommission', { commissionBps: 1_150 })).error, StakingError.CommissionChangeTooSoon)
  await h.advanceTo(2 * TEST_PARAMS.epochLength)
  t.equal((await h.call('alice', 'setCommission', { commissionBps: 1_000 })).error, undefined)
})

t.test('unjail: only a jailed operator, only after the jail period, only with the minimum self-bond', async (t) => {
  const h = await StakingHarness.create()
  t.same((await h.call('dave', 'unjail', {})).error, StakingError.UnknownValidator)
  t.same((await h.call('alice', 'unjail', {})).error, StakingError.NotJailed)
  const until = h.height + 3
  await patchValidator(h, alice, { jailed: true, jailedUntil: until })
  await h.advanceTo(until - 2)
  t.same((await h.call('alice', 'unjail', {})).error, StakingError.JailPeriodNotOver, 'one block before jailedUntil')
  t.equal(h.height, until - 1)
  // self-bond below the minimum (after a slash, say): no unjail
  await h.call('alice', 'unbond', { validator: alice, amount: 9_000n * OPEN })
  await patchValidator(h, alice, { tokens: (await validators.get(h.state, alice))!.tokens - 1n })
  t.same((await h.call('alice', 'unjail', {})).error, StakingError.SelfBondBelowMinimum)
  await h.call('alice', 'bond', { validator: alice, amount: OPEN })
  const { error, events } = await h.call('alice', 'unjail', {})
  t.equal(error, undefined)
  t.same(eventsNamed(Unjailed, events), [{ validator: alice }])
  t.equal((await validators.get(h.state, alice))?.jailed, false)
})

t.test('claimRewards: delegators get their share, the operator also its commission', async (t) => {
  const h = await StakingHarness.create()
  await h.call('eve', 'bond', { validator: alice, amount: 10_000n * OPEN })
  t.same((await h.call('eve', 'claimRewards', { validator: alice })).error, StakingError.NothingToClaim)
  t.same((await h.call('eve', 'claimRewards', { validator: eve })).error, StakingError.UnknownValidator)
  // alice proposes one block: 10 OPEN, 10% commission, the rest split 50/50 between alice and eve
  await h.step({ author: alice })
  t.equal((await delegation(h.state, eve, alice))?.pendingRewards, 45n * OPEN / 10n)
  const eveBefore = await h.balance('eve')
  let outcome = await h.call('eve', 'claimRewards', { validator: alice })
  t.equal(outcome.error, undefined)
  t.same(eventsNamed(RewardsClaimed, outcome.events), [{ delegator: eve, validator: alice, amount: 45n * OPEN / 10n, commission: 0n }])
  t.equal(await h.balance('eve'), eveBefore + 45n * OPEN / 10n)
  t.same((await h.call('eve', 'claimRewards', { validator: alice })).error, StakingError.NothingToClaim, 'claimed already')
  const aliceBefore = await h.balance('alice')
  outcome = await h.call('alice', 'claimRewards', { validator: alice })
  t.same(eventsNamed(RewardsClaimed, outcome.events), [{ delegator: alice, validator: alice, amount: OPEN + 45n * OPEN / 10n, commission: OPEN }])
  t.equal(await h.balance('alice'), aliceBefore + OPEN + 45n * OPEN / 10n)
  t.equal((await validators.get(h.state, alice))?.outstanding, 0n)
  t.same(await invariantProblems(h.committed), [])
})

t.test('bonding and unbonding pay out pending rewards first', async (t) => {
  const h = await StakingHarness.create()
  await h.call('eve', 'bond', { validator: alice, amount: 10_000n * OPEN })
  await h.step({ author: alice })
  const before = await h.balance('eve')
  let outcome = await h.call('eve', 'bond', { validator: alice, amount: OPEN })
  t.same(eventsNamed(RewardsClaimed, outcome.events), [{ delegator: eve, validator: alice, amount: 45n * OPEN / 10n, commission: 0n }])
  t.equal(await h.balance('eve'), before - OPEN + 45n * OPEN / 10n)
  await h.step({ author: alice })
  outcome = await h.call('eve', 'unbond', { validator: alice, amount: OPEN })
  t.equal(eventsNamed(RewardsClaimed, outcome.events).length, 1)
  t.equal((await delegation(h.state, eve, alice))?.pendingRewards, 0n)
  t.same(await invariantProblems(h.committed), [])
})

t.test('a validator slashed to zero tokens takes no new stake; a tiny bond buys no share', async (t) => {
  const h = await StakingHarness.create()
  const record = (await validators.get(h.state, alice))!
  // shares worth 3 tokens each: a 2-unit bond rounds to zero shares
  await patchValidator(h, alice, { tokens: record.tokens * 3n })
  t.same((await h.call('eve', 'bond', { validator: alice, amount: 2n })).error, StakingError.AmountTooSmall)
  t.equal((await h.call('eve', 'bond', { validator: alice, amount: 3n })).error, undefined)
  await patchValidator(h, alice, { tokens: 0n })
  t.same((await h.call('eve', 'bond', { validator: alice, amount: OPEN })).error, StakingError.ValidatorDepleted)
})

t.test('the dev validator key is deterministic and acceptable', async (t) => {
  t.equal(hex(devValidatorKey('alice').publicKey), hex(keyOf('alice')))
  t.equal(devValidatorKey('alice').publicKey.length, 32)
  t.not(hex(devValidatorKey('alice').publicKey), hex(devValidatorKey('bob').publicKey))
})
