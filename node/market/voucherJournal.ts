// The provider's accepted channel vouchers on disk (<home>/provider/vouchers.jsonl), so a restart
// does not lose what it earned: every served paid request appends its voucher and inference
// (fsync'd before the answer is sent), and after a redeem is finalized the file is rewritten with
// what is still unredeemed (written beside it, fsync'd, renamed over it). Each line is a redeem
// entry (runtime inference.redeem's voucher: channel, cumulative amount, request hash, signature,
// the inferences since the previous line of that channel) in the call's own JSON form. Reading it
// back (ChannelGate.resume) drops what the chain says was redeemed meanwhile. The API-key path
// journals its served inferences the same way (JsonlJournal over keyGate.ts keyChargeKind).
//
// Appends and rewrites run one at a time, in the order they were called: a rewrite holds what was
// unredeemed when it was called, and an append called after it must land in the file that replaces
// the old one, not in the old one the rename then drops (a voucher served during a settlement would
// otherwise be lost at the next restart).
import { mkdir, open, readFile, rename } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Kind } from '../../runtime/codec/schema.ts'
import { voucherArgsKind, type VoucherArgs } from '../../runtime/modules/inference/index.ts'
import { OpenLedgerError } from '../../runtime/errors.ts'

export type VoucherJournalErrorCode = 'JOURNAL_CORRUPT'
export class VoucherJournalError extends OpenLedgerError<VoucherJournalErrorCode> {}

/** Entries of `kind`, one JSON line each, appended fsync'd and compacted by rewriting beside and renaming. */
export class JsonlJournal<T> {
  readonly #path: string
  readonly #kind: Kind<T>
  /** the last queued append or rewrite: the next one starts after it */
  #tail: Promise<unknown> = Promise.resolve()

  constructor(path: string, kind: Kind<T>) {
    this.#path = path
    this.#kind = kind
  }

  /** Every line, in order; a torn last line (a crash mid-append) is ignored, any other bad line is JOURNAL_CORRUPT. */
  async load(): Promise<T[]> {
    let text: string
    try {
      text = await readFile(this.#path, 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw error
    }
    const lines = text.split('\n')
    const entries: T[] = []
    for (const [i, line] of lines.entries()) {
      if (line.trim() === '') continue
      try {
        entries.push(this.#kind.fromJson(JSON.parse(line), 'entry'))
      } catch (cause) {
        if (i === lines.length - 1) break
        throw new VoucherJournalError('JOURNAL_CORRUPT', `${this.#path} line ${i + 1} is not a journal entry`, { cause })
      }
    }
    return entries
  }

  append(entry: T): Promise<void> {
    const line = `${JSON.stringify(this.#kind.toJson(entry))}\n`
    return this.#serial(async () => {
      await mkdir(dirname(this.#path), { recursive: true })
      const file = await open(this.#path, 'a', 0o600)
      try {
        await file.appendFile(line)
        await file.sync()
      } finally {
        await file.close()
      }
    })
  }

  /** Replaces the journal with `entries` (what is unredeemed now), after every append called before. */
  rewrite(entries: readonly T[]): Promise<void> {
    const text = entries.map((entry) => `${JSON.stringify(this.#kind.toJson(entry))}\n`).join('')
    return this.#serial(async () => {
      const dir = dirname(this.#path)
      await mkdir(dir, { recursive: true })
      const next = `${this.#path}.next`
      const file = await open(next, 'w', 0o600)
      try {
        await file.writeFile(text)
        await file.sync()
      } finally {
        await file.close()
      }
      await rename(next, this.#path)
      // the rename itself is durable only once the directory is synced
      const parent = await open(dir, 'r')
      try {
        await parent.sync()
      } finally {
        await parent.close()
      }
    })
  }

  #serial(operation: () => Promise<void>): Promise<void> {
    const run = this.#tail.then(operation, operation)
    this.#tail = run.catch(() => undefined)
    return run
  }
}

/** The provider's accepted channel vouchers (<home>/provider/vouchers.jsonl). */
export class VoucherJournal extends JsonlJournal<VoucherArgs> {
  constructor(path: string) {
    super(path, voucherArgsKind)
  }
}
