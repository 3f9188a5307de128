// Property: any sequence of bonds, delegations, unbonds, claims, evidence, downtime, rewards and
// epochs keeps the books exact: the supply is conserved (balances, which include everything the
// staking account holds, sum to the issuance, which falls only by what slashes burn), the staking
// account holds exactly bonded + unbonding + unclaimed rewards, the pool pays exactly what is
// credited, and no one is owed more than the validator holds.
import t from 'tap'
import fc from 'fast-check'
import type { Address } from '../../../../runtime/crypto/secp256k1.ts'
import { Burned } from '../../../../runtime/modules/balances/events.ts'
import { totalIssuance } from '../../../../runtime/modules/balances/state.ts'
import { ModuleIndex } from '../../../../runtime/modules/indices.ts'
import { BlockRewarded, RewardsClaimed, Slashed, UnbondingReleased } from '../../../../runtime/modules/staking/events.ts'
import { delegation, validatorSetAt } from '../../../../runtime/modules/staking/index.ts'
import type { BlockInfo, RuntimeEvent } from '../../../../runtime/module.ts'
import { DEV_ACCOUNT_NAMES, type DevAccountName } from '../../../../genesis/devAccounts.ts'
import { eventsOf } from '../../chainFixtures.ts'
import { addressOf, eventsNamed, fakeEvidence, invariantProblems, keyOf, OPEN, poolBalance, StakingHarness, TEST_PARAMS } from './harness.ts'

type Op =
  | { kind: 'create'; actor: number; selfBond: bigint; commissionBps: number }
  | { kind: 'bond'; actor: number; validator: number; amount: bigint }
  | { kind: 'unbond'; actor: number; validator: number; amount: bigint; all: boolean }
  | { kind: 'claim'; actor: number; validator: number }
  | { kind: 'commission'; actor: number; commissionBps: number }
  | { kind: 'unjail'; actor: number }
  | { kind: 'evidence'; validator: number; age: number }
  | { kind: 'block'; proposer: number; signers: number[] | undefined; skip: number }

const actors = DEV_ACCOUNT_NAMES
const actor = fc.integer({ min: 0, max: actors.length - 1 })
/** mostly the genesis validators (alice, bob, charlie) and dave, who may create one */
const target = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 3 }) }, { weight: 1, arbitrary: actor })
const amount = fc.oneof(
  { weight: 2, arbitrary: fc.bigInt({ min: 1n, max: 10n ** 6n }) },
  { weight: 3, arbitrary: fc.bigInt({ min: 1n, max: 10n ** 22n }) },
  { weight: 3, arbitrary: fc.bigInt({ min: 10n ** 21n, max: 3n * 10n ** 23n }) },
)

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('create' as const), actor, selfBond: fc.bigInt({ min: TEST_PARAMS.minSelfBond - 1n, max: 5n * TEST_PARAMS.minSelfBond }), commissionBps: fc.integer({ min: 0, max: 10_000 }) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('bond' as const), actor, validator: target, amount }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('unbond' as const), actor, validator: target, amount, all: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('claim' as const), actor, validator: target }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('commission' as const), actor, commissionBps: fc.integer({ min: 0, max: 10_000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('unjail' as const), actor }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('evidence' as const), validator: target, age: fc.integer({ min: 0, max: TEST_PARAMS.evidenceMaxAgeBlocks + 2 }) }) },
  { weight: 4, arbitrary: fc.record({
    kind: fc.constant('block' as const),
    proposer: fc.integer({ min: -1, max: actors.length - 1 }),
    signers: fc.option(fc.subarray([0, 1, 2, 3, 4, 5]), { nil: undefined }),
    skip: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 25 }) }),
  }) },
)

const base = await StakingHarness.create()

function blockInfo(proposer: number, signers: number[] | undefined): Partial<BlockInfo> {
  const info: Partial<BlockInfo> = {}
  const name = actors[proposer]
  if (name !== undefined) Object.assign(info, { proposerKey: keyOf(name) })
  if (signers !== undefined) Object.assign(info, { lastCommitSigners: signers.map((i) => keyOf(actors[i] as string)) })
  return info
}

t.test('property: supply, backing and rewards stay exact under any sequence of staking operations', async (t) => {
  const seen = { slashes: 0, releases: 0, claims: 0, rewards: 0, failures: 0 }
  await fc.assert(fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 80, size: 'max' }), async (ops) => {
    const h = base.clone()
    const issuance0 = await totalIssuance.get(h.state)
    const pool0 = await poolBalance(h.state)
    let burned = 0n
    let credited = 0n
    const account = (i: number): Address => addressOf(actors[i] as DevAccountName)
    const tally = (events: readonly RuntimeEvent[]): void => {
      burned += eventsOf(ModuleIndex.balances, Burned, events).reduce((sum, e) => sum + e.amount, 0n)
      credited += eventsNamed(BlockRewarded, events).reduce((sum, e) => sum + e.amount, 0n)
      seen.slashes += eventsNamed(Slashed, events).length
      seen.releases += eventsNamed(UnbondingReleased, events).length
      seen.claims += eventsNamed(RewardsClaimed, events).length
      seen.rewards += eventsNamed(BlockRewarded, events).length
    }
    const check = async (): Promise<boolean> => {
      const problems = await invariantProblems(h.committed)
      if (problems.length > 0) {
        t.comment(problems.join('\n'))
        return false
      }
      if ((await totalIssuance.get(h.committed)) !== issuance0 - burned) return false
      if (pool0 - (await poolBalance(h.committed)) !== credited) return false
      // the active set is always readable for the next two heights and never empty
      for (let height = h.height; height <= h.height + 2; height++) if ((await validatorSetAt(h.committed, height)).length === 0) return false
      return true
    }
    for (const next of [...ops, { kind: 'block', proposer: -1, signers: undefined, skip: 0 } as const]) {
      let outcome: Awaited<ReturnType<StakingHarness['call']>> | undefined
      const opened = async (): Promise<void> => {
        if (!h.isOpen) await h.begin()
      }
      switch (next.kind) {
        case 'block': {
          await opened()
          tally(await h.end())
          if (!(await check())) return false
          if (next.skip > 0) {
            tally(await h.advanceTo(h.height + next.skip, (height) => blockInfo((height % actors.length) - 1, next.signers)))
            if (!(await check())) return false
          }
          continue
        }
        case 'create':
          await opened()
          outcome = await h.call(actors[next.actor] as DevAccountName, 'createValidator', { consensusKey: keyOf(actors[next.actor] as string), commissionBps: next.commissionBps, selfBond: next.selfBond })
          break
        case 'bond':
          await opened()
          outcome = await h.call(actors[next.actor] as DevAccountName, 'bond', { validator: account(next.validator), amount: next.amount })
          break
        case 'unbond': {
          await opened()
          const held = (await delegation(h.state, account(next.actor), account(next.validator)))?.amount ?? 0n
          const wanted = next.all && held > 0n ? held : next.amount
          outcome = await h.call(actors[next.actor] as DevAccountName, 'unbond', { validator: account(next.validator), amount: wanted })
          break
        }
        case 'claim':
          await opened()
          outcome = await h.call(actors[next.actor] as DevAccountName, 'claimRewards', { validator: account(next.validator) })
          break
        case 'commission':
          await opened()
          outcome = await h.call(actors[next.actor] as DevAccountName, 'setCommission', { commissionBps: next.commissionBps })
          break
        case 'unjail':
          await opened()
          outcome = await h.call(actors[next.actor] as DevAccountName, 'unjail', {})
          break
        case 'evidence': {
          await opened()
          const height = Math.max(0, h.block.height - next.age)
          outcome = await h.call('eve', 'submitEvidence', { evidence: fakeEvidence(keyOf(actors[next.validator] as string), height) })
          break
        }
      }
      if (outcome.error !== undefined) seen.failures++
      tally(outcome.events)
    }
    return true
  }), { seed: 4242, numRuns: 100 })
  t.comment(JSON.stringify(seen))
  for (const [name, count] of Object.entries(seen)) t.ok(count > 0, `${name} were exercised (${count})`)
})

t.test('property: a delegator can always take out everything it is shown, and no more', async (t) => {
  await fc.assert(fc.asyncProperty(
    fc.array(fc.record({ delegator: fc.integer({ min: 3, max: 5 }), amount }), { minLength: 1, maxLength: 8 }),
    fc.integer({ min: 0, max: 3 }),
    async (bonds, slashes) => {
      const h = base.clone()
      const validator = addressOf('alice')
      await h.advanceTo(5)
      await h.begin()
      for (const { delegator, amount: value } of bonds) await h.call(actors[delegator] as DevAccountName, 'bond', { validator, amount: value })
      await h.end()
      // double-sign slashes of separate episodes (one slash per episode): 5 % each, every delegator pro rata
      for (let i = 0; i < slashes; i++) {
        await h.step()
        if ((await h.call('eve', 'submitEvidence', { evidence: fakeEvidence(keyOf('alice'), h.height + 1) })).error !== undefined) return false
      }
      const { validators } = await import('../../../../runtime/modules/staking/state.ts')
      const names = [...new Set(bonds.map((b) => actors[b.delegator] as DevAccountName)), 'alice' as const]
      // twice: a delegation worth less than one base unit may be worth one once the others left
      for (const name of [...names, ...names]) {
        const shown = (await delegation(h.state, addressOf(name), validator))?.amount ?? 0n
        if (shown === 0n) continue
        if ((await h.call(name, 'unbond', { validator, amount: shown + 1n })).error === undefined) return false
        if ((await h.call(name, 'unbond', { validator, amount: shown })).error !== undefined) return false
        if ((await delegation(h.state, addressOf(name), validator)) !== undefined) return false
      }
      const record = await validators.get(h.committed, validator)
      if (record === undefined || (await invariantProblems(h.committed)).length > 0) return false
      // what remains is only delegations worth nothing, holding no more tokens than shares
      return record.shares === 0n ? record.tokens === 0n : record.tokens < record.shares
    },
  ), { seed: 99, numRuns: 80 })
  t.pass('every delegation fully withdrawable; the last one empties the validator')
  t.equal(OPEN, 10n ** 18n)
})
