// The network's policy, shared by `P2pNetwork` and `MemoryNetwork`: message and request limits,
// rate limits, scoring and the chain tag that keeps different chains apart. Defaults live here,
// and every option is checked once, at construction.
import { P2pError } from './errors.ts'
import { ReqRespProtocol, Topic, type PenaltyReason } from './interface.ts'

const KiB = 1024
const MiB = 1024 * KiB

/** The internal peer-exchange protocol (not served by the domain). */
export const PEER_EXCHANGE_PROTOCOL = '/openledger/peers/1'
export type WireProtocol = ReqRespProtocol | typeof PEER_EXCHANGE_PROTOCOL

/** Largest message per topic (bytes). */
export const DEFAULT_TOPIC_MAX_BYTES: Readonly<Record<Topic, number>> = {
  [Topic.transactions]: 512 * KiB,
  [Topic.proposals]: 16 * MiB,
  [Topic.votes]: 1 * KiB,
  [Topic.evidence]: 16 * KiB,
  [Topic.blocks]: 16 * MiB,
}

export interface ProtocolLimits {
  /** largest request (bytes) */
  maxRequestBytes: number
  /** largest response (bytes, payload without the status byte) */
  maxResponseBytes: number
  /** how long a caller waits for the whole response (ms) */
  timeoutMs: number
  /** token bucket per peer and protocol: refill rate (requests per second) and capacity */
  requestsPerSecond: number
  burst: number
}

export const DEFAULT_PROTOCOL_LIMITS: Readonly<Record<WireProtocol, ProtocolLimits>> = {
  [ReqRespProtocol.status]: { maxRequestBytes: 1 * KiB, maxResponseBytes: 1 * KiB, timeoutMs: 5_000, requestsPerSecond: 5, burst: 10 },
  [ReqRespProtocol.blocksByRange]: { maxRequestBytes: 1 * KiB, maxResponseBytes: 16 * MiB, timeoutMs: 30_000, requestsPerSecond: 4, burst: 16 },
  [ReqRespProtocol.blob]: { maxRequestBytes: 1 * KiB, maxResponseBytes: 16 * MiB, timeoutMs: 30_000, requestsPerSecond: 4, burst: 16 },
  [ReqRespProtocol.consensusMessages]: { maxRequestBytes: 256, maxResponseBytes: 40 * MiB, timeoutMs: 10_000, requestsPerSecond: 4, burst: 8 },
  [ReqRespProtocol.time]: { maxRequestBytes: 16, maxResponseBytes: 64, timeoutMs: 3_000, requestsPerSecond: 1, burst: 4 },
  [PEER_EXCHANGE_PROTOCOL]: { maxRequestBytes: 64, maxResponseBytes: 64 * KiB, timeoutMs: 5_000, requestsPerSecond: 1, burst: 4 },
}

export interface RateLimit {
  /** refill rate of the bucket (tokens per second) */
  perSecond: number
  /** capacity of the bucket */
  burst: number
}

/** Gossip messages per peer, all topics together. */
export const DEFAULT_GOSSIP_RATE_LIMIT: Readonly<RateLimit> = { perSecond: 1000, burst: 2000 }

export interface ScoringOptions {
  /** a peer whose score falls to this value (or below) is disconnected and banned */
  banThreshold: number
  /** how long a ban lasts (ms) */
  banDurationMs: number
  /** penalties decay towards 0 with this half-life (ms) */
  halfLifeMs: number
}

export const DEFAULT_SCORING: Readonly<ScoringOptions> = { banThreshold: -100, banDurationMs: 30 * 60_000, halfLifeMs: 10 * 60_000 }

/** Points taken off a peer's score per reason. */
export const PENALTY_POINTS: Readonly<Record<PenaltyReason, number>> = {
  invalidMessage: 10,
  oversizedMessage: 50,
  rateLimited: 5,
  invalidRequest: 10,
  invalidResponse: 25,
  invalidBlock: 50,
  unresponsive: 5,
}

export interface NetworkPolicyOptions {
  /** the chain's genesis hash: its first 8 bytes tag every topic and protocol on the wire */
  genesisHash?: Uint8Array
  topicMaxBytes?: Partial<Record<Topic, number>>
  protocolLimits?: Partial<Record<WireProtocol, Partial<ProtocolLimits>>>
  gossipRateLimit?: Partial<RateLimit>
  scoring?: Partial<ScoringOptions>
}

export interface NetworkPolicy {
  /** hex tag of the chain on the wire, or undefined for untagged names */
  chainTag: string | undefined
  topicMaxBytes: Readonly<Record<Topic, number>>
  protocolLimits: Readonly<Record<WireProtocol, ProtocolLimits>>
  gossipRateLimit: Readonly<RateLimit>
  scoring: Readonly<ScoringOptions>
}

function checkNumber(name: string, value: number, options: { integer?: boolean; min?: number; max?: number } = {}): void {
  const { integer = true, min = 1, max = Number.MAX_SAFE_INTEGER } = options
  if (typeof value !== 'number' || !Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
    throw new P2pError('INVALID_OPTION', `${name} must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got ${String(value)}`)
  }
}

export function resolvePolicy(options: NetworkPolicyOptions = {}): NetworkPolicy {
  let chainTag: string | undefined
  if (options.genesisHash !== undefined) {
    if (!(options.genesisHash instanceof Uint8Array) || options.genesisHash.length < 8) {
      throw new P2pError('INVALID_OPTION', 'genesisHash must be a byte array of at least 8 bytes')
    }
    chainTag = Buffer.from(options.genesisHash.subarray(0, 8)).toString('hex')
  }

  const topicMaxBytes = { ...DEFAULT_TOPIC_MAX_BYTES }
  for (const [topic, bytes] of Object.entries(options.topicMaxBytes ?? {})) {
    if (!Object.hasOwn(topicMaxBytes, topic)) throw new P2pError('INVALID_OPTION', `topicMaxBytes: unknown topic ${topic}`)
    checkNumber(`topicMaxBytes[${topic}]`, bytes, { max: 64 * MiB })
    topicMaxBytes[topic as Topic] = bytes
  }

  const protocolLimits = { ...DEFAULT_PROTOCOL_LIMITS }
  for (const [protocol, limits] of Object.entries(options.protocolLimits ?? {})) {
    if (!Object.hasOwn(protocolLimits, protocol)) throw new P2pError('INVALID_OPTION', `protocolLimits: unknown protocol ${protocol}`)
    const merged = { ...protocolLimits[protocol as WireProtocol], ...limits }
    checkNumber(`protocolLimits[${protocol}].maxRequestBytes`, merged.maxRequestBytes, { min: 0, max: 64 * MiB })
    checkNumber(`protocolLimits[${protocol}].maxResponseBytes`, merged.maxResponseBytes, { min: 0, max: 64 * MiB })
    checkNumber(`protocolLimits[${protocol}].timeoutMs`, merged.timeoutMs)
    checkNumber(`protocolLimits[${protocol}].requestsPerSecond`, merged.requestsPerSecond, { integer: false, min: Number.MIN_VALUE })
    checkNumber(`protocolLimits[${protocol}].burst`, merged.burst)
    protocolLimits[protocol as WireProtocol] = merged
  }

  const gossipRateLimit = { ...DEFAULT_GOSSIP_RATE_LIMIT, ...options.gossipRateLimit }
  checkNumber('gossipRateLimit.perSecond', gossipRateLimit.perSecond, { integer: false, min: Number.MIN_VALUE })
  checkNumber('gossipRateLimit.burst', gossipRateLimit.burst)

  const scoring = { ...DEFAULT_SCORING, ...options.scoring }
  checkNumber('scoring.banThreshold', scoring.banThreshold, { integer: false, min: -1e9, max: -Number.MIN_VALUE })
  checkNumber('scoring.banDurationMs', scoring.banDurationMs)
  checkNumber('scoring.halfLifeMs', scoring.halfLifeMs)

  return { chainTag, topicMaxBytes, protocolLimits, gossipRateLimit, scoring }
}

/**
 * The name of a topic or protocol on the wire: the chain tag follows the `openledger` segment,
 * so `openledger/txs/1` becomes `openledger/<tag>/txs/1` (as Ethereum puts its fork digest).
 */
export function namespaced(name: string, chainTag: string | undefined): string {
  if (chainTag === undefined) return name
  return name.replace(/^(\/?openledger)\//, `$1/${chainTag}/`)
}

/** The `Topic` key of a topic (a bounded metric label). */
export function topicLabel(topic: Topic): string {
  for (const [name, value] of Object.entries(Topic)) if (value === topic) return name
  return 'unknown'
}

/** The `ReqRespProtocol` key of a protocol, or `peers` (a bounded metric label). */
export function protocolLabel(protocol: WireProtocol): string {
  if (protocol === PEER_EXCHANGE_PROTOCOL) return 'peers'
  for (const [name, value] of Object.entries(ReqRespProtocol)) if (value === protocol) return name
  return 'unknown'
}

export function isTopic(value: unknown): value is Topic {
  return typeof value === 'string' && Object.values<string>(Topic).includes(value)
}

export function isReqRespProtocol(value: unknown): value is ReqRespProtocol {
  return typeof value === 'string' && Object.values<string>(ReqRespProtocol).includes(value)
}
