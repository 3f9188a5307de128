// The validator's side of inference re-checks (runtime/modules/inference/checks.ts). It follows
// finalized blocks and, for every re-check round that drew this node's operator:
//
//   1. reads the record and its prompt (an on-chain request's, from the state);
//   2. fetches the output by the record's content id over the blob protocol (from the provider,
//      which pinned it) within FETCH_TIMEOUT_MS: not obtainable means the verdict `unavailable`;
//      bytes whose keccak256 is not the record's output hash mean `wrong`;
//   3. re-scores prompt + output with the deterministic engine (node/serving/verify.ts
//      verifyOutputBytes: the output's tokens parsed back from its bytes guided by the model, each
//      judged by the record's sampling rule): a token no ε-perturbation of the engine's logits
//      explains means `wrong`, otherwise `ok`;
//   4. commits to the verdict (inference.commitCheck), and once the round takes reveals reveals it
//      (inference.revealCheck).
//
// The verdict and salt (the operator's secret per round) are saved before the commit is sent
// (checkCommits.ts), and the reveal is exactly that: a verdict recomputed after a restart could
// differ (an output unavailable then may be found now) and would not open the commitment. Without
// the file (lost with the disk) the reveal is the verdict whose commitment with the derived salt
// is the one on chain. The re-score of a record is a few forward passes of a small model: it runs
// here, not in a worker thread.
//
// A record's adapters are loaded as the serving engine loads them (node/serving/sources.ts
// adapterWeights: the published version's artifact from the blob store, fetched from peers if
// missing, checked against its weights hash) and merged by the record's weights.
//
// What it cannot judge it does not vote on (logged): a channel record (its prompt is not on chain),
// a record whose adapter cannot be obtained (the network's fault, not the provider's).
import { decode, encode, bytesEqual, type Decoded } from '../../runtime/codec/canonical.ts'
import { CommitPhase, type Commitment, commitmentBy, commitmentOf, opens } from '../../runtime/commitReveal.ts'
import { concatBytes, keccak256, toHex, utf8 } from '../../runtime/crypto/hash.ts'
import type { Address } from '../../runtime/crypto/secp256k1.ts'
import type { RuntimeEvent } from '../../runtime/module.ts'
import { sameAddress } from '../../runtime/modules/accounts.ts'
import {
  CHECK_COMMIT_DOMAIN, CheckOpened, CheckRevealOpened, checks, checkScope, CheckStatus, commitCheck, RecordSource, records, requests, revealCheck, Verdict, verdictPayload,
  type Check, type InferenceRecord,
} from '../../runtime/modules/inference/index.ts'
import { ModuleIndex } from '../../runtime/modules/indices.ts'
import { type BaseModel, baseModels, modelVersions } from '../../runtime/modules/models/index.ts'
import type { ModelConfig } from '../../ml/model/config.ts'
import { ReceiptStatus } from '../../runtime/receipt.ts'
import type { CallDefinition } from '../../runtime/module.ts'
import type { Logger } from '../../lib/logger.ts'
import type { BlobFetcher } from '../blobs/blobExchange.ts'
import type { BlobStore } from '../blobs/blobStore.ts'
import type { Chain, ImportedBlock } from '../chain/chain.ts'
import { FinalizedFollower } from '../chain/finalizedFollower.ts'
import type { BaseModelResolver } from '../models/baseModels.ts'
import type { OperatorTransactions } from '../operator/operatorTransactions.ts'
import { adapterWeights } from '../serving/sources.ts'
import type { AdapterWeights } from '../serving/types.ts'
import { verifyOutputBytes } from '../serving/verify.ts'
import { CheckCommits, type CommittedVerdict } from './checkCommits.ts'

/** adapters kept loaded between re-checks (a rank-8 adapter of the shipped LM is ~100 KiB) */
const MAX_CACHED_ADAPTERS = 16

/** ms a checker waits for a record's output from the network before it finds it unavailable */
export const FETCH_TIMEOUT_MS = 30_000

/** TEST ONLY: `lie` votes the opposite of what the re-check found (ok ↔ wrong). */
export type CheckFault = 'lie'

export interface RecheckServiceOptions {
  /** where the committed verdicts are kept (<home>/recheck) */
  readonly dir: string
  readonly fault?: CheckFault
  readonly fetchTimeoutMs?: number
}

export interface RecheckServiceComponents {
  readonly chain: Chain
  readonly transactions: OperatorTransactions
  readonly store: BlobStore
  readonly fetcher?: BlobFetcher | undefined
  readonly resolver: BaseModelResolver
  readonly logger: Logger
}

export class RecheckService {
  readonly #o: RecheckServiceOptions
  readonly #c: RecheckServiceComponents
  readonly #log: Logger
  readonly #commits: CheckCommits
  readonly #follower: FinalizedFollower
  /** verdicts found here, by record */
  readonly #verdicts = new Map<number, number | undefined>()
  /** adapters loaded for re-checks, by model version (LRU) */
  readonly #adapters = new Map<number, AdapterWeights>()
  /** `${record}/${round}/${commit|reveal}` submitted */
  readonly #submitted = new Set<string>()

  constructor(options: RecheckServiceOptions, components: RecheckServiceComponents) {
    this.#o = options
    this.#c = components
    this.#log = components.logger
    this.#commits = new CheckCommits(options.dir)
    this.#follower = new FinalizedFollower({ what: 're-check work', reconcile: () => this.#reconcile(), onFinalized: (block) => this.#onFinalized(block) }, components)
  }

  start(): void {
    this.#follower.start()
  }

  stop(): Promise<void> {
    return this.#follower.stop()
  }

  /** Resolves once the work queued so far is done (tests). */
  idle(): Promise<void> {
    return this.#follower.idle()
  }

  get #me(): Address {
    return this.#c.transactions.address
  }

  async #reconcile(): Promise<void> {
    await this.#prune()
    for await (const [, value] of this.#c.chain.state.entries(checks.prefix)) {
      if (this.#follower.signal.aborted) return
      const check = checks.decodeValue(value)
      if (check.status === CheckStatus.checking && check.checkers.some((c) => sameAddress(c, this.#me))) await this.#work(check.record)
    }
  }

  async #onFinalized(block: ImportedBlock): Promise<void> {
    const touched = new Set<number>()
    const note = (event: RuntimeEvent): void => {
      if (event.module !== ModuleIndex.inference || (event.index !== CheckOpened.index && event.index !== CheckRevealOpened.index)) return
      // both events' data start with the record id
      const data = decode(encode(event.data)) as Decoded
      const record = Array.isArray(data) ? data[0] : undefined
      if (typeof record === 'number') touched.add(record)
    }
    for (const receipt of block.receipts) if (receipt.status === ReceiptStatus.success) receipt.events.forEach(note)
    block.blockEvents.forEach(note)
    for (const record of touched) await this.#work(record)
  }

  async #work(id: number): Promise<void> {
    if (this.#follower.signal.aborted) return
    const state = this.#c.chain.state
    const check = await checks.get(state, id)
    if (check === undefined || check.status !== CheckStatus.checking || !check.checkers.some((c) => sameAddress(c, this.#me))) return
    const commitment = commitmentBy(check.commitments, this.#me)
    if (check.phase === CommitPhase.commit && commitment === undefined) {
      const verdict = await this.#verdict(check)
      if (verdict === undefined) return
      const salt = this.#salt(check)
      // on disk before it can be on chain: the reveal must open it whatever is found later
      await this.#commits.save(check.record, check.round, { verdict, salt })
      await this.#send(commitCheck, { record: id, commitment: commitmentOf(CHECK_COMMIT_DOMAIN, checkScope(check), this.#me, salt, verdictPayload(verdict)) }, check, 'commit')
      return
    }
    const revealed = check.votes.some((v) => v.round === check.round && sameAddress(v.worker, this.#me))
    if (check.phase === CommitPhase.reveal && commitment !== undefined && !revealed) {
      const committed = await this.#committed(check, commitment)
      if (committed === undefined) {
        this.#log.error('no verdict opens this node\'s commitment: not revealing', { record: id, round: check.round })
        return
      }
      if (await this.#send(revealCheck, { record: id, verdict: committed.verdict, salt: committed.salt }, check, 'reveal')) await this.#commits.remove(check.record, check.round)
    }
  }

  /** Removes the saved verdicts of rounds that are over (a crash between commit and reveal, a round that ended without this node's reveal). */
  async #prune(): Promise<void> {
    for (const { record, round } of await this.#commits.list()) {
      const check = await checks.get(this.#c.chain.state, record)
      if (check === undefined || check.status !== CheckStatus.checking || check.round !== round) await this.#commits.remove(record, round)
    }
  }

  /** The verdict and salt that open this node's commitment of the round: the saved ones, else the verdict whose commitment with the derived salt is the one on chain. */
  async #committed(check: Check, commitment: Commitment): Promise<CommittedVerdict | undefined> {
    const scope = checkScope(check)
    const saved = await this.#commits.load(check.record, check.round)
    if (saved !== undefined && opens(commitment, CHECK_COMMIT_DOMAIN, scope, saved.salt, verdictPayload(saved.verdict))) return saved
    const salt = this.#salt(check)
    const verdict = Object.values(Verdict).find((v) => opens(commitment, CHECK_COMMIT_DOMAIN, scope, salt, verdictPayload(v)))
    return verdict === undefined ? undefined : { verdict, salt }
  }

  #salt(check: Check): Uint8Array {
    return this.#c.transactions.secret(concatBytes(utf8(CHECK_COMMIT_DOMAIN), checkScope(check)))
  }

  /** The verdict this node stands for (flipped by the `lie` test fault), or undefined when it cannot judge the record. */
  async #verdict(check: Check): Promise<number | undefined> {
    let found = this.#verdicts.get(check.record)
    if (!this.#verdicts.has(check.record)) {
      const record = await records.get(this.#c.chain.state, check.record)
      if (record === undefined) return undefined
      found = await this.#recheck(record)
      this.#verdicts.set(check.record, found)
    }
    if (found === undefined || this.#o.fault !== 'lie') return found
    const lie = found === Verdict.ok ? Verdict.wrong : Verdict.ok
    this.#log.warn('TEST FAULT: voting against the re-check', { record: check.record, found, voting: lie })
    return lie
  }

  /** Re-checks the record: fetches the output, re-scores it. */
  async #recheck(record: InferenceRecord): Promise<number | undefined> {
    const { chain, resolver } = this.#c
    const skip = (why: string): undefined => {
      this.#log.info('re-check skipped: this node cannot judge the record', { record: record.id, why })
      return undefined
    }
    if (record.source !== RecordSource.request) return skip('a channel record\'s prompt is not on chain')
    const request = await requests.get(chain.state, record.sourceId)
    const base = await baseModels.get(chain.state, record.base)
    if (request === undefined || base === undefined) return skip('the request or base model is gone from state')
    let bytes: Uint8Array | undefined
    try {
      bytes = await this.#obtain(record.outputCid)
    } catch (error) {
      if (this.#follower.signal.aborted) return undefined
      this.#log.info('record output not obtainable', { record: record.id, cid: toHex(record.outputCid), error })
    }
    if (bytes === undefined) return this.#found(record, Verdict.unavailable, 'the output could not be fetched')
    if (!bytesEqual(keccak256(bytes), record.outputHash)) return this.#found(record, Verdict.wrong, 'the output blob does not hash to the record\'s output hash')
    const model = await resolver.resolve(base, this.#follower.signal)
    // the record's adapters as the serving engine loads them (published versions of its base, from
    // the blob store, checked against their weights hash): not obtainable is not the provider's
    // fault, so this node does not vote then
    const adapters = new Map<string, AdapterWeights>()
    for (const use of record.adapters) {
      const adapter = await this.#adapter(use.id, base, model.config)
      if (typeof adapter === 'string') return skip(adapter)
      adapters.set(adapter.id, adapter)
    }
    const { sampling } = record
    const verification = verifyOutputBytes({
      promptTokens: Array.from(model.tokenizer.encode(request.prompt)), output: bytes,
      maxTokens: record.maxTokens, adapters: record.adapters.map((use) => ({ id: String(use.id), weight: use.weightMilli / 1_000 })),
      sampling: { temperature: sampling.temperatureMilli / 1_000, topK: sampling.topK, topP: sampling.topPMilli / 1_000, seed: sampling.seed },
    }, { config: model.config, weights: model.weights, tokenBytes: (id) => model.tokenizer.tokenBytes(id), encode: (text) => model.tokenizer.encode(text) }, adapters)
    const tokens = verification.outputTokens.length
    return this.#found(record, verification.accepted ? Verdict.ok : Verdict.wrong, `${verification.uncertain} uncertain of ${tokens} tokens${verification.accepted ? '' : `, rejected at token ${tokens}`}`)
  }

  /** A blob's bytes from the local store, fetched from peers first if missing (within the fetch timeout); undefined if not obtained. */
  async #obtain(cid: Uint8Array): Promise<Uint8Array | undefined> {
    const { store, fetcher } = this.#c
    if (!(await store.has(cid)) && fetcher !== undefined) {
      await fetcher.fetch(cid, { signal: AbortSignal.any([this.#follower.signal, AbortSignal.timeout(this.#o.fetchTimeoutMs ?? FETCH_TIMEOUT_MS)]) })
    }
    return (await store.has(cid)) ? await store.read(cid) : undefined
  }

  /** Published version `id` of `base` as the serving engine loads it (cached: versions never change), or why it cannot be. */
  async #adapter(id: number, base: BaseModel, config: ModelConfig): Promise<AdapterWeights | string> {
    const cached = this.#adapters.get(id)
    if (cached !== undefined) return cached
    const version = await modelVersions.get(this.#c.chain.state, id)
    if (version?.base !== base.id) return `adapter ${id} is not a published version of base ${base.id}`
    let bytes: Uint8Array | undefined
    try {
      bytes = await this.#obtain(version.adapter)
    } catch (error) {
      if (this.#follower.signal.aborted) return 'stopping'
      this.#log.info('adapter not obtainable', { adapter: id, cid: toHex(version.adapter), error })
    }
    if (bytes === undefined) return `adapter ${id}'s weights could not be fetched`
    const adapter = adapterWeights(bytes, version, config, base.name, String(id))
    if (this.#adapters.size >= MAX_CACHED_ADAPTERS) this.#adapters.delete(this.#adapters.keys().next().value as number)
    this.#adapters.set(id, adapter)
    return adapter
  }

  #found(record: InferenceRecord, verdict: number, why: string): number {
    this.#log.info('record re-checked', { record: record.id, provider: toHex(record.provider), verdict: ['ok', 'wrong', 'unavailable'][verdict], why })
    return verdict
  }

  /** Whether the call was submitted now. */
  async #send<Args>(call: CallDefinition<Args>, args: Args, check: Check, what: 'commit' | 'reveal'): Promise<boolean> {
    const key = `${check.record}/${check.round}/${what}`
    if (this.#submitted.has(key)) return false
    try {
      const tx = await this.#c.transactions.submit(ModuleIndex.inference, call, args)
      this.#submitted.add(key)
      this.#log.info(`submitted the re-check's ${what}`, { record: check.record, round: check.round, tx: toHex(tx.hash) })
      return true
    } catch (error) {
      this.#log.warn(`could not submit the re-check's ${what}`, { record: check.record, error })
      return false
    }
  }
}
