// The informant: one summary line at info every few seconds (height, finalized height, peers,
// pool size, transactions per second over the interval), as Substrate's informant prints, so a
// running node's log says how it is doing without a line per block (`sealed block` is at debug).
import type { Logger } from '../lib/logger.ts'
import type { Chain } from './chain/chain.ts'
import type { Mempool } from './mempool/mempool.ts'

export interface InformantOptions {
  /** ms between lines; default 5,000 */
  intervalMs?: number
}

export interface InformantComponents {
  chain: Chain
  mempool: Mempool
  /** connected peers, when the node has a network */
  peers?: () => number
  logger: Logger
}

export class Informant {
  readonly #intervalMs: number
  readonly #c: InformantComponents
  #timer: NodeJS.Timeout | undefined
  #unsubscribe: (() => void) | undefined
  #txs = 0
  #since = 0

  constructor(options: InformantOptions, components: InformantComponents) {
    this.#intervalMs = options.intervalMs ?? 5_000
    this.#c = components
  }

  start(): void {
    this.#since = performance.now()
    this.#unsubscribe = this.#c.chain.onBlock((block) => void (this.#txs += block.transactions.length))
    this.#timer = setInterval(() => this.#report(), this.#intervalMs)
    this.#timer.unref()
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#unsubscribe?.()
  }

  #report(): void {
    const now = performance.now()
    const seconds = (now - this.#since) / 1000
    const { chain, mempool, peers } = this.#c
    this.#c.logger.info('status', {
      height: chain.head.header.height,
      finalized: chain.finalized.header.height,
      ...(peers === undefined ? {} : { peers: peers() }),
      pool: mempool.size,
      txsPerSecond: seconds > 0 ? Math.round((this.#txs / seconds) * 10) / 10 : 0,
    })
    this.#txs = 0
    this.#since = now
  }
}
