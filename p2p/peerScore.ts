// Application scores of peers and the bans they lead to. A score starts at 0, each penalty takes its
// points off (`PENALTY_POINTS`), and it decays back towards 0 with a half-life, so an occasional
// fault is forgiven and a pattern is not. At or below the ban threshold the peer is banned for
// `banDurationMs`; a ban ends with a clean score. Scores outlive connections (a reconnect does not
// wash a score). Gossipsub reads the same score as its app-specific score.
import type { PenaltyReason } from './interface.ts'
import { PENALTY_POINTS, type ScoringOptions } from './options.ts'

interface ScoreRecord {
  value: number
  /** when `value` was last brought up to date (ms) */
  at: number
}

/** Scores closer to 0 than this are forgotten on prune. */
const NEGLIGIBLE_SCORE = 0.01

export class PeerScoreBook {
  readonly #options: ScoringOptions
  readonly #now: () => number
  readonly #scores = new Map<string, ScoreRecord>()
  /** peer → end of its ban (ms) */
  readonly #bans = new Map<string, number>()
  /** peers the operator blocked: banned until unblocked, whatever their score */
  readonly #blocked = new Set<string>()

  constructor(options: ScoringOptions, now: () => number = Date.now) {
    this.#options = options
    this.#now = now
  }

  score(peer: string): number {
    const record = this.#scores.get(peer)
    if (record === undefined) return 0
    this.#decay(record)
    return record.value
  }

  /** Takes the reason's points off; returns true if this penalty newly bans the peer. */
  penalize(peer: string, reason: PenaltyReason): boolean {
    if (this.isBanned(peer)) return false
    const record = this.#scores.get(peer) ?? { value: 0, at: this.#now() }
    this.#decay(record)
    record.value -= PENALTY_POINTS[reason]
    this.#scores.set(peer, record)
    if (record.value > this.#options.banThreshold) return false
    this.#bans.set(peer, this.#now() + this.#options.banDurationMs)
    this.#scores.delete(peer)
    return true
  }

  /** An operator's block (the `system_blockPeer` RPC): no connection either way until `unblock`. */
  block(peer: string): void {
    this.#blocked.add(peer)
  }

  unblock(peer: string): boolean {
    return this.#blocked.delete(peer)
  }

  blocked(): string[] {
    return [...this.#blocked]
  }

  isBanned(peer: string): boolean {
    if (this.#blocked.has(peer)) return true
    const until = this.#bans.get(peer)
    if (until === undefined) return false
    if (until > this.#now()) return true
    this.#bans.delete(peer)
    return false
  }

  /** Drops expired bans and negligible scores (call it now and then). */
  prune(): void {
    const now = this.#now()
    for (const [peer, until] of this.#bans) if (until <= now) this.#bans.delete(peer)
    for (const [peer, record] of this.#scores) {
      this.#decay(record)
      if (Math.abs(record.value) < NEGLIGIBLE_SCORE) this.#scores.delete(peer)
    }
  }

  #decay(record: ScoreRecord): void {
    const now = this.#now()
    if (now <= record.at) return
    record.value *= 2 ** (-(now - record.at) / this.#options.halfLifeMs)
    record.at = now
  }
}
