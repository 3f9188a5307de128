// Every models call's happy path and error codes, over a seven-validator testnet.
import { RANDOMNESS_LOOKAHEAD } from '../../../../runtime/modules/system/randomness.ts'
import t from 'tap'
import { sha256, utf8 } from '../../../../runtime/crypto/hash.ts'
import { canonicalArchitecture } from '../../../../runtime/modules/models/architecture.ts'
import { BaseModelRegistered, Committed, JobAssigned, JobCreated, ModelPublished, ResultSubmitted, WorkerSlashed, WorkerSlashReason } from '../../../../runtime/modules/models/events.ts'
import { jobsByOwner, JobStatus, MODELS_ACCOUNT } from '../../../../runtime/modules/models/state.ts'
import { versions } from '../../../../runtime/modules/datanets/state.ts'
import { validators } from '../../../../runtime/modules/staking/state.ts'
import { Format } from '../../../../runtime/modules/datanets/formats.ts'
import {
  addressOf, baseModelArgs, commitArgs, eventNames, eventsNamed, FEE, hashes, HYPER, invariantProblems, jobArgs, ModelsHarness, OPEN, revealArgs, revealResultArgs,
  TEST_ARCHITECTURE, TEST_MODELS_PARAMS, withJob,
} from './harness.ts'

t.test('registerBaseModel: deposit escrowed, sequential ids after the genesis models', async (t) => {
  const h = await ModelsHarness.create()
  const genesisModel = await h.baseModel(1)
  t.equal(genesisModel?.architecture, TEST_ARCHITECTURE)
  t.same(genesisModel?.owner, MODELS_ACCOUNT, 'genesis models belong to the module account')
  t.equal(genesisModel?.deposit, 0n)
  const before = await h.balance('dave')
  const classifier = canonicalArchitecture({ kind: 'classifier', vocab: 512, context: 128, dim: 48, layers: 1, heads: 3, hidden: 96, classes: 2 })
  const registered = await h.ok('dave', 'registerBaseModel', baseModelArgs({ name: 'spam-classifier', kind: 1, architecture: classifier }))
  t.same(eventsNamed(BaseModelRegistered, registered.events), [{
    model: 2, owner: addressOf('dave'), name: 'spam-classifier', kind: 1, weightsHash: sha256(utf8('spam-classifier weights')), deposit: TEST_MODELS_PARAMS.registrationDeposit,
  }])
  t.equal(await h.balance('dave'), before - TEST_MODELS_PARAMS.registrationDeposit)
  t.equal(await h.balance(MODELS_ACCOUNT), TEST_MODELS_PARAMS.registrationDeposit)
  t.equal((await h.baseModel(2))?.engineVersion, 'openledger-engine/1')
  t.same(await invariantProblems(h), [])
})

t.test('registerBaseModel errors change nothing', async (t) => {
  const h = await ModelsHarness.create()
  const before = h.snapshot()
  const arch = (config: Record<string, unknown>) => JSON.stringify(Object.fromEntries(Object.entries({ kind: 'lm', vocab: 512, context: 64, dim: 32, layers: 2, heads: 4, hidden: 64, classes: 0, ...config }).sort(([a], [b]) => (a < b ? -1 : 1))))
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['blank name', { name: '  ' }, 'models.InvalidName'],
    ['not JSON', { name: 'a', architecture: '{' }, 'models.InvalidArchitecture'],
    ['whitespace', { name: 'b', architecture: TEST_ARCHITECTURE.replace(',', ', ') }, 'models.InvalidArchitecture'],
    ['unsorted keys', { name: 'c', architecture: JSON.stringify({ kind: 'lm', vocab: 512, context: 64, dim: 32, layers: 2, heads: 4, hidden: 64, classes: 0 }) }, 'models.InvalidArchitecture'],
    ['unknown kind', { name: 'd', architecture: arch({ kind: 'vision' }) }, 'models.InvalidArchitecture'],
    ['kind mismatch', { name: 'e', kind: 1 }, 'models.InvalidArchitecture'],
    ['kind out of range', { name: 'f', kind: 2 }, 'models.InvalidArchitecture'],
    ['dim not divisible by heads', { name: 'g', architecture: arch({ heads: 5 }) }, 'models.InvalidArchitecture'],
    ['zero layers', { name: 'h', architecture: arch({ layers: 0 }) }, 'models.InvalidArchitecture'],
    ['context too large', { name: 'i', architecture: arch({ context: 100_000 }) }, 'models.InvalidArchitecture'],
    ['fractional size', { name: 'j', architecture: arch({ dim: 32.5 }) }, 'models.InvalidArchitecture'],
    ['classes on an lm', { name: 'k', architecture: arch({ classes: 2 }) }, 'models.InvalidArchitecture'],
    ['extra key', { name: 'l', architecture: arch({ extra: 1 }) }, 'models.InvalidArchitecture'],
    ['empty tokenizer', { name: 'm', tokenizer: '' }, 'models.InvalidTokenizer'],
    ['empty engine version', { name: 'n', engineVersion: ' ' }, 'models.InvalidEngineVersion'],
    ['same weights as the genesis model', { name: 'o', weightsHash: sha256(utf8('tiny-lm weights')) }, 'models.DuplicateBaseModel'],
  ]
  for (const [what, overrides, code] of cases) t.equal((await h.call('dave', 'registerBaseModel', baseModelArgs(overrides))).error?.code, code, what)
  const classifierArch = canonicalArchitecture({ kind: 'classifier', vocab: 512, context: 128, dim: 48, layers: 1, heads: 3, hidden: 96, classes: 1 })
  t.equal((await h.call('dave', 'registerBaseModel', baseModelArgs({ name: 'p', kind: 1, architecture: classifierArch }))).error?.code, 'models.InvalidArchitecture', 'a classifier needs 2 classes')
  const broke = sha256(utf8('nobody'))
  t.equal((await h.call(broke.subarray(0, 20), 'registerBaseModel', baseModelArgs({ name: 'q' }))).error?.code, 'balances.InsufficientBalance', 'an unpayable deposit')
  t.equal(h.snapshot(), before)
})

t.test('createJob: fee escrowed, datanet roots recorded, assignment drawn and announced RANDOMNESS_LOOKAHEAD blocks later', async (t) => {
  const h = await ModelsHarness.create()
  const datanet = await h.publishedDatanet('ferdie', 2)
  const eveBefore = await h.balance('eve')
  const createdAt = h.height + 1
  const created = await h.ok('eve', 'createJob', jobArgs({ datanets: [{ datanet, version: 2 }, { datanet, version: 1 }] }))
  t.same(eventNames(created.events).filter((n) => n.startsWith('models.')), ['models.JobCreated'], 'no assignment in the creating block')
  t.same(eventsNamed(JobCreated, created.events), [{ job: 1, owner: addressOf('eve'), base: 1, fee: FEE }])
  const pending = await h.job(1)
  t.equal(pending.status, JobStatus.assigning)
  t.equal(pending.deadline, createdAt + RANDOMNESS_LOOKAHEAD, 'drawn RANDOMNESS_LOOKAHEAD blocks later')
  t.same(pending.verifiers, [])
  t.equal((await h.call(pending.trainer, 'commit', { job: 1, commitment: new Uint8Array(32) })).error?.code, 'models.WrongJobStatus', 'nobody works on it yet')
  const assignment = await h.advanceTo(createdAt + RANDOMNESS_LOOKAHEAD)
  const job = await h.job(1)
  t.equal(job.status, JobStatus.training)
  t.equal(job.attempt, 1)
  t.equal(job.verifiers.length, 2)
  t.equal(new Set([job.trainer, ...job.verifiers].map((a) => Buffer.from(a).toString('hex'))).size, 3, 'trainer and verifiers are distinct')
  t.same(eventsNamed(JobAssigned, assignment), [{ job: 1, trainer: job.trainer, verifiers: job.verifiers, trainDeadline: h.height + TEST_MODELS_PARAMS.trainBlocks, attempt: 1 }])
  t.same(job.datanets.map((d) => [d.version, d.root]), [[2, (await versions.get(h.state, { datanet, version: 2 }))?.root], [1, (await versions.get(h.state, { datanet, version: 1 }))?.root]])
  t.equal(await h.balance('eve'), eveBefore - FEE)
  t.equal(await h.balance(MODELS_ACCOUNT), FEE)
  t.equal(await jobsByOwner.get(h.state, { owner: addressOf('eve'), job: 1 }), 1)
  t.same(await invariantProblems(h), [])
})

t.test('issue 22 (2): createJob refuses data that does not fit the base model or is too little for the plan', async (t) => {
  const h = await ModelsHarness.create()
  const classifier = baseModelArgs({
    name: 'tiny-classifier', kind: 1,
    architecture: canonicalArchitecture({ kind: 'classifier', vocab: 512, context: 64, dim: 32, layers: 2, heads: 4, hidden: 64, classes: 2 }),
  })
  await h.ok('eve', 'registerBaseModel', classifier)
  const documents = await h.publishedDatanet('ferdie', 1, { rows: 40 })
  const labelled = await h.publishedDatanet('ferdie', 1, { format: Format.labelled, rows: 40 })
  const fewLabels = await h.publishedDatanet('ferdie', 1, { format: Format.labelled, rows: 9 })
  const tiny = await h.publishedDatanet('ferdie', 1, { size: 10 * (HYPER.length + 1) - 1, rows: 2 })
  const before = h.snapshot()
  const code = async (base: number, datanet: number, hyper = HYPER) => (await h.call('eve', 'createJob', jobArgs({ base, datanets: [{ datanet, version: 1 }], hyper }))).error?.code
  // the reproduction: a classifier on an unlabelled datanet escrowed its fee and failed in the worker
  t.equal(await code(2, documents), 'models.DataFormatMismatch', 'a classifier on unlabelled rows')
  t.equal(await code(2, fewLabels), 'models.InsufficientData', 'a classifier on 9 rows')
  // ...and a language model on a two-row datanet published a model evaluated on 2 tokens
  t.equal(await code(1, tiny), 'models.InsufficientData', 'a language model on fewer than 10 x (length + 1) bytes')
  t.equal(h.snapshot(), before, 'refused jobs escrow nothing')
  t.equal(await code(1, tiny, { ...HYPER, length: 8 }), undefined, 'shorter sequences fit the same bytes')
  t.equal(await code(2, labelled), undefined, 'a classifier on labelled rows')
  t.equal(await code(1, labelled), undefined, 'a language model reads labelled rows\' text')
})

t.test('createJob errors change nothing', async (t) => {
  const h = await ModelsHarness.create()
  await h.publishedDatanet()
  await h.ok('ferdie', 'create', { name: 'unpublished', description: '', tags: [], licence: '', visibility: 0, rules: { deposit: 0n, feePerByte: 0n, formats: [1], maxBytes: 10 }, curators: [] }, 'datanets')
  const before = h.snapshot()
  const code = async (args: Record<string, unknown>, sender: Parameters<ModelsHarness['call']>[0] = 'eve') => (await h.call(sender, 'createJob', jobArgs(args))).error?.code
  t.equal(await code({ base: 9 }), 'models.UnknownBaseModel')
  t.equal(await code({ datanets: [{ datanet: 1, version: 2 }] }), 'models.UnknownDatanetVersion', 'a version not yet published')
  t.equal(await code({ datanets: [{ datanet: 2, version: 1 }] }), 'models.UnknownDatanetVersion', 'a datanet with no version')
  t.equal(await code({ datanets: [{ datanet: 7, version: 1 }] }), 'models.UnknownDatanetVersion', 'no such datanet')
  t.equal(await code({ datanets: [] }), 'models.InvalidDatanetList')
  t.equal(await code({ datanets: [{ datanet: 1, version: 1 }, { datanet: 1, version: 1 }] }), 'models.InvalidDatanetList')
  const bad: Array<[string, Record<string, number>]> = [
    ['rank 0', { rank: 0 }], ['rank 65', { rank: 65 }], ['alpha 0', { alpha: 0 }], ['alpha 257', { alpha: 257 }], ['steps 0', { steps: 0 }],
    ['steps above maxSteps', { steps: TEST_MODELS_PARAMS.maxSteps + 1, checkpointEvery: 1 }], ['batch 0', { batchSize: 0 }], ['batch 65', { batchSize: 65 }],
    ['length 7', { length: 7 }], ['length above the context', { length: 65 }], ['learning rate 0', { learningRateMicro: 0 }],
    ['learning rate above 1', { learningRateMicro: 1_000_001 }], ['checkpointEvery 0', { checkpointEvery: 0 }], ['checkpointEvery above steps', { checkpointEvery: 101 }],
  ]
  for (const [what, change] of bad) t.equal(await code({ hyper: { ...HYPER, ...change } }), 'models.InvalidHyperparameters', what)
  const minimum = TEST_MODELS_PARAMS.minFeePerStep * BigInt(HYPER.steps * HYPER.batchSize)
  t.equal(await code({ fee: minimum - 1n }), 'models.InsufficientEscrow')
  t.equal(await code({ fee: minimum }, sha256(utf8('nobody')).subarray(0, 20)), 'balances.InsufficientBalance', 'an unpayable fee')
  t.equal(h.snapshot(), before)
  t.equal(await code({ fee: minimum }), undefined, 'the minimum fee is enough')
})

t.test('commit: the trainer while training, then each verifier; nothing of a result is readable until every verifier committed', async (t) => {
  const h = await withJob()
  const job = await h.job(1)
  const [first, second] = job.verifiers as [Uint8Array, Uint8Array]
  const before = h.snapshot()
  t.equal((await h.call(first, 'commit', await commitArgs(h, 1, first))).error?.code, 'models.NotAssigned', 'a verifier commits after the trainer')
  t.equal((await h.call('eve', 'commit', await commitArgs(h, 1, addressOf('eve')))).error?.code, 'models.NotAssigned', 'the owner')
  t.equal((await h.call(job.trainer, 'commit', { ...(await commitArgs(h, 1, job.trainer)), job: 2 })).error?.code, 'models.UnknownJob')
  t.equal((await h.call(job.trainer, 'revealResult', revealResultArgs(1, job.trainer))).error?.code, 'models.WrongJobStatus', 'nothing to reveal while training')
  t.equal(h.snapshot(), before)
  const committed = await h.ok(job.trainer, 'commit', await commitArgs(h, 1, job.trainer))
  t.same(eventNames(committed.events), ['models.Committed'])
  const verifying = await h.job(1)
  t.equal(verifying.status, JobStatus.verifying)
  t.equal(verifying.result, undefined, 'no hashes in the record')
  t.equal(verifying.deadline, h.height + TEST_MODELS_PARAMS.verifyBlocks)
  t.equal((await h.call(job.trainer, 'commit', await commitArgs(h, 1, job.trainer))).error?.code, 'models.NotAssigned', 'the trainer commits once')
  t.equal((await h.call(job.trainer, 'revealResult', revealResultArgs(1, job.trainer))).error?.code, 'models.WrongPhase', 'no reveal before every verifier committed')
  await h.ok(first, 'commit', await commitArgs(h, 1, first))
  t.equal((await h.call(first, 'commit', await commitArgs(h, 1, first))).error?.code, 'models.AlreadyCommitted')
  const last = await h.ok(second, 'commit', await commitArgs(h, 1, second))
  t.same(eventNames(last.events), ['models.Committed', 'models.RevealOpened'])
  t.equal((await h.call(first, 'revealAttestation', revealArgs(1, first))).error?.code, 'models.TrainerNotRevealed', 'verifiers reveal after the trainer')
  t.equal((await h.call(job.trainer, 'revealResult', revealResultArgs(1, job.trainer, 'other'))).error?.code, 'models.CommitmentMismatch', 'another result than committed')
  t.equal((await h.call(job.trainer, 'revealResult', { ...revealResultArgs(1, job.trainer), metrics: { baseLossMicro: 1, adaptedLossMicro: 1, baseAccuracyBps: 10_001, adaptedAccuracyBps: 0 } })).error?.code, 'models.InvalidMetrics')
  const revealed = await h.ok(job.trainer, 'revealResult', revealResultArgs(1, job.trainer))
  t.same(eventsNamed(ResultSubmitted, revealed.events), [{ job: 1, trainer: job.trainer, adapter: sha256(utf8('honest adapter')), ...hashes('honest'), verifyDeadline: (await h.job(1)).deadline }])
  t.equal((await h.job(1)).result?.metrics.adaptedLossMicro, 3_100_000)
  t.equal((await h.call(job.trainer, 'revealResult', revealResultArgs(1, job.trainer))).error?.code, 'models.WrongJobStatus', 'a second result')
})

t.test('issue 27 (3): a verifier cannot copy the trainer\'s result: it is hidden until every verifier committed, and a copied commitment opens to nothing', async (t) => {
  // the reproduction: a trainer submits made-up hashes without training; verifiers read them from
  // state and attest the same, and the fee is paid out. Now there is nothing to read...
  const h = await withJob()
  const job = await h.job(1)
  const [copier, honest] = job.verifiers as [Uint8Array, Uint8Array]
  const trainerCommit = await commitArgs(h, 1, job.trainer, 'made up')
  const committed = await h.ok(job.trainer, 'commit', trainerCommit)
  t.equal((await h.job(1)).result, undefined, 'the job record holds no hashes')
  t.same(eventsNamed(Committed, committed.events), [{ job: 1, worker: job.trainer, commitment: trainerCommit.commitment }], 'the event only the commitment')
  // ...copying the trainer's commitment gets the copier nothing it can reveal
  await h.ok(copier, 'commit', trainerCommit)
  await h.ok(honest, 'commit', await commitArgs(h, 1, honest, 'honest'))
  await h.ok(job.trainer, 'revealResult', revealResultArgs(1, job.trainer, 'made up'))
  t.equal((await h.call(copier, 'revealAttestation', { ...revealArgs(1, job.trainer, 'made up') })).error?.code, 'models.CommitmentMismatch', 'with the trainer\'s salt')
  t.equal((await h.call(copier, 'revealAttestation', revealArgs(1, copier, 'made up'))).error?.code, 'models.CommitmentMismatch', 'with its own')
  // the honest verifier's own result disagrees: no publication, no fee for copying
  const disagreed = await h.ok(honest, 'revealAttestation', revealArgs(1, honest, 'honest'))
  t.same(eventNames(disagreed.events), ['models.Attested'], 'waits for the copier until the reveal deadline')
  const copierStake = (await validators.get(h.state, copier))?.tokens ?? 0n
  const expired = await h.advanceTo((await h.job(1)).deadline)
  t.same(eventsNamed(WorkerSlashed, expired).map((e) => [e.worker, e.reason]), [[copier, WorkerSlashReason.unrevealed]], 'a commitment never revealed is slashed')
  t.ok(((await validators.get(h.state, copier))?.tokens ?? 0n) < copierStake)
  const disputed = await h.job(1)
  t.equal(disputed.status, JobStatus.disputed, 'the disagreement goes to arbiters')
  t.ok(disputed.excluded.some((worker) => Buffer.compare(worker, copier) === 0), 'the copier is off the job')
  t.same(await invariantProblems(h), [])
})

t.test('commit is accepted up to the deadline block; after it the job has moved on', async (t) => {
  const h = await withJob()
  const job = await h.job(1)
  // the deadline block runs its transactions before the hook expires the job
  await h.advanceTo(job.deadline - 1)
  const { outcomes } = await h.block([{ sender: job.trainer, name: 'commit', args: await commitArgs(h, 1, job.trainer) }])
  t.equal(outcomes[0]?.error, undefined, 'accepted in the deadline block')
  const late = await withJob()
  const lateJob = await late.job(1)
  await late.advanceTo(lateJob.deadline)
  t.equal((await late.call(lateJob.trainer, 'commit', await commitArgs(late, 1, lateJob.trainer))).error?.code, 'models.NotAssigned', 'reassigned at the deadline: the late trainer is out')
})

t.test('reveal: a quorum of identical hashes publishes the model with its lineage and pays the fee', async (t) => {
  const h = await withJob()
  const job = await h.job(1)
  const [first, second] = job.verifiers as [Uint8Array, Uint8Array]
  await h.ok(job.trainer, 'commit', await commitArgs(h, 1, job.trainer))
  await h.ok(first, 'commit', await commitArgs(h, 1, first))
  await h.ok(second, 'commit', await commitArgs(h, 1, second))
  await h.ok(job.trainer, 'revealResult', revealResultArgs(1, job.trainer))
  const before = h.snapshot()
  t.equal((await h.call('dave', 'revealAttestation', revealArgs(1, addressOf('dave')))).error?.code, 'models.NotAssigned', 'not a verifier')
  t.equal((await h.call(job.trainer, 'revealAttestation', revealArgs(1, job.trainer))).error?.code, 'models.NotAssigned', 'the trainer does not attest')
  t.equal((await h.call(first, 'revealAttestation', revealArgs(9, first))).error?.code, 'models.UnknownJob')
  t.equal(h.snapshot(), before)
  const once = await h.ok(first, 'revealAttestation', revealArgs(1, first))
  t.same(eventNames(once.events), ['models.Attested'])
  t.equal((await h.call(first, 'revealAttestation', revealArgs(1, first))).error?.code, 'models.AlreadyAttested')
  const balances = await Promise.all([job.trainer, first, second].map((a) => h.balance(a)))
  const published = await h.ok(second, 'revealAttestation', revealArgs(1, second))
  // 70 % of 10 OPEN to the trainer, 1.5 OPEN to each verifier
  const trainerPaid = 7n * OPEN
  const verifierPaid = 15n * OPEN / 10n
  t.same(eventsNamed(ModelPublished, published.events), [{
    model: 1, job: 1, owner: addressOf('eve'), base: 1, adapter: sha256(utf8('honest adapter')), ...hashes('honest'), trainer: job.trainer, trainerPaid, verifiers: [first, second], verifierPaid,
  }])
  t.equal(await h.balance(job.trainer), (balances[0] as bigint) + trainerPaid)
  t.equal(await h.balance(first), (balances[1] as bigint) + verifierPaid)
  t.equal(await h.balance(second), (balances[2] as bigint) + verifierPaid)
  t.equal(await h.balance(MODELS_ACCOUNT), 0n)
  const closed = await h.job(1)
  t.equal(closed.status, JobStatus.published)
  t.equal(closed.modelVersion, 1)
  const version = await h.modelVersion(1)
  const base = await h.baseModel(1)
  t.match(version, { id: 1, job: 1, base: 1, engineVersion: 'openledger-engine/1', hyper: HYPER, trainer: job.trainer, verifiers: [first, second], publishedHeight: h.height })
  t.same(version?.owner, addressOf('eve'))
  t.same(version?.baseWeightsHash, base?.weightsHash)
  t.same(version?.datanets, job.datanets)
  t.equal((await h.call(first, 'revealAttestation', revealArgs(1, first))).error?.code, 'models.WrongJobStatus', 'published')
  t.same(await invariantProblems(h), [])
})
