// Status updates of watched transactions (author_submitAndWatchExtrinsic): future → ready →
// inBlock → finalized, or dropped / invalid. The watch ends with finalized, dropped or invalid.
import { toHex } from '../../runtime/crypto/hash.ts'
import type { Chain } from '../chain/chain.ts'
import type { Mempool } from './mempool.ts'

export type TxStatus =
  | 'future'
  | 'ready'
  | { inBlock: string }
  | { finalized: string }
  | { dropped: string }
  | { invalid: string }

const isFinal = (status: TxStatus): boolean => typeof status === 'object' && ('finalized' in status || 'dropped' in status || 'invalid' in status)

export class TxWatcher {
  readonly #watchers = new Map<string, Set<(status: TxStatus) => void>>()
  readonly #unsubscribe: Array<() => void> = []

  constructor(components: { chain: Chain; mempool: Mempool }) {
    this.#unsubscribe.push(
      components.mempool.subscribe((event) => {
        if (this.#watchers.size === 0) return
        const id = toHex(event.entry.tx.hash)
        if (event.type === 'dropped') this.#notify(id, event.reason === 'invalid' ? { invalid: event.reason } : { dropped: event.reason })
        else this.#notify(id, event.type)
      }),
      components.chain.onBlock((block) => {
        if (this.#watchers.size === 0) return
        const blockHash = toHex(block.hash)
        for (const tx of block.transactions) {
          const id = toHex(tx.hash)
          if (!this.#watchers.has(id)) continue
          this.#notify(id, { inBlock: blockHash })
          if (block.finalized) this.#notify(id, { finalized: blockHash })
        }
      }),
    )
  }

  watch(hash: Uint8Array, listener: (status: TxStatus) => void): () => void {
    const id = toHex(hash)
    let set = this.#watchers.get(id)
    if (set === undefined) {
      set = new Set()
      this.#watchers.set(id, set)
    }
    set.add(listener)
    return () => {
      set.delete(listener)
      if (set.size === 0 && this.#watchers.get(id) === set) this.#watchers.delete(id)
    }
  }

  get watching(): number {
    return this.#watchers.size
  }

  #notify(id: string, status: TxStatus): void {
    const set = this.#watchers.get(id)
    if (set === undefined) return
    for (const listener of set) listener(status)
    if (isFinal(status)) this.#watchers.delete(id)
  }

  stop(): void {
    for (const unsubscribe of this.#unsubscribe) unsubscribe()
    this.#watchers.clear()
  }
}
