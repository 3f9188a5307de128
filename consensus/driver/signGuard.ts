// The double-sign guard: the last (height, round, step) this validator signed, persisted and
// synced BEFORE the signature leaves the process. A restarted (or duplicated, or confused)
// validator refuses to sign anything at or below it, except re-signing the very same message.
import { readFileSync } from 'node:fs'
import { OpenLedgerError } from '../../runtime/errors.ts'
import { writeFileAtomic } from './wal.ts'

export type SignGuardErrorCode = 'WOULD_DOUBLE_SIGN' | 'SIGN_STATE_CORRUPT'
export class SignGuardError extends OpenLedgerError<SignGuardErrorCode> {}

/** steps in the order a round signs them */
export const SignStep = { proposal: 1, prevote: 2, precommit: 3 } as const
export type SignStep = (typeof SignStep)[keyof typeof SignStep]

export interface SignedPosition {
  height: number
  round: number
  step: SignStep
  /** hex of the signed message's sign bytes digest, to allow re-signing the identical message */
  digest: string
}

function compare(a: { height: number; round: number; step: number }, b: { height: number; round: number; step: number }): number {
  return a.height - b.height || a.round - b.round || a.step - b.step
}

export class SignGuard {
  readonly #path: string
  #last: SignedPosition | undefined

  constructor(path: string) {
    this.#path = path
    this.#last = load(path)
  }

  get last(): SignedPosition | undefined {
    return this.#last
  }

  /**
   * Records that the message at `position` is about to be signed. Throws WOULD_DOUBLE_SIGN if
   * something at or after this position was already signed with different content.
   */
  authorize(position: SignedPosition): void {
    const last = this.#last
    if (last !== undefined) {
      const order = compare(position, last)
      if (order < 0 || (order === 0 && position.digest !== last.digest)) {
        throw new SignGuardError('WOULD_DOUBLE_SIGN', `refusing to sign ${position.height}/${position.round}/${position.step}: already signed ${last.height}/${last.round}/${last.step}`)
      }
      if (order === 0) return // the identical message again: harmless
    }
    writeFileAtomic(this.#path, new TextEncoder().encode(JSON.stringify(position)))
    this.#last = position
  }
}

function load(path: string): SignedPosition | undefined {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
  try {
    const value = JSON.parse(text) as SignedPosition
    const valid = Number.isSafeInteger(value.height) && Number.isSafeInteger(value.round) && [1, 2, 3].includes(value.step) && typeof value.digest === 'string'
    if (!valid) throw new Error('bad shape')
    return value
  } catch (cause) {
    // never guess: a validator whose guard is unreadable must not sign until an operator looks
    throw new SignGuardError('SIGN_STATE_CORRUPT', `cannot read the sign guard ${path}`, { cause })
  }
}
