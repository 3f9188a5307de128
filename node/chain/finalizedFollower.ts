// The one lifecycle of the node services that act on finalized blocks (availability, training,
// inference re-checks, attribution, the provider): `start` queues a first pass over the state
// (what was finalized while the node was down, which no block event will repeat) and subscribes to
// the chain's finalized blocks; every piece of work runs on one serial queue in the order it was
// queued, so a block's work sees the previous block's done; a failed piece is logged and the queue
// goes on (a service never throws into the chain's listener); `stop` unsubscribes, aborts the
// signal the work reads, skips what has not started and waits for what has, so nothing of the
// service runs once the store and chain close under it.
import type { Logger } from '../../lib/logger.ts'
import type { ImportedBlock } from './chain.ts'

export interface FinalizedFollowerOptions<B> {
  /** the work's name in the warning of a failed piece: `${what} failed` */
  readonly what: string
  /** the first pass at start, before any block's work */
  readonly reconcile?: ((signal: AbortSignal) => Promise<void>) | undefined
  /** a finalized block's work */
  readonly onFinalized: (block: B, signal: AbortSignal) => Promise<void>
}

export interface FinalizedFollowerComponents<B> {
  /** the chain's block listeners (Chain.onBlock); the follower keeps the finalized blocks */
  readonly chain: { onBlock(listener: (block: B) => void): () => void }
  readonly logger: Logger
}

export class FinalizedFollower<B extends { readonly finalized: boolean } = ImportedBlock> {
  readonly #o: FinalizedFollowerOptions<B>
  readonly #c: FinalizedFollowerComponents<B>
  #queue: Promise<void> = Promise.resolve()
  #unsubscribe: (() => void) | undefined
  // made here, not at start, so a component built with the service (a cache that fetches) is
  // handed the signal that stop aborts
  #abort = new AbortController()

  constructor(options: FinalizedFollowerOptions<B>, components: FinalizedFollowerComponents<B>) {
    this.#o = options
    this.#c = components
  }

  /** Aborted by stop: the work passes it to whatever it waits on (fetches, submissions). */
  get signal(): AbortSignal {
    return this.#abort.signal
  }

  start(): void {
    if (this.#unsubscribe !== undefined) return
    if (this.#abort.signal.aborted) this.#abort = new AbortController()
    const { reconcile, onFinalized } = this.#o
    if (reconcile !== undefined) this.enqueue(reconcile)
    this.#unsubscribe = this.#c.chain.onBlock((block) => {
      if (block.finalized) this.enqueue((signal) => onFinalized(block, signal))
    })
  }

  /** Queues work behind everything queued so far; it does not run if stop came first. */
  enqueue(work: (signal: AbortSignal) => Promise<void>): void {
    const signal = this.#abort.signal
    this.#queue = this.#queue.then(() => (signal.aborted ? undefined : work(signal))).catch((error: unknown) => {
      // a piece cut short by stop failed because of the abort, not of anything to look into
      if (signal.aborted) this.#c.logger.debug(`${this.#o.what} stopped`, { error })
      else this.#c.logger.warn(`${this.#o.what} failed`, { error })
    })
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.()
    this.#unsubscribe = undefined
    this.#abort.abort()
    await this.#queue
  }

  /** Resolves once the work queued so far is done (tests). */
  idle(): Promise<void> {
    return this.#queue
  }
}
