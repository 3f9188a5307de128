// Shared set-up for benchmarks: funded senders, pre-signed transfers, and a funded chain executed
// in process as a node imports blocks.
import { devKey } from '../genesis/devAccounts.ts'
import { devChainSpec } from '../genesis/devSpec.ts'
import type { ChainSpec } from '../genesis/spec.ts'
import { ONE_OPEN } from '../genesis/tokenomics.ts'
import { sha256, utf8 } from '../runtime/crypto/hash.ts'
import { privateKeyToAddress } from '../runtime/crypto/secp256k1.ts'
import { createRuntime } from '../runtime/index.ts'
import { ModuleIndex } from '../runtime/modules/indices.ts'
import { signTransaction, type Transaction } from '../runtime/transaction.ts'
import { BlockExecution, type BlockExecutionResult, type Runtime } from '../runtime/stateTransition.ts'
import { genesisBlock } from '../node/chain/chain.ts'
import { MemoryStore } from '../node/db/memoryStore.ts'
import { WriteBatch } from '../node/db/store.ts'
import { StateDb } from '../node/state/stateDb.ts'

export interface BenchAccount {
  privateKey: Uint8Array
  address: Uint8Array
}

export function benchAccounts(count: number, tag = 'bench'): BenchAccount[] {
  return Array.from({ length: count }, (_, i) => {
    const privateKey = sha256(utf8(`openledger ${tag} sender ${i}`))
    return { privateKey, address: privateKeyToAddress(privateKey) }
  })
}

/** The dev spec, with `senders` funded from the liquidity remainder (1,000 OPEN each). */
export function specWithSenders(senders: readonly BenchAccount[]): ChainSpec {
  return withFundedSenders(devChainSpec(), senders)
}

/** `spec` (the dev spec or a testnet spec made from it) with `senders` funded with `each` (1,000 OPEN) from the liquidity remainder. */
export function withFundedSenders(spec: ChainSpec, senders: readonly BenchAccount[], each = 1_000n * ONE_OPEN): ChainSpec {
  const allocations = spec.allocations.map((a) => ({ ...a }))
  const pool = devKey('liquidity').address
  const liquidity = allocations.find((a) => a.address.every((b, i) => b === pool[i]))
  if (liquidity === undefined) throw new Error('dev spec has no liquidity remainder allocation')
  liquidity.amount -= each * BigInt(senders.length)
  for (const sender of senders) allocations.push({ category: 'liquidity', address: sender.address, amount: each, vesting: undefined })
  return { ...spec, allocations }
}

/** `perSender` transfers from each sender (nonces 0…), round-robin across senders. */
export function signTransfers(chainId: number, senders: readonly BenchAccount[], perSender: number, maxFeePerGas: bigint): Transaction[] {
  const out: Transaction[] = []
  const recipient = new Uint8Array(20).fill(0x42)
  for (let nonce = 0; nonce < perSender; nonce++) {
    for (const sender of senders) {
      out.push(signTransaction({ chainId, nonce, gasLimit: 2_000, maxFeePerGas, maxPriorityFeePerGas: 1n, call: { module: ModuleIndex.balances, call: 0, args: [recipient, 1n] } }, sender.privateKey))
    }
  }
  return out
}

/** The gas every one of `txs` is charged (the runtime's own figure); throws unless they all cost the same. */
export function gasPerTransfer(txs: readonly Transaction[], chainId: number): number {
  const runtime = createRuntime()
  const gas = new Set(txs.map((tx) => runtime.checkStatic(tx, chainId).gas))
  const [only] = gas
  if (gas.size !== 1 || only === undefined) throw new Error(`bench transfers cost different gas: ${[...gas].join(', ')}`)
  return only
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? 0
}

export function rate(count: number, ms: number): string {
  return `${Math.round((count / ms) * 1000).toLocaleString('en-US')}/s`
}

/** Rejects with `message` when `promise` has not settled within `ms`; the timer never outlives it. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/**
 * Transfers counted as their blocks finalize, from each finalized head's `gasUsed`: every bench
 * transfer costs the same gas (`gasPerTransfer`), so counting needs no block fetch while the
 * clock runs (serializing thousands of extrinsics per block for the counter would be work of the
 * bench, not of the chain). `verify()` fetches the counted blocks afterwards and
 * checks the count against their extrinsics. `atLeast(n)` resolves once n have been counted.
 */
export class FinalizedCount {
  total = 0
  blocks = 0
  /** performance.now() when the last block with transfers was counted */
  lastAt = 0
  readonly #gasPerTransfer: number
  readonly #counted: Array<{ hash: string; transfers: number }> = []
  readonly #waiters: Array<{ count: number; resolve: () => void }> = []

  constructor(gasPerTransfer: number) {
    if (!Number.isInteger(gasPerTransfer) || gasPerTransfer <= 0) throw new Error(`gas per transfer must be a positive integer, got ${gasPerTransfer}`)
    this.#gasPerTransfer = gasPerTransfer
  }

  /** A finalized head as `chain_subscribeFinalizedHeads` sends it. */
  addHead(head: { hash: string; gasUsed: number }): void {
    const gas = this.#gasPerTransfer
    if (head.gasUsed % gas !== 0) throw new Error(`block ${head.hash} used ${head.gasUsed} gas, not a multiple of a transfer's ${gas}`)
    const transfers = head.gasUsed / gas
    if (transfers === 0) return
    this.#counted.push({ hash: head.hash, transfers })
    this.total += transfers
    this.blocks++
    this.lastAt = performance.now()
    for (const waiter of this.#waiters) if (this.total >= waiter.count) waiter.resolve()
  }

  atLeast(count: number): Promise<void> {
    return new Promise((resolve) => (this.total >= count ? resolve() : this.#waiters.push({ count, resolve })))
  }

  /** Throws unless every counted block holds exactly the number of extrinsics counted for it. */
  async verify(getBlock: (hash: string) => Promise<{ block: { extrinsics: readonly string[] } } | null>): Promise<void> {
    for (const { hash, transfers } of this.#counted) {
      const block = (await getBlock(hash))?.block
      if (block === undefined) throw new Error(`block ${hash} is not on the node`)
      if (block.extrinsics.length !== transfers) throw new Error(`block ${hash} holds ${block.extrinsics.length} extrinsics, counted ${transfers} from its gas`)
    }
  }
}

/**
 * A chain executed in process the way a node imports blocks, without consensus or a network: the
 * genesis of `spec` committed to an in-memory store, then each block executed on the committed
 * state (`begin`, the bench applies its transactions, `finish`) and committed (`commit`: prepare,
 * one batch, applied), so a bench can time execution apart from the commit.
 */
export class InProcessChain {
  readonly runtime: Runtime
  readonly spec: ChainSpec
  readonly genesisHash: Uint8Array
  readonly store: MemoryStore
  readonly state: StateDb
  /** the last committed block's height */
  height = 0

  private constructor(spec: ChainSpec, genesisHash: Uint8Array, store: MemoryStore, state: StateDb) {
    this.runtime = createRuntime()
    this.spec = spec
    this.genesisHash = genesisHash
    this.store = store
    this.state = state
  }

  static async open(spec: ChainSpec): Promise<InProcessChain> {
    const genesis = await genesisBlock(spec)
    const store = new MemoryStore()
    const chain = new InProcessChain(spec, genesis.hash, store, await StateDb.open(store))
    await chain.#write(genesis.changes, 0)
    return chain
  }

  /** The next block's execution on the committed state (a second each, authored by 0x0101…). */
  begin(): Promise<BlockExecution> {
    const height = this.height + 1
    return BlockExecution.begin(this.runtime, this.state, { chainId: this.spec.chainId, height, timestamp: this.spec.genesisTime + height * 1000, author: new Uint8Array(20).fill(1), parentHash: this.genesisHash })
  }

  /** Commits a finished block's changes as the next height. */
  async commit(result: BlockExecutionResult): Promise<void> {
    await this.#write(result.changes, this.height + 1)
    this.height++
  }

  async #write(changes: BlockExecutionResult['changes'], height: number): Promise<void> {
    const prepared = await this.state.prepare(changes, height)
    const batch = new WriteBatch()
    this.state.commit(prepared, batch)
    await this.store.write(batch)
    this.state.applied(prepared)
  }
}
