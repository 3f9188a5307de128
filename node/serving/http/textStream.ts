// Token ids to streamed text, API side (the engine works in ids):
//
//   IncrementalDetokenizer  decodes ids as they come; a token that ends inside a UTF-8 character
//                           (byte-level BPE splits them) is held until the character completes, so
//                           the pieces streamed concatenate to exactly decode(all ids). A sequence
//                           still incomplete after MAX_HELD tokens is invalid UTF-8 and is emitted
//                           as U+FFFD, as the whole decode would.
//   StopMatcher             OpenAI's `stop` strings: the text up to the first occurrence of any of
//                           them is emitted, the stop string itself never; text that could still
//                           become the start of a stop string is held back until it cannot.
import type { Tokenizer } from '../../../ml/tokenizer.ts'

/** a UTF-8 character spans at most 4 bytes, so at most 4 byte tokens */
const MAX_HELD = 4
const REPLACEMENT = '\uFFFD'

export class IncrementalDetokenizer {
  readonly #tokenizer: Tokenizer
  #held: number[] = []

  constructor(tokenizer: Tokenizer) {
    this.#tokenizer = tokenizer
  }

  /** the text that `token` completes ('' while a character is incomplete) */
  push(token: number): string {
    this.#held.push(token)
    const text = this.#tokenizer.decode(this.#held)
    if (text.endsWith(REPLACEMENT) && this.#held.length < MAX_HELD) return ''
    this.#held = []
    return text
  }

  /** what is still held, decoded (at the end of generation) */
  flush(): string {
    const text = this.#held.length === 0 ? '' : this.#tokenizer.decode(this.#held)
    this.#held = []
    return text
  }
}

export class StopMatcher {
  readonly #stops: readonly string[]
  #pending = ''
  #stopped = false

  constructor(stops: readonly string[]) {
    this.#stops = stops.filter((s) => s.length > 0)
  }

  get stopped(): boolean {
    return this.#stopped
  }

  /** Text to emit now; after a stop string matched, `stopped` is true and nothing more comes out. */
  push(text: string): string {
    if (this.#stopped) return ''
    const all = this.#pending + text
    let first = -1
    for (const stop of this.#stops) {
      const at = all.indexOf(stop)
      if (at !== -1 && (first === -1 || at < first)) first = at
    }
    if (first !== -1) {
      this.#stopped = true
      this.#pending = ''
      return all.slice(0, first)
    }
    // hold the longest suffix that is a proper prefix of some stop string
    let hold = 0
    for (const stop of this.#stops) {
      for (let n = Math.min(stop.length - 1, all.length); n > hold; n--) {
        if (all.endsWith(stop.slice(0, n))) {
          hold = n
          break
        }
      }
    }
    this.#pending = all.slice(all.length - hold)
    return all.slice(0, all.length - hold)
  }

  /** the held text, at the end of generation when no stop string matched */
  flush(): string {
    const text = this.#stopped ? '' : this.#pending
    this.#pending = ''
    return text
  }
}
