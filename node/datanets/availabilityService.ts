// The node's side of datanet data availability. It follows finalized blocks and, for every
// datanet event:
//
//   Contributed            fetch the blob from peers unless it is here (BlobFetcher, every chunk
//                          verified), pin it; then, if this node's operator is in the active
//                          validator set, check the bytes (size, format, declared row count) and
//                          submit a datanets.attestAvailability transaction signed with the
//                          operator key. Unfetchable blobs are retried with backoff.
//   ContributionRejected,  unpin the blob (the garbage collector deletes it once nothing else
//   ContributionWithdrawn  references it)
//
// Runs off the consensus path, one block at a time, in order.
import { decode, encode, type Decoded } from '../../runtime/codec/canonical.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import type { EventDefinition, RuntimeEvent } from '../../runtime/module.ts'
import { attestations, attestAvailability, checkRows, Contributed, ContributionRejected, contributions, ContributionStatus, ContributionWithdrawn, FormatError } from '../../runtime/modules/datanets/index.ts'
import { ModuleIndex } from '../../runtime/modules/indices.ts'
import { validatorSetAt } from '../../runtime/modules/staking/index.ts'
import { ReceiptStatus } from '../../runtime/receipt.ts'
import type { Transaction } from '../../runtime/transaction.ts'
import type { OperatorTransactions } from '../operator/operatorTransactions.ts'
import type { BlobFetcher } from '../blobs/blobExchange.ts'
import type { BlobStore } from '../blobs/blobStore.ts'
import type { Chain, ImportedBlock } from '../chain/chain.ts'
import { FinalizedFollower } from '../chain/finalizedFollower.ts'
import type { Logger } from '../../lib/logger.ts'

const MAX_ATTEMPTS = 8

export interface AvailabilityServiceComponents {
  chain: Chain
  store: BlobStore
  /** absent on a node without a network (dev): only local blobs count */
  fetcher?: BlobFetcher | undefined
  /** the validator operator's transactions: without them the node pins but does not attest */
  transactions?: OperatorTransactions | undefined
  logger: Logger
}

interface Work {
  datanet: number
  contribution: number
  cid: Uint8Array
  size: number
  rows: number
  format: number
  attempts: number
  notBefore: number
}

/** The blob store reference a contribution holds. */
function pinOwner(datanet: number, index: number): string {
  return `datanet/${datanet}/${index}`
}

function eventsOf<Data>(definition: EventDefinition<Data>, events: readonly RuntimeEvent[]): Data[] {
  return events.filter((e) => e.module === ModuleIndex.datanets && e.index === definition.index).map((e) => definition.data.decode(decode(encode(e.data)) as Decoded, 'event'))
}

export class AvailabilityService {
  readonly #c: AvailabilityServiceComponents
  readonly #log: Logger
  readonly #follower: FinalizedFollower
  #retry: Work[] = []
  /** attestations this node has submitted (datanet/contribution), so it never submits twice */
  readonly #submitted = new Set<string>()

  constructor(components: AvailabilityServiceComponents) {
    this.#c = components
    this.#log = components.logger
    this.#follower = new FinalizedFollower({ what: 'availability work', reconcile: () => this.#catchUp(), onFinalized: (block) => this.#onFinalized(block) }, components)
  }

  start(): void {
    this.#follower.start()
  }

  async stop(): Promise<void> {
    await this.#follower.stop()
  }

  /** Resolves once every finalized block seen so far has been handled (tests). */
  idle(): Promise<void> {
    return this.#follower.idle()
  }

  /**
   * Reconciles with the state at start (events of blocks finalized while the node was down were
   * never seen): live contributions are fetched, pinned and, while pending, attested; decided-
   * against ones are unpinned. Pins are per contribution, so this is idempotent.
   */
  async #catchUp(): Promise<void> {
    let live = 0
    for await (const [, value] of this.#c.chain.state.entries(contributions.prefix)) {
      if (this.#follower.signal.aborted) return
      const c = contributions.decodeValue(value)
      if (c.status <= ContributionStatus.accepted) {
        live++
        await this.#handle({ datanet: c.datanet, contribution: c.index, cid: c.cid, size: c.size, rows: c.rows, format: c.format, attempts: 0, notBefore: 0 })
      } else await this.#c.store.unpin(c.cid, pinOwner(c.datanet, c.index))
    }
    if (live > 0) this.#log.info('reconciled datanet contributions', { live })
  }

  async #onFinalized(block: ImportedBlock): Promise<void> {
    const work: Work[] = []
    for (const receipt of block.receipts) {
      // most blocks are transfers: skip receipts with no datanet event before filtering by kind
      if (receipt.status !== ReceiptStatus.success || !receipt.events.some((e) => e.module === ModuleIndex.datanets)) continue
      for (const e of eventsOf(Contributed, receipt.events)) {
        work.push({ datanet: e.datanet, contribution: e.contribution, cid: e.cid, size: e.size, rows: e.rows, format: e.format, attempts: 0, notBefore: 0 })
      }
      for (const e of [...eventsOf(ContributionRejected, receipt.events), ...eventsOf(ContributionWithdrawn, receipt.events)]) await this.#release(e.datanet, e.contribution)
    }
    const now = Date.now()
    const due = this.#retry.filter((w) => w.notBefore <= now)
    this.#retry = this.#retry.filter((w) => w.notBefore > now)
    for (const item of [...work, ...due]) await this.#handle(item)
  }

  async #release(datanet: number, index: number): Promise<void> {
    const record = await contributions.get(this.#c.chain.state, { datanet, index })
    if (record !== undefined) await this.#c.store.unpin(record.cid, pinOwner(datanet, index))
  }

  async #handle(work: Work): Promise<void> {
    const { store, fetcher } = this.#c
    const id = `${work.datanet}/${work.contribution}`
    const record = await contributions.get(this.#c.chain.state, { datanet: work.datanet, index: work.contribution })
    if (record === undefined || record.status > ContributionStatus.accepted) return
    if (!(await store.has(work.cid))) {
      try {
        if (fetcher === undefined) throw new Error('the blob is not in the local store and the node has no network')
        await fetcher.fetch(work.cid, { signal: AbortSignal.any([this.#follower.signal, AbortSignal.timeout(60_000)]) })
      } catch (error) {
        if (this.#follower.signal.aborted) return
        if (++work.attempts >= MAX_ATTEMPTS) {
          this.#log.warn('giving up on a contribution\'s blob', { contribution: id, cid: toHex(work.cid), error })
          return
        }
        work.notBefore = Date.now() + 1_000 * 2 ** work.attempts
        this.#retry.push(work)
        this.#log.info('contribution blob not available yet', { contribution: id, attempts: work.attempts })
        return
      }
    }
    await store.pin(work.cid, pinOwner(work.datanet, work.contribution))
    if (record.status === ContributionStatus.pending) await this.#attest(work, id)
  }

  async #attest(work: Work, id: string): Promise<void> {
    const { chain, transactions, store } = this.#c
    if (transactions === undefined || this.#submitted.has(id)) return
    const state = chain.state
    const set = await validatorSetAt(state, chain.head.header.height + 1)
    if (!set.some((m) => toHex(m.operator) === toHex(transactions.address))) return
    if ((await attestations.get(state, { datanet: work.datanet, index: work.contribution, validator: transactions.address })) !== undefined) return
    const info = await store.info(work.cid)
    if (info?.size !== work.size) {
      this.#log.warn('not attesting: the blob size differs from the declared size', { contribution: id, declared: work.size, actual: info?.size })
      return
    }
    try {
      checkRows(await store.read(work.cid), work.format, work.rows)
    } catch (error) {
      if (!(error instanceof FormatError)) throw error
      this.#log.warn('not attesting: the data does not match its declared format', { contribution: id, code: error.code, reason: error.message })
      return
    }
    let tx: Transaction
    try {
      tx = await transactions.submit(ModuleIndex.datanets, attestAvailability, { datanet: work.datanet, contribution: work.contribution })
    } catch (error) {
      // e.g. already in the pool after a restart: the next block or the catch-up tells
      this.#log.warn('could not submit an availability attestation', { contribution: id, error })
      return
    }
    this.#submitted.add(id)
    this.#log.info('attested contribution availability', { contribution: id, tx: toHex(tx.hash) })
  }
}
