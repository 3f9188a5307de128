// runJob in its worker thread on the shipped language model and real Moby Dick rows: the same bits
// every time and on any number of threads; a run stopped after a checkpoint resumes from the disk
// and ends with the uninterrupted run's hashes; a damaged or half-written checkpoint folder never
// changes the result (the newest consistent checkpoint is used, or the job starts over).
import t from 'tap'
import { cp, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { toHex } from '../../../runtime/crypto/hash.ts'
import { loadBaseModel } from '../../../node/models/assets.ts'
import { JobCheckpoints, runJob, type JobOutcome, type JobWorkerRequest } from '../../../node/models/jobRunner.ts'
import { mobyRows, TINY_HYPER } from './fixtures.ts'

const model = await loadBaseModel('ol-lm-sotu-2m')
// one chapter: a short held-out tail keeps each run's evaluation quick
const rows = await mobyRows(1)
const request = (hyper = TINY_HYPER, threads = 1): Omit<JobWorkerRequest, 'resume'> => ({ config: model.entry.config, weights: model.weightsBytes, tokenizerTable: model.tokenizer.table(), rows, hyper, threads })
/** checkpoints at steps 0, 3, 6 and 8 */
const LONGER = { ...TINY_HYPER, steps: 8, checkpointEvery: 3 }

async function tempRoot(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'openledger-jobs-'))
  t.teardown(() => rm(root, { recursive: true, force: true }))
  return root
}

/** Runs the job and records the steps it reported. */
async function run(root: string, job: number, hyper = TINY_HYPER, threads = 1, signal?: AbortSignal, onStep?: (step: number) => void): Promise<{ outcome: JobOutcome; steps: number[] }> {
  const steps: number[] = []
  const outcome = await runJob(request(hyper, threads), new JobCheckpoints(root, job), {
    onProgress: (step) => {
      steps.push(step)
      onStep?.(step)
    },
  }, signal)
  return { outcome, steps }
}

const referenceRoot = await mkdtemp(join(tmpdir(), 'openledger-jobs-'))
t.teardown(() => rm(referenceRoot, { recursive: true, force: true }))
/** the uninterrupted run of LONGER on one thread, its folder under referenceRoot/job-1 */
const reference = await run(referenceRoot, 1, LONGER)

const hashes = (o: JobOutcome) => ({ weightsHash: toHex(o.weightsHash), checkpointRoot: toHex(o.checkpointRoot), checkpoints: o.checkpoints, metrics: o.metrics })

t.test('the same job gives the same bits on one or two threads', async (t) => {
  const root = await tempRoot(t)
  t.same(reference.steps, [1, 2, 3, 4, 5, 6, 7, 8], 'every step reported')
  t.equal(reference.outcome.checkpoints, 4, 'steps 0, 3, 6 and 8')
  t.ok(reference.outcome.adaptedLoss > 0 && reference.outcome.baseLoss > 0)
  t.equal(reference.outcome.metrics.baseLossMicro, Math.round(reference.outcome.baseLoss * 1e6))
  const threaded = await run(root, 1, LONGER, 2)
  t.same(hashes(threaded.outcome), hashes(reference.outcome), 'two threads: identical')
  t.same(Buffer.from(threaded.outcome.adapter), Buffer.from(reference.outcome.adapter), 'the adapter files are byte-identical')
  // (each fresh run below, from scratch or resumed, is compared with the reference too)
})

t.test('a stopped run resumes from its last checkpoint on disk to the same hashes', async (t) => {
  const root = await tempRoot(t)
  // stop it during step 5: the checkpoint of step 3 is written before runJob settles
  const stop = new AbortController()
  await t.rejects(run(root, 2, LONGER, 2, stop.signal, (step) => step === 4 && stop.abort()), { name: 'JobRunError', code: 'ABORTED' })
  const saved = await new JobCheckpoints(root, 2).latest()
  t.equal(saved?.step, 3, 'the checkpoint of step 3 is on disk')
  t.equal(saved?.checkpoints.length, 2, 'with the hashes of steps 0 and 3')

  const resumed = await run(root, 2, LONGER)
  t.same(resumed.steps, [4, 5, 6, 7, 8], 'resumed after step 3: five steps, not eight')
  t.same(hashes(resumed.outcome), hashes(reference.outcome), 'the uninterrupted run\'s weights hash, checkpoint root and metrics (stopped on two threads, resumed on one)')

  // the finished job's folder resumes at its last step: nothing left to train
  const again = await run(root, 2, LONGER)
  t.same(again.steps, [])
  t.same(hashes(again.outcome), hashes(reference.outcome))
})

t.test('damaged or half-written checkpoints never change the result', async (t) => {
  const root = await tempRoot(t)
  const done = new JobCheckpoints(referenceRoot, 1)
  const copy = async (job: number) => {
    const checkpoints = new JobCheckpoints(root, job)
    await cp(done.dir, checkpoints.dir, { recursive: true })
    return checkpoints
  }

  // a crash after state-6 and state-8 were written but before the hash list was extended
  const halfWritten = await copy(2)
  await truncate(join(halfWritten.dir, 'checkpoints.bin'), 2 * 32)
  t.match(await halfWritten.latest(), { step: 3 }, 'the newest state the list vouches for')
  const fromThree = await run(root, 2, LONGER)
  t.same(fromThree.steps, [4, 5, 6, 7, 8])
  t.same(hashes(fromThree.outcome), hashes(reference.outcome))

  // damaged state files: none hashes to the last listed checkpoint, so the job starts over
  const damaged = await copy(3)
  for (const step of [6, 8]) {
    const path = join(damaged.dir, `state-${step}.bin`)
    const bytes = await readFile(path)
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff
    await writeFile(path, bytes)
  }
  t.equal(await damaged.latest(), undefined)
  const over = await run(root, 3, LONGER)
  t.same(over.steps, [1, 2, 3, 4, 5, 6, 7, 8], 'trained from the start')
  t.same(hashes(over.outcome), hashes(reference.outcome), 'a second run from scratch: identical')

  // a hash list that is not whole hashes, or lacks one of the steps before the state
  const ragged = await copy(4)
  await writeFile(join(ragged.dir, 'checkpoints.bin'), new Uint8Array(33))
  t.equal(await ragged.latest(), undefined)
  const gap = await copy(5)
  const list = await readFile(join(gap.dir, 'checkpoints.bin'))
  await writeFile(join(gap.dir, 'checkpoints.bin'), Buffer.concat([list.subarray(0, 32), list.subarray(96, 128)]))
  t.match(await gap.latest(), { step: 8 }, 'the last hash still matches state-8')
  const fromGap = await run(root, 5, LONGER)
  t.same(fromGap.steps, [1, 2, 3, 4, 5, 6, 7, 8], 'two hashes for step 8 (which needs four): start over')
  t.same(hashes(fromGap.outcome), hashes(reference.outcome))
  t.equal((await new JobCheckpoints(root, 5).latest())?.checkpoints.length, 4, 'the folder now holds the full run')
})

t.test('the worker ending on its own after its last checkpoint, before that checkpoint is saved, is no death', async (t) => {
  const root = await tempRoot(t)
  // runJob with a Worker that tells this test when the thread has exited, and checkpoints whose
  // last save waits for that: the exit comes before the outcome can settle, as on a loaded
  // machine with a slow disk (where the run used to fail as WORKER_DIED)
  const threads = await import('node:worker_threads')
  let exited: () => void = () => {}
  const workerExit = new Promise<void>((resolve) => (exited = resolve))
  class TellingWorker extends threads.Worker {
    constructor(...args: ConstructorParameters<typeof threads.Worker>) {
      super(...args)
      this.once('exit', () => exited())
    }
  }
  const mocked = await t.mockImport<typeof import('../../../node/models/jobRunner.ts')>('../../../node/models/jobRunner.ts', { 'node:worker_threads': { ...threads, Worker: TellingWorker } })
  let saves = 0
  class SlowCheckpoints extends mocked.JobCheckpoints {
    override async save(step: number, state: Uint8Array, hashes: readonly Uint8Array[]): Promise<void> {
      if (++saves === reference.outcome.checkpoints) await workerExit
      return super.save(step, state, hashes)
    }
  }
  const outcome = await mocked.runJob(request(LONGER), new SlowCheckpoints(root, 1))
  t.same(hashes(outcome), hashes(reference.outcome), 'the run settles with its outcome')
  t.equal(saves, reference.outcome.checkpoints, 'every checkpoint saved')
  t.same((await new JobCheckpoints(root, 1).latest())?.step, LONGER.steps, 'the last one on disk')
})
