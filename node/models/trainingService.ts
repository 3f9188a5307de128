// The node's side of ModelFactory. It follows finalized blocks and, for every training job this
// node's validator operator is assigned to, does its part off the consensus path:
//
//   trainer    gathers the job's datanet rows (jobData.ts), resolves the base model, trains in a
//              worker thread (jobRunner.ts: checkpoints on disk, resumable), stores the adapter in
//              the blob store (pinned; peers fetch it by content id) and commits to its hashes
//              (models.commit); once every verifier has committed it reveals (models.revealResult)
//   verifier   re-executes the same job as soon as it is assigned (same bits, the engine's
//   / arbiter  contract), commits to its own hashes, and once the trainer revealed reveals them
//              (models.revealAttestation); it also fetches and pins the trainer's adapter so the
//              published model stays retrievable
//
// Salts are the operator's secret per round (job, attempt, dispute), so a restarted node reveals
// what it committed without storing anything.
//
// Any node with a blob store also fetches and pins the adapter of every published model. The
// work of a job is computed once and reused across roles and attempts. Jobs run one at a time in
// the order their events were finalized; progress is kept for RPC (`progress`). At start the
// open jobs in state are reconciled (events of blocks finalized while the node was down).
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { bytesEqual, decode, encode, type Decoded } from '../../runtime/codec/canonical.ts'
import { concatBytes, toHex, utf8 } from '../../runtime/crypto/hash.ts'
import type { Address } from '../../runtime/crypto/secp256k1.ts'
import { OpenLedgerError } from '../../runtime/errors.ts'
import type { RuntimeEvent } from '../../runtime/module.ts'
import { ModuleIndex } from '../../runtime/modules/indices.ts'
import { CommitPhase, commitmentBy, commitmentOf } from '../../runtime/commitReveal.ts'
import { baseModels, commit, commitScope, type Job, jobs, JobStatus, ModelPublished, modelVersions, RESULT_COMMIT_DOMAIN, resultPayload, revealAttestation, revealResult, roundWorkers } from '../../runtime/modules/models/index.ts'
import { ReceiptStatus } from '../../runtime/receipt.ts'
import type { CallDefinition } from '../../runtime/module.ts'
import { sameAddress } from '../../runtime/modules/accounts.ts'
import type { OperatorTransactions } from '../operator/operatorTransactions.ts'
import type { JobProgress, JobRole } from '../rpc/contract.ts'
import { encodeTensors } from '../../ml/model/params.ts'
import { paramShapes } from '../../ml/model/config.ts'
import type { BlobFetcher } from '../blobs/blobExchange.ts'
import type { BlobStore } from '../blobs/blobStore.ts'
import type { Chain, ImportedBlock } from '../chain/chain.ts'
import { FinalizedFollower } from '../chain/finalizedFollower.ts'
import type { Logger } from '../../lib/logger.ts'
import type { BaseModelResolver } from './baseModels.ts'
import { loadJobRows, versionContributions } from './jobData.ts'
import { JobCheckpoints, runJob, type JobOutcome } from './jobRunner.ts'


/** TEST ONLY faults, to exercise disputes and deadlines end to end. */
export type TrainingFault = 'wrong-attestation' | 'skip-training'

export interface TrainingServiceOptions {
  /** folder for checkpoints (<home>/training) */
  dir: string
  /** threads per job; default all cores */
  threads?: number
  fault?: TrainingFault
}

export interface TrainingServiceComponents {
  chain: Chain
  store: BlobStore
  fetcher?: BlobFetcher | undefined
  /** the validator operator's transactions: without them the node only pins published adapters */
  transactions?: OperatorTransactions | undefined
  resolver: BaseModelResolver
  logger: Logger
}

// a job's progress is what openledger_getTrainingProgress answers: one type, in the RPC contract
export type { JobPhase, JobProgress, JobRole } from '../rpc/contract.ts'


/** The role `me` has in the job's current round, if any. */
export function roleIn(job: Job, me: Address): JobRole | undefined {
  if (sameAddress(job.trainer, me)) return 'trainer'
  if (job.verifiers.some((v) => sameAddress(v, me))) return 'verifier'
  if (job.arbiters.some((a) => sameAddress(a, me))) return 'arbiter'
  return undefined
}

export class TrainingService {
  readonly #o: TrainingServiceOptions
  readonly #c: TrainingServiceComponents
  readonly #log: Logger
  readonly #follower: FinalizedFollower
  /** outcomes computed here, by job id */
  readonly #outcomes = new Map<number, JobOutcome>()
  readonly #progress = new Map<number, JobProgress>()
  /** transactions submitted: `${job}/${kind}/${attempt}/${round}` */
  readonly #submitted = new Set<string>()
  readonly #pending = new Set<number>()
  /** jobs whose events arrived while their work was pending */
  readonly #again = new Set<number>()
  /** the job work in flight (#schedule), awaited by stop() */
  readonly #working = new Set<Promise<void>>()

  constructor(options: TrainingServiceOptions, components: TrainingServiceComponents) {
    this.#o = options
    this.#c = components
    this.#log = components.logger
    this.#follower = new FinalizedFollower({ what: 'training work', reconcile: () => this.#reconcile(), onFinalized: (block) => this.#onFinalized(block) }, components)
  }

  start(): void {
    this.#follower.start()
  }

  async stop(): Promise<void> {
    await this.#follower.stop()
    // a job's work runs beside the queue: let it settle before the store and chain close under it
    await Promise.all(this.#working)
  }

  /** Resolves once the work queued so far is done (tests). */
  idle(): Promise<void> {
    return this.#follower.idle()
  }

  /** This node's view of a job it works on, or undefined. */
  progress(job: number): JobProgress | undefined {
    const entry = this.#progress.get(job)
    return entry === undefined ? undefined : { ...entry }
  }

  async #reconcile(): Promise<void> {
    const me = this.#c.transactions?.address
    if (me === undefined) return
    for await (const [, value] of this.#c.chain.state.entries(jobs.prefix)) {
      const job = jobs.decodeValue(value)
      if (job.status <= JobStatus.disputed && roleIn(job, me) !== undefined) this.#schedule(job.id)
    }
  }

  async #onFinalized(block: ImportedBlock): Promise<void> {
    const touched = new Set<number>()
    for (const receipt of block.receipts) {
      if (receipt.status !== ReceiptStatus.success) continue
      for (const event of receipt.events) this.#noteEvent(event, touched)
    }
    for (const event of block.blockEvents) this.#noteEvent(event, touched)
    for (const id of touched) this.#schedule(id)
  }

  #noteEvent(event: RuntimeEvent, touched: Set<number>): void {
    if (event.module !== ModuleIndex.models) return
    const data = decode(encode(event.data)) as Decoded
    if (event.index === ModelPublished.index) {
      const published = ModelPublished.data.decode(data, 'event')
      void this.#pinPublished(published.model)
    }
    // every job event's data starts with the job id (events.ts)
    const job = Array.isArray(data) ? data[0] : undefined
    if (typeof job === 'number') touched.add(job)
  }

  /** Queues the job's next duty for this node (once: a job is worked on by one task at a time). */
  #schedule(id: number): void {
    if (this.#c.transactions === undefined) return
    // the job moved while its work ran (a commitment included at once, say): run it again after
    if (this.#pending.has(id)) {
      this.#again.add(id)
      return
    }
    this.#pending.add(id)
    const work: Promise<void> = this.#work(id)
      .catch((error: unknown) => {
        if (!this.#follower.signal.aborted) this.#log.warn('training job work failed', { job: id, error })
      })
      .finally(() => {
        this.#pending.delete(id)
        this.#working.delete(work)
        if (this.#again.delete(id) && !this.#follower.signal.aborted) this.#schedule(id)
      })
    this.#working.add(work)
  }

  async #work(id: number): Promise<void> {
    const me = this.#c.transactions?.address as Address
    const job = await jobs.get(this.#c.chain.state, id)
    if (job === undefined) return
    if (job.status > JobStatus.disputed) {
      if (job.status === JobStatus.refunded || job.status === JobStatus.published) await this.#cleanUp(job)
      return
    }
    const role = roleIn(job, me)
    if (role === undefined) return
    if (role === 'trainer' && this.#o.fault === 'skip-training') {
      this.#log.warn('TEST FAULT: not training an assigned job', { job: id })
      return
    }
    const outcome = await this.#compute(job, role)
    if (outcome === undefined) return
    const fresh = (await jobs.get(this.#c.chain.state, id)) ?? job
    if (role === 'trainer') {
      if (!sameAddress(fresh.trainer, me)) return
      if (fresh.status === JobStatus.training) await this.#commit(fresh, outcome)
      else if (fresh.status === JobStatus.verifying && fresh.phase === CommitPhase.reveal && fresh.result === undefined) await this.#revealResult(fresh, outcome)
      return
    }
    if ((fresh.status !== JobStatus.verifying && fresh.status !== JobStatus.disputed) || !roundWorkers(fresh).some((worker) => sameAddress(worker, me))) return
    const committed = commitmentBy(fresh.commitments, me) !== undefined
    if (fresh.phase === CommitPhase.commit && !committed) await this.#commit(fresh, outcome)
    const attested = fresh.attestations.some((a) => sameAddress(a.worker, me))
    if (fresh.phase === CommitPhase.reveal && committed && !attested && fresh.result !== undefined) await this.#revealAttestation(fresh, outcome)
  }

  /** Trains the job (or returns what an earlier run here computed). */
  async #compute(job: Job, role: JobRole): Promise<JobOutcome | undefined> {
    const known = this.#outcomes.get(job.id)
    if (known !== undefined) return known
    const progress: JobProgress = { job: job.id, role, phase: 'queued', step: 0, steps: job.hyper.steps }
    this.#progress.set(job.id, progress)
    // one job trains at a time: wait for the previous ones
    const previous = this.#running
    let release = () => {}
    this.#running = new Promise<void>((resolve) => (release = resolve))
    await previous
    try {
      const { chain, store, fetcher, resolver } = this.#c
      const signal = this.#follower.signal
      progress.phase = 'fetching'
      const base = await baseModels.get(chain.state, job.base)
      if (base === undefined) throw new OpenLedgerError('UNKNOWN_BASE_MODEL', `job ${job.id} names base model ${job.base}, which is not registered`)
      const model = await resolver.resolve(base, signal)
      const data = await loadJobRows({ state: chain.state, store, fetcher, signal, pinOwner: `model-job/${job.id}` }, job.datanets)
      this.#log.info('training job', { job: job.id, role, base: base.name, rows: data.rows.length, bytes: data.bytes, steps: job.hyper.steps })
      progress.phase = 'training'
      const started = Date.now()
      const outcome = await runJob(
        {
          config: model.config,
          weights: encodeTensors(paramShapes(model.config), model.weights),
          tokenizerTable: model.tokenizer.table(),
          rows: data.rows,
          hyper: job.hyper,
          threads: this.#o.threads ?? availableParallelism(),
        },
        new JobCheckpoints(this.#o.dir, job.id),
        {
          onPlanned: ({ trainSize, heldOutSize }) => Object.assign(progress, { trainSize, heldOutSize }),
          onProgress: (step, loss) => {
            Object.assign(progress, { step, loss })
            if (step % Math.max(1, Math.floor(job.hyper.steps / 10)) === 0 || step === job.hyper.steps) this.#log.info('training progress', { job: job.id, step, steps: job.hyper.steps, loss: Number(loss.toFixed(4)) })
          },
          onEvaluating: () => (progress.phase = 'evaluating'),
        },
        signal,
      )
      this.#outcomes.set(job.id, outcome)
      progress.phase = 'computed'
      progress.outcome = {
        weightsHash: toHex(outcome.weightsHash), checkpointRoot: toHex(outcome.checkpointRoot), baseLoss: outcome.baseLoss, adaptedLoss: outcome.adaptedLoss,
        ...(outcome.baseAccuracy === undefined ? {} : { baseAccuracy: outcome.baseAccuracy }),
        ...(outcome.adaptedAccuracy === undefined ? {} : { adaptedAccuracy: outcome.adaptedAccuracy }),
      }
      this.#log.info('training job computed', {
        job: job.id, role, seconds: Math.round((Date.now() - started) / 100) / 10, weightsHash: toHex(outcome.weightsHash),
        baseLoss: Number(outcome.baseLoss.toFixed(4)), adaptedLoss: Number(outcome.adaptedLoss.toFixed(4)),
      })
      return outcome
    } catch (error) {
      if (this.#follower.signal.aborted) return undefined
      const code = error instanceof OpenLedgerError ? error.code : 'JOB_FAILED'
      progress.phase = 'failed'
      progress.error = { code, message: error instanceof Error ? error.message : String(error) }
      this.#log.warn('training job failed', { job: job.id, role, code, error })
      return undefined
    } finally {
      release()
    }
  }

  #running: Promise<void> = Promise.resolve()

  /** The hashes this node stands for (flipped by the wrong-attestation test fault, for verifiers and arbiters). */
  #vote(job: Job, outcome: JobOutcome): { weightsHash: Uint8Array; checkpointRoot: Uint8Array } {
    const me = this.#c.transactions?.address
    if (this.#o.fault !== 'wrong-attestation' || me === undefined || sameAddress(job.trainer, me)) return { weightsHash: outcome.weightsHash, checkpointRoot: outcome.checkpointRoot }
    return { weightsHash: Uint8Array.from(outcome.weightsHash, (b, i) => (i === 0 ? b ^ 0xff : b)), checkpointRoot: outcome.checkpointRoot }
  }

  /** This round's salt: the operator's secret for the round, the same after a restart. */
  #salt(job: Job, transactions: OperatorTransactions): Uint8Array {
    return transactions.secret(concatBytes(utf8(RESULT_COMMIT_DOMAIN), commitScope(job)))
  }

  async #commit(job: Job, outcome: JobOutcome): Promise<void> {
    const transactions = this.#c.transactions
    const key = `${job.id}/commit/${job.attempt}/${job.status === JobStatus.disputed ? 'dispute' : 'round'}`
    if (transactions === undefined || this.#submitted.has(key)) return
    const vote = this.#vote(job, outcome)
    if (vote.weightsHash !== outcome.weightsHash) this.#log.warn('TEST FAULT: committing to a wrong weights hash', { job: job.id })
    const commitment = commitmentOf(RESULT_COMMIT_DOMAIN, commitScope(job), transactions.address, this.#salt(job, transactions), resultPayload(vote))
    if (await this.#send(commit, { job: job.id, commitment }, job.id, 'commitment')) {
      this.#submitted.add(key)
      const progress = this.#progress.get(job.id)
      if (progress !== undefined) progress.phase = 'submitted'
    }
  }

  async #revealResult(job: Job, outcome: JobOutcome): Promise<void> {
    const transactions = this.#c.transactions
    const key = `${job.id}/result/${job.attempt}`
    if (transactions === undefined || this.#submitted.has(key)) return
    // the adapter goes into the blob store only now: its content id would give the hashes away
    const cid = await this.#c.store.put(outcome.adapter)
    await this.#c.store.pin(cid, `model-job/${job.id}`)
    const args = { job: job.id, salt: this.#salt(job, transactions), adapter: cid, weightsHash: outcome.weightsHash, checkpointRoot: outcome.checkpointRoot, metrics: outcome.metrics }
    if (await this.#send(revealResult, args, job.id, 'result')) this.#submitted.add(key)
  }

  async #revealAttestation(job: Job, outcome: JobOutcome): Promise<void> {
    const transactions = this.#c.transactions
    const key = `${job.id}/attest/${job.attempt}/${job.status}`
    if (transactions === undefined || this.#submitted.has(key)) return
    const result = job.result
    if (result !== undefined && bytesEqual(result.weightsHash, outcome.weightsHash)) void this.#pinAdapter(result.adapter, `model-job/${job.id}`)
    else this.#log.warn('re-execution disagrees with the submitted result', { job: job.id, submitted: result === undefined ? undefined : toHex(result.weightsHash), computed: toHex(outcome.weightsHash) })
    const args = { job: job.id, salt: this.#salt(job, transactions), ...this.#vote(job, outcome) }
    if (await this.#send(revealAttestation, args, job.id, 'attestation')) {
      this.#submitted.add(key)
      const progress = this.#progress.get(job.id)
      if (progress !== undefined) progress.phase = 'attested'
    }
  }

  async #send<Args>(call: CallDefinition<Args>, args: Args, job: number, what: string): Promise<boolean> {
    const transactions = this.#c.transactions
    if (transactions === undefined) return false
    try {
      const tx = await transactions.submit(ModuleIndex.models, call, args)
      this.#log.info(`submitted the training job's ${what}`, { job, tx: toHex(tx.hash) })
      return true
    } catch (error) {
      this.#log.warn(`could not submit the training job's ${what}`, { job, error })
      return false
    }
  }

  async #pinAdapter(cid: Uint8Array, owner: string): Promise<void> {
    const { store, fetcher } = this.#c
    try {
      if (!(await store.has(cid))) {
        if (fetcher === undefined) return
        await fetcher.fetch(cid, { signal: AbortSignal.any([this.#follower.signal, AbortSignal.timeout(60_000)]) })
      }
      await store.pin(cid, owner)
    } catch (error) {
      if (!this.#follower.signal.aborted) this.#log.info('could not fetch an adapter', { cid: toHex(cid), error })
    }
  }

  async #pinPublished(model: number): Promise<void> {
    const version = await modelVersions.get(this.#c.chain.state, model)
    if (version !== undefined) await this.#pinAdapter(version.adapter, `model/${model}`)
  }

  async #cleanUp(job: Job): Promise<void> {
    this.#outcomes.delete(job.id)
    await new JobCheckpoints(this.#o.dir, job.id).remove()
    const owner = `model-job/${job.id}`
    const { store, chain } = this.#c
    if (job.result !== undefined) await store.unpin(job.result.adapter, owner)
    for (const ref of job.datanets) {
      try {
        for (const contribution of await versionContributions(chain.state, ref)) await store.unpin(contribution.cid, owner)
      } catch {
        // the version is gone from state: nothing of it was pinned for this job
      }
    }
  }
}

export function trainingDir(home: string): string {
  return join(home, 'training')
}
