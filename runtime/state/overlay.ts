// A write overlay over the committed state, with nested checkpoints.
//
// The state transition reads through it (misses go to the committed state and are cached) and
// writes into it; `checkpoint()` / `revert()` / `discardCheckpoint()` give the per-transaction and
// per-call rollback that makes a failed call change nothing but its fee. `changes()` lists the net
// writes, in first-write order, for the authenticated state to commit.
export interface StateReader {
  get(key: Uint8Array): Promise<Uint8Array | undefined>
  /**
   * Loads `keys` in one batch so that the reads that follow are served from memory. A hint: it
   * changes no value and no result, only how many round trips to storage the reads cost.
   */
  prefetch?(keys: readonly Uint8Array[]): Promise<void>
}

interface Entry {
  key: Uint8Array
  value: Uint8Array | undefined
}

// state keys are short (module, item, address: 22 bytes): fromCharCode beats a Buffer round trip
const keyId = (key: Uint8Array): string =>
  key.length <= 64 ? String.fromCharCode.apply(null, key as unknown as number[]) : Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1')

export class StateOverlay implements StateReader {
  readonly #base: StateReader
  readonly #writes = new Map<string, Entry>()
  readonly #reads = new Map<string, Uint8Array | undefined>()
  /** one journal per open checkpoint: the previous write entry of every key first touched inside it */
  readonly #journals: Array<Map<string, Entry | undefined>> = []

  constructor(base: StateReader) {
    this.#base = base
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    const id = keyId(key)
    const written = this.#writes.get(id)
    if (written !== undefined) return written.value
    if (this.#reads.has(id)) return this.#reads.get(id)
    const value = await this.#base.get(key)
    this.#reads.set(id, value)
    return value
  }

  /** Forwards the keys this overlay has neither written nor read to the committed state's prefetch. */
  async prefetch(keys: readonly Uint8Array[]): Promise<void> {
    if (this.#base.prefetch === undefined) return
    const wanted = keys.filter((key) => {
      const id = keyId(key)
      return !this.#writes.has(id) && !this.#reads.has(id)
    })
    if (wanted.length > 0) await this.#base.prefetch(wanted)
  }

  set(key: Uint8Array, value: Uint8Array): void {
    this.#write(key, value)
  }

  delete(key: Uint8Array): void {
    this.#write(key, undefined)
  }

  #write(key: Uint8Array, value: Uint8Array | undefined): void {
    const id = keyId(key)
    const journal = this.#journals.at(-1)
    if (journal !== undefined && !journal.has(id)) journal.set(id, this.#writes.get(id))
    this.#writes.set(id, { key, value })
  }

  checkpoint(): void {
    this.#journals.push(new Map())
  }

  /** Undoes every write since the matching checkpoint. */
  revert(): void {
    const journal = this.#journals.pop()
    if (journal === undefined) throw new Error('revert without checkpoint')
    for (const [id, previous] of journal) {
      if (previous === undefined) this.#writes.delete(id)
      else this.#writes.set(id, previous)
    }
  }

  /** Keeps the writes since the matching checkpoint, folding them into the enclosing one. */
  discardCheckpoint(): void {
    const journal = this.#journals.pop()
    if (journal === undefined) throw new Error('commit without checkpoint')
    const outer = this.#journals.at(-1)
    if (outer === undefined) return
    for (const [id, previous] of journal) if (!outer.has(id)) outer.set(id, previous)
  }

  get depth(): number {
    return this.#journals.length
  }

  /** Net writes: keys whose value differs from what was read are included; unread keys always. */
  changes(): Array<{ key: Uint8Array; value: Uint8Array | undefined }> {
    if (this.#journals.length > 0) throw new Error('changes() with open checkpoints')
    return [...this.#writes.values()].map(({ key, value }) => ({ key, value }))
  }
}
