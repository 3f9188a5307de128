// The chain service: the canonical chain, its authenticated state and the runtime that moves it
// forward. Building a block (proposer) and importing one (everyone else) run the same
// BlockExecution; committing writes block, receipts, state and head pointers in one atomic,
// synced batch, so a crash at any point leaves the last committed block whole.
import { revealProblem, type RevealProblemCode } from '../../runtime/modules/staking/index.ts'
import { scheduledUpgrade, type ScheduledUpgrade } from '../../runtime/modules/governance/index.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import type { Address } from '../../runtime/crypto/secp256k1.ts'
import { OpenLedgerError } from '../../runtime/errors.ts'
import { bytesEqual } from '../../runtime/codec/canonical.ts'
import { hashHeader, MAX_BLOCK_BYTES, MAX_BLOCK_TXS, ZERO_HASH, type BlockBody, type BlockHeader } from '../../runtime/block.ts'
import { sha256 } from '../../runtime/crypto/hash.ts'
import { EMPTY_LIST_ROOT, merkleListRoot } from '../../runtime/merkleList.ts'
import type { RuntimeEvent } from '../../runtime/module.ts'
import { encodeReceiptsFromLeaves, receiptLeaves, type Receipt } from '../../runtime/receipt.ts'
import { BlockExecution, InvalidTransactionError, type Runtime } from '../../runtime/stateTransition.ts'
import { baseFeePerGas } from '../../runtime/modules/fees/index.ts'
import type { Transaction } from '../../runtime/transaction.ts'
import { buildGenesisState } from '../../genesis/build.ts'
import { chainSpecToJson, feeParamsOf, type ChainSpec } from '../../genesis/spec.ts'
import type { Logger } from '../../lib/logger.ts'
import { WriteBatch, type KeyValueStore } from '../db/store.ts'
import { CORRUPT_STORE_WAY_OUT, DatabaseError } from '../db/errors.ts'
import { StateDb, type PreparedState } from '../state/stateDb.ts'
import { MemoryStore } from '../db/memoryStore.ts'
import { ChainStore } from './chainStore.ts'

export type ChainErrorCode = 'GENESIS_MISMATCH' | 'INVALID_BLOCK' | 'UNKNOWN_PARENT' | 'UPGRADE_REQUIRED' | RevealProblemCode
export class ChainError extends OpenLedgerError<ChainErrorCode> {}

export interface BlockCandidate {
  readonly tx: Transaction
  readonly sender: Address
}

/** A block executed against the head state, not yet written. */
export interface ExecutedBlock {
  readonly hash: Uint8Array
  readonly header: BlockHeader
  readonly transactions: readonly Transaction[]
  readonly senders: readonly Address[]
  /** the parent's commit certificate and evidence, as carried in the body */
  readonly lastCommit: Uint8Array
  readonly evidence: readonly Uint8Array[]
  readonly receipts: readonly Receipt[]
  readonly blockEvents: readonly RuntimeEvent[]
  /** encodeReceipts(receipts, blockEvents), assembled from the receipts-root leaves */
  readonly encodedReceipts: Uint8Array
  readonly prepared: PreparedState
  /** ms spent executing transactions and hooks, and computing the new state root */
  readonly timings: { readonly executeMs: number; readonly stateRootMs: number }
}

export interface ImportedBlock {
  readonly hash: Uint8Array
  readonly header: BlockHeader
  readonly transactions: readonly Transaction[]
  readonly senders: readonly Address[]
  readonly receipts: readonly Receipt[]
  /** events the block hooks emitted (deadlines, epoch changes, …) */
  readonly blockEvents: readonly RuntimeEvent[]
  readonly finalized: boolean
  /** ms spent writing the block's batch */
  readonly writeMs: number
}

export interface BuildLimits {
  maxTransactions?: number
  maxBytes?: number
  /** performance.now() after which the builder stops adding transactions (a budget: no clock setting moves it) */
  deadline?: number
}

export class Chain {
  readonly runtime: Runtime
  readonly store: KeyValueStore
  readonly chainStore: ChainStore
  readonly #log: Logger
  readonly #listeners = new Set<(block: ImportedBlock) => void>()
  readonly #validatorsHashOf: ((state: StateDb, height: number) => Promise<Uint8Array>) | undefined
  #state: StateDb | undefined
  #spec: ChainSpec | undefined
  #baseFeePerGas = 0n
  readonly #softwareVersion: string | undefined
  #upgrade: ScheduledUpgrade | undefined

  /**
   * `validatorsHash` gives the hash of the validator set of a height (from state); zero without one (dev).
   * `softwareVersion`: this binary's version; a governance-scheduled upgrade to a newer one stops
   * the chain before the upgrade height (absent: no gate, as in tests of the chain alone).
   */
  constructor(components: { store: KeyValueStore; runtime: Runtime; logger: Logger; validatorsHash?: (state: StateDb, height: number) => Promise<Uint8Array>; softwareVersion?: string }) {
    this.#validatorsHashOf = components.validatorsHash
    this.#softwareVersion = components.softwareVersion
    this.store = components.store
    this.runtime = components.runtime
    this.chainStore = new ChainStore(components.store)
    this.#log = components.logger
  }

  get state(): StateDb {
    if (this.#state === undefined) throw new Error('chain not opened')
    return this.#state
  }

  get spec(): ChainSpec {
    if (this.#spec === undefined) throw new Error('chain not opened')
    return this.#spec
  }

  get head(): { hash: Uint8Array; header: BlockHeader } {
    return this.chainStore.head
  }

  get finalized(): { hash: Uint8Array; header: BlockHeader } {
    return this.chainStore.finalized
  }

  /**
   * The enacted upgrade this binary is too old to execute the next block under: the next height
   * is at or past its height and its version is newer than ours. The node stops here; the state
   * stays that of the head, for the new version to go on from.
   */
  get upgradeRequired(): ScheduledUpgrade | undefined {
    const upgrade = this.#upgrade
    if (upgrade === undefined || this.#softwareVersion === undefined) return undefined
    if (this.head.header.height + 1 < upgrade.height || compareVersions(this.#softwareVersion, upgrade.version) >= 0) return undefined
    return upgrade
  }

  /** Refuses to execute `height` when an enacted upgrade requires a newer binary there. */
  #checkUpgrade(height: number): void {
    const upgrade = this.upgradeRequired
    if (upgrade !== undefined && height >= upgrade.height) {
      throw new ChainError('UPGRADE_REQUIRED', `block ${height} needs version ${upgrade.version} (governance proposal ${upgrade.proposal}, upgrade height ${upgrade.height}); this node runs ${this.#softwareVersion ?? 'an unknown version'}`)
    }
  }

  /** The base fee per gas the next block charges: what the head's end-of-block hook left in state. */
  get baseFeePerGas(): bigint {
    return this.#baseFeePerGas
  }

  /**
   * Opens the chain in the store, writing genesis from `spec` on first use. A store that holds a
   * different chain is refused.
   */
  async open(spec: ChainSpec, options: { pruneWindow?: number } = {}): Promise<void> {
    this.#spec = spec
    this.#state = await StateDb.open(this.store, options.pruneWindow === undefined ? {} : { pruneWindow: options.pruneWindow })
    const genesis = await genesisBlock(spec)
    if (await this.chainStore.load()) {
      const stored = await this.chainStore.genesisHash()
      if (stored === undefined || !bytesEqual(stored, genesis.hash)) {
        throw new ChainError('GENESIS_MISMATCH', `the database holds chain ${stored === undefined ? 'unknown' : toHex(stored)}, not ${toHex(genesis.hash)} of spec ${spec.id}`)
      }
      const started = performance.now()
      const heights = await this.chainStore.verify()
      await this.#verifyState()
      this.#baseFeePerGas = await baseFeePerGas.get(this.state)
      this.#upgrade = await scheduledUpgrade.get(this.state)
      this.#log.info('opened chain', { id: spec.id, height: this.head.header.height, head: toHex(this.head.hash), verifiedMs: Math.round(performance.now() - started), heights })
      return
    }
    const prepared = await this.state.prepare(genesis.changes, 0)
    if (!bytesEqual(prepared.root, genesis.header.stateRoot)) throw new Error('genesis state root differs between two computations')
    const batch = new WriteBatch()
    this.state.commit(prepared, batch)
    this.chainStore.writeGenesis(batch, genesis.header, chainSpecToJson(spec))
    await this.store.write(batch, { sync: true })
    this.state.applied(prepared)
    const head = { hash: genesis.hash, header: genesis.header }
    this.chainStore.applied(head, head)
    this.#baseFeePerGas = await baseFeePerGas.get(this.state)
    this.#log.info('wrote genesis', { id: spec.id, genesis: toHex(genesis.hash) })
  }

  /** The head's state: its version, its root equal to the header's, and the root's page readable. */
  async #verifyState(): Promise<void> {
    const head = this.head.header
    const fail = (what: string, cause?: unknown): DatabaseError =>
      new DatabaseError('DB_CORRUPT', `the state store is damaged: ${what}; ${CORRUPT_STORE_WAY_OUT}`, { ...(cause === undefined ? {} : { cause }), details: { cause: 'CORRUPTION', height: head.height } })
    if (this.state.version !== head.height) throw fail(`the state is at version ${this.state.version} but the head block at ${head.height}`)
    if (!bytesEqual(this.state.root, head.stateRoot)) throw fail(`the state root of version ${head.height} differs from the head block's`)
    try {
      await this.state.prove(new Uint8Array(32))
    } catch (cause) {
      throw fail(`the state tree of the head block ${head.height} cannot be read`, cause)
    }
  }

  onBlock(listener: (block: ImportedBlock) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /**
   * Builds a block on the head from candidates in priority order. `next` feedback lets the source
   * (the mempool) skip the rest of a sender whose transaction became invalid.
   */
  async buildBlock(
    params: {
      timestamp: number; author: Address; proposer?: Uint8Array; lastCommit?: Uint8Array; evidence?: readonly Uint8Array[]; lastCommitSigners?: readonly Uint8Array[]
      /** the proposer's beacon reveal (consensus blocks; zero if its validator has no chain) */
      randomnessReveal?: Uint8Array
    },
    candidates: Generator<BlockCandidate, void, { skipSender?: boolean } | undefined>,
    limits: BuildLimits = {},
    onInvalid: (candidate: BlockCandidate, error: InvalidTransactionError) => void = () => {},
  ): Promise<ExecutedBlock> {
    const parent = this.head
    this.#checkUpgrade(parent.header.height + 1)
    const started = performance.now()
    const timestamp = Math.max(params.timestamp, parent.header.timestamp + 1)
    const execution = await BlockExecution.begin(this.runtime, this.state, {
      chainId: this.spec.chainId,
      height: parent.header.height + 1,
      timestamp,
      author: params.author,
      parentHash: parent.hash,
      ...(params.proposer === undefined ? {} : { proposerKey: params.proposer, randomnessReveal: params.randomnessReveal ?? ZERO_HASH }),
      ...(params.lastCommitSigners === undefined ? {} : { lastCommitSigners: params.lastCommitSigners }),
      ...(params.evidence === undefined || params.evidence.length === 0 ? {} : { evidence: params.evidence }),
    })
    const maxTransactions = Math.min(limits.maxTransactions ?? MAX_BLOCK_TXS, MAX_BLOCK_TXS)
    const maxBytes = Math.min(limits.maxBytes ?? MAX_BLOCK_BYTES, MAX_BLOCK_BYTES) - 1024
    const transactions: Transaction[] = []
    const senders: Address[] = []
    let bytes = 0
    let step = candidates.next()
    while (step.done !== true && transactions.length < maxTransactions) {
      const candidate = step.value
      if (bytes + candidate.tx.bytes.length > maxBytes) break
      if (limits.deadline !== undefined && (transactions.length & 31) === 31 && performance.now() > limits.deadline) break
      const result = await execution.tryApply(candidate.tx, candidate.sender)
      if (result instanceof InvalidTransactionError) {
        if (result.code === 'EXCEEDS_BLOCK_GAS') break
        onInvalid(candidate, result)
        step = candidates.next({ skipSender: true })
        continue
      }
      transactions.push(candidate.tx)
      senders.push(candidate.sender)
      bytes += candidate.tx.bytes.length
      step = candidates.next(undefined)
    }
    const extras = {
      proposer: params.proposer ?? ZERO_HASH, lastCommit: params.lastCommit ?? new Uint8Array(0), evidence: params.evidence ?? [],
      randomnessReveal: params.proposer === undefined ? ZERO_HASH : (params.randomnessReveal ?? ZERO_HASH),
    }
    return this.#seal(execution, parent.hash, extras, transactions, senders, started)
  }

  /** Re-executes a block received from a peer on the head; throws ChainError if anything differs. */
  async executeBlock(header: BlockHeader, body: BlockBody, transactions: readonly Transaction[], senders: readonly Address[], extras: { lastCommitSigners?: readonly Uint8Array[] } = {}): Promise<ExecutedBlock> {
    if (transactions.length !== senders.length || transactions.length !== body.transactions.length) throw new ChainError('INVALID_BLOCK', 'transactions and senders do not match the body')
    const parent = this.head
    if (!bytesEqual(header.parentHash, parent.hash)) throw new ChainError('UNKNOWN_PARENT', 'block does not extend the head')
    if (header.height !== parent.header.height + 1 || header.timestamp <= parent.header.timestamp || header.chainId !== this.spec.chainId) {
      throw new ChainError('INVALID_BLOCK', 'block height, timestamp or chain id is wrong')
    }
    this.#checkUpgrade(header.height)
    const started = performance.now()
    // one batched read of what the transactions will touch, so execution never waits on the disk per account
    await this.state.prefetch(transactions.flatMap((tx, i) => this.runtime.accessHints(tx, senders[i] as Address)))
    const consensusBlock = !bytesEqual(header.proposer, ZERO_HASH)
    // the proposer's beacon reveal, against its chain in the parent's state (runtime/modules/staking/beacon.ts)
    const problem = await revealProblem(this.state, consensusBlock ? header.proposer : undefined, header.randomnessReveal)
    if (problem !== undefined) throw new ChainError(problem.code, `block ${header.height}: ${problem.message}`)
    const execution = await BlockExecution.begin(this.runtime, this.state, {
      chainId: header.chainId,
      height: header.height,
      timestamp: header.timestamp,
      author: header.author,
      parentHash: header.parentHash,
      ...(consensusBlock ? { proposerKey: header.proposer, randomnessReveal: header.randomnessReveal } : {}),
      ...(extras.lastCommitSigners === undefined ? {} : { lastCommitSigners: extras.lastCommitSigners }),
      ...(body.evidence.length === 0 ? {} : { evidence: body.evidence }),
    })
    for (let i = 0; i < transactions.length; i++) {
      try {
        await execution.apply(transactions[i] as Transaction, senders[i] as Address)
      } catch (cause) {
        if (cause instanceof InvalidTransactionError) throw new ChainError('INVALID_BLOCK', `transaction ${i} is invalid: ${cause.message}`, { cause })
        throw cause
      }
    }
    const sealed = { proposer: header.proposer, lastCommit: body.lastCommit, evidence: body.evidence, randomnessReveal: header.randomnessReveal }
    const executed = await this.#seal(execution, parent.hash, sealed, [...transactions], [...senders], started)
    if (!bytesEqual(executed.hash, hashHeader(header))) throw new ChainError('INVALID_BLOCK', 'block header differs from its re-execution (state, receipts or gas)')
    return executed
  }

  async #seal(
    execution: BlockExecution,
    parentHash: Uint8Array,
    extras: { proposer: Uint8Array; lastCommit: Uint8Array; evidence: readonly Uint8Array[]; randomnessReveal: Uint8Array },
    transactions: Transaction[],
    senders: Address[],
    started: number,
  ): Promise<ExecutedBlock> {
    const result = await execution.finish()
    const executed = performance.now()
    const prepared = await this.state.prepare(result.changes, execution.block.height)
    const timings = { executeMs: executed - started, stateRootMs: performance.now() - executed }
    const leaves = receiptLeaves(result.receipts, result.blockEvents)
    const header: BlockHeader = {
      chainId: execution.block.chainId,
      height: execution.block.height,
      parentHash,
      timestamp: execution.block.timestamp,
      author: execution.block.author,
      proposer: extras.proposer,
      txRoot: transactions.length === 0 ? EMPTY_LIST_ROOT : merkleListRoot(transactions.map((tx) => tx.hash)),
      stateRoot: prepared.root,
      receiptsRoot: merkleListRoot(leaves),
      validatorsHash: await this.#validatorsHash(execution.block.height),
      nextValidatorsHash: await this.#validatorsHash(execution.block.height + 1),
      lastCommitHash: extras.lastCommit.length === 0 ? ZERO_HASH : sha256(extras.lastCommit),
      evidenceHash: extras.evidence.length === 0 ? ZERO_HASH : merkleListRoot(extras.evidence),
      gasUsed: result.gasUsed,
      baseFeePerGas: result.baseFeePerGas,
      randomnessReveal: extras.randomnessReveal,
    }
    return { hash: hashHeader(header), header, transactions, senders, lastCommit: extras.lastCommit, evidence: extras.evidence, receipts: result.receipts, blockEvents: result.blockEvents, encodedReceipts: encodeReceiptsFromLeaves(leaves), prepared, timings }
  }

  async #validatorsHash(height: number): Promise<Uint8Array> {
    return this.#validatorsHashOf === undefined ? ZERO_HASH : this.#validatorsHashOf(this.state, height)
  }

  /** Writes an executed block as the new head (and finalized head) in one synced batch. */
  /** `certificate`: the encoded commit certificate that finalized this block (consensus). */
  async commit(block: ExecutedBlock, options: { finalized: boolean; certificate?: Uint8Array }): Promise<ImportedBlock> {
    if (!bytesEqual(block.header.parentHash, this.head.hash)) throw new ChainError('UNKNOWN_PARENT', 'block does not extend the head')
    const batch = new WriteBatch()
    this.state.commit(block.prepared, batch)
    const body: BlockBody = { transactions: block.transactions.map((tx) => tx.bytes), lastCommit: block.lastCommit, evidence: block.evidence }
    this.chainStore.writeBlock(batch, block.header, body, block.transactions.map((tx) => tx.hash), block.receipts, block.blockEvents, block.encodedReceipts)
    if (options.finalized) this.chainStore.writeFinalized(batch, block.hash)
    if (options.certificate !== undefined) this.chainStore.writeCommit(batch, block.hash, options.certificate)
    const started = performance.now()
    await this.store.write(batch, { sync: true })
    const writeMs = performance.now() - started
    this.state.applied(block.prepared)
    const head = { hash: block.hash, header: block.header }
    this.chainStore.applied(head, options.finalized ? head : undefined)
    this.#baseFeePerGas = await baseFeePerGas.get(this.state)
    this.#upgrade = await scheduledUpgrade.get(this.state)
    const imported: ImportedBlock = { hash: block.hash, header: block.header, transactions: block.transactions, senders: block.senders, receipts: block.receipts, blockEvents: block.blockEvents, finalized: options.finalized, writeMs }
    for (const listener of this.#listeners) {
      try {
        listener(imported)
      } catch (error) {
        this.#log.error('block listener failed', { error })
      }
    }
    return imported
  }
}

/** -1, 0 or 1 as version `a` (MAJOR.MINOR.PATCH) is older than, the same as or newer than `b`. */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) => v.split('.').map((n) => Number.parseInt(n, 10) || 0)
  const [x, y] = [parts(a), parts(b)]
  for (let i = 0; i < 3; i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0)
    if (d !== 0) return d < 0 ? -1 : 1
  }
  return 0
}

/** The genesis block of a spec: its state changes and header (state root computed in memory). */
export async function genesisBlock(spec: ChainSpec): Promise<{ hash: Uint8Array; header: BlockHeader; changes: Array<{ key: Uint8Array; value: Uint8Array | undefined }> }> {
  const changes = await buildGenesisState(spec)
  const scratch = await StateDb.open(new MemoryStore())
  const prepared = await scratch.prepare(changes, 0)
  const header: BlockHeader = {
    chainId: spec.chainId,
    height: 0,
    parentHash: ZERO_HASH,
    timestamp: spec.genesisTime,
    author: new Uint8Array(20),
    proposer: ZERO_HASH,
    txRoot: EMPTY_LIST_ROOT,
    stateRoot: prepared.root,
    receiptsRoot: merkleListRoot(receiptLeaves([], [])),
    validatorsHash: ZERO_HASH,
    nextValidatorsHash: ZERO_HASH,
    lastCommitHash: ZERO_HASH,
    evidenceHash: ZERO_HASH,
    gasUsed: 0,
    baseFeePerGas: feeParamsOf(spec).minBaseFeePerGas,
    randomnessReveal: ZERO_HASH,
  }
  return { hash: hashHeader(header), header, changes }
}

