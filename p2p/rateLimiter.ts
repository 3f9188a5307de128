// Token buckets keyed by peer (or peer and protocol): each holds up to `burst` tokens and refills at
// `perSecond`; a message or request takes one. Buckets refill lazily, and full ones are forgotten
// on prune (a full bucket is the same as none).
import type { RateLimit } from './options.ts'

interface Bucket {
  tokens: number
  /** when `tokens` was last refilled (ms) */
  at: number
}

export class RateLimiter {
  readonly #limit: RateLimit
  readonly #now: () => number
  readonly #buckets = new Map<string, Bucket>()

  constructor(limit: RateLimit, now: () => number = Date.now) {
    this.#limit = limit
    this.#now = now
  }

  /** Takes one token from `key`'s bucket; false if it is empty. */
  tryTake(key: string): boolean {
    const bucket = this.#buckets.get(key) ?? { tokens: this.#limit.burst, at: this.#now() }
    this.#refill(bucket)
    this.#buckets.set(key, bucket)
    if (bucket.tokens < 1) return false
    bucket.tokens -= 1
    return true
  }

  prune(): void {
    for (const [key, bucket] of this.#buckets) {
      this.#refill(bucket)
      if (bucket.tokens >= this.#limit.burst) this.#buckets.delete(key)
    }
  }

  #refill(bucket: Bucket): void {
    const now = this.#now()
    if (now <= bucket.at) return
    bucket.tokens = Math.min(this.#limit.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.#limit.perSecond)
    bucket.at = now
  }
}
