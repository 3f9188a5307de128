// The node's side of Proof of Attribution. It follows finalized blocks and, for every inference
// record this node's validator operator is drawn for, does its part off the consensus path:
//
//   attributor  reads the record's output by its content id (the local blob store or peers, checked
//               against the record's output hash), computes the receipt (a language model: the
//               output's spans over the span index of every datanet version in the model's lineage,
//               spanReceipt.ts) and submits attribution.submitReceipt before the deadline
//   verifier    when a receipt is drawn for a re-check, recomputes the receipt itself, commits to its
//               hash (attribution.commitCheck) and, once the reveal phase opens, reveals it
//               (attribution.revealCheck); the runtime's majority settles who was wrong
//
// Salts are the operator's secret per round (record, attempt), so a restarted node reveals what it
// committed without storing anything. At start the open attributions are reconciled from the
// runtime's deadline index (each open phase has exactly one entry there), never a scan of every
// record. Records are worked on one at a time, in the order their events were finalized; a
// receipt computed here is kept until its record is final, so a verifier computes it once for
// its commit and its reveal. A receipt that cannot be computed yet (the output not reachable yet)
// is tried again at every finalized block while the duty lasts.
//
// Classifier records (method knnShapley): the input is the on-chain request's prompt, the label the
// model's own answer, the training points the lineage's labelled rows (knnReceipt.ts). No such
// record exists yet: the inference module serves language models only (modelContext), so this
// path waits for classifier requests and has no end-to-end test. A channel's classifier record
// (its prompt off chain) is skipped with a warning; the runtime reassigns it at the deadline and
// finally sends its pool to the treasury.
import { join } from 'node:path'
import { decode, encode, type Decoded } from '../../runtime/codec/canonical.ts'
import { bytesEqual } from '../../runtime/codec/canonical.ts'
import { CommitPhase, commitmentBy, commitmentOf } from '../../runtime/commitReveal.ts'
import { concatBytes, keccak256, toHex, utf8 } from '../../runtime/crypto/hash.ts'
import type { Address } from '../../runtime/crypto/secp256k1.ts'
import { OpenLedgerError } from '../../runtime/errors.ts'
import type { CallDefinition, RuntimeEvent } from '../../runtime/module.ts'
import { sameAddress } from '../../runtime/modules/accounts.ts'
import { type Attribution, AttributionFinal, attributions, AttributionStatus, CHECK_COMMIT_DOMAIN, checkScope, commitCheck, deadlines, lineageOf, type Receipt, receiptHash, RecordUnattributed, revealCheck, submitReceipt } from '../../runtime/modules/attribution/index.ts'
import { type InferenceRecord, RecordSource, records, requests } from '../../runtime/modules/inference/index.ts'
import { ModuleIndex } from '../../runtime/modules/indices.ts'
import { type BaseModel, BaseModelKind, baseModels, modelVersions } from '../../runtime/modules/models/index.ts'
import { labelMapOf, rowsToExamples, textToClassifierIds } from '../../ml/data/datanetRows.ts'
import { ReceiptStatus } from '../../runtime/receipt.ts'
import type { Logger } from '../../lib/logger.ts'
import type { BlobFetcher } from '../blobs/blobExchange.ts'
import type { BlobStore } from '../blobs/blobStore.ts'
import type { Chain, ImportedBlock } from '../chain/chain.ts'
import { FinalizedFollower } from '../chain/finalizedFollower.ts'
import type { BaseModelResolver } from '../models/baseModels.ts'
import type { OperatorTransactions } from '../operator/operatorTransactions.ts'
import { citationsOf, type Citation } from './citations.ts'
import { SpanIndexCache, versionRows } from './indexCache.ts'
import { knnReceipt, type LabelledVersion } from './knnReceipt.ts'
import { mergeAdapters, type WeightedAdapter } from '../serving/engine/merge.ts'
import { adapterWeights } from '../serving/sources.ts'
import { faultyReceipt, spanReceipt, type VersionIndex } from './spanReceipt.ts'

/** TEST ONLY: `wrong-receipt` submits a well-formed wrong receipt as attributor (faultyReceipt), so a re-check can be shown to catch it. */
export type AttributionFault = 'wrong-receipt'

export type AttributionServiceErrorCode = 'OUTPUT_UNAVAILABLE' | 'OUTPUT_MISMATCH' | 'UNSUPPORTED_METHOD' | 'UNKNOWN_RECORD' | 'UNKNOWN_MODEL' | 'TEXT_TOO_LONG'
export class AttributionServiceError extends OpenLedgerError<AttributionServiceErrorCode> {}

/** characters of a text `citations` takes at most (a completion is at most a context of tokens) */
export const MAX_CITED_CHARS = 64 * 1024

export interface AttributionServiceOptions {
  /** span indexes on disk (<home>/attribution) */
  readonly dir: string
  readonly fault?: AttributionFault | undefined
  /** ms to wait for an output blob from peers */
  readonly fetchTimeoutMs?: number
}

export interface AttributionServiceComponents {
  readonly chain: Chain
  readonly store: BlobStore
  readonly fetcher?: BlobFetcher | undefined
  /** the validator operator's transactions: without them the node attributes nothing */
  readonly transactions?: OperatorTransactions | undefined
  readonly resolver: BaseModelResolver
  readonly logger: Logger
}

export function attributionDir(home: string): string {
  return join(home, 'attribution')
}

/** What this node has to do for an attribution now, if anything. */
export function dutyIn(entry: Attribution, me: Address): 'receipt' | 'commit' | 'reveal' | undefined {
  if (entry.status === AttributionStatus.assigned) return sameAddress(entry.attributor, me) ? 'receipt' : undefined
  if (entry.status !== AttributionStatus.verifying || !entry.verifiers.some((v) => sameAddress(v, me))) return undefined
  const committed = commitmentBy(entry.commitments, me) !== undefined
  if (entry.phase === CommitPhase.commit) return committed ? undefined : 'commit'
  return committed && !entry.reveals.some((r) => sameAddress(r.worker, me)) ? 'reveal' : undefined
}

export class AttributionService {
  readonly #o: AttributionServiceOptions
  readonly #c: AttributionServiceComponents
  readonly #log: Logger
  readonly #indexes: SpanIndexCache
  readonly #follower: FinalizedFollower
  /** honest receipts computed here, by record (dropped when the record is final) */
  readonly #receipts = new Map<number, Receipt>()
  /** records whose receipt could not be computed yet (an output not fetched yet, say): tried again at every finalized block while the duty lasts, by failures so far */
  readonly #retry = new Map<number, number>()
  /** transactions submitted: `${record}/${duty}/${attempt}` */
  readonly #submitted = new Set<string>()
  /** receipts submitted by this node, for tests and the log */
  submittedReceipts = 0
  /** commitments and reveals submitted by this node */
  submittedChecks = 0

  constructor(options: AttributionServiceOptions, components: AttributionServiceComponents) {
    this.#o = options
    this.#c = components
    this.#log = components.logger
    this.#follower = new FinalizedFollower({ what: 'attribution work', reconcile: () => this.#reconcile(), onFinalized: (block) => this.#onFinalized(block) }, components)
    this.#indexes = new SpanIndexCache({ dir: options.dir, sources: { state: components.chain.state, store: components.store, fetcher: components.fetcher, signal: this.#follower.signal } })
  }

  start(): void {
    if (this.#c.transactions === undefined) return
    if (this.#o.fault !== undefined) this.#log.warn('TEST FAULT: this node submits wrong attribution receipts', { fault: this.#o.fault })
    this.#follower.start()
  }

  stop(): Promise<void> {
    return this.#follower.stop()
  }

  /**
   * The citations of `text` as the output of base model `base` with these adapters (model version
   * ids): its spans found in the datanet versions of the adapters' lineage (citations.ts). The
   * lineage's span indexes are built on first use, as for receipts.
   */
  async citations(base: number, adapters: readonly number[], text: string, signal?: AbortSignal): Promise<{ lineage: Array<{ datanet: number; version: number }>; tokens: number; citations: Citation[] }> {
    if (text.length > MAX_CITED_CHARS) throw new AttributionServiceError('TEXT_TOO_LONG', `at most ${MAX_CITED_CHARS} characters are cited`)
    const { chain, resolver } = this.#c
    const model = await baseModels.get(chain.state, base)
    if (model === undefined) throw new AttributionServiceError('UNKNOWN_MODEL', `no base model ${base}`)
    if (model.kind !== BaseModelKind.lm) throw new AttributionServiceError('UNSUPPORTED_METHOD', `base model ${base} is a classifier: citations are spans of a language model's output`)
    for (const id of adapters) {
      const version = await modelVersions.get(chain.state, id)
      if (version?.base !== base) throw new AttributionServiceError('UNKNOWN_MODEL', `model version ${id} is not a published adapter of base model ${base}`)
    }
    const lineage = (await lineageOf(chain.state, { adapters: adapters.map((id) => ({ id, weightMilli: 1_000 })) })) ?? []
    const { tokenizer } = await resolver.resolve(model, signal ?? this.#follower.signal)
    const versions: VersionIndex[] = []
    for (const entry of lineage) versions.push({ ...entry, index: await this.#indexes.get(entry.datanet, entry.version, tokenizer, model.tokenizerHash) })
    const tokens = Array.from(tokenizer.encode(text))
    return { lineage, tokens: tokens.length, citations: citationsOf(versions, tokens, tokenizer) }
  }

  /** Resolves once the work queued so far is done (tests). */
  idle(): Promise<void> {
    return this.#follower.idle()
  }

  /** The open attributions: every open phase has its one entry in the deadline index, at a height not passed yet. */
  async #reconcile(): Promise<void> {
    const open = new Set<number>()
    for await (const [, value] of this.#c.chain.state.entries(deadlines.prefix)) for (const record of deadlines.decodeValue(value)) open.add(record)
    for (const record of [...open].sort((a, b) => a - b)) await this.#work(record)
  }

  async #onFinalized(block: ImportedBlock): Promise<void> {
    const touched = new Set<number>()
    for (const receipt of block.receipts) {
      if (receipt.status !== ReceiptStatus.success) continue
      for (const event of receipt.events) this.#note(event, touched)
    }
    for (const event of block.blockEvents) this.#note(event, touched)
    for (const record of this.#retry.keys()) touched.add(record)
    for (const record of touched) await this.#work(record)
  }

  #note(event: RuntimeEvent, touched: Set<number>): void {
    if (event.module !== ModuleIndex.attribution) return
    // every attribution event of a record starts with the record id (events.ts); RewardClaimed does not
    const data = decode(encode(event.data)) as Decoded
    const record = Array.isArray(data) ? data[0] : undefined
    if (typeof record !== 'number') return
    if (event.index === AttributionFinal.index || event.index === RecordUnattributed.index) {
      this.#receipts.delete(record)
      return
    }
    touched.add(record)
  }

  async #work(id: number): Promise<void> {
    const transactions = this.#c.transactions
    if (transactions === undefined || this.#follower.signal.aborted) return
    const entry = await attributions.get(this.#c.chain.state, id)
    if (entry === undefined) return
    const duty = dutyIn(entry, transactions.address)
    const key = `${id}/${duty}/${entry.attempt}`
    if (duty === undefined || this.#submitted.has(key)) {
      this.#retry.delete(id)
      return
    }
    let honest: Receipt
    try {
      honest = await this.#receipt(id)
      this.#retry.delete(id)
    } catch (error) {
      if (this.#follower.signal.aborted) return
      const code = error instanceof OpenLedgerError ? error.code : 'FAILED'
      const failures = (this.#retry.get(id) ?? 0) + 1
      // a classifier's record cannot be computed here at all; anything else may be (the output reaches this node later)
      if (code === 'UNSUPPORTED_METHOD') this.#retry.delete(id)
      else this.#retry.set(id, failures)
      if (failures === 1 || failures % 20 === 0) this.#log.warn('could not compute the attribution of a record', { record: id, duty, code, failures, error })
      return
    }
    let sent = false
    if (duty === 'receipt') {
      const receipt = this.#o.fault === 'wrong-receipt' ? faultyReceipt(honest, await this.#versions(id)) : honest
      if (receipt !== honest) this.#log.warn('TEST FAULT: submitting a wrong attribution receipt', { record: id })
      sent = await this.#send(submitReceipt, receipt, id, 'receipt')
      if (sent) this.submittedReceipts++
    } else {
      const salt = transactions.secret(concatBytes(utf8(CHECK_COMMIT_DOMAIN), checkScope(entry)))
      const hash = receiptHash(honest)
      if (duty === 'commit') {
        const commitment = commitmentOf(CHECK_COMMIT_DOMAIN, checkScope(entry), transactions.address, salt, hash)
        sent = await this.#send(commitCheck, { record: id, commitment }, id, 'check commitment')
      } else {
        if (entry.receiptHash !== undefined && !bytesEqual(entry.receiptHash, hash)) this.#log.warn('the re-computed attribution differs from the submitted receipt', { record: id, submitted: toHex(entry.receiptHash), computed: toHex(hash) })
        sent = await this.#send(revealCheck, { record: id, receiptHash: hash, salt }, id, 'check reveal')
      }
      if (sent) this.submittedChecks++
    }
    if (sent) this.#submitted.add(key)
  }

  /** The honest receipt of a record (computed once here). */
  async #receipt(id: number): Promise<Receipt> {
    const known = this.#receipts.get(id)
    if (known !== undefined) return known
    const { chain } = this.#c
    const record = await records.get(chain.state, id)
    if (record === undefined) throw new AttributionServiceError('UNKNOWN_RECORD', `no inference record ${id}`)
    const base = await baseModels.get(chain.state, record.base)
    if (base === undefined) throw new AttributionServiceError('UNKNOWN_MODEL', `record ${id}'s base model ${record.base} is not registered`)
    if (base.kind === BaseModelKind.classifier) {
      const receipt = await this.#classifierReceipt(record, base)
      this.#receipts.set(id, receipt)
      this.#log.info('attribution computed', { record: id, method: 'knnShapley', contributions: receipt.contributions.length, harmful: receipt.harmful.length, top: receipt.contributions[0] })
      return receipt
    }
    const text = new TextDecoder('utf-8', { fatal: false }).decode(await this.#output(record.outputCid, record.outputHash))
    const { tokenizer } = await this.#c.resolver.resolve(base, this.#follower.signal)
    const receipt = spanReceipt({ chainId: chain.spec.chainId, record: id, outputHash: record.outputHash, versions: await this.#versions(id), output: tokenizer.encode(text) })
    this.#receipts.set(id, receipt)
    this.#log.info('attribution computed', { record: id, contributions: receipt.contributions.length, top: receipt.contributions[0] })
    return receipt
  }

  /**
   * A classifier record's KNN-Shapley receipt (knnReceipt.ts): the input is the on-chain request's
   * prompt (checked against the record's prompt hash; a channel's prompt is off chain: unsupported),
   * the weights the base with the record's adapters merged in by their weights (as serving's
   * deterministic engine merges them; each adapter's bytes checked against its weights hash), the
   * training points every row of the lineage's versions, labelled by the label map of all of them.
   */
  async #classifierReceipt(record: InferenceRecord, base: BaseModel): Promise<Receipt> {
    const { chain, resolver, store } = this.#c
    if (record.source !== RecordSource.request) throw new AttributionServiceError('UNSUPPORTED_METHOD', `record ${record.id} came through a payment channel: its input is off chain`)
    const request = await requests.get(chain.state, record.sourceId)
    if (request === undefined || !bytesEqual(keccak256(utf8(request.prompt)), record.promptHash)) throw new AttributionServiceError('UNKNOWN_RECORD', `record ${record.id}'s request ${record.sourceId} does not hold its prompt`)
    const { config, weights, tokenizer } = await resolver.resolve(base, this.#follower.signal)
    const adapters: WeightedAdapter[] = []
    for (const use of record.adapters) {
      const version = await modelVersions.get(chain.state, use.id)
      if (version === undefined) throw new AttributionServiceError('UNKNOWN_MODEL', `record ${record.id}'s adapter ${use.id} is not published`)
      const loaded = adapterWeights(await this.#blob(version.adapter), version, config, String(base.id), String(use.id))
      adapters.push({ rank: loaded.rank, alpha: loaded.alpha, tensors: loaded.tensors, weight: use.weightMilli / 1_000 })
    }
    const merged = adapters.length === 0 ? weights : mergeAdapters(config, weights, adapters)
    const lineage = (await lineageOf(chain.state, record)) ?? []
    const sources = { state: chain.state, store, fetcher: this.#c.fetcher, signal: this.#follower.signal }
    const perVersion = []
    for (const entry of lineage) perVersion.push({ ...entry, contributions: await versionRows(sources, entry.datanet, entry.version) })
    const labels = labelMapOf(perVersion.flatMap((v) => v.contributions.flatMap((c) => c.rows)), config.classes)
    const versions: LabelledVersion[] = perVersion.map(({ datanet, version, contributions }) => ({
      datanet, version,
      examples: contributions.flatMap(({ index, rows }) => rowsToExamples(rows, tokenizer, labels, config.context).map((example) => ({ contribution: index, ids: example.ids, label: example.label }))),
    }))
    return knnReceipt({
      chainId: chain.spec.chainId, record: record.id, outputHash: record.outputHash, config, base: merged, adapter: undefined, scale: 1, versions,
      input: textToClassifierIds(request.prompt, tokenizer, config.context),
    })
  }

  /** A blob by content id from the local store or peers (checked by the store against its content id). */
  async #blob(cid: Uint8Array): Promise<Uint8Array> {
    const { store, fetcher } = this.#c
    if (!(await store.has(cid))) {
      if (fetcher === undefined) throw new AttributionServiceError('OUTPUT_UNAVAILABLE', `blob ${toHex(cid)} is not stored here and the node has no network`)
      await fetcher.fetch(cid, { signal: AbortSignal.any([this.#follower.signal, AbortSignal.timeout(this.#o.fetchTimeoutMs ?? 60_000)]) })
    }
    return store.read(cid)
  }

  /** The span index of every datanet version in the record's lineage, in the runtime's order. */
  async #versions(id: number): Promise<VersionIndex[]> {
    const { chain, resolver } = this.#c
    const record = await records.get(chain.state, id)
    const base = record === undefined ? undefined : await baseModels.get(chain.state, record.base)
    if (record === undefined || base === undefined) throw new AttributionServiceError('UNKNOWN_RECORD', `no inference record ${id} (or its base model)`)
    const { tokenizer } = await resolver.resolve(base, this.#follower.signal)
    const versions: VersionIndex[] = []
    for (const entry of (await lineageOf(chain.state, record)) ?? []) {
      versions.push({ ...entry, index: await this.#indexes.get(entry.datanet, entry.version, tokenizer, base.tokenizerHash) })
    }
    return versions
  }

  /** The output's bytes by content id, from the local store or peers, checked against the record's output hash. */
  async #output(cid: Uint8Array, outputHash: Uint8Array): Promise<Uint8Array> {
    const { store, fetcher } = this.#c
    if (!(await store.has(cid))) {
      if (fetcher === undefined) throw new AttributionServiceError('OUTPUT_UNAVAILABLE', `output ${toHex(cid)} is not stored here and the node has no network`)
      try {
        await fetcher.fetch(cid, { signal: AbortSignal.any([this.#follower.signal, AbortSignal.timeout(this.#o.fetchTimeoutMs ?? 60_000)]) })
      } catch (cause) {
        throw new AttributionServiceError('OUTPUT_UNAVAILABLE', `output ${toHex(cid)} could not be fetched from peers`, { cause })
      }
    }
    const bytes = await store.read(cid)
    if (!bytesEqual(keccak256(bytes), outputHash)) throw new AttributionServiceError('OUTPUT_MISMATCH', `output ${toHex(cid)} does not hash to the record's output hash`)
    return bytes
  }

  async #send<Args>(call: CallDefinition<Args>, args: Args, record: number, what: string): Promise<boolean> {
    const transactions = this.#c.transactions
    if (transactions === undefined) return false
    try {
      const tx = await transactions.submit(ModuleIndex.attribution, call, args)
      this.#log.info(`submitted the attribution ${what}`, { record, tx: toHex(tx.hash) })
      return true
    } catch (error) {
      this.#log.warn(`could not submit the attribution ${what}`, { record, error })
      return false
    }
  }
}
