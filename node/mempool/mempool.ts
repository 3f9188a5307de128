// The transaction pool.
//
// Per sender, transactions are kept by nonce. Those that continue the account's next nonce without
// a gap are READY (block builders take them, highest tip first across senders, nonce order within
// a sender); the rest wait in FUTURE until the gap fills. A transaction with the same sender and
// nonce as a pooled one replaces it only when it raises both fee caps by `replaceBumpPercent`.
// Limits: per account, in total, and how far ahead of the account nonce a transaction may be.
// When full, the cheapest last-in-line transaction of any sender is evicted if the newcomer pays
// more; otherwise the newcomer is refused. Every refusal has a stable code.
import { toLatin1 } from '../../runtime/crypto/hash.ts'
import type { Address } from '../../runtime/crypto/secp256k1.ts'
import { OpenLedgerError } from '../../runtime/errors.ts'
import { InvalidTransactionError, type Runtime } from '../../runtime/stateTransition.ts'
import { maxTip, tipPayable } from '../../runtime/modules/fees/index.ts'
import { maxCost, type Transaction } from '../../runtime/transaction.ts'

export type MempoolErrorCode =
  | 'ALREADY_KNOWN'
  | 'NONCE_TOO_LOW'
  | 'NONCE_TOO_HIGH'
  | 'INSUFFICIENT_FUNDS'
  | 'TIP_EXCEEDS_UNLOCKED_BALANCE'
  | 'FEE_BELOW_BASE_FEE'
  | 'REPLACEMENT_UNDERPRICED'
  | 'ACCOUNT_LIMIT'
  | 'POOL_FULL'
  /** the node stopped on a storage fault: nothing it admits could be included */
  | 'NODE_HALTED'

export class MempoolError extends OpenLedgerError<MempoolErrorCode> {}

export interface MempoolOptions {
  /** transactions in the whole pool */
  maxTransactions?: number
  /** transactions of one sender */
  maxPerAccount?: number
  /** how far beyond the account's next nonce a transaction may be */
  maxNonceGap?: number
  /** % both fee caps must rise to replace a pooled transaction */
  replaceBumpPercent?: number
  /** ms a transaction may wait behind a nonce gap before it is dropped (geth's queued lifetime; default 3 h) */
  futureLifetimeMs?: number
}

/** What the pool needs to know of the latest state. */
export interface AccountView {
  /** the account's next nonce and free balance (one state record) */
  account(account: Address): Promise<{ readonly nonce: number; readonly free: bigint }>
  /** the part of the account's balance a vesting schedule locks at the head block's time */
  locked(account: Address): Promise<bigint>
  baseFeePerGas(): bigint
  chainId(): number
}

export interface PooledTransaction {
  readonly tx: Transaction
  readonly sender: Address
  readonly senderId: string
  readonly hashId: string
  /** gas the transaction will be charged for */
  readonly gas: number
  readonly arrival: number
  /** when it was admitted (ms, the pool's clock) */
  readonly admittedAt: number
}

export type MempoolEvent =
  | { type: 'ready' | 'future'; entry: PooledTransaction }
  | { type: 'dropped'; entry: PooledTransaction; reason: 'replaced' | 'evicted' | 'invalid' | 'stale' }

interface SenderQueue {
  /** the account's next nonce as of the last block */
  nonce: number
  readonly byNonce: Map<number, PooledTransaction>
}

// Map keys for hashes and addresses: one character per byte. A 32- or 20-character flat string is
// cheaper to make and to hash than the 66- or 42-character hex, and every admission looks up two.
const idOf = toLatin1

export class Mempool {
  readonly #options: Required<MempoolOptions>
  readonly #runtime: Runtime
  readonly #accounts: AccountView
  readonly #byHash = new Map<string, PooledTransaction>()
  readonly #senders = new Map<string, SenderQueue>()
  readonly #listeners = new Set<(event: MempoolEvent) => void>()
  #arrivals = 0

  readonly #now: () => number

  constructor(options: MempoolOptions, components: { runtime: Runtime; accounts: AccountView; now?: () => number }) {
    this.#options = {
      maxTransactions: options.maxTransactions ?? 100_000,
      maxPerAccount: options.maxPerAccount ?? 256,
      maxNonceGap: options.maxNonceGap ?? 256,
      replaceBumpPercent: options.replaceBumpPercent ?? 10,
      futureLifetimeMs: options.futureLifetimeMs ?? 3 * 60 * 60_000,
    }
    this.#runtime = components.runtime
    this.#accounts = components.accounts
    this.#now = components.now ?? Date.now
  }

  get size(): number {
    return this.#byHash.size
  }

  get readyCount(): number {
    let count = 0
    for (const queue of this.#senders.values()) count += this.#readyRun(queue).length
    return count
  }

  has(hash: Uint8Array): boolean {
    return this.#byHash.has(idOf(hash))
  }

  get(hash: Uint8Array): PooledTransaction | undefined {
    return this.#byHash.get(idOf(hash))
  }

  subscribe(listener: (event: MempoolEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** The next nonce of `account` counting its ready pooled transactions (system_accountNextIndex). */
  async nextNonce(account: Address): Promise<number> {
    const queue = this.#senders.get(idOf(account))
    const { nonce: base } = await this.#accounts.account(account)
    if (queue === undefined) return base
    let nonce = Math.max(base, queue.nonce)
    while (queue.byNonce.has(nonce)) nonce++
    return nonce
  }

  /**
   * Admits a transaction whose signature recovered `sender`. Throws InvalidTransactionError for a
   * transaction no block could include, MempoolError for one this pool will not hold.
   */
  async add(tx: Transaction, sender: Address): Promise<{ status: 'ready' | 'future' }> {
    const hashId = idOf(tx.hash)
    if (this.#byHash.has(hashId)) throw new MempoolError('ALREADY_KNOWN', 'transaction is already in the pool')
    const { gas } = this.#runtime.checkStatic(tx, this.#accounts.chainId())
    const baseFee = this.#accounts.baseFeePerGas()
    if (tx.maxFeePerGas < baseFee) throw new MempoolError('FEE_BELOW_BASE_FEE', `maxFeePerGas ${tx.maxFeePerGas} is below the base fee ${baseFee}`, { details: { baseFeePerGas: baseFee.toString() } })

    const senderId = idOf(sender)
    const { nonce: accountNonce, free: balance } = await this.#accounts.account(sender)
    if (this.#byHash.has(hashId)) throw new MempoolError('ALREADY_KNOWN', 'transaction is already in the pool')
    if (tx.nonce < accountNonce) throw new MempoolError('NONCE_TOO_LOW', `nonce ${tx.nonce} already used; next is ${accountNonce}`, { details: { expected: accountNonce } })
    if (tx.nonce > accountNonce + this.#options.maxNonceGap) {
      throw new MempoolError('NONCE_TOO_HIGH', `nonce ${tx.nonce} is more than ${this.#options.maxNonceGap} ahead of the next nonce ${accountNonce}`, { details: { expected: accountNonce } })
    }
    // cumulative over the sender's queue (a replaced nonce counts once): what each pooled transaction
    // may be charged must be payable together, or the later ones would only fail in their block
    let queued = 0n
    for (const [nonce, other] of this.#senders.get(senderId)?.byNonce ?? []) if (nonce !== tx.nonce) queued += maxCost(other.tx)
    if (balance < maxCost(tx)) throw new MempoolError('INSUFFICIENT_FUNDS', 'balance cannot pay gasLimit x maxFeePerGas')
    if (balance < queued + maxCost(tx)) {
      throw new MempoolError('INSUFFICIENT_FUNDS', "balance cannot pay gasLimit x maxFeePerGas on top of the sender's pooled transactions", { details: { pooledCost: queued.toString() } })
    }
    // the block's rule (runtime/stateTransition.ts): tips only from the unlocked balance; a lock
    // only shrinks as time passes, so one that passes here passes in a later block at this base fee
    const tip = maxTip(tx, baseFee)
    if (tip > 0n && !tipPayable(balance, await this.#accounts.locked(sender), tip)) {
      throw new MempoolError('TIP_EXCEEDS_UNLOCKED_BALANCE', 'the unlocked balance cannot pay gasLimit x the tip (a vesting lock pays only the base fee)', { details: { maxTip: tip.toString() } })
    }

    let queue = this.#senders.get(senderId)
    if (queue === undefined) {
      queue = { nonce: accountNonce, byNonce: new Map() }
      this.#senders.set(senderId, queue)
    }
    queue.nonce = Math.max(queue.nonce, accountNonce)
    const entry: PooledTransaction = { tx, sender, senderId, hashId, gas, arrival: this.#arrivals++, admittedAt: this.#now() }

    const existing = queue.byNonce.get(tx.nonce)
    if (existing !== undefined) {
      const bump = BigInt(100 + this.#options.replaceBumpPercent)
      if (tx.maxFeePerGas * 100n < existing.tx.maxFeePerGas * bump || tx.maxPriorityFeePerGas * 100n < existing.tx.maxPriorityFeePerGas * bump) {
        throw new MempoolError('REPLACEMENT_UNDERPRICED', `replacing nonce ${tx.nonce} needs both fee caps ${this.#options.replaceBumpPercent}% above the pooled transaction's`)
      }
      this.#remove(existing)
      this.#emit({ type: 'dropped', entry: existing, reason: 'replaced' })
    } else {
      if (queue.byNonce.size >= this.#options.maxPerAccount) {
        if (queue.byNonce.size === 0) this.#senders.delete(senderId)
        throw new MempoolError('ACCOUNT_LIMIT', `an account may have at most ${this.#options.maxPerAccount} pooled transactions`)
      }
      if (this.#byHash.size >= this.#options.maxTransactions && !this.#evictFor(tx, senderId)) {
        if (queue.byNonce.size === 0) this.#senders.delete(senderId)
        throw new MempoolError('POOL_FULL', 'the pool is full and this transaction pays no more than any pooled one')
      }
    }
    // #remove drops a queue it empties (the replaced or evicted transaction was its only one)
    this.#senders.set(senderId, queue)
    queue.byNonce.set(tx.nonce, entry)
    this.#byHash.set(hashId, entry)
    const ready = this.#isReady(queue, tx.nonce)
    this.#emit({ type: ready ? 'ready' : 'future', entry })
    if (ready) this.#announcePromoted(queue, tx.nonce + 1)
    return { status: ready ? 'ready' : 'future' }
  }

  /**
   * Ready transactions in the order a block should take them: highest tip first across senders,
   * nonce order within one. `skipSender` lets the builder drop the rest of a sender after one of
   * its transactions turned out invalid.
   */
  *selectForBlock(): Generator<PooledTransaction, void, { skipSender?: boolean } | undefined> {
    const heads: PooledTransaction[][] = []
    for (const queue of this.#senders.values()) {
      const run = this.#readyRun(queue)
      if (run.length > 0) heads.push(run)
    }
    // a binary heap over each sender's next transaction, ordered by tip then arrival
    const better = (a: PooledTransaction, b: PooledTransaction): boolean =>
      a.tx.maxPriorityFeePerGas !== b.tx.maxPriorityFeePerGas ? a.tx.maxPriorityFeePerGas > b.tx.maxPriorityFeePerGas : a.arrival < b.arrival
    const heap: Array<{ run: PooledTransaction[]; at: number }> = []
    const top = (i: number): PooledTransaction => {
      const item = heap[i] as { run: PooledTransaction[]; at: number }
      return item.run[item.at] as PooledTransaction
    }
    const swap = (i: number, j: number): void => {
      const t = heap[i] as (typeof heap)[number]
      heap[i] = heap[j] as (typeof heap)[number]
      heap[j] = t
    }
    const up = (i: number): void => {
      while (i > 0) {
        const parent = (i - 1) >> 1
        if (!better(top(i), top(parent))) return
        swap(i, parent)
        i = parent
      }
    }
    const down = (i: number): void => {
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let best = i
        if (l < heap.length && better(top(l), top(best))) best = l
        if (r < heap.length && better(top(r), top(best))) best = r
        if (best === i) return
        swap(i, best)
        i = best
      }
    }
    for (const run of heads) {
      heap.push({ run, at: 0 })
      up(heap.length - 1)
    }
    while (heap.length > 0) {
      const item = heap[0] as (typeof heap)[number]
      const feedback = yield item.run[item.at] as PooledTransaction
      item.at++
      if (feedback?.skipSender === true || item.at >= item.run.length) {
        const last = heap.pop() as (typeof heap)[number]
        if (heap.length > 0 && last !== item) {
          heap[0] = last
          down(0)
        }
      } else down(0)
    }
  }

  /**
   * After a block: its senders' next nonces moved past the transactions it included; drop what
   * that made stale and promote what became ready.
   */
  onBlock(block: { readonly transactions: readonly Transaction[]; readonly senders: readonly Address[] }): void {
    const nonces = new Map<string, number>()
    block.transactions.forEach((tx, i) => {
      const senderId = idOf(block.senders[i] as Address)
      nonces.set(senderId, Math.max(nonces.get(senderId) ?? 0, tx.nonce + 1))
    })
    for (const [senderId, nonce] of nonces) {
      const queue = this.#senders.get(senderId)
      if (queue === undefined) continue
      const wasReady = new Set(this.#readyRun(queue).map((e) => e.tx.nonce))
      queue.nonce = Math.max(queue.nonce, nonce)
      for (const [txNonce, entry] of queue.byNonce) {
        if (txNonce < queue.nonce) {
          queue.byNonce.delete(txNonce)
          this.#byHash.delete(entry.hashId)
        }
      }
      if (queue.byNonce.size === 0) {
        this.#senders.delete(senderId)
        continue
      }
      for (const entry of this.#readyRun(queue)) if (!wasReady.has(entry.tx.nonce)) this.#emit({ type: 'ready', entry })
    }
    this.dropExpired()
  }

  /** Drops transactions that waited behind a nonce gap longer than `futureLifetimeMs`; returns how many. */
  dropExpired(): number {
    const oldest = this.#now() - this.#options.futureLifetimeMs
    let dropped = 0
    for (const queue of [...this.#senders.values()]) {
      if (queue.byNonce.size === 0) continue
      let ready = queue.nonce
      while (queue.byNonce.has(ready)) ready++
      for (const entry of [...queue.byNonce.values()]) {
        if (entry.tx.nonce <= ready || entry.admittedAt >= oldest) continue
        this.#remove(entry)
        this.#emit({ type: 'dropped', entry, reason: 'stale' })
        dropped++
      }
    }
    return dropped
  }

  /** Removes a transaction that can no longer be included, with everything of its sender after it. */
  dropInvalid(entry: PooledTransaction, _error: InvalidTransactionError | MempoolError): void {
    const queue = this.#senders.get(entry.senderId)
    if (queue === undefined) return
    for (const [nonce, other] of [...queue.byNonce]) {
      if (nonce >= entry.tx.nonce) {
        this.#remove(other)
        this.#emit({ type: 'dropped', entry: other, reason: 'invalid' })
      }
    }
  }

  #readyRun(queue: SenderQueue): PooledTransaction[] {
    const run: PooledTransaction[] = []
    for (let nonce = queue.nonce; ; nonce++) {
      const entry = queue.byNonce.get(nonce)
      if (entry === undefined) return run
      run.push(entry)
    }
  }

  #isReady(queue: SenderQueue, nonce: number): boolean {
    for (let n = queue.nonce; n < nonce; n++) if (!queue.byNonce.has(n)) return false
    return true
  }

  #announcePromoted(queue: SenderQueue, from: number): void {
    for (let nonce = from; ; nonce++) {
      const entry = queue.byNonce.get(nonce)
      if (entry === undefined) return
      this.#emit({ type: 'ready', entry })
    }
  }

  /**
   * Frees one slot for `tx` by evicting the lowest-tip last-in-line transaction, if `tx` pays more.
   * Never one of the newcomer's own: that would leave the newcomer behind a nonce gap.
   */
  #evictFor(tx: Transaction, senderId: string): boolean {
    let worst: PooledTransaction | undefined
    for (const [id, queue] of this.#senders) {
      if (id === senderId) continue
      let tail: PooledTransaction | undefined
      for (const entry of queue.byNonce.values()) if (tail === undefined || entry.tx.nonce > tail.tx.nonce) tail = entry
      if (tail !== undefined && (worst === undefined || tail.tx.maxPriorityFeePerGas < worst.tx.maxPriorityFeePerGas)) worst = tail
    }
    if (worst === undefined || worst.tx.maxPriorityFeePerGas >= tx.maxPriorityFeePerGas) return false
    this.#remove(worst)
    this.#emit({ type: 'dropped', entry: worst, reason: 'evicted' })
    return true
  }

  #remove(entry: PooledTransaction): void {
    this.#byHash.delete(entry.hashId)
    const queue = this.#senders.get(entry.senderId)
    if (queue === undefined) return
    if (queue.byNonce.get(entry.tx.nonce) === entry) queue.byNonce.delete(entry.tx.nonce)
    if (queue.byNonce.size === 0) this.#senders.delete(entry.senderId)
  }

  #emit(event: MempoolEvent): void {
    for (const listener of this.#listeners) listener(event)
  }
}
