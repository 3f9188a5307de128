// A job's life beyond the happy path: deterministic assignment, disputes (a wrong verifier, a
// wrong trainer, a tie), deadlines (reassignment, replaced verifiers, refunds) and the
// one-validator dev chain.
import t from 'tap'
import { sha256, toHex, utf8 } from '../../../../runtime/crypto/hash.ts'
import type { Address } from '../../../../runtime/crypto/secp256k1.ts'
import { Slashed } from '../../../../runtime/modules/staking/events.ts'
import { validatorInfo } from '../../../../runtime/modules/staking/stake.ts'
import { ModuleIndex } from '../../../../runtime/modules/indices.ts'
import {
  DisputeOpened, DisputeResolved, JobAssigned, JobReassigned, JobRefunded, ModelPublished, ReassignReason, RefundReason, VerifiersReplaced, WorkerSlashed,
  WorkerSlashReason,
} from '../../../../runtime/modules/models/events.ts'
import { ASSIGNMENT_DOMAIN } from '../../../../runtime/modules/models/lifecycle.ts'
import { JobStatus, MODELS_ACCOUNT } from '../../../../runtime/modules/models/state.ts'
import { u64Key } from '../../../../runtime/storage.ts'
import { countedSetAt } from '../../../../runtime/modules/staking/validatorSet.ts'
import { drawSeed, drawWeighted, RANDOMNESS_LOOKAHEAD } from '../../../../runtime/modules/system/randomness.ts'
import { devChainSpec } from '../../../../genesis/devSpec.ts'
import { TESTNET_VALIDATOR_SELF_BOND } from '../../../../genesis/testnetSpec.ts'
import {
  addressOf, arbitrate, baseModelArgs, commitArgs, eventsNamed, FEE, hashes, invariantProblems, jobArgs, modelsSpec, ModelsHarness, OPEN, revealArgs, revealResultArgs,
  round, TEST_MODELS_PARAMS, withJob,
} from './harness.ts'

const P = TEST_MODELS_PARAMS

async function tokensOf(h: ModelsHarness, operator: Address): Promise<bigint> {
  return (await validatorInfo(h.state, operator))?.tokens ?? 0n
}

t.test('assignment: drawn by stake from the mix RANDOMNESS_LOOKAHEAD blocks after createJob; the parent hash takes no part', async (t) => {
  const h = await ModelsHarness.create()
  await h.publishedDatanet()
  const assigned: string[] = []
  const cases = [
    { reveal: 'a', parent: 'p' }, { reveal: 'a', parent: 'q' }, { reveal: 'b', parent: 'p' }, { reveal: 'c', parent: 'p' }, { reveal: 'd', parent: 'p' }, { reveal: 'e', parent: 'p' },
  ]
  for (const { reveal, parent } of cases) {
    const copy = h.clone()
    await copy.ok('eve', 'createJob', jobArgs())
    await copy.advanceTo(copy.height + RANDOMNESS_LOOKAHEAD - 1)
    copy.nextReveal = sha256(utf8(reveal))
    copy.nextParentHash = sha256(utf8(parent))
    const event = eventsNamed(JobAssigned, await copy.advanceTo(copy.height + 1))[0]
    const workers = [event?.trainer, ...(event?.verifiers ?? [])] as Address[]
    assigned.push(workers.map((a) => toHex(a)).join(','))
    if (reveal === 'a' && parent === 'p') {
      const members = await countedSetAt(copy.state, copy.height)
      const seed = await drawSeed(copy.state, { domain: ASSIGNMENT_DOMAIN, subject: u64Key(1), height: copy.height }, copy.height)
      const expected = drawWeighted(seed, members.map((m) => BigInt(m.power)), members.length).map((i) => members[i]?.operator)
      t.same(workers, expected.slice(0, 1 + P.verifiers), 'trainer first, then the verifiers, in the drawn order')
    }
  }
  t.equal(assigned[0], assigned[1], 'the same mix gives the same assignment whatever the parent hash')
  t.ok(new Set(assigned.slice(1)).size > 1, 'different reveals give different assignments')
})

t.test('a dispute\'s arbiters and a lost dispute\'s next trainer are drawn RANDOMNESS_LOOKAHEAD blocks after the reveal that triggers them: the block that includes it does not decide them', async (t) => {
  const h = await withJob()
  const job = await h.job(1)
  const [honest, wrong] = job.verifiers as [Address, Address]
  await h.ok(job.trainer, 'commit', await commitArgs(h, 1, job.trainer, 'honest'))
  await h.ok(honest, 'commit', await commitArgs(h, 1, honest, 'honest'))
  await h.ok(wrong, 'commit', await commitArgs(h, 1, wrong, 'wrong'))
  await h.ok(job.trainer, 'revealResult', revealResultArgs(1, job.trainer, 'honest'))
  await h.ok(honest, 'revealAttestation', revealArgs(1, honest, 'honest'))
  // the proposer of the next block holds the disagreeing reveal, which opens the dispute: what it
  // controls is that block (here its parent hash and the other transactions in it) and whether
  // the reveal is in it; its own beacon reveal is fixed by its hash chain
  const including = h.height + 1
  const arbitersAfter = async (variant: { parent: string; extra: boolean }, later: readonly string[]): Promise<string> => {
    const copy = h.clone()
    copy.nextParentHash = sha256(utf8(variant.parent))
    const { outcomes, hookEvents } = await copy.block([
      { sender: wrong, name: 'revealAttestation', args: revealArgs(1, wrong, 'wrong') },
      ...(variant.extra ? [{ sender: addressOf('eve'), name: 'commit', args: { job: 1, commitment: sha256(utf8('noise')) } }] : []),
    ])
    t.equal(outcomes[0]?.error, undefined)
    const closed = await copy.job(1)
    if (eventsNamed(DisputeOpened, [...(outcomes[0]?.events ?? []), ...hookEvents]).length > 0 || closed.status !== JobStatus.verifying) t.fail('a dispute opened in the block that included its trigger')
    t.equal(closed.deadline, including + RANDOMNESS_LOOKAHEAD)
    for (const reveal of later) {
      copy.nextReveal = sha256(utf8(reveal))
      await copy.advanceTo(copy.height + 1)
    }
    const disputed = await copy.job(1)
    t.equal(disputed.status, JobStatus.disputed)
    // the arbiters are the first of the order drawn from the mix of including + L, past those on the job
    const members = (await countedSetAt(copy.state, copy.height)).filter((m) => m.power > 0n)
    const seed = await drawSeed(copy.state, { domain: ASSIGNMENT_DOMAIN, subject: u64Key(1), height: including + RANDOMNESS_LOOKAHEAD }, copy.height)
    const involved = new Set([job.trainer, ...job.verifiers].map(toHex))
    const expected = drawWeighted(seed, members.map((m) => BigInt(m.power)), members.length).map((i) => members[i]?.operator as Address).filter((a) => !involved.has(toHex(a)))
    t.same(disputed.arbiters, expected.slice(0, P.arbiters), 'drawn from the mix RANDOMNESS_LOOKAHEAD blocks after the including block')
    return disputed.arbiters.map(toHex).join(',')
  }
  const future = ['r1', 'r2']
  const plain = await arbitersAfter({ parent: 'p', extra: false }, future)
  t.equal(await arbitersAfter({ parent: 'q', extra: true }, future), plain, 'another parent hash and other transactions in the including block: the same arbiters')
  const futures = new Set([plain])
  for (const other of [['s1', 'r2'], ['r1', 's2'], ['u1', 'u2'], ['v1', 'v2']]) futures.add(await arbitersAfter({ parent: 'p', extra: false }, other))
  t.ok(futures.size > 1, `the later proposers' reveals, unknown to the includer, decide (${futures.size} outcomes over 5 futures)`)

  // the arbiters find the trainer wrong: the last arbiter's reveal closes the dispute, and the next
  // trainer is drawn RANDOMNESS_LOOKAHEAD blocks later
  const h2 = await withJob()
  const job2 = await h2.job(1)
  await round(h2, 1, 'wrong', ['honest'])
  const disputed = await h2.job(1)
  for (const arbiter of disputed.arbiters) await h2.ok(arbiter, 'commit', await commitArgs(h2, 1, arbiter, 'honest'))
  for (const arbiter of disputed.arbiters.slice(0, -1)) await h2.ok(arbiter, 'revealAttestation', revealArgs(1, arbiter, 'honest'))
  const last = await h2.ok(disputed.arbiters.at(-1) as Address, 'revealAttestation', revealArgs(1, disputed.arbiters.at(-1) as Address, 'honest'))
  const closedAt = h2.height
  t.same(eventsNamed(DisputeResolved, [...last.events, ...last.hookEvents]), [], 'not resolved in the block that included the last reveal')
  t.equal((await h2.job(1)).deadline, closedAt + RANDOMNESS_LOOKAHEAD)
  const later = await h2.advanceTo(closedAt + RANDOMNESS_LOOKAHEAD)
  t.equal(eventsNamed(DisputeResolved, later)[0]?.trainerWon, false)
  const reassigned = eventsNamed(JobReassigned, later)[0]
  const members = (await countedSetAt(h2.state, h2.height)).filter((m) => m.power > 0n)
  const seed = await drawSeed(h2.state, { domain: ASSIGNMENT_DOMAIN, subject: u64Key(1), height: closedAt + RANDOMNESS_LOOKAHEAD }, h2.height)
  const order = drawWeighted(seed, members.map((m) => BigInt(m.power)), members.length).map((i) => members[i]?.operator as Address).filter((a) => toHex(a) !== toHex(job2.trainer))
  t.same(reassigned?.trainer, order[0], 'the next trainer drawn from the mix RANDOMNESS_LOOKAHEAD blocks after the last reveal')
  t.same(await invariantProblems(h2), [])
})

t.test('dispute: a wrong verifier is slashed and the trainer\'s result published, paid to the agreeing workers', async (t) => {
  const h = await withJob()
  const job = await h.job(1)
  const [honest, wrong] = job.verifiers as [Address, Address]
  // the disagreement shows once every verifier revealed
  const opened = await round(h, 1, 'honest', ['honest', 'wrong'])
  const disputed = await h.job(1)
  t.equal(disputed.status, JobStatus.disputed)
  t.equal(disputed.arbiters.length, P.arbiters)
  t.same(eventsNamed(DisputeOpened, opened.events), [{ job: 1, arbiters: disputed.arbiters, verifyDeadline: h.height + P.verifyBlocks }])
  const involved = new Set([job.trainer, ...job.verifiers].map(toHex))
  t.ok(disputed.arbiters.every((a) => !involved.has(toHex(a))), 'arbiters are not yet involved')
  const [a1, a2] = disputed.arbiters as [Address, Address]
  // arbiters commit before anyone reveals, like the verifiers
  t.equal((await h.call(a1, 'revealAttestation', revealArgs(1, a1))).error?.code, 'models.WrongPhase')
  await h.ok(a1, 'commit', await commitArgs(h, 1, a1))
  await h.ok(a2, 'commit', await commitArgs(h, 1, a2))
  t.equal((await h.call(a1, 'revealAttestation', revealArgs(1, a1))).error, undefined)
  t.equal((await h.call(a1, 'revealAttestation', revealArgs(1, a1))).error?.code, 'models.AlreadyAttested')
  const before = await Promise.all([job.trainer, honest, a1, a2, wrong].map((a) => h.balance(a)))
  const wrongTokens = await tokensOf(h, wrong)
  const resolved = await h.ok(a2, 'revealAttestation', revealArgs(1, a2))
  t.same(eventsNamed(DisputeResolved, resolved.events), [{ job: 1, tie: false, trainerWon: true, ...hashes('honest'), votes: 4, totalVotes: 5 }])
  t.same(eventsNamed(WorkerSlashed, resolved.events), [{ job: 1, worker: wrong, reason: WorkerSlashReason.wrongResult, slashBps: P.slashBps }])
  t.same(eventsNamed(Slashed, resolved.events, ModuleIndex.staking).map((e) => [e.validator, e.reason]), [[wrong, 'wrongWork']])
  t.equal(await tokensOf(h, wrong), wrongTokens - (wrongTokens * BigInt(P.slashBps)) / 10_000n, 'slashBps of its stake burned')
  t.equal(wrongTokens, TESTNET_VALIDATOR_SELF_BOND)
  const published = eventsNamed(ModelPublished, resolved.events)[0]
  t.same(published?.verifiers, [honest, a1, a2], 'the agreeing verifier and arbiters share the verifiers\' part')
  // 3 OPEN among three: 1 OPEN each
  t.equal(published?.verifierPaid, OPEN)
  t.equal(published?.trainerPaid, 7n * OPEN)
  t.same(await Promise.all([job.trainer, honest, a1, a2, wrong].map((a) => h.balance(a))), [before[0] as bigint + 7n * OPEN, before[1] as bigint + OPEN, before[2] as bigint + OPEN, before[3] as bigint + OPEN, before[4]])
  t.equal((await h.job(1)).status, JobStatus.published)
  t.same(await invariantProblems(h), [])
})

t.test('dispute: a wrong trainer is slashed and the training reassigned to a fresh validator', async (t) => {
  const h = await withJob()
  const job = await h.job(1)
  await round(h, 1, 'wrong', ['honest'])
  const trainerTokens = await tokensOf(h, job.trainer)
  const resolved = await arbitrate(h, 1, ['honest']) ?? { events: [] }
  t.same(eventsNamed(DisputeResolved, resolved.events), [{ job: 1, tie: false, trainerWon: false, ...hashes('honest'), votes: 4, totalVotes: 5 }])
  t.same(eventsNamed(WorkerSlashed, resolved.events).map((e) => e.worker), [job.trainer])
  t.ok(await tokensOf(h, job.trainer) < trainerTokens)
  const next = await h.job(1)
  t.equal(next.status, JobStatus.training)
  t.equal(next.attempt, 2)
  t.same(next.excluded, [job.trainer])
  t.notSame(next.trainer, job.trainer, 'the wrong trainer is never assigned again')
  t.equal(next.result, undefined)
  t.same(next.attestations, [])
  t.same(eventsNamed(JobReassigned, resolved.events), [{ job: 1, trainer: next.trainer, verifiers: next.verifiers, trainDeadline: h.height + P.trainBlocks, attempt: 2, reason: ReassignReason.lostDispute }])
  t.equal(await h.balance(MODELS_ACCOUNT), FEE, 'the fee stays in escrow')
  // the new round publishes normally
  await round(h, 1, 'honest')
  t.equal((await h.job(1)).status, JobStatus.published)
  t.same((await h.modelVersion(1))?.trainer, next.trainer)
  t.same(await invariantProblems(h), [])
})

t.test('dispute: a tie fails the job and refunds the fee, slashing nobody', async (t) => {
  const h = await ModelsHarness.create(modelsSpec({ params: { ...P, arbiters: 1 } }))
  await h.publishedDatanet()
  await h.createJob()
  const eveBefore = await h.balance('eve')
  await round(h, 1, 'honest', ['other'])
  const resolved = await arbitrate(h, 1, ['honest']) ?? { events: [] }
  t.equal(eventsNamed(DisputeResolved, resolved.events)[0]?.tie, true)
  t.same(eventsNamed(WorkerSlashed, resolved.events), [])
  t.same(eventsNamed(JobRefunded, resolved.events), [{ job: 1, owner: addressOf('eve'), amount: FEE, reason: RefundReason.tie }])
  t.equal(await h.balance('eve'), eveBefore + FEE)
  t.equal((await h.job(1)).status, JobStatus.refunded)
  t.same(await invariantProblems(h), [])
})

t.test('dispute: at the deadline silent arbiters are skipped and the votes present decide', async (t) => {
  const h = await withJob()
  const job = await h.job(1)
  const [wrong, honest] = job.verifiers as [Address, Address]
  await round(h, 1, 'honest', ['wrong', 'honest'])
  // the arbiters never commit: at the commit deadline the votes present decide
  const events = await h.advanceTo((await h.job(1)).deadline)
  t.same(eventsNamed(DisputeResolved, events), [{ job: 1, tie: false, trainerWon: true, ...hashes('honest'), votes: 2, totalVotes: 3 }])
  t.ok(eventsNamed(WorkerSlashed, events).some((e) => toHex(e.worker) === toHex(wrong) && e.reason === WorkerSlashReason.wrongResult), 'the wrong verifier slashed')
  t.same(eventsNamed(ModelPublished, events)[0]?.verifiers, [honest])
  t.same(await invariantProblems(h), [])
})

t.test('deadlines: a silent trainer is replaced, then after maxAttempts the fee is refunded', async (t) => {
  const h = await withJob()
  const eveBefore = await h.balance('eve')
  const job = await h.job(1)
  const tokens = await tokensOf(h, job.trainer)
  t.same(await h.advanceTo(job.deadline - 1), [], 'nothing before the deadline')
  const events = await h.advanceTo(job.deadline)
  const next = await h.job(1)
  t.same(eventsNamed(WorkerSlashed, events), [{ job: 1, worker: job.trainer, reason: WorkerSlashReason.missedDeadline, slashBps: P.missedDeadlineSlashBps }])
  t.same(eventsNamed(Slashed, events, ModuleIndex.staking).map((e) => e.reason), ['missedWork'])
  t.equal(await tokensOf(h, job.trainer), tokens - (tokens * BigInt(P.missedDeadlineSlashBps)) / 10_000n)
  t.same(eventsNamed(JobReassigned, events), [{ job: 1, trainer: next.trainer, verifiers: next.verifiers, trainDeadline: job.deadline + P.trainBlocks, attempt: 2, reason: ReassignReason.missedDeadline }])
  t.notSame(next.trainer, job.trainer)
  const last = await h.advanceTo(next.deadline)
  t.same(eventsNamed(JobRefunded, last), [{ job: 1, owner: addressOf('eve'), amount: FEE, reason: RefundReason.maxAttempts }])
  t.equal((await h.job(1)).status, JobStatus.refunded)
  t.equal(await h.balance('eve'), eveBefore + FEE)
  t.equal(await h.balance(MODELS_ACCOUNT), 0n)
  t.same(await h.advanceTo(h.height + 30), [], 'a closed job has no more deadlines')
  t.same(await invariantProblems(h), [])
})

t.test('deadlines: silent verifiers are replaced by fresh validators; or, when allowed, the agreeing ones publish', async (t) => {
  const h = await withJob()
  const job = await h.job(1)
  const [active, silent] = job.verifiers as [Address, Address]
  // the silent verifier never commits
  await h.ok(job.trainer, 'commit', await commitArgs(h, 1, job.trainer))
  await h.ok(active, 'commit', await commitArgs(h, 1, active))
  const events = await h.advanceTo((await h.job(1)).deadline)
  const next = await h.job(1)
  t.equal(next.status, JobStatus.verifying)
  t.same(next.verifiers[0], active)
  t.equal(next.verifiers.length, 2)
  const involved = new Set([job.trainer, ...job.verifiers].map(toHex))
  t.notOk(involved.has(toHex(next.verifiers[1] as Address)), 'the replacement is fresh')
  t.same(next.excluded, [silent])
  t.same(eventsNamed(VerifiersReplaced, events), [{ job: 1, verifiers: next.verifiers, verifyDeadline: h.height + P.verifyBlocks }])
  t.same(eventsNamed(WorkerSlashed, events).map((e) => [e.worker, e.reason]), [[silent, WorkerSlashReason.missedDeadline]])
  await h.ok(next.verifiers[1] as Address, 'commit', await commitArgs(h, 1, next.verifiers[1] as Address))
  await h.ok(job.trainer, 'revealResult', revealResultArgs(1, job.trainer))
  await h.ok(active, 'revealAttestation', revealArgs(1, active))
  await h.ok(next.verifiers[1] as Address, 'revealAttestation', revealArgs(1, next.verifiers[1] as Address))
  t.same((await h.modelVersion(1))?.verifiers, [active, next.verifiers[1]])
  t.same(await invariantProblems(h), [])

  // the same chain with publishOnPartialQuorum
  const p = await ModelsHarness.create(modelsSpec({ params: { ...P, publishOnPartialQuorum: true } }))
  await p.publishedDatanet()
  await p.createJob()
  const pJob = await p.job(1)
  await p.ok(pJob.trainer, 'commit', await commitArgs(p, 1, pJob.trainer))
  await p.ok(pJob.verifiers[0] as Address, 'commit', await commitArgs(p, 1, pJob.verifiers[0] as Address))
  await p.advanceTo((await p.job(1)).deadline) // the commit deadline: the reveal phase opens for the committed
  await p.ok(pJob.trainer, 'revealResult', revealResultArgs(1, pJob.trainer))
  const pEvents = (await p.ok(pJob.verifiers[0] as Address, 'revealAttestation', revealArgs(1, pJob.verifiers[0] as Address))).events
  t.same(eventsNamed(ModelPublished, pEvents)[0]?.verifiers, [pJob.verifiers[0]], 'published with the one that attested')
  t.same(await invariantProblems(p), [])
})

t.test('a chain of one validator: NotEnoughValidators unless minVerifiers is 0 (the dev chain), where the trainer alone publishes', async (t) => {
  const single = await ModelsHarness.create(modelsSpec({ validators: 1 }))
  await single.publishedDatanet()
  t.equal((await single.call('eve', 'createJob', jobArgs())).error?.code, 'models.NotEnoughValidators')

  const dev = await ModelsHarness.create(devChainSpec({ baseModels: [baseModelArgs()] }))
  await dev.publishedDatanet()
  const { assignment } = await dev.createJob()
  const alice = addressOf('alice')
  t.same(eventsNamed(JobAssigned, assignment)[0]?.verifiers, [])
  t.same((await dev.job(1)).trainer, alice)
  const before = await dev.balance(alice)
  await dev.ok(alice, 'commit', await commitArgs(dev, 1, alice))
  const submitted = await dev.ok(alice, 'revealResult', revealResultArgs(1, alice))
  t.same(eventsNamed(ModelPublished, submitted.events)[0]?.trainerPaid, FEE, 'the whole fee to the only worker')
  t.equal(await dev.balance(alice), before + FEE)
  t.same(await invariantProblems(dev), [])
})
