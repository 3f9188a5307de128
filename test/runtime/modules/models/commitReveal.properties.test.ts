// Commit–reveal of verification results (issue 27, point 3), over 10,000 random histories of one
// job's rounds: workers commit, reveal, copy what they can read, and let deadlines pass, in any
// order. Whatever happens, no result is readable while anyone may still commit, every counted
// vote opens a commitment its worker made in that round's commit phase before any result was
// readable, a copier's reveal of someone else's result opens nothing, supply and escrow stay
// exact, and a refused call changes nothing. `PROPERTY_RUNS` raises the number of histories (the
// nightly-size run in the README). The broader models property test covers the other calls.
import t from 'tap'
import fc from 'fast-check'
import { bytesEqual } from '../../../../runtime/codec/canonical.ts'
import { CommitPhase, commitmentBy, commitmentOf } from '../../../../runtime/commitReveal.ts'
import { commitScope, RESULT_COMMIT_DOMAIN, resultPayload } from '../../../../runtime/modules/models/lifecycle.ts'
import type { Address } from '../../../../runtime/crypto/secp256k1.ts'
import { JobStatus, type Job } from '../../../../runtime/modules/models/state.ts'
import { invariantProblems as stakingProblems } from '../staking/harness.ts'
import {
  commitArgs, invariantProblems, modelsSpec, ModelsHarness, revealArgs, revealResultArgs, saltOf, TEST_MODELS_PARAMS,
} from './harness.ts'

const RUNS = Number(process.env.PROPERTY_RUNS ?? 10_000)
const PARAMS = { ...TEST_MODELS_PARAMS, trainBlocks: 6, verifyBlocks: 4, maxAttempts: 2 }
const tag = fc.constantFrom('honest', 'honest', 'wrong')
const slot = fc.integer({ min: 0, max: 4 })

const action = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('commit' as const), slot, tag }), weight: 5 },
  { arbitrary: fc.record({ kind: fc.constant('reveal' as const), slot, tag }), weight: 5 },
  { arbitrary: fc.record({ kind: fc.constant('reveal' as const), slot: fc.constant(0), tag }), weight: 2 },
  // every worker of the round commits in one block (a round's usual start)
  { arbitrary: fc.record({ kind: fc.constant('commitAll' as const), tags: fc.array(tag, { minLength: 5, maxLength: 5 }) }), weight: 2 },
  // a worker that did not compute reveals whatever result it can read on chain
  { arbitrary: fc.record({ kind: fc.constant('copy' as const), slot }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('wait' as const), blocks: fc.integer({ min: 1, max: 5 }) }), weight: 1 },
)
type Action = typeof action extends fc.Arbitrary<infer A> ? A : never

const workersOf = (job: Job): Address[] => [job.trainer, ...job.verifiers, ...job.arbiters]

async function commitAll(h: ModelsHarness, job: Job, tags: readonly string[]) {
  const calls = workersOf(job).map(async (worker, i) => ({ sender: worker, name: 'commit', args: await commitArgs(h, 1, worker, tags[i] ?? 'honest') }))
  await h.block(await Promise.all(calls))
}

async function callFor(h: ModelsHarness, job: Job, a: Exclude<Action, { kind: 'wait' | 'commitAll' }>) {
  const workers = workersOf(job)
  const worker = workers[a.slot % workers.length] as Address
  const isTrainer = a.slot % workers.length === 0 && job.status !== JobStatus.disputed
  switch (a.kind) {
    case 'commit':
      return { sender: worker, name: 'commit', args: await commitArgs(h, 1, worker, a.tag) }
    case 'reveal':
      return isTrainer
        ? { sender: worker, name: 'revealResult', args: revealResultArgs(1, worker, a.tag) }
        : { sender: worker, name: 'revealAttestation', args: revealArgs(1, worker, a.tag) }
    case 'copy':
      if (job.result === undefined) return undefined
      return { sender: worker, name: 'revealAttestation', args: { job: 1, salt: saltOf(worker), weightsHash: job.result.weightsHash, checkpointRoot: job.result.checkpointRoot } }
  }
}

t.test('commit–reveal holds over random rounds: nothing readable early, no vote without its commitment', async (t) => {
  const start = await ModelsHarness.create(modelsSpec({ validators: 5, params: PARAMS }))
  await start.publishedDatanet()
  await start.createJob()
  // half the histories start where the trainer's result has just become readable
  const revealed = start.clone()
  await commitAll(revealed, await revealed.job(1), ['honest', 'honest', 'wrong', 'honest', 'wrong'])
  const trainer = (await revealed.job(1)).trainer
  await revealed.ok(trainer, 'revealResult', revealResultArgs(1, trainer, 'honest'))
  let copies = 0
  let copiesCounted = 0
  let published = 0
  const outcome = await fc.check(fc.asyncProperty(fc.boolean(), fc.array(action, { minLength: 1, maxLength: 14 }), async (fromRevealed, actions) => {
    const h = (fromRevealed ? revealed : start).clone()
    // the height at which this round's first result became readable (a reveal phase opened)
    let readableSince = fromRevealed ? h.height - 1 : undefined
    for (const a of actions) {
      const before = await h.job(1)
      if (a.kind === 'wait') await h.advanceTo(h.height + a.blocks)
      else if (a.kind === 'commitAll') await commitAll(h, before, a.tags)
      else {
        const call = await callFor(h, before, a)
        if (call === undefined) continue
        const empty = h.clone()
        await empty.block([])
        const { outcomes } = await h.block([call])
        const error = outcomes[0]?.error
        if (error !== undefined && h.snapshot() !== empty.snapshot()) throw new Error(`refused ${call.name} (${error.code}) changed the state`)
        if (a.kind === 'copy') {
          copies++
          if (error === undefined) {
            copiesCounted++
            // a copy is counted only where the copier had committed to exactly that result
            const { args } = call as { args: { weightsHash: Uint8Array; checkpointRoot: Uint8Array } }
            const own = commitmentBy(before.commitments, call.sender)
            const committed = commitmentOf(RESULT_COMMIT_DOMAIN, commitScope(before), call.sender, saltOf(call.sender), resultPayload(args))
            if (own === undefined || !bytesEqual(own.commitment, committed)) throw new Error('a copied result was counted for a worker that had committed to another')
          }
        }
      }
      const job = await h.job(1)
      if (job.status === JobStatus.published) published++
      if (job.attempt !== before.attempt || job.status !== before.status) readableSince = undefined
      if (job.status !== JobStatus.verifying && job.status !== JobStatus.disputed) continue
      if (job.phase === CommitPhase.reveal) readableSince ??= h.height
      else if (job.result !== undefined && job.status === JobStatus.verifying) throw new Error('a result readable in the commit phase')
      for (const vote of job.attestations) {
        const own = commitmentBy(job.commitments, vote.worker)
        if (own === undefined || own.height !== vote.height) throw new Error('a vote counted without its commitment')
        if (readableSince !== undefined && own.height > readableSince) throw new Error('a vote committed after a result was readable')
      }
      const problems = [...(await invariantProblems(h)), ...(await stakingProblems(h.committed))]
      if (problems.length > 0) throw new Error(problems.join('; '))
    }
  }), { seed: 27, numRuns: RUNS })
  t.notOk(outcome.failed, fc.defaultReportMessage(outcome) ?? `held for ${RUNS} histories`)
  // the histories reached what the property is about: copies tried, rounds finished
  t.ok(copies > RUNS / 4, `${copies} copy attempts`)
  t.ok(published > 0, `${published} blocks with the job published`)
  t.comment(`${copiesCounted} of ${copies} copies counted (only where the copier had committed the same result itself)`)
})
