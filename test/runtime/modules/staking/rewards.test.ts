import t from 'tap'
import { encode } from '../../../../runtime/codec/canonical.ts'
import { ECOSYSTEM_POOL_ACCOUNT } from '../../../../runtime/modules/accounts.ts'
import { accountInfoKind, accounts } from '../../../../runtime/modules/system/state.ts'
import { BlockRewarded, RewardsClaimed } from '../../../../runtime/modules/staking/events.ts'
import { delegation, STAKING_ACCOUNT, validatorInfo } from '../../../../runtime/modules/staking/index.ts'
import { totals, validators } from '../../../../runtime/modules/staking/state.ts'
import { devKey } from '../../../../genesis/devAccounts.ts'
import { addressOf, eventsNamed, fakeEvidence, invariantProblems, keyOf, OPEN, patchValidator, poolBalance, stakingSpec, StakingHarness, TEST_PARAMS } from './harness.ts'

const alice = addressOf('alice')
const bob = addressOf('bob')
const charlie = addressOf('charlie')
const dave = addressOf('dave')
const R = TEST_PARAMS.blockRewardPerBlock

t.test('the proposer, found by consensus key, gets the block reward from the pool', async (t) => {
  const h = await StakingHarness.create()
  const pool = await poolBalance(h.state)
  const staking = await h.balance(STAKING_ACCOUNT)
  const events = await h.step({ proposerKey: keyOf('bob'), author: alice })
  t.same(eventsNamed(BlockRewarded, events), [{ validator: bob, amount: R, commission: R * 500n / 10_000n }], 'bob: the key decides, not the author')
  t.equal(await poolBalance(h.state), pool - R)
  t.equal(await h.balance(STAKING_ACCOUNT), staking + R)
  t.equal((await validators.get(h.state, bob))?.outstanding, R)
  t.equal((await totals.get(h.state)).rewards, R)
  // bob alone holds bob's shares: all of the rest is his
  t.equal((await delegation(h.state, bob, bob))?.pendingRewards, R - R * 500n / 10_000n)
  t.same(await invariantProblems(h.committed), [])
})

t.test('no reward for an unknown key, a validator outside the set, or a jailed one', async (t) => {
  const h = await StakingHarness.create()
  await h.call('dave', 'createValidator', { consensusKey: keyOf('dave'), commissionBps: 0, selfBond: 2_000n * OPEN })
  const pool = await poolBalance(h.state)
  t.same(eventsNamed(BlockRewarded, await h.step({ proposerKey: keyOf('nobody') })), [])
  t.same(eventsNamed(BlockRewarded, await h.step({ proposerKey: keyOf('dave') })), [], 'dave is not in the set yet')
  t.same(eventsNamed(BlockRewarded, await h.step({ author: dave })), [], 'nor as author')
  t.same(eventsNamed(BlockRewarded, await h.step({ author: devKey('nobody').address })), [])
  await h.call('eve', 'submitEvidence', { evidence: fakeEvidence(keyOf('charlie'), 1) })
  t.same(eventsNamed(BlockRewarded, await h.step({ proposerKey: keyOf('charlie') })), [], 'jailed, though still in the set')
  t.equal(await poolBalance(h.state), pool)
})

t.test('commission to the operator, the rest pro rata to shares; every base unit accounted for', async (t) => {
  const h = await StakingHarness.create()
  // awkward stakes so the split does not divide evenly
  await h.call('eve', 'bond', { validator: alice, amount: 3_333n * OPEN + 7n })
  await h.call('ferdie', 'bond', { validator: alice, amount: 1n * OPEN + 1n })
  const pool = await poolBalance(h.state)
  const blocks = 7
  let credited = 0n
  let commission = 0n
  for (let i = 0; i < blocks; i++) {
    const [event] = eventsNamed(BlockRewarded, await h.step({ author: alice }))
    credited += event?.amount ?? 0n
    commission += event?.commission ?? 0n
  }
  t.equal(credited, R * BigInt(blocks))
  t.equal(commission, (R * 1_000n / 10_000n) * BigInt(blocks), '10 % each block, exact')
  t.equal(pool - (await poolBalance(h.state)), credited, 'the pool paid exactly what was credited')
  const info = await validatorInfo(h.state, alice)
  const owed = [alice, addressOf('eve'), addressOf('ferdie')]
  const pending = await Promise.all(owed.map(async (d) => (await delegation(h.state, d, alice))?.pendingRewards ?? 0n))
  const tokens = info?.tokens ?? 0n
  const stakes = [10_000n * OPEN, 3_333n * OPEN + 7n, OPEN + 1n]
  for (const [i, amount] of pending.entries()) {
    const exact = ((credited - commission) * (stakes[i] ?? 0n)) / tokens
    t.ok(amount <= exact && exact - amount <= BigInt(blocks), `delegator ${i}: pro rata, rounded down (${amount} vs ${exact})`)
  }
  const dust = credited - commission - pending.reduce((a, b) => a + b, 0n)
  t.ok(dust >= 0n && dust < 10n, `rounding leaves ${dust} base units, never more than is held`)

  // claim everything: what was paid plus what stays outstanding is exactly what was credited
  let paid = 0n
  for (const name of ['alice', 'eve', 'ferdie'] as const) {
    const before = await h.balance(name)
    const { events } = await h.call(name, 'claimRewards', { validator: alice })
    const [claim] = eventsNamed(RewardsClaimed, events)
    t.equal((await h.balance(name)) - before, claim?.amount ?? 0n)
    paid += claim?.amount ?? 0n
  }
  t.equal(paid, commission + pending.reduce((a, b) => a + b, 0n))
  t.equal((await validators.get(h.state, alice))?.outstanding, credited - paid, 'the rounding stays with the validator, counted')
  t.same(await invariantProblems(h.committed), [])
})

t.test('rewards after a slash still follow shares; new delegators earn only from when they joined', async (t) => {
  const h = await StakingHarness.create()
  await h.call('eve', 'bond', { validator: bob, amount: 8_000n * OPEN })
  await h.call('ferdie', 'submitEvidence', { evidence: fakeEvidence(keyOf('bob'), 1) })
  await patchValidator(h, bob, { jailed: false })
  await h.step({ author: bob })
  const share = (R - R * 500n / 10_000n) / 2n
  t.equal((await delegation(h.state, addressOf('eve'), bob))?.pendingRewards, share)
  t.equal((await delegation(h.state, bob, bob))?.pendingRewards, share)
  await h.call('charlie', 'bond', { validator: bob, amount: 1_000n * OPEN })
  t.equal((await delegation(h.state, charlie, bob))?.pendingRewards, 0n, 'nothing from before the bond')
  t.same(await invariantProblems(h.committed), [])
})

t.test('rewards stop when the ecosystem pool runs dry', async (t) => {
  const h = await StakingHarness.create()
  // leave 15 OPEN in the pool (the rest moves to another account, so the supply is intact)
  const pool = await poolBalance(h.state)
  const elsewhere = devKey('elsewhere').address
  h.committed.apply([
    { key: accounts.key(ECOSYSTEM_POOL_ACCOUNT), value: encode(accountInfoKind.encode({ nonce: 0, free: 15n * OPEN })) },
    { key: accounts.key(elsewhere), value: encode(accountInfoKind.encode({ nonce: 0, free: pool - 15n * OPEN })) },
  ])
  const paid = []
  for (let i = 0; i < 3; i++) paid.push(eventsNamed(BlockRewarded, await h.step({ author: alice }))[0]?.amount)
  t.same(paid, [R, 5n * OPEN, undefined])
  t.equal(await poolBalance(h.state), 0n)
  t.same(await invariantProblems(h.committed), [])
})

t.test('a zero block reward pays nothing', async (t) => {
  const h = await StakingHarness.create(stakingSpec({ params: { ...TEST_PARAMS, blockRewardPerBlock: 0n } }))
  t.same(eventsNamed(BlockRewarded, await h.step({ author: alice })), [])
})
