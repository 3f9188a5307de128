// Re-checks of inference records (runtime/modules/inference/checks.ts): the sample drawn from the
// mix after the record, the checkers' commit and reveal, the dispute drawn after the reveal that
// found fault, and who pays: a provider proven wrong refunds the user out of its bond, a checker
// on the losing side, silent or never revealing loses validator stake. Every bad call refused and
// changing nothing; the module account's invariant holds throughout.
import t from 'tap'
import { commitmentOf } from '../../../../runtime/commitReveal.ts'
import type { Address } from '../../../../runtime/crypto/secp256k1.ts'
import { CHECK_COMMIT_DOMAIN, checkScope, verdictPayload } from '../../../../runtime/modules/inference/checks.ts'
import { CheckDisputed, CheckerSlashed, CheckOpened, CheckSettled, ProviderSlashed, RecordDisproved } from '../../../../runtime/modules/inference/events.ts'
import { checkCursor, checks, CheckStatus, providers, records, RecordStatus, Verdict, type InferenceParams } from '../../../../runtime/modules/inference/state.ts'
import { ModuleIndex } from '../../../../runtime/modules/indices.ts'
import { validators } from '../../../../runtime/modules/staking/state.ts'
import { RANDOMNESS_LOOKAHEAD } from '../../../../runtime/modules/system/randomness.ts'
import { eventsNamed, saltOf } from '../models/harness.ts'
import { MAX_SAMPLES_PER_BLOCK } from '../../../../runtime/modules/inference/hooks.ts'
import { addressOfDev, BOND, invariantProblems, market, offer, OPEN, output, PROVIDER, refuses, requestArgs, Session, TEST_INFERENCE_PARAMS, treasury } from './harness.ts'

const I = ModuleIndex.inference
const inf = 'inference'
const CHECKED: InferenceParams = { ...TEST_INFERENCE_PARAMS, checkSampleRateBps: 10_000, checkBlocks: 20 }

/** A fulfilled request (record 1) and the blocks up to its sample: the events of those blocks. */
async function recorded(params: InferenceParams = CHECKED) {
  const h = await market({ params })
  await h.ok('bob', 'request', requestArgs(), inf)
  const fulfilled = await h.ok(PROVIDER, 'fulfil', { request: 1, ...output('a'), inputTokens: 6, outputTokens: 13 }, inf)
  const events = [...fulfilled.hookEvents, ...(await h.advanceTo(h.height + RANDOMNESS_LOOKAHEAD))]
  return { h, events }
}

const commitArgs = async (h: Awaited<ReturnType<typeof market>>, worker: Address, verdict: number) => {
  const check = await checks.get(h.state, 1)
  if (check === undefined) throw new Error('no check')
  return { record: 1, commitment: commitmentOf(CHECK_COMMIT_DOMAIN, checkScope(check), worker, saltOf(worker), verdictPayload(verdict)) }
}
const revealArgs = (worker: Address, verdict: number) => ({ record: 1, verdict, salt: saltOf(worker) })

/** Every checker of the current round commits to its verdict, then reveals it: the events of the last reveal's block. */
async function vote(h: Awaited<ReturnType<typeof market>>, verdicts: readonly number[]) {
  const check = await checks.get(h.state, 1)
  if (check === undefined) throw new Error('no check')
  for (const [i, worker] of check.checkers.entries()) await h.ok(worker, 'commitCheck', await commitArgs(h, worker, verdicts[i] ?? Verdict.ok), inf)
  let last
  for (const [i, worker] of check.checkers.entries()) last = await h.ok(worker, 'revealCheck', revealArgs(worker, verdicts[i] ?? Verdict.ok), inf)
  return [...(last?.events ?? []), ...(last?.hookEvents ?? [])]
}

const stake = async (h: Awaited<ReturnType<typeof market>>, operator: Address): Promise<bigint> => (await validators.get(h.state, operator))?.tokens ?? 0n

t.test('not sampled: no check; sampled: two checkers drawn from the mix after the record, the provider never among them', async (t) => {
  const quiet = await recorded(TEST_INFERENCE_PARAMS)
  t.equal(await checks.get(quiet.h.state, 1), undefined, 'a rate of 0 samples nothing')
  const { h, events } = await recorded()
  const [opened] = eventsNamed(CheckOpened, events, I)
  t.equal(opened?.record, 1)
  t.equal(opened?.round, 0)
  t.equal(opened?.checkers.length, 2)
  t.notOk(opened?.checkers.some((c) => c.every((b, i) => b === addressOfDev(PROVIDER)[i])), 'the provider does not check itself')
  // the draw reads the mix of the record's height + RANDOMNESS_LOOKAHEAD: another reveal in between, other checkers (for some reveal)
  let moved = false
  for (let i = 0; i < 8 && !moved; i++) {
    const other = await market({ params: CHECKED })
    await other.ok('bob', 'request', requestArgs(), inf)
    await other.ok(PROVIDER, 'fulfil', { request: 1, ...output('a'), inputTokens: 6, outputTokens: 13 }, inf)
    other.nextReveal = new Uint8Array(32).fill(i + 1)
    const drawn = eventsNamed(CheckOpened, await other.advanceTo(other.height + RANDOMNESS_LOOKAHEAD), I)[0]?.checkers
    moved = JSON.stringify(drawn) !== JSON.stringify(opened?.checkers)
  }
  t.ok(moved, 'a reveal after the record changes who checks: the fulfilling block\'s proposer could not know them')
  t.same(await invariantProblems(h), [])
})

t.test('an honest output: every checker votes ok, the record stands, nobody is slashed', async (t) => {
  const { h } = await recorded()
  const bond = (await providers.get(h.state, addressOfDev(PROVIDER)))?.bond
  const events = await vote(h, [Verdict.ok, Verdict.ok])
  t.same(eventsNamed(CheckSettled, events, I), [{ record: 1, upheld: true, votesOk: 2, votesAgainst: 0 }])
  t.equal((await checks.get(h.state, 1))?.status, CheckStatus.upheld)
  t.equal((await records.get(h.state, 1))?.status, RecordStatus.settled)
  t.equal((await providers.get(h.state, addressOfDev(PROVIDER)))?.bond, bond)
  t.same(eventsNamed(CheckerSlashed, events, I), [])
  t.same(await invariantProblems(h), [])
})

t.test('a wrong output: the dispute is drawn after the reveal, the majority disproves it, the user is refunded from the bond, the lying checker slashed', async (t) => {
  const { h } = await recorded()
  const record = await records.get(h.state, 1)
  const price = record?.price ?? 0n
  const disputed = await vote(h, [Verdict.wrong, Verdict.unavailable])
  const [dispute] = eventsNamed(CheckDisputed, disputed, I)
  t.equal(dispute?.drawHeight, h.height + RANDOMNESS_LOOKAHEAD, 'drawn from a mix that did not exist when the last reveal was included')
  t.equal((await checks.get(h.state, 1))?.status, CheckStatus.drawing)
  const first = (await checks.get(h.state, 1))?.excluded ?? []
  const opened = eventsNamed(CheckOpened, await h.advanceTo(dispute?.drawHeight ?? 0), I)[0]
  t.equal(opened?.round, 1)
  t.equal(opened?.checkers.length, 3)
  t.notOk(opened?.checkers.some((c) => first.some((f) => f.every((b, i) => b === c[i]))), 'the dispute\'s checkers are new')
  const liar = opened?.checkers[0] as Address
  const [bob, treasuryBefore, liarStake] = [await h.balance('bob'), await treasury(h), await stake(h, liar)]
  const settled = await vote(h, [Verdict.ok, Verdict.wrong, Verdict.wrong])
  t.same(eventsNamed(CheckSettled, settled, I), [{ record: 1, upheld: false, votesOk: 1, votesAgainst: 4 }])
  const penalty = BOND / 10n > price ? BOND / 10n : price
  t.same(eventsNamed(RecordDisproved, settled, I), [{ record: 1, provider: addressOfDev(PROVIDER), user: addressOfDev('bob'), refunded: price, slashed: penalty }])
  t.same(eventsNamed(ProviderSlashed, settled, I).map((e) => [e.amount, e.reason, e.subject]), [[penalty, 1, 1]])
  t.equal(await h.balance('bob'), bob + price, 'the user got the price back')
  t.equal(await treasury(h), treasuryBefore + penalty - price, 'the rest of the penalty went to the treasury')
  const provider = await providers.get(h.state, addressOfDev(PROVIDER))
  t.equal(provider?.bond, BOND - penalty)
  t.equal(provider?.slashedTotal, penalty)
  t.equal((await records.get(h.state, 1))?.status, RecordStatus.disproved)
  t.same(eventsNamed(CheckerSlashed, settled, I).map((e) => [e.checker, e.reason]), [[liar, 1]], 'the checker that voted ok is slashed')
  t.equal(await stake(h, liar), liarStake - (liarStake * BigInt(CHECKED.checkerSlashBps)) / 10_000n)
  t.same(await invariantProblems(h), [])
})

t.test('a checker that lies about an honest output loses the dispute and its stake; the provider keeps its bond', async (t) => {
  const { h } = await recorded()
  const liar = (await checks.get(h.state, 1))?.checkers[0] as Address
  const liarStake = await stake(h, liar)
  const disputed = await vote(h, [Verdict.wrong, Verdict.ok])
  await h.advanceTo(eventsNamed(CheckDisputed, disputed, I)[0]?.drawHeight ?? 0)
  const settled = await vote(h, [Verdict.ok, Verdict.ok, Verdict.ok])
  t.same(eventsNamed(CheckSettled, settled, I), [{ record: 1, upheld: true, votesOk: 4, votesAgainst: 1 }])
  t.same(eventsNamed(CheckerSlashed, settled, I).map((e) => e.checker), [liar])
  t.ok((await stake(h, liar)) < liarStake)
  t.equal((await providers.get(h.state, addressOfDev(PROVIDER)))?.bond, BOND)
  t.equal((await records.get(h.state, 1))?.status, RecordStatus.settled)
  t.same(await invariantProblems(h), [])
})

t.test('bad check calls are refused and change nothing; silent and unrevealed checkers are slashed at the deadlines', async (t) => {
  const { h } = await recorded()
  const [a, b] = (await checks.get(h.state, 1))?.checkers as [Address, Address]
  const stranger = addressOfDev('dave')
  t.same(await refuses(h, a, 'commitCheck', { record: 9, commitment: new Uint8Array(32) }), { code: 'inference.UnknownCheck', unchanged: true })
  t.same(await refuses(h, stranger, 'commitCheck', await commitArgs(h, stranger, Verdict.ok)), { code: 'inference.NotChecker', unchanged: true })
  t.same(await refuses(h, a, 'revealCheck', revealArgs(a, Verdict.ok)), { code: 'inference.NotRevealPhase', unchanged: true })
  await h.ok(a, 'commitCheck', await commitArgs(h, a, Verdict.ok), inf)
  t.same(await refuses(h, a, 'commitCheck', await commitArgs(h, a, Verdict.ok)), { code: 'inference.AlreadyCommitted', unchanged: true })
  // b stays silent: slashed at the commit deadline, the round goes on with a alone
  const bStake = await stake(h, b)
  const deadline = (await checks.get(h.state, 1))?.deadline ?? 0
  const missed = await h.advanceTo(deadline)
  t.same(eventsNamed(CheckerSlashed, missed, I).map((e) => [e.checker, e.reason, e.slashBps]), [[b, 0, CHECKED.checkerMissedSlashBps]])
  t.ok((await stake(h, b)) < bStake)
  t.same((await checks.get(h.state, 1))?.checkers, [a])
  t.same(await refuses(h, a, 'revealCheck', revealArgs(a, Verdict.wrong)), { code: 'inference.BadReveal', unchanged: true }, 'a verdict other than the committed one')
  t.same(await refuses(h, a, 'revealCheck', { ...revealArgs(a, Verdict.ok), verdict: 3 }), { code: 'inference.BadReveal', unchanged: true })
  t.same(await refuses(h, b, 'revealCheck', revealArgs(b, Verdict.ok)), { code: 'inference.NotChecker', unchanged: true })
  // a never reveals: slashed like a losing vote, and with no verdict the record stands
  const aStake = await stake(h, a)
  const unrevealed = await h.advanceTo((await checks.get(h.state, 1))?.deadline ?? 0)
  t.same(eventsNamed(CheckerSlashed, unrevealed, I).map((e) => [e.checker, e.reason, e.slashBps]), [[a, 2, CHECKED.checkerSlashBps]])
  t.ok((await stake(h, a)) < aStake)
  t.same(eventsNamed(CheckSettled, unrevealed, I), [{ record: 1, upheld: true, votesOk: 0, votesAgainst: 0 }])
  t.same(await refuses(h, a, 'commitCheck', await commitArgs(h, a, Verdict.ok)), { code: 'inference.NotCommitPhase', unchanged: true })
  t.same(await invariantProblems(h), [])
})

t.test('channel records are not sampled (their prompt is off chain)', async (t) => {
  const h = await market({ params: CHECKED })
  await h.ok('dave', 'openChannel', { provider: addressOfDev(PROVIDER), deposit: 10n * OPEN }, inf)
  const session = new Session(h.spec.chainId, 1, 'dave')
  for (let i = 0; i < 3; i++) session.pay(1_000n)
  await h.ok(PROVIDER, 'redeem', { vouchers: [session.take()] }, inf)
  t.same(eventsNamed(CheckOpened, await h.advanceTo(h.height + RANDOMNESS_LOOKAHEAD + 1), I), [])
  t.equal(await checks.get(h.state, 3), undefined)
  t.same(await invariantProblems(h), [])
})

t.test('at most MAX_SAMPLES_PER_BLOCK records are sampled a block: the rest wait for the next, drawn from their own mix all the same', async (t) => {
  const count = MAX_SAMPLES_PER_BLOCK + 44
  const h = await market({ params: CHECKED })
  await h.ok(PROVIDER, 'updateProvider', { addBond: 0n, ...offer({ capacity: count }) }, inf)
  const requested = await h.block(Array.from({ length: count }, () => ({ sender: 'bob' as const, module: inf, name: 'request', args: requestArgs({ escrow: OPEN / 10n }) })))
  t.same(requested.outcomes.filter((o) => o.error !== undefined).map((o) => o.error?.code), [], `${count} requests in one block`)
  const fulfilled = await h.block(Array.from({ length: count }, (_, i) => ({ sender: PROVIDER, module: inf, name: 'fulfil', args: { request: i + 1, ...output(`r${i}`), inputTokens: 6, outputTokens: 13 } })))
  t.same(fulfilled.outcomes.filter((o) => o.error !== undefined).map((o) => o.error?.code), [], `${count} records in one block`)
  const recordsAt = h.height
  await h.advanceTo(recordsAt + RANDOMNESS_LOOKAHEAD - 1)
  t.equal(await checkCursor.get(h.state), 0, 'nothing sampled before the mix after the records exists')
  const first = eventsNamed(CheckOpened, await h.advanceTo(recordsAt + RANDOMNESS_LOOKAHEAD), I)
  t.equal(first.length, MAX_SAMPLES_PER_BLOCK, 'the first block samples the cap (every record is sampled at this rate)')
  t.same(first.map((e) => e.record), Array.from({ length: MAX_SAMPLES_PER_BLOCK }, (_, i) => i + 1), 'the oldest records first')
  t.equal(await checkCursor.get(h.state), MAX_SAMPLES_PER_BLOCK)
  t.equal(await checks.get(h.state, MAX_SAMPLES_PER_BLOCK + 1), undefined, 'the next record waits')
  // what the waiting records' draw would have been in the first block: the same checkers a block later
  const twin = h.clone()
  const second = eventsNamed(CheckOpened, await h.advanceTo(h.height + 1), I)
  t.same(second.map((e) => e.record), Array.from({ length: count - MAX_SAMPLES_PER_BLOCK }, (_, i) => MAX_SAMPLES_PER_BLOCK + i + 1), 'the rest in the next block')
  t.equal(await checkCursor.get(h.state), count)
  twin.nextReveal = new Uint8Array(32).fill(9)
  const reordered = eventsNamed(CheckOpened, await twin.advanceTo(twin.height + 1), I)
  t.same(reordered.map((e) => e.checkers), second.map((e) => e.checkers), 'their checkers come from the mix of the record\'s height + RANDOMNESS_LOOKAHEAD, not of the block that samples them')
  t.same(eventsNamed(CheckOpened, await h.advanceTo(h.height + 1), I), [], 'nothing left')
  t.same(await invariantProblems(h), [])
})
