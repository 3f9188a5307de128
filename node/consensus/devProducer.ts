// Dev-mode block production: a single validator seals a block every `blockTime` ms (and, with
// instant seal, as soon as transactions are ready), each final the moment it is written. Its one
// validator's clock is the chain's time (no timeliness rule: there is nobody to disagree with).
import type { Address } from '../../runtime/crypto/secp256k1.ts'
import type { Clock } from '../../consensus/clock.ts'
import type { Logger } from '../../lib/logger.ts'
import type { Mempool } from '../mempool/mempool.ts'
import type { NodeMetrics } from '../metrics/metrics.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import type { BlockCandidate, Chain } from '../chain/chain.ts'

export interface DevProducerOptions {
  /** ms between blocks */
  blockTime: number
  /** also seal as soon as the pool has ready transactions */
  instantSeal?: boolean
  /** account credited with tips */
  author: Address
  /** the most transactions per block */
  maxTransactions?: number
}

export class DevBlockProducer {
  readonly #options: DevProducerOptions
  readonly #chain: Chain
  readonly #mempool: Mempool
  readonly #log: Logger
  readonly #metrics: NodeMetrics | undefined
  #timer: NodeJS.Timeout | undefined
  #producing: Promise<void> | undefined
  #again = false
  #stopped = true
  #unsubscribe: (() => void) | undefined
  #sealed = 0
  /** when the last block production started (performance.now()), for a steady cadence */
  #lastStart = 0

  readonly #clock: Clock

  constructor(options: DevProducerOptions, components: { chain: Chain; mempool: Mempool; clock: Clock; logger: Logger; metrics?: NodeMetrics }) {
    this.#options = options
    this.#clock = components.clock
    this.#chain = components.chain
    this.#mempool = components.mempool
    this.#log = components.logger
    this.#metrics = components.metrics
  }

  start(): void {
    this.#stopped = false
    this.#schedule()
    if (this.#options.instantSeal === true) {
      this.#unsubscribe = this.#mempool.subscribe((event) => {
        if (event.type === 'ready') this.#trigger()
      })
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    this.#unsubscribe?.()
    await this.#producing
  }

  /** The next block is due `blockTime` after the previous one started, not after it finished. */
  #schedule(): void {
    if (this.#stopped) return
    clearTimeout(this.#timer)
    const wait = Math.max(0, this.#lastStart + this.#options.blockTime - performance.now())
    this.#timer = setTimeout(() => this.#trigger(), wait)
  }

  #trigger(): void {
    if (this.#stopped) return
    if (this.#producing !== undefined) {
      this.#again = this.#options.instantSeal === true
      return
    }
    this.#producing = this.produce()
      .catch((error: unknown) => this.#log.error('block production failed', { error }))
      .finally(() => {
        this.#producing = undefined
        if (this.#again && !this.#stopped && this.#mempool.size > 0) {
          this.#again = false
          setImmediate(() => this.#trigger())
        } else this.#schedule()
      })
  }

  /** Seals one block from the pool's ready transactions. */
  async produce(): Promise<void> {
    const started = performance.now()
    this.#lastStart = started
    const mempool = this.#mempool
    const source = mempool.selectForBlock()
    // adapt the pool's generator to block candidates, passing the builder's feedback through
    function* candidates(): Generator<BlockCandidate, void, { skipSender?: boolean } | undefined> {
      let step = source.next()
      while (step.done !== true) {
        const feedback = yield { tx: step.value.tx, sender: step.value.sender }
        step = source.next(feedback)
      }
    }
    const dropped: Array<Parameters<Mempool['dropInvalid']>> = []
    const built = await this.#chain.buildBlock(
      { timestamp: this.#clock.now(), author: this.#options.author },
      candidates(),
      { ...(this.#options.maxTransactions === undefined ? {} : { maxTransactions: this.#options.maxTransactions }), deadline: performance.now() + this.#options.blockTime },
      (candidate, error) => {
        const entry = mempool.get(candidate.tx.hash)
        if (entry !== undefined && error.code !== 'FEE_BELOW_BASE_FEE') dropped.push([entry, error])
      },
    )
    const imported = await this.#chain.commit(built, { finalized: true })
    for (const [entry, error] of dropped) mempool.dropInvalid(entry, error)
    mempool.onBlock(imported)
    const seconds = (performance.now() - started) / 1000
    this.#metrics?.blockBuildDuration.observe(seconds)
    this.#metrics?.blocksProduced.inc()
    // the first block says at info that sealing works; after it the informant's status line does
    const level = this.#sealed++ === 0 ? 'info' : 'debug'
    this.#log[level]('sealed block', {
      height: imported.header.height,
      txs: imported.transactions.length,
      gas: imported.header.gasUsed,
      ms: Math.round(seconds * 1000),
      executeMs: Math.round(built.timings.executeMs),
      stateRootMs: Math.round(built.timings.stateRootMs),
      writeMs: Math.round(imported.writeMs),
      hash: toHex(imported.hash).slice(0, 18),
    })
  }
}
