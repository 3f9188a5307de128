// Conservation: a record's pool is always divided exactly (the shares sum to it, each within one
// unit of its quota), and over random sequences of paid inferences, receipts (random credited and
// harmful contributions), claims and waits, supply is conserved, the attribution account holds
// exactly the accrued rewards, and every final record's pool went out once, whole.
import fc from 'fast-check'
import t from 'tap'
import { apportion } from '../../../../attribution/fixedPoint.ts'
import type { DevAccountName } from '../../../../genesis/devAccounts.ts'
import { devKey } from '../../../../genesis/devAccounts.ts'
import { largestRemainder } from '../../../../runtime/modules/accounts.ts'
import { attributions, AttributionStatus, rewards, SCORE_TOTAL } from '../../../../runtime/modules/attribution/state.ts'
import { records } from '../../../../runtime/modules/inference/state.ts'
import { RANDOMNESS_LOOKAHEAD } from '../../../../runtime/modules/system/randomness.ts'
import { attributionChain, attributionOf, CONTRIBUTORS, invariantProblems, paidInference, receiptFor } from './harness.ts'

const scoreVector = fc.array(fc.integer({ min: 1, max: 1_000_000 }), { minLength: 1, maxLength: 64 })
  .map((raw) => apportion(raw.map(BigInt), BigInt(SCORE_TOTAL)).filter((s) => s > 0n))
  .filter((scores) => scores.length > 0)

t.test('the shares of a pool sum to it exactly, each within one unit of its quota', async (t) => {
  fc.assert(fc.property(fc.bigInt({ min: 0n, max: 10n ** 27n }), scoreVector, (pool, scores) => {
    const shares = largestRemainder(scores, pool)
    if (shares.reduce((a, b) => a + b, 0n) !== pool) return false
    const total = scores.reduce((a, b) => a + b, 0n)
    return shares.every((share, i) => {
      const exact = pool * (scores[i] ?? 0n)
      return share * total <= exact + total && share * total + total >= exact && share >= 0n
    })
  }), { numRuns: 2_000, seed: 18 })
  t.pass('checked')
})

type Op =
  | { kind: 'infer'; credited: number[]; weights: number[]; harmful: number[]; harm: number }
  | { kind: 'claim'; who: number }
  | { kind: 'wait'; blocks: number }

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({
    kind: fc.constant('infer' as const),
    credited: fc.uniqueArray(fc.integer({ min: 0, max: CONTRIBUTORS.length - 1 }), { minLength: 0, maxLength: CONTRIBUTORS.length }),
    weights: fc.array(fc.integer({ min: 1, max: 1_000 }), { minLength: CONTRIBUTORS.length, maxLength: CONTRIBUTORS.length }),
    harmful: fc.uniqueArray(fc.integer({ min: 0, max: CONTRIBUTORS.length - 1 }), { maxLength: 2 }),
    harm: fc.integer({ min: 1, max: SCORE_TOTAL }),
  }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('claim' as const), who: fc.integer({ min: 0, max: CONTRIBUTORS.length - 1 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('wait' as const), blocks: fc.integer({ min: 1, max: 3 }) }) },
)

t.test('random inferences, receipts, claims: supply conserved, the attribution account exact, every final pool paid once and whole', async (t) => {
  const base = await attributionChain({ penaltyThreshold: 1_200_000 })
  let runs = 0
  await fc.assert(fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 5 }), async (ops) => {
    const h = base.clone()
    for (const [n, step] of ops.entries()) {
      if (step.kind === 'wait') await h.advanceTo(h.height + step.blocks)
      else if (step.kind === 'claim') {
        const who = devKey(CONTRIBUTORS[step.who] as DevAccountName).address
        const reward = await rewards.get(h.state, who)
        const { error } = await h.call(who, 'claim', {}, 'attribution')
        if ((error === undefined) !== (reward !== undefined && reward.accrued > 0n)) return false
      } else {
        const record = await paidInference(h, `run ${runs} op ${n}`)
        const credited = step.credited.filter((i) => !step.harmful.includes(i))
        const shares = credited.length === 0 ? [] : apportion(credited.map((i) => BigInt(step.weights[i] ?? 1)), BigInt(SCORE_TOTAL))
        const scores = Object.fromEntries(credited.map((i, k) => [i, Number(shares[k])]).filter(([, s]) => (s as number) > 0))
        const harm = Object.fromEntries(step.harmful.map((i) => [i, step.harm]))
        const entry = await attributionOf(h, record)
        const { error } = await h.call(entry.attributor, 'submitReceipt', await receiptFor(h, record, scores, harm), 'attribution')
        if (error !== undefined) throw new Error(`receipt refused: ${error.code}`)
        await h.advanceTo(h.height + RANDOMNESS_LOOKAHEAD)
      }
      const problems = await invariantProblems(h)
      if (problems.length > 0) throw new Error(problems.join('; '))
    }
    let paid = 0n
    for (const { value } of h.committed.withPrefix(attributions.prefix)) {
      const entry = attributions.decodeValue(value)
      if (entry.status !== AttributionStatus.final) continue
      const record = await records.get(h.state, entry.record)
      if (entry.paid + entry.toTreasury !== record?.split.contributors || record.contributorsPending !== 0n) return false
      paid += entry.paid
    }
    let owed = 0n
    for (const { value } of h.committed.withPrefix(rewards.prefix)) {
      const reward = rewards.decodeValue(value)
      owed += reward.accrued + reward.claimed
    }
    runs++
    return owed === paid
  }), { numRuns: 12, seed: 1818 })
  t.equal(runs, 12)
})
