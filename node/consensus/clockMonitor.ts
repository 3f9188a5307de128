// Tells the operator when this node's clock is out of step with its peers'. Under proposer-based
// timestamps (consensus/timeliness.ts) such a validator prevotes nil on every honest proposal and
// its own proposals fail: it still runs, but adds nothing. So it says so loudly, as CometBFT tells
// operators to run NTP: a warn log on every check while skewed, `system_health`, and the metrics
// `openledger_clock_peer_offset_seconds` and `openledger_clock_skewed`.
//
// Each check asks a few peers for their time (`time` request/response: [ms since the epoch]) and
// takes, per peer, NTP's estimate: offset = peerTime − (sent + received) / 2, by this node's clock
// port (so `--clock-offset` is seen like a wrong system clock). That estimate is off by at most
// half the round trip (the answer was made somewhere between sent and received), so each peer
// counts as far off as it is *at least*: |offset| − rtt/2 toward zero. A busy machine (slow
// answers, long round trips) is then not mistaken for a wrong clock, and a clock wrong by seconds
// is still seen through round trips of seconds. The median over peers is robust to a minority of
// peers lying or wrong. The first check runs as soon as the first peer connects, so a skewed node
// says so within seconds of starting.
import { decode, encode } from '../../runtime/codec/canonical.ts'
import { readArray, readUint } from '../../runtime/codec/read.ts'
import type { Clock } from '../../consensus/clock.ts'
import { isClockSkewed, median } from '../../consensus/timeliness.ts'
import type { TimelinessParams } from '../../runtime/consensusParams.ts'
import { ReqRespProtocol, type NetworkPort } from '../../p2p/interface.ts'
import { P2pError } from '../../p2p/errors.ts'
import type { Logger } from '../../lib/logger.ts'

/** ms between checks */
const DEFAULT_INTERVAL_MS = 10_000
/** peers asked per check */
const DEFAULT_PEERS_PER_CHECK = 8
/** ms after the first peer connected before the first check (lets the others connect too) */
const FIRST_CHECK_DELAY_MS = 1_000

export interface ClockMonitorOptions {
  timeliness: TimelinessParams
  intervalMs?: number
  peersPerCheck?: number
}

export interface ClockMonitorComponents {
  network: NetworkPort
  clock: Clock
  logger: Logger
  metrics?: { peerOffsetSeconds?: { set(value: number): void }; skewed?: { set(value: number): void } }
}

export interface ClockStatus {
  /** median of (peer's clock − ours), ms; undefined before any peer answered */
  readonly peerOffsetMs: number | undefined
  /** peers that answered the last check */
  readonly peers: number
  /** the offset is beyond the chain's precision */
  readonly skewed: boolean
  readonly precisionMs: number
}

/**
 * The median, except that of an even count the middle value nearer zero, not the mean of the two:
 * with two peers answering, one of them wrong must not make this node look wrong.
 */
function middleNearestZero(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const upper = sorted[sorted.length >> 1] as number
  if (sorted.length % 2 === 1) return upper
  const lower = sorted[(sorted.length >> 1) - 1] as number
  return Math.abs(lower) <= Math.abs(upper) ? lower : upper
}

export class ClockMonitor {
  readonly #options: Required<ClockMonitorOptions>
  readonly #network: NetworkPort
  readonly #clock: Clock
  readonly #log: Logger
  readonly #metrics: ClockMonitorComponents['metrics']
  #timer: NodeJS.Timeout | undefined
  #firstCheck: NodeJS.Timeout | undefined
  #unsubscribe: (() => void) | undefined
  #checking: Promise<void> | undefined
  #abort = new AbortController()
  #status: ClockStatus

  constructor(options: ClockMonitorOptions, components: ClockMonitorComponents) {
    this.#options = { intervalMs: DEFAULT_INTERVAL_MS, peersPerCheck: DEFAULT_PEERS_PER_CHECK, ...options }
    this.#network = components.network
    this.#clock = components.clock
    this.#log = components.logger
    this.#metrics = components.metrics
    this.#status = Object.freeze({ peerOffsetMs: undefined, peers: 0, skewed: false, precisionMs: options.timeliness.precisionMs })
  }

  status(): ClockStatus {
    return this.#status
  }

  /** Serves the `time` protocol and starts checking (first when a peer connects, then every interval). */
  start(): void {
    this.#network.handle(ReqRespProtocol.time, (request) => {
      if (request.length !== 0) return Promise.reject(new P2pError('INVALID_REQUEST', 'a time request is empty'))
      return Promise.resolve(encode([this.#clock.now()]))
    })
    const scheduleFirst = () => {
      if (this.#firstCheck !== undefined || this.#status.peers > 0) return
      this.#firstCheck = setTimeout(() => void this.check(), FIRST_CHECK_DELAY_MS)
    }
    this.#unsubscribe = this.#network.onPeerConnected(scheduleFirst)
    if (this.#network.peers().length > 0) scheduleFirst()
    this.#timer = setInterval(() => void this.check(), this.#options.intervalMs)
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer)
    clearTimeout(this.#firstCheck)
    this.#unsubscribe?.()
    this.#abort.abort()
    await this.#checking
  }

  /** One round of asking peers; updates the status, metrics and log. Never throws. */
  check(): Promise<void> {
    this.#checking ??= this.#check().finally(() => (this.#checking = undefined))
    return this.#checking
  }

  async #check(): Promise<void> {
    const peers = this.#network.peers().slice(0, this.#options.peersPerCheck)
    const samples = (await Promise.all(peers.map((peer) => this.#sampleOf(peer.id)))).filter((sample) => sample !== undefined)
    if (samples.length === 0) return
    const offsets = samples.map((sample) => sample.offsetMs)
    const peerOffsetMs = Math.round(median(offsets))
    const atLeast = samples.map(({ offsetMs, roundTripMs }) => Math.sign(offsetMs) * Math.max(0, Math.abs(offsetMs) - roundTripMs / 2))
    const skewed = isClockSkewed(middleNearestZero(atLeast), this.#options.timeliness)
    const was = this.#status
    this.#status = Object.freeze({ peerOffsetMs, peers: offsets.length, skewed, precisionMs: this.#options.timeliness.precisionMs })
    this.#metrics?.peerOffsetSeconds?.set(peerOffsetMs / 1000)
    this.#metrics?.skewed?.set(skewed ? 1 : 0)
    const fields = { peerOffsetMs, peers: offsets.length, precisionMs: this.#options.timeliness.precisionMs }
    if (skewed) {
      this.#log.warn(`this node's clock is ${peerOffsetMs > 0 ? 'behind' : 'ahead of'} its peers' by more than the chain's precision: its votes and proposals will not count; synchronise it (NTP)`, fields)
    } else if (was.skewed) this.#log.info('clock back in step with peers', fields)
    else if (was.peers === 0) this.#log.info('clock in step with peers', fields)
  }

  async #sampleOf(peer: string): Promise<{ offsetMs: number; roundTripMs: number } | undefined> {
    try {
      const sent = this.#clock.now()
      const answer = await this.#network.request(peer, ReqRespProtocol.time, new Uint8Array(0), { signal: this.#abort.signal })
      const received = this.#clock.now()
      const [time] = readArray(decode(answer, 64), 'time', 1)
      return { offsetMs: readUint(time ?? null, 'time') - (sent + received) / 2, roundTripMs: Math.max(0, received - sent) }
    } catch (error) {
      this.#log.debug('time request failed', { peer, error })
      return undefined
    }
  }
}
