// The path every received gossip message takes, in both network implementations: size limit of
// its topic, the sender's rate limit, then the topic's handler, whose verdict decides whether the
// message travels on. Our own exceptions become `ignore` (logged), never a penalty for the sender.
import type { Logger } from '../lib/logger.ts'
import { P2pError } from './errors.ts'
import type { GossipHandler, GossipVerdict, PenaltyReason, Topic } from './interface.ts'
import type { P2pMetrics } from './metrics.ts'
import { topicLabel, type NetworkPolicy } from './options.ts'
import { RateLimiter } from './rateLimiter.ts'

const VERDICTS: ReadonlySet<unknown> = new Set<GossipVerdict>(['accept', 'ignore', 'reject'])

export interface GossipValidatorComponents {
  policy: NetworkPolicy
  penalize: (peer: string, reason: PenaltyReason) => void
  logger: Logger
  metrics?: P2pMetrics | undefined
  now?: () => number
}

export class GossipValidator {
  readonly #handlers = new Map<Topic, GossipHandler>()
  readonly #policy: NetworkPolicy
  readonly #penalize: (peer: string, reason: PenaltyReason) => void
  readonly #log: Logger
  readonly #metrics: P2pMetrics | undefined
  readonly #rate: RateLimiter

  constructor(components: GossipValidatorComponents) {
    this.#policy = components.policy
    this.#penalize = components.penalize
    this.#log = components.logger
    this.#metrics = components.metrics
    this.#rate = new RateLimiter(components.policy.gossipRateLimit, components.now)
  }

  register(topic: Topic, handler: GossipHandler): void {
    if (this.#handlers.has(topic)) throw new P2pError('ALREADY_SUBSCRIBED', `topic ${topic} already has a handler`)
    this.#handlers.set(topic, handler)
  }

  has(topic: Topic): boolean {
    return this.#handlers.has(topic)
  }

  topics(): Topic[] {
    return [...this.#handlers.keys()]
  }

  async validate(topic: Topic, data: Uint8Array, from: string): Promise<GossipVerdict> {
    const verdict = await this.#verdict(topic, data, from)
    this.#metrics?.gossipMessages.inc({ topic: topicLabel(topic), verdict })
    return verdict
  }

  async #verdict(topic: Topic, data: Uint8Array, from: string): Promise<GossipVerdict> {
    const handler = this.#handlers.get(topic)
    if (handler === undefined) return 'ignore'
    const limit = this.#policy.topicMaxBytes[topic]
    if (data.length > limit) {
      this.#log.debug('oversized gossip message', { topic, from, bytes: data.length, limit })
      this.#penalize(from, 'oversizedMessage')
      return 'reject'
    }
    if (!this.#rate.tryTake(from)) {
      this.#log.debug('gossip rate limit exceeded', { topic, from })
      this.#penalize(from, 'rateLimited')
      return 'ignore'
    }
    let verdict: unknown
    try {
      verdict = await handler({ data, from })
    } catch (error) {
      this.#log.error('gossip handler failed; message ignored', { topic, from, error, stack: error instanceof Error ? error.stack : undefined })
      return 'ignore'
    }
    if (!VERDICTS.has(verdict)) {
      this.#log.error('gossip handler returned no verdict; message ignored', { topic, verdict: String(verdict) })
      return 'ignore'
    }
    if (verdict === 'reject') this.#penalize(from, 'invalidMessage')
    return verdict as GossipVerdict
  }

  prune(): void {
    this.#rate.prune()
  }
}
