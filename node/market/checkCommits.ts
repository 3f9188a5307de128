// The re-check verdicts this node committed to, on disk (<home>/recheck/<record>-<round>.json:
// the verdict and the salt), written (beside, fsync'd, renamed over) before the commit is
// submitted. The reveal opens exactly what was committed: a verdict recomputed after a restart can
// differ (an output unavailable then may be found now), and a reveal that does not open the
// commitment is refused and slashed as a silent checker's. A file is removed once its reveal is
// submitted, and at start when its check is over.
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fromHex, toHex } from '../../runtime/crypto/hash.ts'
import { SALT_BYTES } from '../../runtime/commitReveal.ts'
import { Verdict } from '../../runtime/modules/inference/index.ts'

export interface CommittedVerdict {
  readonly verdict: number
  readonly salt: Uint8Array
}

const NAME = /^(\d+)-(\d+)\.json$/
const VERDICTS = new Set<number>(Object.values(Verdict))

export class CheckCommits {
  readonly #dir: string

  constructor(dir: string) {
    this.#dir = dir
  }

  #path(record: number, round: number): string {
    return join(this.#dir, `${record}-${round}.json`)
  }

  async save(record: number, round: number, committed: CommittedVerdict): Promise<void> {
    await mkdir(this.#dir, { recursive: true })
    const path = this.#path(record, round)
    await writeFile(`${path}.next`, JSON.stringify({ verdict: committed.verdict, salt: toHex(committed.salt) }), { flush: true, mode: 0o600 })
    await rename(`${path}.next`, path)
  }

  /** The saved verdict of the round, or undefined if none was saved (or the file is not one: the caller falls back to the chain's commitment). */
  async load(record: number, round: number): Promise<CommittedVerdict | undefined> {
    let text: string
    try {
      text = await readFile(this.#path(record, round), 'utf8')
    } catch {
      return undefined
    }
    try {
      const { verdict, salt } = JSON.parse(text) as { verdict: unknown; salt: unknown }
      if (typeof verdict !== 'number' || !VERDICTS.has(verdict) || typeof salt !== 'string') return undefined
      const bytes = fromHex(salt)
      return bytes instanceof Uint8Array && bytes.length === SALT_BYTES ? { verdict, salt: bytes } : undefined
    } catch {
      return undefined
    }
  }

  async remove(record: number, round: number): Promise<void> {
    await rm(this.#path(record, round), { force: true })
  }

  /** Every saved (record, round). */
  async list(): Promise<Array<{ record: number; round: number }>> {
    let names: string[]
    try {
      names = await readdir(this.#dir)
    } catch {
      return []
    }
    return names.flatMap((name) => {
      const match = NAME.exec(name)
      return match === null ? [] : [{ record: Number(match[1]), round: Number(match[2]) }]
    })
  }
}
