// A write overlay over the committed state, with nested checkpoints.
//
// The state transition reads through it (misses go to the committed state and are cached) and
// writes into it; `checkpoint()` / `revert()` / `discardCheckpoint()` give the per-transaction and
// per-call rollback that makes a failed call change nothing but its fee. `changes()` lists the net
// writes, in first-write order, for the authenticated state to commit.
//
// Storage items read and write through `getTyped` / `setTyped`: a typed write stays decoded until
// `changes()` (or a raw `get`) encodes it, so a key written many times in a block (the treasury,
// total issuance, a busy sender) is encoded once, and a typed read of it decodes nothing.
import type { Kind } from '../codec/schema.ts'
import { copyValue, decodeStored, encodeStored, type AnyKind } from './typedValues.ts'

export interface StateReader {
  get(key: Uint8Array): Promise<Uint8Array | undefined>
  /** The value of `key` decoded as `kind`; readers without it are read with `get` and decoded by the caller. */
  getTyped?<T>(key: Uint8Array, kind: Kind<T>): Promise<T | undefined>
  /**
   * Loads `keys` in one batch so that the reads that follow are served from memory. A hint: it
   * changes no value and no result, only how many round trips to storage the reads cost.
   */
  prefetch?(keys: readonly Uint8Array[]): Promise<void>
}

interface Entry {
  readonly key: Uint8Array
  /** the encoding; undefined for a deleted key, and for a typed write until it is first encoded */
  bytes: Uint8Array | undefined
  readonly typed: { readonly kind: AnyKind; readonly value: unknown } | undefined
}

/** The entry's encoding (undefined: deleted), encoding a typed write on first use. */
function entryBytes(entry: Entry): Uint8Array | undefined {
  if (entry.bytes === undefined && entry.typed !== undefined) entry.bytes = encodeStored(entry.typed.kind, entry.typed.value)
  return entry.bytes
}

// state keys are short (module, item, address: 22 bytes): fromCharCode beats a Buffer round trip
const keyId = (key: Uint8Array): string =>
  key.length <= 64 ? String.fromCharCode.apply(null, key as unknown as number[]) : Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1')

export class StateOverlay implements StateReader {
  readonly #base: StateReader
  readonly #writes = new Map<string, Entry>()
  /** committed values read so far (null: absent) */
  readonly #reads = new Map<string, Uint8Array | null>()
  /**
   * The undo log of the open checkpoints, oldest first: each write made under a checkpoint records
   * the key and its previous write entry (undefined: none). Reverting replays a checkpoint's part
   * backwards, so a key written several times ends at its value from before the checkpoint.
   */
  readonly #undoIds: string[] = []
  readonly #undoEntries: Array<Entry | undefined> = []
  /** where each open checkpoint's part of the undo log starts */
  readonly #marks: number[] = []

  constructor(base: StateReader) {
    this.#base = base
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    const id = keyId(key)
    const written = this.#writes.get(id)
    if (written !== undefined) return entryBytes(written)
    return this.#read(id, key)
  }

  // Not an async function: a read served from memory (nearly every read of a block, the state
  // being prefetched) returns an already-settled promise instead of suspending a frame, which
  // made this the largest allocator of block execution.
  getTyped<T>(key: Uint8Array, kind: Kind<T>): Promise<T | undefined> {
    try {
      const id = keyId(key)
      const written = this.#writes.get(id)
      if (written !== undefined) {
        if (written.typed !== undefined && written.typed.kind === kind) return Promise.resolve(copyValue(written.typed.value as T))
        const bytes = entryBytes(written)
        return Promise.resolve(bytes === undefined ? undefined : decodeStored(bytes, kind))
      }
      const read = this.#read(id, key)
      if (read instanceof Promise) return read.then((bytes) => (bytes === undefined ? undefined : decodeStored(bytes, kind)))
      return Promise.resolve(read === undefined ? undefined : decodeStored(read, kind))
    } catch (error) {
      return Promise.reject(error)
    }
  }

  #read(id: string, key: Uint8Array): Promise<Uint8Array | undefined> | Uint8Array | undefined {
    const read = this.#reads.get(id)
    if (read !== undefined) return read ?? undefined
    return this.#base.get(key).then((value) => {
      this.#reads.set(id, value ?? null)
      return value
    })
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
    this.#write({ key, bytes: value, typed: undefined })
  }

  /** Writes (a copy of) `value` of `kind`; it is encoded once, when needed. */
  setTyped<T>(key: Uint8Array, kind: Kind<T>, value: T): void {
    this.#write({ key, bytes: undefined, typed: { kind, value: copyValue(value) } })
  }

  delete(key: Uint8Array): void {
    this.#write({ key, bytes: undefined, typed: undefined })
  }

  #write(entry: Entry): void {
    const id = keyId(entry.key)
    if (this.#marks.length > 0) {
      this.#undoIds.push(id)
      this.#undoEntries.push(this.#writes.get(id))
    }
    this.#writes.set(id, entry)
  }

  checkpoint(): void {
    this.#marks.push(this.#undoIds.length)
  }

  /** Undoes every write since the matching checkpoint. */
  revert(): void {
    const mark = this.#marks.pop()
    if (mark === undefined) throw new Error('revert without checkpoint')
    for (let i = this.#undoIds.length - 1; i >= mark; i--) {
      const id = this.#undoIds[i] as string
      const previous = this.#undoEntries[i]
      if (previous === undefined) this.#writes.delete(id)
      else this.#writes.set(id, previous)
    }
    this.#undoIds.length = mark
    this.#undoEntries.length = mark
  }

  /** Keeps the writes since the matching checkpoint: they stay in the enclosing one's undo log. */
  discardCheckpoint(): void {
    if (this.#marks.pop() === undefined) throw new Error('commit without checkpoint')
    if (this.#marks.length > 0) return
    this.#undoIds.length = 0
    this.#undoEntries.length = 0
  }

  get depth(): number {
    return this.#marks.length
  }

  /** Net writes: keys whose value differs from what was read are included; unread keys always. */
  changes(): Array<{ key: Uint8Array; value: Uint8Array | undefined }> {
    if (this.#marks.length > 0) throw new Error('changes() with open checkpoints')
    return Array.from(this.#writes.values(), (entry) => ({ key: entry.key, value: entryBytes(entry) }))
  }
}
