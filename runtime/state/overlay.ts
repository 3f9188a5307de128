// A write overlay over the committed state, with nested checkpoints.
//
// The state transition reads through it (misses go to the committed state and are cached) and
// writes into it; `checkpoint()` / `revert()` / `discardCheckpoint()` give the per-transaction and
// per-call rollback that makes a failed call change nothing but its fee. `changes()` lists the net
// writes, in first-write order, for the authenticated state to commit.
export interface StateReader {
  get(key: Uint8Array): Promise<Uint8Array | undefined>
}

interface Entry {
  key: Uint8Array
  value: Uint8Array | undefined
}

const keyId = (key: Uint8Array): string => Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1')

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
