// Every attribution call's happy path, exact payouts and error codes (each bad input changes
// nothing); deadlines, sampled re-checks with the wrong side slashed, penalties, unattributable
// records; over the models harness' seven-validator testnet.
import t from 'tap'
import type { DevAccountName } from '../../../../genesis/devAccounts.ts'
import type { Address } from '../../../../runtime/crypto/secp256k1.ts'
import { largestRemainder, TREASURY_ACCOUNT } from '../../../../runtime/modules/accounts.ts'
import { AttributionFinal, AttributorAssigned, AttributorReassigned, CheckSettled, RecordUnattributed, WorkerSlashed } from '../../../../runtime/modules/attribution/events.ts'
import { receiptHash } from '../../../../runtime/modules/attribution/lifecycle.ts'
import { ATTRIBUTION_ACCOUNT, AttributionStatus, Method, penalties, rewards, SCORE_TOTAL, type Receipt } from '../../../../runtime/modules/attribution/state.ts'
import { contributions } from '../../../../runtime/modules/datanets/state.ts'
import { records } from '../../../../runtime/modules/inference/state.ts'
import { ModuleIndex } from '../../../../runtime/modules/indices.ts'
import { validators } from '../../../../runtime/modules/staking/state.ts'
import { MIX_HISTORY, RANDOMNESS_LOOKAHEAD } from '../../../../runtime/modules/system/randomness.ts'
import { devKey } from '../../../../genesis/devAccounts.ts'
import { eventsNamed, type ModelsHarness } from '../models/harness.ts'
import { OPEN, output, PROVIDER, requestArgs, Session } from '../inference/harness.ts'
import {
  attributionChain, attributionOf, check, CONTRIBUTORS, DEPOSIT, FAIR, invariantProblems, paidInference, receiptFor, saltOf,
} from './harness.ts'

const A = ModuleIndex.attribution
const att = 'attribution'

async function refuses(h: ModelsHarness, sender: DevAccountName | Address, call: string, args: unknown): Promise<{ code: string | undefined; unchanged: boolean }> {
  const twin = h.clone()
  const outcome = await h.call(sender, call, args, att)
  await twin.block([])
  return { code: outcome.error?.code, unchanged: h.snapshot() === twin.snapshot() }
}

const stakeOf = async (h: ModelsHarness, operator: Address): Promise<bigint> => (await validators.get(h.state, operator))?.tokens ?? 0n
const contributor = (index: number): Address => devKey(CONTRIBUTORS[index] as DevAccountName).address

t.test('a paid inference: attributor drawn among validators, receipt checked, pool divided exactly, claimed', async (t) => {
  const h = await attributionChain({ receiptBlocks: 40 })
  const record = await paidInference(h)
  const entry = await attributionOf(h, record)
  t.equal(entry.status, AttributionStatus.assigned)
  t.ok(h.operators.some((o) => Buffer.from(o).equals(Buffer.from(entry.attributor))), 'the attributor is a validator')
  t.equal(entry.deadline, h.height + 40)
  const pool = (await records.get(h.state, record))?.contributorsPending ?? 0n
  t.ok(pool > 0n)

  const good = await receiptFor(h, record, FAIR)
  const bad = (overrides: Partial<Receipt>): Receipt => ({ ...good, ...overrides })
  const scored = (entries: Array<[number, number]>) => entries.map(([index, score]) => ({ datanet: 1, index, score }))
  const cases: Array<[DevAccountName | Address, Receipt, string]> = [
    [entry.attributor, bad({ record: 99 }), 'attribution.UnknownRecord'],
    ['alice', good, 'attribution.WrongSender'],
    [entry.attributor, bad({ chainId: 1 }), 'attribution.WrongChain'],
    [entry.attributor, bad({ outputHash: output('other').outputHash }), 'attribution.OutputMismatch'],
    [entry.attributor, bad({ method: Method.knnShapley }), 'attribution.WrongMethod'],
    [entry.attributor, bad({ datanets: [] }), 'attribution.WrongLineage'],
    [entry.attributor, bad({ datanets: [{ datanet: 1, version: 2 }] }), 'attribution.WrongLineage'],
    [entry.attributor, bad({ contributions: scored([[0, 600_000], [1, 300_000]]) }), 'attribution.ScoresDoNotSum'],
    [entry.attributor, bad({ contributions: scored([[0, 1_000_000], [1, 0]]) }), 'attribution.ScoresDoNotSum'],
    [entry.attributor, bad({ contributions: scored([[1, 300_000], [0, 700_000]]) }), 'attribution.UnsortedScores'],
    [entry.attributor, bad({ contributions: scored([[1, 500_000], [0, 500_000]]) }), 'attribution.UnsortedScores'],
    [entry.attributor, bad({ contributions: scored([[0, 500_000], [0, 500_000]]) }), 'attribution.UnsortedScores'],
    [entry.attributor, bad({ harmful: scored([[0, 10]]) }), 'attribution.UnsortedScores'],
    [entry.attributor, bad({ contributions: scored([[0, 500_000], [9, 500_000]]) }), 'attribution.UnknownContribution'],
  ]
  for (const [sender, receipt, code] of cases) t.same(await refuses(h, sender, 'submitReceipt', receipt), { code, unchanged: true }, code)

  const balances = await Promise.all(CONTRIBUTORS.map((_, i) => h.balance(contributor(i))))
  await h.ok(entry.attributor, 'submitReceipt', good, att)
  t.same(await refuses(h, entry.attributor, 'submitReceipt', good), { code: 'attribution.AlreadyAttributed', unchanged: true })
  t.equal((await attributionOf(h, record)).status, AttributionStatus.submitted, 'nothing paid before the receipt is final')
  const submittedAt = (await attributionOf(h, record)).submittedHeight
  const events = await h.advanceTo(submittedAt + RANDOMNESS_LOOKAHEAD)
  const final = await attributionOf(h, record)
  t.equal(final.status, AttributionStatus.final, 'not sampled at rate 0: final')
  const expected = largestRemainder([500_000n, 300_000n, 200_000n], pool)
  t.same(final.payouts.map((p) => p.amount), expected, 'shares pro rata to the scores by largest remainder')
  t.equal(expected.reduce((a, b) => a + b, 0n), pool, 'the shares sum to the pool')
  t.same(eventsNamed(AttributionFinal, events, A), [{ record, receiptHash: receiptHash(good), paid: pool, toTreasury: 0n, contributors: 3 }])
  t.equal((await records.get(h.state, record))?.contributorsPending, 0n, "the record's pool is taken")
  for (const i of [0, 1, 2]) t.same(await rewards.get(h.state, contributor(i)), { accrued: expected[i], claimed: 0n })
  t.equal(await rewards.get(h.state, contributor(3)), undefined, 'an uncredited contributor accrues nothing')
  t.equal(await h.balance(ATTRIBUTION_ACCOUNT), pool)
  t.same(await invariantProblems(h), [])

  await h.ok(contributor(0), 'claim', {}, att)
  t.equal(await h.balance(contributor(0)), (balances[0] ?? 0n) + (expected[0] ?? 0n), 'the claim pays exactly what accrued')
  t.same(await rewards.get(h.state, contributor(0)), { accrued: 0n, claimed: expected[0] })
  t.same(await refuses(h, contributor(0), 'claim', {}), { code: 'attribution.NothingToClaim', unchanged: true })
  t.same(await refuses(h, contributor(3), 'claim', {}), { code: 'attribution.NothingToClaim', unchanged: true })
  t.same(await invariantProblems(h), [])
})

t.test('a missed receipt deadline: the attributor slashed and excluded, the record reassigned; after maxAttempts the pool goes to the treasury', async (t) => {
  const h = await attributionChain({ maxAttempts: 2 })
  const record = await paidInference(h)
  const first = await attributionOf(h, record)
  const stake = await stakeOf(h, first.attributor)
  const events = await h.advanceTo(first.deadline)
  const second = await attributionOf(h, record)
  t.equal(second.attempt, 2)
  t.notSame(second.attributor, first.attributor, 'a new attributor')
  t.same(second.excluded, [first.attributor])
  t.equal(eventsNamed(AttributorReassigned, events, A).length, 1)
  t.equal(await stakeOf(h, first.attributor), stake - (stake * 100n) / 10_000n, 'missedDeadlineSlashBps of its stake burnt')
  t.same(await refuses(h, first.attributor, 'submitReceipt', await receiptFor(h, record, FAIR)), { code: 'attribution.WrongSender', unchanged: true })
  const pool = (await records.get(h.state, record))?.contributorsPending ?? 0n
  const treasury = await h.balance(TREASURY_ACCOUNT)
  const more = await h.advanceTo(second.deadline)
  t.equal((await attributionOf(h, record)).status, AttributionStatus.unattributed)
  t.same(eventsNamed(RecordUnattributed, more, A), [{ record, toTreasury: pool, reason: 2 }])
  t.equal(await h.balance(TREASURY_ACCOUNT), treasury + pool, 'the pool went to the treasury')
  t.same(await invariantProblems(h), [])
})

t.test('a record of the base model alone has no lineage: its pool goes to the treasury, nobody is assigned', async (t) => {
  const h = await attributionChain()
  await h.ok('bob', 'request', requestArgs(), 'inference')
  await h.ok(PROVIDER, 'fulfil', { request: 1, ...output('base'), inputTokens: 6, outputTokens: 5 }, 'inference')
  const events = await h.advanceTo(h.height + RANDOMNESS_LOOKAHEAD)
  t.equal(eventsNamed(AttributorAssigned, events, A).length, 0)
  t.equal((await attributionOf(h, 1)).status, AttributionStatus.unattributed)
  t.equal((await records.get(h.state, 1))?.contributorsPending, 0n)
  t.same(await invariantProblems(h), [])
})

t.test('sampled re-check: an honest receipt upheld (a lying verifier slashed); a wrong one caught, its author slashed, the record reassigned and re-checked', async (t) => {
  const h = await attributionChain({ sampleRateBps: 10_000 })
  const record = await paidInference(h)
  const entry = await attributionOf(h, record)
  const good = await receiptFor(h, record, FAIR)
  const wrong = await receiptFor(h, record, { 3: SCORE_TOTAL })
  await h.ok(entry.attributor, 'submitReceipt', wrong, att)
  await h.advanceTo(h.height + RANDOMNESS_LOOKAHEAD)
  const checking = await attributionOf(h, record)
  t.equal(checking.status, AttributionStatus.verifying, 'sampled at rate 1')
  t.equal(checking.verifiers.length, 2)
  t.notOk(checking.verifiers.some((v) => Buffer.from(v).equals(Buffer.from(entry.attributor))), 'the attributor does not check itself')
  t.same(await refuses(h, 'alice', 'commitCheck', { record, commitment: receiptHash(good) }), { code: 'attribution.WrongSender', unchanged: true })
  t.same(await refuses(h, checking.verifiers[0] as Address, 'revealCheck', { record, receiptHash: receiptHash(good), salt: saltOf(checking.verifiers[0] as Address) }), { code: 'attribution.NotRevealPhase', unchanged: true })
  const stake = await stakeOf(h, entry.attributor)
  await check(h, record, [good])
  // the last reveal (a transaction) only closes the check: settling it draws the next attributor,
  // from the mix RANDOMNESS_LOOKAHEAD blocks on, which the reveal's proposer could not know
  const closed = await attributionOf(h, record)
  t.equal(closed.status, AttributionStatus.verifying, 'closed, not settled, by the last reveal')
  t.equal(closed.deadline, h.height + RANDOMNESS_LOOKAHEAD)
  t.equal(await stakeOf(h, entry.attributor), stake, 'nothing slashed yet')
  await h.advanceTo(closed.deadline)
  const after = await attributionOf(h, record)
  t.equal(after.status, AttributionStatus.assigned, 'reassigned')
  t.equal(after.attempt, 2)
  t.ok(after.forceCheck, 'the replacement receipt is re-checked whatever the sample')
  t.equal(await stakeOf(h, entry.attributor), stake - (stake * 500n) / 10_000n, 'the wrong receipt cost slashBps')
  t.equal(await h.balance(ATTRIBUTION_ACCOUNT), 0n, 'nothing paid for a wrong receipt')

  // the replacement is honest; one of its verifiers lies and loses
  await h.ok(after.attributor, 'submitReceipt', good, att)
  await h.advanceTo(h.height + RANDOMNESS_LOOKAHEAD)
  const second = await attributionOf(h, record)
  t.equal(second.status, AttributionStatus.verifying)
  const liar = second.verifiers[1] as Address
  const liarStake = await stakeOf(h, liar)
  await check(h, record, [good, wrong])
  const settled = await attributionOf(h, record)
  t.equal(settled.status, AttributionStatus.final, 'two votes of three uphold it')
  t.equal(await stakeOf(h, liar), liarStake - (liarStake * 500n) / 10_000n, 'the lying verifier slashed')
  t.equal(settled.paid, (await records.get(h.state, record))?.split.contributors, 'the whole pool paid once final')
  t.same(settled.payouts.map((p) => p.contributor), [contributor(0), contributor(1), contributor(2)], 'the honest receipt paid')
  t.same(await invariantProblems(h), [])
})

t.test('re-check deadlines: a silent verifier slashed; with no commitment at all the receipt stands', async (t) => {
  const h = await attributionChain({ sampleRateBps: 10_000 })
  const record = await paidInference(h)
  const entry = await attributionOf(h, record)
  await h.ok(entry.attributor, 'submitReceipt', await receiptFor(h, record, FAIR), att)
  await h.advanceTo(h.height + RANDOMNESS_LOOKAHEAD)
  const checking = await attributionOf(h, record)
  const stakes = await Promise.all(checking.verifiers.map((v) => stakeOf(h, v)))
  const events = await h.advanceTo(checking.deadline)
  t.equal(eventsNamed(WorkerSlashed, events, A).length, 2, 'both silent verifiers slashed')
  for (const [i, v] of checking.verifiers.entries()) t.equal(await stakeOf(h, v), (stakes[i] ?? 0n) - ((stakes[i] ?? 0n) * 100n) / 10_000n)
  t.equal((await attributionOf(h, record)).status, AttributionStatus.final)
  t.equal(eventsNamed(CheckSettled, events, A).length, 0)
  t.same(await invariantProblems(h), [])
})

t.test('penalties: harmful scores accumulate; past the threshold the contribution is cut off, its deposit slashed, its credits skipped', async (t) => {
  const h = await attributionChain()
  const treasury = await h.balance(TREASURY_ACCOUNT)
  const attribute = async (tag: string, scores: Record<number, number>, harmful: Record<number, number>) => {
    const record = await paidInference(h, tag)
    const entry = await attributionOf(h, record)
    await h.ok(entry.attributor, 'submitReceipt', await receiptFor(h, record, scores, harmful), att)
    await h.advanceTo(h.height + RANDOMNESS_LOOKAHEAD)
    return attributionOf(h, record)
  }
  const first = await attribute('p1', { 0: 600_000, 3: 400_000 }, { 1: 1_000_000 })
  t.same(await penalties.get(h.state, { datanet: 1, index: 1 }), { score: 1_000_000, cutOff: false, slashed: 0n, cutOffHeight: 0 }, 'below the threshold: counted')
  t.equal(first.payouts.length, 2)
  await attribute('p2', { 0: 600_000, 1: 400_000 }, { 3: 1_000_000 })
  t.equal((await rewards.get(h.state, contributor(1)))?.accrued !== undefined, true, 'below the threshold it is still paid')
  await attribute('p3', { 0: SCORE_TOTAL }, { 3: 600_000 })
  const second = await attribute('p4', { 0: 600_000, 3: 400_000 }, {})
  const penalty = await penalties.get(h.state, { datanet: 1, index: 3 })
  t.equal(penalty?.cutOff, true)
  t.equal(penalty?.slashed, DEPOSIT / 2n, 'penaltySlashBps of the deposit')
  t.equal((await contributions.get(h.state, { datanet: 1, index: 3 }))?.deposit, DEPOSIT / 2n, 'the deposit left in escrow')
  t.same(second.payouts.map((p) => p.index), [0], 'the cut-off contribution is paid nothing, the others share the whole pool')
  t.equal(second.paid, (await records.get(h.state, second.record))?.split.contributors)
  t.equal(await h.balance(TREASURY_ACCOUNT) - treasury > DEPOSIT / 2n, true, 'the slashed deposit went to the treasury (besides the fees\' treasury share)')
  t.same(await invariantProblems(h), [])
})

t.test('a backlog longer than the mix history: records still assigned (from the oldest mix kept), maxAssignPerBlock a block', async (t) => {
  const h = await attributionChain({ maxAssignPerBlock: 2 })
  await h.ok('bob', 'openChannel', { provider: devKey(PROVIDER).address, deposit: 10n * OPEN }, 'inference')
  const session = new Session(h.spec.chainId, 1, 'bob')
  for (let i = 0; i < 600; i++) session.pay(1_000n, { adapters: [{ id: 1, weightMilli: 1_000 }] })
  await h.ok(PROVIDER, 'redeem', { vouchers: [session.take()] }, 'inference')
  const written = h.height
  const events = await h.advanceTo(written + MIX_HISTORY + 40)
  const assigned = eventsNamed(AttributorAssigned, events, A)
  t.equal(assigned.length, 2 * (MIX_HISTORY + 40 - RANDOMNESS_LOOKAHEAD + 1), 'two a block from the lookahead on')
  t.same(assigned.slice(0, 3).map((e) => e.record), [1, 2, 3])
  t.same(await invariantProblems(h), [])
})
