// An in-process network for tests of the consensus driver, sync and the mempool: nodes created on
// one `MemoryNetworkHub` are connected to every other started node they can reach. Messages take
// the same path as on libp2p (`GossipValidator`, `ReqRespServer`, the same limits, rate limits,
// scores and bans) and arrive asynchronously; `settled()` waits until every delivery has run.
// Hooks: `partition` / `heal` split and rejoin the network, `setDropFilter` loses chosen messages.
// There is no relaying: every reachable node gets a publish directly, and a dropped delivery is lost.
import { silentLogger, type Logger } from '../lib/logger.ts'
import { sha256 } from '../runtime/crypto/hash.ts'
import { P2pError } from './errors.ts'
import { GossipValidator } from './gossipValidator.ts'
import type { GossipHandler, NetworkPort, PeerInfo, PenaltyReason, ReqRespProtocol, RequestHandler, RequestOptions, Topic, Unsubscribe } from './interface.ts'
import type { P2pMetrics } from './metrics.ts'
import { resolvePolicy, type NetworkPolicy, type NetworkPolicyOptions, type WireProtocol } from './options.ts'
import { PeerScoreBook } from './peerScore.ts'
import { callSignal, checkRequest, decodeResponse, observeCall, raceSignal, ReqRespServer } from './reqResp.ts'

/** What the drop filter sees; it returns true to lose the message. */
export type HubEvent =
  | { kind: 'gossip'; from: string; to: string; topic: Topic; data: Uint8Array }
  | { kind: 'request'; from: string; to: string; protocol: ReqRespProtocol; data: Uint8Array }

export interface MemoryNetworkOptions extends NetworkPolicyOptions {
  /** default `memory-<n>` */
  peerId?: string
}

export interface MemoryNetworkComponents {
  logger?: Logger
  metrics?: P2pMetrics
}

/** How long a message id is remembered (ms), as gossipsub's seen cache. */
const SEEN_TTL_MS = 120_000
const SEEN_MAX = 100_000

interface Link {
  since: number
  direction: 'inbound' | 'outbound'
}

// Methods the hub calls on its nodes, kept off their public surface.
const deliver = Symbol('deliver')
const serve = Symbol('serve')
const serves = Symbol('serves')
const subscribed = Symbol('subscribed')
const bans = Symbol('bans')
const linked = Symbol('linked')
const unlinked = Symbol('unlinked')
const startedAt = Symbol('startedAt')

export class MemoryNetworkHub {
  readonly #nodes = new Map<string, MemoryNetwork>()
  readonly #links = new Map<string, Map<string, Link>>()
  readonly #pending = new Set<Promise<void>>()
  #groups: Map<string, number> | undefined
  #dropFilter: ((event: HubEvent) => boolean) | undefined
  #counter = 0

  createNode(options: MemoryNetworkOptions = {}, components: MemoryNetworkComponents = {}): MemoryNetwork {
    const peerId = options.peerId ?? `memory-${++this.#counter}`
    if (this.#nodes.has(peerId)) throw new P2pError('INVALID_OPTION', `peer id ${peerId} is taken on this hub`)
    const node = new MemoryNetwork(this, peerId, options, components)
    this.#nodes.set(peerId, node)
    return node
  }

  /**
   * Splits the network: nodes in the same group reach each other, nodes in different groups do
   * not, and nodes named in no group reach only each other.
   */
  partition(...groups: string[][]): void {
    this.#groups = new Map(groups.flatMap((group, index) => group.map((peer) => [peer, index] as const)))
    this.refresh()
  }

  heal(): void {
    this.#groups = undefined
    this.refresh()
  }

  /** Loses every gossip delivery or request for which `filter` returns true; undefined clears it. */
  setDropFilter(filter: ((event: HubEvent) => boolean) | undefined): void {
    this.#dropFilter = filter
  }

  /** Resolves once every delivery in flight (and those they caused) has been handled. */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending])
  }

  /** Brings connections up to date: partitions, started nodes, bans (and bans that ended). */
  refresh(): void {
    const started = [...this.#nodes.values()].filter((node) => node[startedAt] !== undefined)
    for (const a of started) {
      for (const b of started) {
        if (a.peerId >= b.peerId) continue
        const want = this.#reachable(a.peerId, b.peerId) && !a[bans](b.peerId) && !b[bans](a.peerId)
        const have = this.#links.get(a.peerId)?.has(b.peerId) ?? false
        if (want && !have) this.#connect(a, b)
        if (!want && have) this.#disconnect(a, b)
      }
    }
    for (const [id, links] of this.#links) {
      const node = this.#nodes.get(id)
      if (node === undefined || node[startedAt] !== undefined) continue
      for (const other of [...links.keys()]) {
        const peer = this.#nodes.get(other)
        if (peer !== undefined) this.#disconnect(node, peer)
      }
    }
  }

  links(peerId: string): ReadonlyMap<string, Link> {
    return this.#links.get(peerId) ?? new Map()
  }

  node(peerId: string): MemoryNetwork | undefined {
    return this.#nodes.get(peerId)
  }

  dropped(event: HubEvent): boolean {
    return this.#dropFilter?.(event) ?? false
  }

  track(delivery: Promise<void>): void {
    this.#pending.add(delivery)
    void delivery.finally(() => this.#pending.delete(delivery))
  }

  #reachable(a: string, b: string): boolean {
    if (this.#groups === undefined) return true
    return (this.#groups.get(a) ?? -1) === (this.#groups.get(b) ?? -1)
  }

  #connect(a: MemoryNetwork, b: MemoryNetwork): void {
    const since = Date.now()
    // the node that started later dialled
    const aDialled = (a[startedAt] ?? 0) > (b[startedAt] ?? 0)
    this.#linksOf(a.peerId).set(b.peerId, { since, direction: aDialled ? 'outbound' : 'inbound' })
    this.#linksOf(b.peerId).set(a.peerId, { since, direction: aDialled ? 'inbound' : 'outbound' })
    a[linked](b.peerId)
    b[linked](a.peerId)
  }

  #disconnect(a: MemoryNetwork, b: MemoryNetwork): void {
    this.#links.get(a.peerId)?.delete(b.peerId)
    this.#links.get(b.peerId)?.delete(a.peerId)
    a[unlinked](b.peerId)
    b[unlinked](a.peerId)
  }

  #linksOf(peerId: string): Map<string, Link> {
    let links = this.#links.get(peerId)
    if (links === undefined) this.#links.set(peerId, (links = new Map()))
    return links
  }
}

let startCounter = 0

export class MemoryNetwork implements NetworkPort {
  /** start order while started, undefined while stopped */
  [startedAt]: number | undefined = undefined
  readonly peerId: string
  readonly #hub: MemoryNetworkHub
  readonly #policy: NetworkPolicy
  readonly #log: Logger
  readonly #metrics: P2pMetrics | undefined
  readonly #scores: PeerScoreBook
  readonly #gossip: GossipValidator
  readonly #server: ReqRespServer
  /** message id → when it is forgotten (ms) */
  readonly #seen = new Map<string, number>()
  readonly #connectedListeners = new Set<(peer: PeerInfo) => void>()
  readonly #disconnectedListeners = new Set<(peerId: string) => void>()

  /** Use `MemoryNetworkHub.createNode`. */
  constructor(hub: MemoryNetworkHub, peerId: string, options: MemoryNetworkOptions, components: MemoryNetworkComponents) {
    this.#hub = hub
    this.peerId = peerId
    this.#policy = resolvePolicy(options)
    this.#log = (components.logger ?? silentLogger).child(`p2p/${peerId}`)
    this.#metrics = components.metrics
    this.#scores = new PeerScoreBook(this.#policy.scoring)
    const penalize = (peer: string, reason: PenaltyReason): void => this.penalize(peer, reason)
    this.#gossip = new GossipValidator({ policy: this.#policy, penalize, logger: this.#log, metrics: this.#metrics })
    this.#server = new ReqRespServer({ policy: this.#policy, penalize, logger: this.#log, metrics: this.#metrics })
  }

  start(): Promise<void> {
    if (this[startedAt] === undefined) {
      this[startedAt] = ++startCounter
      this.#hub.refresh()
    }
    return Promise.resolve()
  }

  stop(): Promise<void> {
    if (this[startedAt] !== undefined) {
      this[startedAt] = undefined
      this.#hub.refresh()
      this.#metrics?.peers.set(0)
    }
    return Promise.resolve()
  }

  async publish(topic: Topic, data: Uint8Array): Promise<void> {
    this.#requireStarted()
    const limit = this.#policy.topicMaxBytes[topic]
    if (data.length > limit) throw new P2pError('MESSAGE_TOO_LARGE', `message of ${data.length} bytes exceeds ${topic}'s limit of ${limit}`)
    if (!this.#firstSight(data)) return
    this.#hub.refresh()
    for (const peer of this.#hub.links(this.peerId).keys()) {
      const target = this.#hub.node(peer)
      if (target === undefined || !target[subscribed](topic)) continue
      if (this.#hub.dropped({ kind: 'gossip', from: this.peerId, to: peer, topic, data })) continue
      const copy = Uint8Array.from(data)
      this.#hub.track(new Promise<void>((resolve) => setImmediate(resolve)).then(() => target[deliver](topic, copy, this.peerId)))
    }
  }

  subscribe(topic: Topic, handler: GossipHandler): void {
    this.#gossip.register(topic, handler)
  }

  subscribers(topic: Topic): string[] {
    return [...this.#hub.links(this.peerId).keys()].filter((peer) => this.#hub.node(peer)?.[subscribed](topic) === true)
  }

  handle(protocol: ReqRespProtocol, handler: RequestHandler): void {
    this.#server.register(protocol, handler)
  }

  request(peer: string, protocol: ReqRespProtocol, request: Uint8Array, options: RequestOptions = {}): Promise<Uint8Array> {
    const context = { metrics: this.#metrics, penalize: (who: string, reason: PenaltyReason) => this.penalize(who, reason) }
    return observeCall(context, peer, protocol, () => this.#exchange(peer, protocol, request, options))
  }

  peers(): PeerInfo[] {
    this.#hub.refresh()
    return [...this.#hub.links(this.peerId).keys()].map((peer) => this.#peerInfo(peer)).filter((info) => info !== undefined)
  }

  onPeerConnected(listener: (peer: PeerInfo) => void): Unsubscribe {
    this.#connectedListeners.add(listener)
    return () => this.#connectedListeners.delete(listener)
  }

  onPeerDisconnected(listener: (peerId: string) => void): Unsubscribe {
    this.#disconnectedListeners.add(listener)
    return () => this.#disconnectedListeners.delete(listener)
  }

  penalize(peer: string, reason: PenaltyReason): void {
    this.#metrics?.peerPenalties.inc({ reason })
    if (!this.#scores.penalize(peer, reason)) return
    this.#metrics?.peerBans.inc()
    this.#log.info('peer banned', { peer, reason })
    this.#hub.refresh()
  }

  blockPeer(peer: string): void {
    this.#scores.block(peer)
    this.#hub.refresh()
  }

  unblockPeer(peer: string): boolean {
    const was = this.#scores.unblock(peer)
    this.#hub.refresh()
    return was
  }

  blockedPeers(): string[] {
    return this.#scores.blocked()
  }

  // ---- called by the hub

  [bans](peer: string): boolean {
    return this.#scores.isBanned(peer)
  }

  [subscribed](topic: Topic): boolean {
    return this[startedAt] !== undefined && this.#gossip.has(topic)
  }

  [serves](protocol: WireProtocol): boolean {
    return this.#server.has(protocol)
  }

  [serve](protocol: WireProtocol, request: Uint8Array, from: string): Promise<Uint8Array> {
    return this.#server.serve(protocol, request, from)
  }

  async [deliver](topic: Topic, data: Uint8Array, from: string): Promise<void> {
    if (this[startedAt] === undefined || !this.#hub.links(this.peerId).has(from) || !this.#firstSight(data)) return
    await this.#gossip.validate(topic, data, from)
  }

  [linked](peer: string): void {
    this.#metrics?.peers.set(this.#hub.links(this.peerId).size)
    const info = this.#peerInfo(peer)
    if (info === undefined) return
    for (const listener of this.#connectedListeners) {
      try {
        listener(info)
      } catch (error) {
        this.#log.error('peer-connected listener failed', { error })
      }
    }
  }

  [unlinked](peer: string): void {
    this.#metrics?.peers.set(this.#hub.links(this.peerId).size)
    for (const listener of this.#disconnectedListeners) {
      try {
        listener(peer)
      } catch (error) {
        this.#log.error('peer-disconnected listener failed', { error })
      }
    }
  }

  // ----

  #requireStarted(): void {
    if (this[startedAt] === undefined) throw new P2pError('NOT_STARTED', 'the network is not started')
  }

  #peerInfo(peer: string): PeerInfo | undefined {
    const link = this.#hub.links(this.peerId).get(peer)
    if (link === undefined) return undefined
    return { id: peer, addresses: [`/memory/${peer}`], direction: link.direction, score: this.#scores.score(peer), connectedSince: link.since }
  }

  /** Records a message id; false if it was seen before. */
  #firstSight(data: Uint8Array): boolean {
    const id = Buffer.from(sha256(data)).toString('hex')
    const now = Date.now()
    const until = this.#seen.get(id)
    if (until !== undefined && until > now) return false
    this.#seen.delete(id)
    this.#seen.set(id, now + SEEN_TTL_MS)
    if (this.#seen.size > SEEN_MAX) {
      for (const [key, expiry] of this.#seen) {
        if (expiry > now && this.#seen.size <= SEEN_MAX) break
        this.#seen.delete(key)
      }
    }
    return true
  }

  async #exchange(peer: string, protocol: ReqRespProtocol, request: Uint8Array, options: RequestOptions): Promise<Uint8Array> {
    this.#requireStarted()
    const limits = this.#policy.protocolLimits[protocol]
    checkRequest(limits, protocol, request)
    if (this.#scores.isBanned(peer)) throw new P2pError('PEER_BANNED', `peer ${peer} is banned`)
    this.#hub.refresh()
    const target = this.#hub.node(peer)
    if (target === undefined || !this.#hub.links(this.peerId).has(peer)) throw new P2pError('PEER_UNREACHABLE', `cannot reach peer ${peer}`)
    if (!target[serves](protocol)) throw new P2pError('UNSUPPORTED_PROTOCOL', `peer ${peer} does not serve ${protocol}`)
    const what = `${protocol} request to ${peer}`
    const call = callSignal(options.timeoutMs ?? limits.timeoutMs, options.signal)
    try {
      const answer = this.#hub.dropped({ kind: 'request', from: this.peerId, to: peer, protocol, data: request })
        ? new Promise<Uint8Array>(() => {})
        : target[serve](protocol, Uint8Array.from(request), this.peerId)
      const frame = await raceSignal(answer, call.signal)
      if (frame.length - 1 > limits.maxResponseBytes) {
        throw new P2pError('RESPONSE_TOO_LARGE', `peer ${peer} answered ${protocol} with more than ${limits.maxResponseBytes} bytes`)
      }
      return decodeResponse(Uint8Array.from(frame), protocol, peer)
    } catch (error) {
      throw call.explain(error, what)
    } finally {
      call.clear()
    }
  }
}
