// A block-by-block driver for the models module over a local-testnet genesis with N equal
// validators (operators `worker-0` … from devKey) and the dev accounts. Calls of any of the
// staking, datanets and models modules run the way the state transition runs them (in a
// checkpoint, reverted with their events on failure) but without fees, so tests can assert exact
// balances; every block begins with system's (the beacon's mix) and staking's hooks and ends with
// the staking and models ones. Each block's beacon reveal is sha256("reveal <height>") unless a
// test sets it, so assignments vary from block to block.
import { CommitPhase, commitmentOf } from '../../../../runtime/commitReveal.ts'
import { commitScope, RESULT_COMMIT_DOMAIN, resultPayload } from '../../../../runtime/modules/models/lifecycle.ts'
import { decode, encode, type Decoded } from '../../../../runtime/codec/canonical.ts'
import { concatBytes, sha256, utf8 } from '../../../../runtime/crypto/hash.ts'
import type { Address } from '../../../../runtime/crypto/secp256k1.ts'
import type { BlockInfo, EventDefinition, ModuleError, RuntimeEvent, RuntimeModule } from '../../../../runtime/module.ts'
import { balanceOf } from '../../../../runtime/modules/balances/ledger.ts'
import { totalIssuance } from '../../../../runtime/modules/balances/state.ts'
import { accounts, randomMixes } from '../../../../runtime/modules/system/state.ts'
import { systemModule } from '../../../../runtime/modules/system/index.ts'
import { RANDOMNESS_LOOKAHEAD } from '../../../../runtime/modules/system/randomness.ts'
import { datanetsModule } from '../../../../runtime/modules/datanets/index.ts'
import { Format } from '../../../../runtime/modules/datanets/formats.ts'
import { datanetCount } from '../../../../runtime/modules/datanets/state.ts'
import { ModuleIndex } from '../../../../runtime/modules/indices.ts'
import { canonicalArchitecture } from '../../../../runtime/modules/models/architecture.ts'
import { modelsModule } from '../../../../runtime/modules/models/index.ts'
import { inferenceModule } from '../../../../runtime/modules/inference/index.ts'
import { attributionModule } from '../../../../runtime/modules/attribution/index.ts'
import type { AttributionParams } from '../../../../runtime/modules/attribution/state.ts'
import {
  baseModels, jobs, JobStatus, MODELS_ACCOUNT, modelVersions, type BaseModelArgs, type Job, type ModelsParams,
} from '../../../../runtime/modules/models/state.ts'
import { createStakingModule } from '../../../../runtime/modules/staking/index.ts'
import type { InferenceParams } from '../../../../runtime/modules/inference/state.ts'
import { StateOverlay, type StateReader } from '../../../../runtime/state/overlay.ts'
import { devAccount, devKey, devValidatorKey, type DevAccountName } from '../../../../genesis/devAccounts.ts'
import { DEV_STAKING_PARAMS } from '../../../../genesis/devSpec.ts'
import type { ChainSpec } from '../../../../genesis/spec.ts'
import { testnetChainSpec } from '../../../../genesis/testnetSpec.ts'
import { ONE_OPEN } from '../../../../genesis/tokenomics.ts'
import { eventData, genesisState, type MapState } from '../../chainFixtures.ts'

export const OPEN = ONE_OPEN

export const TEST_MODELS_PARAMS: ModelsParams = {
  registrationDeposit: 100n * OPEN,
  minFeePerStep: 1_000_000_000_000n,
  maxSteps: 1_000,
  verifiers: 2,
  minVerifiers: 1,
  arbiters: 2,
  trainBlocks: 20,
  verifyBlocks: 20,
  trainerShareBps: 7_000,
  slashBps: 500,
  missedDeadlineSlashBps: 100,
  maxAttempts: 2,
  publishOnPartialQuorum: false,
}

export const TEST_ARCHITECTURE = canonicalArchitecture({ kind: 'lm', vocab: 512, context: 64, dim: 32, layers: 2, heads: 4, hidden: 64, classes: 0 })

export function baseModelArgs(overrides: Partial<BaseModelArgs> = {}): BaseModelArgs {
  const tag = overrides.name ?? 'tiny-lm'
  return {
    name: 'tiny-lm', kind: 0, architecture: TEST_ARCHITECTURE, artifact: sha256(utf8(`${tag} weights blob`)), weightsHash: sha256(utf8(`${tag} weights`)),
    onnx: sha256(utf8(`${tag} onnx`)), tokenizer: 'gpt2', tokenizerHash: sha256(utf8('gpt2 bpe')), engineVersion: 'openledger-engine/1', ...overrides,
  }
}

export const workerName = (i: number): string => `worker-${i}`
export const workerAddress = (i: number): Address => devKey(workerName(i)).address
export const addressOf = (name: DevAccountName): Address => devAccount(name).address

/** A testnet of `validators` equal validators with the models section given (one genesis base model by default). */
export function modelsSpec(options: { validators?: number; params?: ModelsParams; baseModels?: BaseModelArgs[]; inferenceParams?: InferenceParams; attributionParams?: AttributionParams } = {}): ChainSpec {
  const count = options.validators ?? 7
  const spec = testnetChainSpec({
    validators: Array.from({ length: count }, (_, i) => ({ operator: workerAddress(i), consensusKey: devValidatorKey(workerName(i)).publicKey })),
    genesisTime: Date.UTC(2026, 0, 1),
    chainId: 1337,
    stakingParams: { ...DEV_STAKING_PARAMS, maxValidators: 20, epochLength: 1_000 },
  })
  return {
    ...spec, models: { params: options.params ?? TEST_MODELS_PARAMS, baseModels: options.baseModels ?? [baseModelArgs()] },
    ...(options.inferenceParams === undefined ? {} : { inference: { params: options.inferenceParams } }),
    ...(options.attributionParams === undefined ? {} : { attribution: { params: options.attributionParams } }),
  }
}

export interface CallOutcome {
  error: ModuleError | undefined
  events: RuntimeEvent[]
}

export class ModelsHarness {
  readonly committed: MapState
  readonly spec: ChainSpec
  readonly modules: RuntimeModule[] = [systemModule, createStakingModule(), datanetsModule, modelsModule, inferenceModule, attributionModule]
  /** the last finished block */
  height = 0
  /** parent hash of the next block only, then back to the default */
  nextParentHash: Uint8Array | undefined
  /** the next block's beacon reveal (default: one derived from its height) */
  nextReveal: Uint8Array | undefined

  private constructor(committed: MapState, spec: ChainSpec) {
    this.committed = committed
    this.spec = spec
  }

  static async create(spec: ChainSpec = modelsSpec()): Promise<ModelsHarness> {
    return new ModelsHarness(await genesisState(spec), spec)
  }

  clone(): ModelsHarness {
    const copy = new ModelsHarness(this.committed.clone(), this.spec)
    copy.height = this.height
    return copy
  }

  get state(): StateReader {
    return this.committed
  }

  #block(): BlockInfo {
    const height = this.height + 1
    const parentHash = this.nextParentHash ?? sha256(utf8(`parent ${height}`))
    const randomnessReveal = this.nextReveal ?? sha256(utf8(`reveal ${height}`))
    this.nextParentHash = undefined
    this.nextReveal = undefined
    return { chainId: this.spec.chainId, height, timestamp: this.spec.genesisTime + height * 1000, author: new Uint8Array(20).fill(0xaa), parentHash, randomnessReveal }
  }

  /** One block holding the given calls (each in its own checkpoint), then the end-of-block hooks. */
  async block(calls: Array<{ sender: Address | DevAccountName; module?: string; name: string; args: unknown }>): Promise<{ outcomes: CallOutcome[]; hookEvents: RuntimeEvent[] }> {
    const block = this.#block()
    const overlay = new StateOverlay(this.committed)
    const outcomes: CallOutcome[] = []
    const beginEvents: RuntimeEvent[] = []
    for (const module of this.modules) await module.beginBlock?.({ state: overlay, block, emit: (e) => void beginEvents.push(e) })
    for (const { sender, module: moduleName, name, args } of calls) {
      const module = this.modules.find((m) => m.name === (moduleName ?? 'models'))
      const definition = module?.calls.find((c) => c.name === name)
      if (definition === undefined) throw new Error(`no call ${moduleName ?? 'models'}.${name}`)
      // through the wire format, as a transaction's arguments arrive
      const decoded = definition.args.decode(decode(encode(definition.args.encode(args))) as Decoded, 'args')
      const events: RuntimeEvent[] = []
      overlay.checkpoint()
      const error = await definition.execute({ state: overlay, block, sender: typeof sender === 'string' ? addressOf(sender) : sender, emit: (e) => void events.push(e) }, decoded)
      if (error === undefined) overlay.discardCheckpoint()
      else {
        overlay.revert()
        events.length = 0
      }
      outcomes.push({ error, events })
    }
    const hookEvents: RuntimeEvent[] = beginEvents
    for (const module of this.modules) await module.endBlock?.({ state: overlay, block, emit: (e) => void hookEvents.push(e), gasUsed: 0 })
    this.committed.apply(overlay.changes())
    this.height = block.height
    return { outcomes, hookEvents }
  }

  /** One call in its own block; the block's hook events are appended to the call's. */
  async call(sender: Address | DevAccountName, name: string, args: unknown, module = 'models'): Promise<CallOutcome & { hookEvents: RuntimeEvent[] }> {
    const { outcomes, hookEvents } = await this.block([{ sender, module, name, args }])
    const outcome = outcomes[0] as CallOutcome
    return { ...outcome, hookEvents }
  }

  async ok(sender: Address | DevAccountName, name: string, args: unknown, module = 'models'): Promise<CallOutcome & { hookEvents: RuntimeEvent[] }> {
    const outcome = await this.call(sender, name, args, module)
    if (outcome.error !== undefined) throw new Error(`${module}.${name} failed: ${outcome.error.code}`)
    return outcome
  }

  /**
   * createJob in one block, then the empty blocks up to its assignment (RANDOMNESS_LOOKAHEAD
   * later, by the deadline hook): the call's outcome and the events of the blocks after it.
   */
  async createJob(args: unknown = jobArgs(), sender: Address | DevAccountName = 'eve'): Promise<{ created: CallOutcome & { hookEvents: RuntimeEvent[] }; assignment: RuntimeEvent[] }> {
    const created = await this.ok(sender, 'createJob', args)
    const assignment = await this.advanceTo(this.height + RANDOMNESS_LOOKAHEAD)
    return { created, assignment }
  }

  /** Empty blocks until `height` is the last finished one; returns their hook events. */
  async advanceTo(height: number): Promise<RuntimeEvent[]> {
    const events: RuntimeEvent[] = []
    while (this.height < height) events.push(...(await this.block([])).hookEvents)
    return events
  }

  balance(account: Address | DevAccountName): Promise<bigint> {
    return balanceOf(this.committed, typeof account === 'string' ? addressOf(account) : account)
  }

  async job(id: number): Promise<Job> {
    const job = await jobs.get(this.committed, id)
    if (job === undefined) throw new Error(`no job ${id}`)
    return job
  }

  modelVersion(id: number) {
    return modelVersions.get(this.committed, id)
  }

  baseModel(id: number) {
    return baseModels.get(this.committed, id)
  }

  /** A datanet owned by `owner` with one accepted contribution and `versions` published versions; returns its id. */
  async publishedDatanet(owner: DevAccountName = 'ferdie', versions = 1, shape: { format?: number; size?: number; rows?: number } = {}): Promise<number> {
    const format = shape.format ?? Format.documents
    const rules = { deposit: 0n, feePerByte: 0n, formats: [format], maxBytes: 10_000 }
    await this.ok(owner, 'create', { name: 'corpus', description: '', tags: [], licence: 'CC0-1.0', visibility: 0, rules, curators: [] }, 'datanets')
    const id = await datanetCount.get(this.committed)
    for (let v = 0; v < versions; v++) {
      // enough bytes for the jobs the tests create (models.InsufficientData)
      await this.ok('dave', 'contribute', { datanet: id, cid: sha256(utf8(`contribution ${id}/${v}`)), size: shape.size ?? 1_000, rows: shape.rows ?? 1, format, metadata: '' }, 'datanets')
      const index = v
      for (const operator of this.operators) {
        const { error } = await this.call(operator, 'attestAvailability', { datanet: id, contribution: index }, 'datanets')
        if (error?.code === 'datanets.AlreadyAvailable') break
      }
      await this.ok(owner, 'accept', { datanet: id, contribution: index }, 'datanets')
      await this.ok(owner, 'publishVersion', { datanet: id, note: `v${v + 1}` }, 'datanets')
    }
    return id
  }

  /** the genesis validators' operators */
  get operators(): Address[] {
    return (this.spec.staking?.validators ?? []).map((v) => v.operator)
  }

  /** A copy of every state entry, to show a failed call changed nothing. */
  /** Every state entry but the beacon's mixes (each block adds one, whatever its calls did). */
  snapshot(): string {
    const mixes = Buffer.from(randomMixes.prefix).toString('hex')
    return [...this.committed.entries.entries()].filter(([id]) => !id.startsWith(mixes)).map(([id, { value }]) => `${id}=${Buffer.from(value).toString('hex')}`).sort().join('\n')
  }
}

export function eventsNamed<Data>(definition: EventDefinition<Data>, events: readonly RuntimeEvent[], module: number = ModuleIndex.models): Data[] {
  return events.filter((e) => e.module === module && e.index === definition.index).map((e) => eventData(definition, e))
}

export function eventNames(events: readonly RuntimeEvent[]): string[] {
  return events.filter((e) => e.module === ModuleIndex.models).map((e) => `models.${modelsModule.events.find((d) => d.index === e.index)?.name ?? e.index}`)
}

const OPEN_STATUSES: number[] = [JobStatus.assigning, JobStatus.training, JobStatus.verifying, JobStatus.disputed]

/**
 * Supply and escrow: balances sum to the issuance (which only slashing burns lower); the module
 * account holds exactly the base-model deposits plus the fees of open jobs.
 */
export async function invariantProblems(h: ModelsHarness): Promise<string[]> {
  const problems: string[] = []
  let sum = 0n
  for (const { value } of h.committed.withPrefix(accounts.prefix)) {
    const free = accounts.decodeValue(value).free
    if (free <= 0n) problems.push('a stored balance is not positive')
    sum += free
  }
  const issuance = await totalIssuance.get(h.committed)
  if (sum !== issuance) problems.push(`balances ${sum} != issuance ${issuance}`)
  let owed = 0n
  for (const { value } of h.committed.withPrefix(baseModels.prefix)) owed += baseModels.decodeValue(value).deposit
  for (const { value } of h.committed.withPrefix(jobs.prefix)) {
    const job = jobs.decodeValue(value)
    if (OPEN_STATUSES.includes(job.status)) owed += job.fee
  }
  const held = await balanceOf(h.committed, MODELS_ACCOUNT)
  if (held !== owed) problems.push(`models account holds ${held}, owes ${owed}`)
  return problems
}

// ---- the job most tests start from

export const HYPER = { rank: 4, alpha: 8, steps: 100, batchSize: 4, length: 32, learningRateMicro: 1_000, seed: 7, checkpointEvery: 25 }
export const FEE = 10n * OPEN
export const jobArgs = (overrides: Record<string, unknown> = {}) => ({ base: 1, datanets: [{ datanet: 1, version: 1 }], hyper: HYPER, fee: FEE, ...overrides })
export const hashes = (tag: string) => ({ weightsHash: sha256(utf8(`${tag} weights`)), checkpointRoot: sha256(utf8(`${tag} checkpoints`)) })
export const resultArgs = (job: number, tag = 'honest') => ({
  job, adapter: sha256(utf8(`${tag} adapter`)), ...hashes(tag), metrics: { baseLossMicro: 4_000_000, adaptedLossMicro: 3_100_000, baseAccuracyBps: 0, adaptedAccuracyBps: 0 },
})

/** A test worker's salt (a real node derives its own from its operator key). */
export const saltOf = (worker: Address): Uint8Array => sha256(concatBytes(utf8('test salt'), worker))

/** `worker`'s commitment to the `tag` result in the job's current round. */
export async function commitArgs(h: ModelsHarness, job: number, worker: Address, tag = 'honest'): Promise<{ job: number; commitment: Uint8Array }> {
  return { job, commitment: commitmentOf(RESULT_COMMIT_DOMAIN, commitScope(await h.job(job)), worker, saltOf(worker), resultPayload(hashes(tag))) }
}
export const revealResultArgs = (job: number, trainer: Address, tag = 'honest') => ({ ...resultArgs(job, tag), salt: saltOf(trainer) })
export const revealArgs = (job: number, worker: Address, tag = 'honest') => ({ job, salt: saltOf(worker), ...hashes(tag) })

/**
 * The last reveal's outcome; if it only closed the round because settling draws (a dispute's
 * arbiters, a reassignment: lifecycle.ts settleIfRevealed), the blocks up to the settlement
 * RANDOMNESS_LOOKAHEAD later follow, and their events are added to the reveal's.
 */
async function throughSettlement(h: ModelsHarness, job: number, last: CallOutcome & { hookEvents: RuntimeEvent[] }): Promise<CallOutcome & { hookEvents: RuntimeEvent[] }> {
  const record = await h.job(job)
  const open = record.status === JobStatus.verifying || record.status === JobStatus.disputed
  if (!open || record.phase !== CommitPhase.reveal || record.deadline !== h.height + RANDOMNESS_LOOKAHEAD) return last
  const later = await h.advanceTo(record.deadline)
  return { ...last, events: [...last.events, ...last.hookEvents, ...later], hookEvents: later }
}

/**
 * A whole verification round: the trainer commits to `trainer`, each verifier to its tag (one tag
 * per verifier, or the last one repeated), then all reveal, trainer first. Returns the last reveal
 * (through the settlement, throughSettlement).
 */
export async function round(h: ModelsHarness, job: number, trainer: string, verifiers: readonly string[] = [trainer]) {
  const record = await h.job(job)
  const tagOf = (i: number): string => verifiers[Math.min(i, verifiers.length - 1)] ?? trainer
  await h.ok(record.trainer, 'commit', await commitArgs(h, job, record.trainer, trainer))
  for (const [i, verifier] of record.verifiers.entries()) await h.ok(verifier, 'commit', await commitArgs(h, job, verifier, tagOf(i)))
  let last = await h.ok(record.trainer, 'revealResult', revealResultArgs(job, record.trainer, trainer))
  for (const [i, verifier] of record.verifiers.entries()) last = await h.ok(verifier, 'revealAttestation', revealArgs(job, verifier, tagOf(i)))
  return throughSettlement(h, job, last)
}

/** The arbiters of a dispute commit to and reveal their tags (as round(), through the settlement). */
export async function arbitrate(h: ModelsHarness, job: number, tags: readonly string[]) {
  const record = await h.job(job)
  const tagOf = (i: number): string => tags[Math.min(i, tags.length - 1)] ?? 'honest'
  for (const [i, arbiter] of record.arbiters.entries()) await h.ok(arbiter, 'commit', await commitArgs(h, job, arbiter, tagOf(i)))
  let last
  for (const [i, arbiter] of record.arbiters.entries()) last = await h.ok(arbiter, 'revealAttestation', revealArgs(job, arbiter, tagOf(i)))
  return last === undefined ? undefined : throughSettlement(h, job, last)
}

/** a chain with a published datanet version and eve's job 1 */
export async function withJob(): Promise<ModelsHarness> {
  const h = await ModelsHarness.create()
  await h.publishedDatanet()
  await h.createJob()
  return h
}

