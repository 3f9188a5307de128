// Random sequences of models calls and empty blocks (so deadlines pass, disputes open and
// settle, jobs are reassigned and refunded): supply is conserved (balances sum to the issuance,
// which only slashing lowers), the module account holds exactly the base-model deposits and the
// open jobs' fees, staking's accounting still holds after the slashes, and a failed call changes
// nothing (its block ends exactly as an empty block would).
import { CommitPhase, commitmentBy } from '../../../../runtime/commitReveal.ts'
import { JobStatus } from '../../../../runtime/modules/models/state.ts'
import t from 'tap'
import fc from 'fast-check'
import { sha256, utf8 } from '../../../../runtime/crypto/hash.ts'
import type { Address } from '../../../../runtime/crypto/secp256k1.ts'
import { invariantProblems as stakingProblems } from '../staking/harness.ts'
import { baseModelArgs, commitArgs, HYPER, invariantProblems, jobArgs, modelsSpec, ModelsHarness, revealArgs, revealResultArgs, TEST_MODELS_PARAMS } from './harness.ts'

const NOBODY = sha256(utf8('nobody')).subarray(0, 20)
const MINIMUM_FEE = TEST_MODELS_PARAMS.minFeePerStep * BigInt(HYPER.steps * HYPER.batchSize)
const tag = fc.constantFrom('honest', 'honest', 'honest', 'wrong', 'other')

const action = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('create' as const), who: fc.constantFrom('eve' as const, 'dave' as const, 'nobody' as const), extra: fc.integer({ min: -1, max: 3 }) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('commit' as const), job: fc.integer({ min: 1, max: 3 }), slot: fc.integer({ min: 0, max: 5 }), tag }), weight: 6 },
  { arbitrary: fc.record({ kind: fc.constant('reveal' as const), job: fc.integer({ min: 1, max: 3 }), slot: fc.integer({ min: 0, max: 5 }), tag }), weight: 8 },
  { arbitrary: fc.record({ kind: fc.constant('attestAll' as const), job: fc.integer({ min: 1, max: 3 }), tags: fc.array(tag, { minLength: 4, maxLength: 4 }) }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('wait' as const), blocks: fc.integer({ min: 1, max: 15 }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('register' as const), who: fc.constantFrom('dave' as const, 'nobody' as const), n: fc.integer({ min: 0, max: 2 }) }), weight: 1 },
)
type Action = typeof action extends fc.Arbitrary<infer A> ? A : never

/** every worker of the round commits (one block), then reveals (the next): a round's usual course */
async function attestAll(h: ModelsHarness, a: Extract<Action, { kind: 'attestAll' }>): Promise<void> {
  const job = await h.job(a.job).catch(() => undefined)
  if (job === undefined) return
  const workers = [job.trainer, ...job.verifiers, ...job.arbiters]
  const tagOf = (i: number): string => a.tags[i % a.tags.length] ?? 'honest'
  await h.block(await Promise.all(workers.map(async (worker, i) => ({ sender: worker, name: 'commit', args: await commitArgs(h, a.job, worker, tagOf(i)) }))))
  await h.block([{ sender: job.trainer, name: 'revealResult', args: revealResultArgs(a.job, job.trainer, tagOf(0)) }])
  await h.block([...job.verifiers, ...job.arbiters].map((worker, i) => ({ sender: worker, name: 'revealAttestation', args: revealArgs(a.job, worker, tagOf(i + 1)) })))
}

async function callFor(h: ModelsHarness, a: Exclude<Action, { kind: 'wait' | 'attestAll' }>): Promise<{ sender: Address | 'eve' | 'dave'; name: string; args: unknown } | undefined> {
  switch (a.kind) {
    case 'create':
      return { sender: a.who === 'nobody' ? NOBODY : a.who, name: 'createJob', args: jobArgs({ fee: MINIMUM_FEE + BigInt(a.extra) * MINIMUM_FEE / 2n }) }
    case 'register':
      return { sender: a.who === 'nobody' ? NOBODY : a.who, name: 'registerBaseModel', args: baseModelArgs({ name: `model ${a.n}` }) }
    case 'commit': {
      const job = await h.job(a.job).catch(() => undefined)
      if (job === undefined) return undefined
      const workers = [job.trainer, ...job.verifiers, ...job.arbiters]
      const worker = workers[a.slot % workers.length] as Address
      return { sender: worker, name: 'commit', args: await commitArgs(h, a.job, worker, a.tag) }
    }
    case 'reveal': {
      const job = await h.job(a.job).catch(() => undefined)
      if (job === undefined) return undefined
      const workers = [job.trainer, ...job.verifiers, ...job.arbiters]
      const worker = workers[a.slot % workers.length] as Address
      if (a.slot % workers.length === 0) return { sender: worker, name: 'revealResult', args: revealResultArgs(a.job, worker, a.tag) }
      return { sender: worker, name: 'revealAttestation', args: revealArgs(a.job, worker, a.tag) }
    }
  }
}

t.test('random job histories conserve supply and escrow, and failed calls change nothing', async (t) => {
  const start = await ModelsHarness.create(modelsSpec({ validators: 6, params: { ...TEST_MODELS_PARAMS, trainBlocks: 12, verifyBlocks: 8, maxAttempts: 3 } }))
  await start.publishedDatanet()
  await fc.assert(fc.asyncProperty(fc.array(action, { minLength: 10, maxLength: 40 }), async (actions) => {
    const h = start.clone()
    for (const a of actions) {
      if (a.kind === 'wait') await h.advanceTo(h.height + a.blocks)
      else if (a.kind === 'attestAll') await attestAll(h, a)
      else {
        const call = await callFor(h, a)
        if (call === undefined) continue
        const empty = h.clone()
        await empty.block([])
        const { outcomes } = await h.block([call])
        const error = outcomes[0]?.error
        if (error !== undefined && h.snapshot() !== empty.snapshot()) throw new Error(`failed ${call.name} (${error.code}) changed the state`)
      }
      // issue 27 (3): a result is readable only once every worker of its round committed, and every
      // revealed vote opens a commitment its worker made in that commit phase
      for (let id = 1; id <= 3; id++) {
        const job = await h.job(id).catch(() => undefined)
        if (job === undefined || (job.status !== JobStatus.verifying && job.status !== JobStatus.disputed)) continue
        if (job.status === JobStatus.verifying && job.result !== undefined && job.phase !== CommitPhase.reveal) throw new Error(`job ${id}: a result readable in the commit phase`)
        for (const vote of job.attestations) {
          const own = commitmentBy(job.commitments, vote.worker)
          if (own === undefined || own.height !== vote.height) throw new Error(`job ${id}: a vote revealed without its commitment`)
        }
      }
      const problems = [...(await invariantProblems(h)), ...(await stakingProblems(h.committed))]
      if (problems.length > 0) throw new Error(problems.join('; '))
    }
  }), { numRuns: 60, seed: 11 })
  t.pass('held for 60 random histories')
})
