// Property: whatever stake moves during a vote (bonds, unbonds, delegations to several validators)
// and however voters change their votes, the tally the runtime takes at the end of the voting
// period equals a reference computed here independently: from every delegation in the snapshot
// (the committed state after the last voting block, enumerated by key prefix, not through the
// runtime's voter lists) and the last vote each voter made, as this test recorded it. The
// reference's rule: a delegation counts for its delegator's option when the delegator voted and
// listed its validator, else for the validator operator's option when the operator voted, else
// not at all; a delegator's power is floor(shares x tokens / validator shares), an operator's
// inherited power floor(inherited shares x tokens / validator shares). No base unit counts twice:
// the options sum to at most the eligible stake.
import t from 'tap'
import fc from 'fast-check'
import { toHex } from '../../../../runtime/crypto/hash.ts'
import type { Address } from '../../../../runtime/crypto/secp256k1.ts'
import { proposals, VoteOption, type Tally } from '../../../../runtime/modules/governance/index.ts'
import { delegation, validatorInfo, validatorSetAt } from '../../../../runtime/modules/staking/index.ts'
import { delegations } from '../../../../runtime/modules/staking/state.ts'
import { DEV_ACCOUNT_NAMES } from '../../../../genesis/devAccounts.ts'
import { addressOf, OPEN } from '../staking/harness.ts'
import { content, GOV_PARAMS, governanceHarness, governanceSpec } from './harness.ts'

const VOTING = 24
const spec = governanceSpec({ params: { ...GOV_PARAMS, votingPeriod: VOTING } })
const names = DEV_ACCOUNT_NAMES
const operators = [0, 1, 2]

type Op =
  | { kind: 'vote'; voter: number; option: number; mask: number }
  | { kind: 'bond'; who: number; validator: number; amount: bigint }
  | { kind: 'unbond'; who: number; validator: number; percent: number }

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('vote' as const), voter: fc.integer({ min: 0, max: 5 }), option: fc.integer({ min: 0, max: 3 }), mask: fc.integer({ min: 0, max: 7 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('bond' as const), who: fc.integer({ min: 0, max: 5 }), validator: fc.integer({ min: 0, max: 2 }), amount: fc.bigInt({ min: 1n, max: 20_000n * OPEN }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('unbond' as const), who: fc.integer({ min: 0, max: 5 }), validator: fc.integer({ min: 0, max: 2 }), percent: fc.integer({ min: 1, max: 100 }) }) },
)

const OPTIONS = ['yes', 'no', 'abstain', 'veto'] as const

async function reference(state: Parameters<typeof validatorInfo>[0], height: number, lastVotes: Map<string, { option: number; validators: Address[] }>): Promise<Tally> {
  const result: Tally = { yes: 0n, no: 0n, abstain: 0n, veto: 0n, totalPower: 0n }
  const eligible = new Map<string, { tokens: bigint; shares: bigint; inherited: bigint }>()
  for (const member of await validatorSetAt(state, height)) {
    const info = await validatorInfo(state, member.operator)
    if (info === undefined || info.jailed) continue
    eligible.set(toHex(member.operator), { tokens: info.tokens, shares: info.shares, inherited: 0n })
    result.totalPower += info.tokens
  }
  const snapshot = state as unknown as { withPrefix(prefix: Uint8Array): Iterable<{ key: Uint8Array; value: Uint8Array }> }
  for (const { key, value } of snapshot.withPrefix(delegations.prefix)) {
    const delegator = toHex(key.subarray(2, 22))
    const validator = toHex(key.subarray(22, 42))
    const shares = delegations.decodeValue(value).shares
    const target = eligible.get(validator)
    if (target === undefined) continue
    const own = lastVotes.get(delegator)
    if (own !== undefined && own.validators.some((v) => toHex(v) === validator)) result[OPTIONS[own.option as VoteOption]] += (shares * target.tokens) / target.shares
    else target.inherited += shares
  }
  for (const [operator, target] of eligible) {
    const vote = lastVotes.get(operator)
    if (vote !== undefined && target.shares > 0n) result[OPTIONS[vote.option as VoteOption]] += (target.inherited * target.tokens) / target.shares
  }
  return result
}

t.test('the tally equals the reference from the snapshot', async (t) => {
  let runs = 0
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: VOTING - 2 }), async (ops) => {
      const h = await governanceHarness(spec)
      const submitted = await h.call('dave', 'submitProposal', { content: content({}), deposit: GOV_PARAMS.minDeposit })
      if (submitted.error !== undefined) throw new Error(submitted.error.code)
      const votingEnd = (await proposals.get(h.state, 1))?.votingEnd ?? 0
      const lastVotes = new Map<string, { option: number; validators: Address[] }>()
      for (const o of ops) {
        if (o.kind === 'vote') {
          const voter = addressOf(names[o.voter] ?? 'alice')
          const listed: Address[] = []
          for (const i of operators) {
            const validator = addressOf(names[i] ?? 'alice')
            if ((o.mask & (1 << i)) !== 0 && (await delegation(h.state, voter, validator)) !== undefined) listed.push(validator)
          }
          const { error } = await h.call(voter, 'vote', { proposal: 1, option: o.option, validators: listed })
          if (error === undefined) lastVotes.set(toHex(voter), { option: o.option, validators: listed })
        } else if (o.kind === 'bond') {
          await h.call(names[o.who] ?? 'dave', 'bond', { validator: addressOf(names[o.validator] ?? 'alice'), amount: o.amount })
        } else {
          const who = addressOf(names[o.who] ?? 'dave')
          const held = await delegation(h.state, who, addressOf(names[o.validator] ?? 'alice'))
          if (held !== undefined && held.amount > 0n) {
            const amount = (held.amount * BigInt(o.percent)) / 100n
            if (amount > 0n) await h.call(who, 'unbond', { validator: addressOf(names[o.validator] ?? 'alice'), amount })
          }
        }
      }
      await h.advanceTo(votingEnd)
      const tally = (await proposals.get(h.state, 1))?.tally
      const expected = await reference(h.committed, votingEnd, lastVotes)
      t.same(tally, expected)
      if (tally !== undefined) t.ok(tally.yes + tally.no + tally.abstain + tally.veto <= tally.totalPower, 'no stake counted twice')
      runs++
    }),
    { numRuns: 40, seed: 19 },
  )
  t.equal(runs, 40)
})

t.test('a delegator who votes overrides its validator for its own delegation only', async (t) => {
  const h = await governanceHarness(spec)
  await h.call('dave', 'bond', { validator: addressOf('alice'), amount: 6_000n * OPEN })
  await h.call('eve', 'bond', { validator: addressOf('alice'), amount: 4_000n * OPEN })
  await h.call('dave', 'submitProposal', { content: content({}), deposit: GOV_PARAMS.minDeposit })
  await h.call('alice', 'vote', { proposal: 1, option: VoteOption.yes, validators: [] })
  await h.call('dave', 'vote', { proposal: 1, option: VoteOption.yes, validators: [addressOf('alice')] })
  // a vote change: dave turns to no
  const changed = await h.call('dave', 'vote', { proposal: 1, option: VoteOption.no, validators: [addressOf('alice')] })
  t.equal(changed.error, undefined)
  // stake moved during the vote: eve leaves alice for bob; it counts once, where it is at the end
  await h.call('eve', 'unbond', { validator: addressOf('alice'), amount: 4_000n * OPEN })
  await h.call('eve', 'bond', { validator: addressOf('bob'), amount: 4_000n * OPEN })
  await h.advanceTo((await proposals.get(h.state, 1))?.votingEnd ?? 0)
  const tally = (await proposals.get(h.state, 1))?.tally
  t.equal(tally?.yes, 10_000n * OPEN, "alice's own 10,000; eve's 4,000 left with her")
  t.equal(tally?.no, 6_000n * OPEN, "dave's override")
  t.equal(tally?.totalPower, (10_000n + 6_000n + 8_000n + 4_000n + 6_000n) * OPEN)
})
