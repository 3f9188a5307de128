// Random sequences of models calls and empty blocks (so deadlines pass, disputes open and
// settle, jobs are reassigned and refunded): supply is conserved (balances sum to the issuance,
// which only slashing lowers), the module account holds exactly the base-model deposits and the
// open jobs' fees, staking's accounting still holds after the slashes, and a failed call changes
// nothing (its block ends exactly as an empty block would).
import t from 'tap'
import fc from 'fast-check'
import { sha256, utf8 } from '../../../../runtime/crypto/hash.ts'
import type { Address } from '../../../../runtime/crypto/secp256k1.ts'
import { invariantProblems as stakingProblems } from '../staking/harness.ts'
import { baseModelArgs, hashes, HYPER, invariantProblems, jobArgs, modelsSpec, ModelsHarness, resultArgs, TEST_MODELS_PARAMS } from './harness.ts'

const NOBODY = sha256(utf8('nobody')).subarray(0, 20)
const MINIMUM_FEE = TEST_MODELS_PARAMS.minFeePerStep * BigInt(HYPER.steps * HYPER.batchSize)
const tag = fc.constantFrom('honest', 'honest', 'honest', 'wrong', 'other')

const action = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('create' as const), who: fc.constantFrom('eve' as const, 'dave' as const, 'nobody' as const), extra: fc.integer({ min: -1, max: 3 }) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('submit' as const), job: fc.integer({ min: 1, max: 3 }), byTrainer: fc.constantFrom(true, true, true, false), tag }), weight: 6 },
  { arbitrary: fc.record({ kind: fc.constant('attest' as const), job: fc.integer({ min: 1, max: 3 }), slot: fc.integer({ min: 0, max: 4 }), tag }), weight: 8 },
  { arbitrary: fc.record({ kind: fc.constant('attestAll' as const), job: fc.integer({ min: 1, max: 3 }), tags: fc.array(tag, { minLength: 4, maxLength: 4 }) }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('wait' as const), blocks: fc.integer({ min: 1, max: 15 }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('register' as const), who: fc.constantFrom('dave' as const, 'nobody' as const), n: fc.integer({ min: 0, max: 2 }) }), weight: 1 },
)
type Action = typeof action extends fc.Arbitrary<infer A> ? A : never

/** every verifier and arbiter of the job attests, in one block (a round's usual end) */
async function attestAll(h: ModelsHarness, a: Extract<Action, { kind: 'attestAll' }>): Promise<void> {
  const job = await h.job(a.job).catch(() => undefined)
  if (job === undefined) return
  await h.block([...job.verifiers, ...job.arbiters].map((worker, i) => ({ sender: worker, name: 'attest', args: { job: a.job, ...hashes(a.tags[i % a.tags.length] ?? 'honest') } })))
}

async function callFor(h: ModelsHarness, a: Exclude<Action, { kind: 'wait' | 'attestAll' }>): Promise<{ sender: Address | 'eve' | 'dave'; name: string; args: unknown } | undefined> {
  switch (a.kind) {
    case 'create':
      return { sender: a.who === 'nobody' ? NOBODY : a.who, name: 'createJob', args: jobArgs({ fee: MINIMUM_FEE + BigInt(a.extra) * MINIMUM_FEE / 2n }) }
    case 'register':
      return { sender: a.who === 'nobody' ? NOBODY : a.who, name: 'registerBaseModel', args: baseModelArgs({ name: `model ${a.n}` }) }
    case 'submit': {
      const job = await h.job(a.job).catch(() => undefined)
      if (job === undefined) return undefined
      return { sender: a.byTrainer ? job.trainer : (job.verifiers[0] ?? job.trainer), name: 'submitResult', args: resultArgs(a.job, a.tag) }
    }
    case 'attest': {
      const job = await h.job(a.job).catch(() => undefined)
      if (job === undefined) return undefined
      const workers = [...job.verifiers, ...job.arbiters, job.trainer]
      return { sender: workers[a.slot % workers.length] as Address, name: 'attest', args: { job: a.job, ...hashes(a.tag) } }
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
      const problems = [...(await invariantProblems(h)), ...(await stakingProblems(h.committed))]
      if (problems.length > 0) throw new Error(problems.join('; '))
    }
  }), { numRuns: 60, seed: 11 })
  t.pass('held for 60 random histories')
})
