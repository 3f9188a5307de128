// The libp2p host of the node (the only module that builds one): TCP + noise + yamux, identify,
// gossipsub for topics and length-prefixed streams for request/response. It owns
//  - the identity (the node key), the listen addresses and the connection limit (`maxPeers`);
//  - bootnodes: dialled at start and re-dialled with exponential backoff whenever they drop;
//  - discovery: on identify and then periodically it asks a peer for its peers
//    (`/openledger/<tag>/peers/1`) and dials the ones it does not know, up to `maxPeers`;
//  - the chain check: a peer that does not speak this chain's peer-exchange protocol (another
//    genesis, or not an openledger node) is disconnected after identify;
//  - scoring: `PeerScoreBook` penalties (gossip rejects, oversized messages, rate limits, bad
//    responses, `penalize`) feed gossipsub as its app-specific score; at the ban threshold the
//    peer is disconnected and the connection gater refuses it until the ban ends.
// Gossip is validated asynchronously (`asyncValidation`): gossipsub hands each new message (ids
// are sha256 of the data, so duplicates never reach a handler) to `GossipValidator`, and forwards
// it only on `accept`.
import { GossipSub, type GossipSubComponents, type GossipsubMessage } from '@chainsafe/libp2p-gossipsub'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify, type Identify } from '@libp2p/identify'
import { TopicValidatorResult, type IdentifyResult, type IncomingStreamData, type Libp2p, type PeerId, type Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { lpStream } from 'it-length-prefixed-stream'
import { createLibp2p } from 'libp2p'
import type { Logger } from '../lib/logger.ts'
import { sha256 } from '../runtime/crypto/hash.ts'
import { P2pError } from './errors.ts'
import { GossipValidator } from './gossipValidator.ts'
import { Topic, type GossipHandler, type GossipVerdict, type NetworkPort, type PeerInfo, type PenaltyReason, type ReqRespProtocol, type RequestHandler, type RequestOptions, type Unsubscribe } from './interface.ts'
import type { P2pMetrics } from './metrics.ts'
import { libp2pPrivateKey, peerIdFromNodeKey } from './nodeKey.ts'
import { namespaced, PEER_EXCHANGE_PROTOCOL, resolvePolicy, type NetworkPolicy, type NetworkPolicyOptions, type WireProtocol } from './options.ts'
import { PeerScoreBook } from './peerScore.ts'
import { callSignal, checkRequest, decodeResponse, observeCall, ReqRespServer } from './reqResp.ts'

export interface P2pNetworkOptions extends NetworkPolicyOptions {
  /** the node key (32-byte ed25519 secret, see nodeKey.ts) */
  nodeKey: Uint8Array
  /** multiaddrs to listen on; default `/ip4/0.0.0.0/tcp/30333` */
  listen?: string[]
  /** multiaddrs to announce instead of the listen addresses (public address behind NAT) */
  announce?: string[]
  /** multiaddrs ending in `/p2p/<peer id>`, dialled at start and kept connected */
  bootnodes?: string[]
  /** connections kept at most; default 50 */
  maxPeers?: number
  /** maintenance period (bootnode redials, peer exchange, pruning), ms; default 1000 */
  heartbeatMs?: number
  /** how often to ask a peer for its peers while below `maxPeers`, ms; default 30000 */
  peerExchangeIntervalMs?: number
  /** bootnode redial backoff: first delay and cap, ms; default 1000 and 60000 */
  bootnodeBackoff?: { initialMs?: number; maxMs?: number }
  /** dial timeout, ms; default 10000 */
  dialTimeoutMs?: number
}

export interface P2pNetworkComponents {
  logger: Logger
  metrics?: P2pMetrics
}

const DEFAULT_LISTEN = ['/ip4/0.0.0.0/tcp/30333']
/** how many addresses a peer-exchange answer holds at most */
const MAX_EXCHANGED_PEERS = 32
/** gossipsub frames carry a message plus protobuf framing and control messages (bytes) */
const GOSSIP_FRAME_OVERHEAD = 64 * 1024

type Node = Libp2p<{ identify: Identify; pubsub: GossipSub }>

interface ConnectedPeer {
  since: number
  direction: 'inbound' | 'outbound'
  remoteAddress: string
  /** dialable addresses the peer announced in identify */
  listenAddresses: string[]
  /** whether we asked it for its peers since it connected (once is enough; later, the heartbeat) */
  askedForPeers: boolean
}

interface Bootnode {
  peerId: string
  address: Multiaddr
  failures: number
  nextAttemptAt: number
  dialing: boolean
}

function isLengthError(error: unknown): boolean {
  const name = (error as Error | undefined)?.name
  return name === 'InvalidDataLengthError' || name === 'InvalidDataLengthLengthError'
}

function isLoopback(address: string): boolean {
  return address.startsWith('/ip4/127.') || address.startsWith('/ip6/::1/')
}

function parseMultiaddr(text: string, what: string): Multiaddr {
  try {
    return multiaddr(text)
  } catch (cause) {
    throw new P2pError('INVALID_MULTIADDR', `${what}: not a multiaddr: ${text}`, { cause })
  }
}

function checkInteger(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) throw new P2pError('INVALID_OPTION', `${name} must be an integer ≥ ${min}, got ${String(value)}`)
  return value
}

export class P2pNetwork implements NetworkPort {
  readonly peerId: string
  readonly #nodeKey: Uint8Array
  readonly #policy: NetworkPolicy
  readonly #listen: string[]
  readonly #announce: string[] | undefined
  readonly #bootnodes: Bootnode[]
  readonly #maxPeers: number
  readonly #heartbeatMs: number
  readonly #exchangeIntervalMs: number
  readonly #backoffInitialMs: number
  readonly #backoffMaxMs: number
  readonly #dialTimeoutMs: number
  readonly #log: Logger
  readonly #metrics: P2pMetrics | undefined
  readonly #scores: PeerScoreBook
  readonly #gossip: GossipValidator
  readonly #server: ReqRespServer
  readonly #topicByWire: Map<string, Topic>
  readonly #connected = new Map<string, ConnectedPeer>()
  readonly #dialing = new Set<string>()
  readonly #connectedListeners = new Set<(peer: PeerInfo) => void>()
  readonly #disconnectedListeners = new Set<(peerId: string) => void>()
  #node: Node | undefined
  #starting: Promise<void> | undefined
  #abort: AbortController | undefined
  #timer: NodeJS.Timeout | undefined
  #lastExchangeAt = 0

  constructor(options: P2pNetworkOptions, components: P2pNetworkComponents) {
    this.#nodeKey = Uint8Array.from(options.nodeKey)
    this.peerId = peerIdFromNodeKey(this.#nodeKey)
    this.#policy = resolvePolicy(options)
    this.#listen = (options.listen ?? DEFAULT_LISTEN).map((address) => parseMultiaddr(address, 'listen').toString())
    this.#announce = options.announce?.map((address) => parseMultiaddr(address, 'announce').toString())
    this.#maxPeers = checkInteger('maxPeers', options.maxPeers ?? 50, 1)
    this.#heartbeatMs = checkInteger('heartbeatMs', options.heartbeatMs ?? 1_000, 10)
    this.#exchangeIntervalMs = checkInteger('peerExchangeIntervalMs', options.peerExchangeIntervalMs ?? 30_000, 10)
    this.#backoffInitialMs = checkInteger('bootnodeBackoff.initialMs', options.bootnodeBackoff?.initialMs ?? 1_000, 1)
    this.#backoffMaxMs = checkInteger('bootnodeBackoff.maxMs', options.bootnodeBackoff?.maxMs ?? 60_000, this.#backoffInitialMs)
    this.#dialTimeoutMs = checkInteger('dialTimeoutMs', options.dialTimeoutMs ?? 10_000, 1)
    this.#bootnodes = []
    for (const text of options.bootnodes ?? []) {
      const address = parseMultiaddr(text, 'bootnode')
      const peerId = address.getPeerId()
      if (peerId === null) throw new P2pError('INVALID_MULTIADDR', `bootnode must end with /p2p/<peer id>: ${text}`)
      if (peerId !== this.peerId) this.#bootnodes.push({ peerId, address, failures: 0, nextAttemptAt: 0, dialing: false })
    }
    this.#log = components.logger.child('p2p')
    this.#metrics = components.metrics
    this.#scores = new PeerScoreBook(this.#policy.scoring)
    const penalize = (peer: string, reason: PenaltyReason): void => this.penalize(peer, reason)
    this.#gossip = new GossipValidator({ policy: this.#policy, penalize, logger: this.#log, metrics: this.#metrics })
    this.#server = new ReqRespServer({ policy: this.#policy, penalize, logger: this.#log, metrics: this.#metrics })
    this.#server.register(PEER_EXCHANGE_PROTOCOL, (_request, from) => Promise.resolve(this.#peersFor(from)))
    this.#topicByWire = new Map(Object.values(Topic).map((topic) => [namespaced(topic, this.#policy.chainTag), topic]))
  }

  /** Starts listening, dials the bootnodes; a second call while started (or starting) waits for the first. */
  start(): Promise<void> {
    if (this.#node !== undefined) return Promise.resolve()
    this.#starting ??= this.#start().finally(() => {
      this.#starting = undefined
    })
    return this.#starting
  }

  async #start(): Promise<void> {
    const banned = (peerId: PeerId): boolean => this.#scores.isBanned(peerId.toString())
    const ban = this.#policy.scoring.banThreshold
    const node: Node = await createLibp2p({
      privateKey: libp2pPrivateKey(this.#nodeKey),
      addresses: { listen: this.#listen, ...(this.#announce === undefined ? {} : { announce: this.#announce }) },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionGater: { denyDialPeer: banned, denyInboundEncryptedConnection: banned, denyOutboundEncryptedConnection: banned },
      connectionManager: { maxConnections: this.#maxPeers, dialTimeout: this.#dialTimeoutMs },
      services: {
        identify: identify(),
        pubsub: (components: GossipSubComponents) => new GossipSub(components, {
          // no author signatures: content-addressed ids, so the same bytes are one message
          globalSignaturePolicy: 'StrictNoSign',
          msgIdFn: (message) => sha256(message.data),
          asyncValidation: true,
          floodPublish: true,
          fallbackToFloodsub: false,
          allowPublishToZeroTopicPeers: true,
          ignoreDuplicatePublishError: true,
          allowedTopics: [...this.#topicByWire.keys()],
          maxInboundDataLength: Math.max(...Object.values(this.#policy.topicMaxBytes)) + GOSSIP_FRAME_OVERHEAD,
          scoreParams: {
            topics: {},
            appSpecificScore: (peer) => this.#scores.score(peer),
            appSpecificWeight: 1,
            // validators and test networks share hosts; bans are by peer, not by address
            IPColocationFactorWeight: 0,
          },
          // graylisting (ignoring a peer's RPCs) at the ban threshold, so that our ban acts first
          scoreThresholds: { gossipThreshold: ban * 0.4, publishThreshold: ban * 0.6, graylistThreshold: ban },
        }),
      },
      start: false,
    })
    node.addEventListener('peer:connect', (event) => this.#onConnect(node, event.detail))
    node.addEventListener('peer:disconnect', (event) => this.#onDisconnect(event.detail))
    node.addEventListener('peer:identify', (event) => this.#onIdentify(node, event.detail))
    node.services.pubsub.addEventListener('gossipsub:message', (event) => {
      this.#onGossip(node, event.detail).catch((error: unknown) => this.#log.error('gossip delivery failed', { error }))
    })
    for (const protocol of this.#server.protocols()) await this.#handleOn(node, protocol)
    try {
      await node.start()
    } catch (cause) {
      await Promise.resolve(node.stop()).catch(() => {})
      throw new P2pError('LISTEN_FAILED', `cannot listen on ${this.#listen.join(', ')}: ${(cause as Error).message}`, { cause })
    }
    for (const topic of this.#gossip.topics()) node.services.pubsub.subscribe(namespaced(topic, this.#policy.chainTag))
    this.#node = node
    this.#abort = new AbortController()
    this.#timer = setInterval(() => this.#heartbeat(), this.#heartbeatMs)
    this.#log.info('p2p started', { peerId: this.peerId, addresses: this.listenAddresses(), bootnodes: this.#bootnodes.length })
    this.#heartbeat()
  }

  async stop(): Promise<void> {
    await this.#starting?.catch(() => {})
    const node = this.#node
    if (node === undefined) return
    this.#node = undefined
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#abort?.abort()
    this.#abort = undefined
    await node.stop()
    // every connected event gets its disconnected event, also for connections stop() closed silently
    for (const id of [...this.#connected.keys()]) this.#onDisconnect(peerIdFromString(id))
    this.#dialing.clear()
    this.#log.info('p2p stopped')
  }

  /** Our addresses as dialable multiaddrs (with `/p2p/<peer id>`); empty before start. */
  listenAddresses(): string[] {
    return this.#node?.getMultiaddrs().map((address) => address.toString()) ?? []
  }

  /** Dials a multiaddr ending in `/p2p/<peer id>`; resolves to the peer id. */
  async dial(address: string, options: { signal?: AbortSignal } = {}): Promise<string> {
    const node = this.#requireStarted()
    const target = parseMultiaddr(address, 'dial')
    const peer = target.getPeerId()
    if (peer === null) throw new P2pError('INVALID_MULTIADDR', `address must end with /p2p/<peer id>: ${address}`)
    if (this.#scores.isBanned(peer)) throw new P2pError('PEER_BANNED', `peer ${peer} is banned`)
    const timeout = AbortSignal.timeout(this.#dialTimeoutMs)
    try {
      const connection = await node.dial(target, { signal: options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout]) })
      return connection.remotePeer.toString()
    } catch (cause) {
      throw new P2pError('PEER_UNREACHABLE', `cannot dial ${address}: ${(cause as Error).message}`, { cause })
    }
  }

  async publish(topic: Topic, data: Uint8Array): Promise<void> {
    const node = this.#requireStarted()
    const limit = this.#policy.topicMaxBytes[topic]
    if (data.length > limit) throw new P2pError('MESSAGE_TOO_LARGE', `message of ${data.length} bytes exceeds ${topic}'s limit of ${limit}`)
    await node.services.pubsub.publish(namespaced(topic, this.#policy.chainTag), data)
  }

  subscribe(topic: Topic, handler: GossipHandler): void {
    this.#gossip.register(topic, handler)
    this.#node?.services.pubsub.subscribe(namespaced(topic, this.#policy.chainTag))
  }

  subscribers(topic: Topic): string[] {
    return this.#node?.services.pubsub.getSubscribers(namespaced(topic, this.#policy.chainTag)).map(String) ?? []
  }

  /** Peers in our gossipsub mesh for the topic (diagnostics and tests). */
  meshPeers(topic: Topic): string[] {
    return this.#node?.services.pubsub.getMeshPeers(namespaced(topic, this.#policy.chainTag)) ?? []
  }

  handle(protocol: ReqRespProtocol, handler: RequestHandler): void {
    this.#server.register(protocol, handler)
    const node = this.#node
    if (node !== undefined) void this.#handleOn(node, protocol).catch((error: unknown) => this.#log.error('cannot register protocol', { protocol, error }))
  }

  async request(peer: string, protocol: ReqRespProtocol, request: Uint8Array, options: RequestOptions = {}): Promise<Uint8Array> {
    return this.#call(this.#requireStarted(), peer, protocol, request, options)
  }

  peers(): PeerInfo[] {
    return [...this.#connected.keys()].map((id) => this.#peerInfo(id)).filter((peer) => peer !== undefined)
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
    const banned = this.#scores.penalize(peer, reason)
    this.#log.debug('peer penalized', { peer, reason, score: this.#scores.score(peer) })
    if (!banned) return
    this.#metrics?.peerBans.inc()
    this.#log.info('peer banned', { peer, reason, forMs: this.#policy.scoring.banDurationMs })
    this.#hangUp(peer)
  }

  blockPeer(peer: string): void {
    this.#scores.block(peer)
    this.#log.info('peer blocked by the operator', { peer })
    this.#hangUp(peer)
  }

  unblockPeer(peer: string): boolean {
    const was = this.#scores.unblock(peer)
    if (was) this.#log.info('peer unblocked by the operator', { peer })
    const bootnode = this.#bootnodes.find((b) => b.peerId === peer)
    if (bootnode !== undefined) {
      bootnode.failures = 0
      bootnode.nextAttemptAt = 0
    }
    return was
  }

  blockedPeers(): string[] {
    return this.#scores.blocked()
  }

  #hangUp(peer: string): void {
    const node = this.#node
    if (node === undefined) return
    let peerId: PeerId
    try {
      peerId = peerIdFromString(peer)
    } catch {
      return
    }
    void node.hangUp(peerId).catch((error: unknown) => this.#log.debug('hang up failed', { peer, error }))
  }

  #requireStarted(): Node {
    if (this.#node === undefined) throw new P2pError('NOT_STARTED', 'the p2p network is not started')
    return this.#node
  }

  #peerInfo(id: string): PeerInfo | undefined {
    const peer = this.#connected.get(id)
    if (peer === undefined) return undefined
    return {
      id,
      addresses: peer.listenAddresses.length > 0 ? [...peer.listenAddresses] : [peer.remoteAddress],
      direction: peer.direction,
      score: this.#scores.score(id),
      connectedSince: peer.since,
    }
  }

  // ---- connections

  #onConnect(node: Node, peerId: PeerId): void {
    const id = peerId.toString()
    if (this.#connected.has(id)) return
    const connection = node.getConnections(peerId)[0]
    this.#connected.set(id, {
      since: Date.now(),
      direction: connection?.direction ?? 'outbound',
      remoteAddress: connection?.remoteAddr.toString() ?? '',
      listenAddresses: [],
      askedForPeers: false,
    })
    this.#metrics?.peers.set(this.#connected.size)
    this.#log.debug('peer connected', { peer: id, direction: connection?.direction })
    const info = this.#peerInfo(id)
    if (info === undefined) return
    for (const listener of this.#connectedListeners) {
      try {
        listener(info)
      } catch (error) {
        this.#log.error('peer-connected listener failed', { error })
      }
    }
  }

  #onDisconnect(peerId: PeerId): void {
    const id = peerId.toString()
    if (!this.#connected.delete(id)) return
    this.#metrics?.peers.set(this.#connected.size)
    const bootnode = this.#bootnodes.find((candidate) => candidate.peerId === id)
    if (bootnode !== undefined) this.#scheduleRedial(bootnode)
    this.#log.debug('peer disconnected', { peer: id })
    for (const listener of this.#disconnectedListeners) {
      try {
        listener(id)
      } catch (error) {
        this.#log.error('peer-disconnected listener failed', { error })
      }
    }
  }

  #onIdentify(node: Node, result: IdentifyResult): void {
    const id = result.peerId.toString()
    const peer = this.#connected.get(id)
    if (peer === undefined) return
    const exchange = namespaced(PEER_EXCHANGE_PROTOCOL, this.#policy.chainTag)
    if (!result.protocols.includes(exchange)) {
      this.#log.info('disconnecting a peer of another chain', { peer: id })
      void node.hangUp(result.peerId).catch(() => {})
      return
    }
    const bootnode = this.#bootnodes.find((candidate) => candidate.peerId === id)
    if (bootnode !== undefined) bootnode.failures = 0
    peer.listenAddresses = result.listenAddrs.map((address) => address.toString()).filter((address) => !address.includes('/p2p-circuit'))
    if (!peer.askedForPeers && this.#connected.size < this.#maxPeers) {
      peer.askedForPeers = true
      void this.#exchangePeers(node, id)
    }
  }

  #heartbeat(): void {
    const node = this.#node
    if (node === undefined) return
    this.#scores.prune()
    this.#gossip.prune()
    this.#server.prune()
    const now = Date.now()
    for (const bootnode of this.#bootnodes) {
      if (bootnode.dialing || this.#connected.has(bootnode.peerId) || bootnode.nextAttemptAt > now || this.#scores.isBanned(bootnode.peerId)) continue
      void this.#dialBootnode(node, bootnode)
    }
    if (this.#connected.size > 0 && this.#connected.size < this.#maxPeers && now - this.#lastExchangeAt >= this.#exchangeIntervalMs) {
      const ids = [...this.#connected.keys()]
      const id = ids[Math.floor(Math.random() * ids.length)]
      if (id !== undefined) void this.#exchangePeers(node, id)
    }
  }

  async #dialBootnode(node: Node, bootnode: Bootnode): Promise<void> {
    bootnode.dialing = true
    try {
      await node.dial(bootnode.address, { signal: this.#dialSignal() })
    } catch (error) {
      this.#scheduleRedial(bootnode)
      this.#log.debug('bootnode dial failed', { peer: bootnode.peerId, failures: bootnode.failures, retryInMs: bootnode.nextAttemptAt - Date.now(), error })
    } finally {
      bootnode.dialing = false
    }
  }

  /**
   * Exponential backoff with jitter: initial, 2×, 4×, … up to the cap. Failures only reset once a
   * bootnode passes identify, so one that keeps dropping us (another chain, a ban) is not hammered.
   */
  #scheduleRedial(bootnode: Bootnode): void {
    bootnode.failures += 1
    const delay = Math.min(this.#backoffMaxMs, this.#backoffInitialMs * 2 ** Math.min(bootnode.failures - 1, 30))
    bootnode.nextAttemptAt = Date.now() + Math.round(delay * (0.75 + Math.random() / 2))
  }

  #dialSignal(): AbortSignal {
    const timeout = AbortSignal.timeout(this.#dialTimeoutMs)
    return this.#abort === undefined ? timeout : AbortSignal.any([this.#abort.signal, timeout])
  }

  // ---- peer exchange

  /** Our peers' dialable addresses for `requester` (loopback ones only to a loopback requester). */
  #peersFor(requester: string): Uint8Array {
    const local = isLoopback(this.#connected.get(requester)?.remoteAddress ?? '')
    const addresses: string[] = []
    for (const [id, peer] of this.#connected) {
      if (id === requester || this.#scores.isBanned(id)) continue
      for (const address of peer.listenAddresses) {
        if (!local && isLoopback(address)) continue
        addresses.push(address.includes('/p2p/') ? address : `${address}/p2p/${id}`)
        break
      }
      if (addresses.length >= MAX_EXCHANGED_PEERS) break
    }
    return Buffer.from(JSON.stringify(addresses), 'utf8')
  }

  async #exchangePeers(node: Node, peer: string): Promise<void> {
    this.#lastExchangeAt = Date.now()
    let addresses: unknown
    try {
      const response = await this.#call(node, peer, PEER_EXCHANGE_PROTOCOL, new Uint8Array(0), {})
      addresses = JSON.parse(Buffer.from(response).toString('utf8'))
    } catch (error) {
      this.#log.debug('peer exchange failed', { peer, error })
      return
    }
    if (!Array.isArray(addresses) || addresses.length > MAX_EXCHANGED_PEERS || !addresses.every((address) => typeof address === 'string' && address.length <= 512)) {
      this.penalize(peer, 'invalidResponse')
      return
    }
    for (const text of addresses as string[]) {
      if (this.#connected.size + this.#dialing.size >= this.#maxPeers || this.#node !== node) return
      let address: Multiaddr
      try {
        address = multiaddr(text)
      } catch {
        continue
      }
      const id = address.getPeerId()
      if (id === null || id === this.peerId || this.#connected.has(id) || this.#dialing.has(id) || this.#scores.isBanned(id)) continue
      this.#dialing.add(id)
      void node.dial(address, { signal: this.#dialSignal() })
        .then(() => this.#log.debug('dialled an exchanged peer', { peer: id, via: peer }))
        .catch((error: unknown) => this.#log.debug('cannot dial an exchanged peer', { peer: id, error }))
        .finally(() => this.#dialing.delete(id))
    }
  }

  // ---- gossip

  async #onGossip(node: Node, { propagationSource, msgId, msg }: GossipsubMessage): Promise<void> {
    const topic = this.#topicByWire.get(msg.topic)
    const from = propagationSource.toString()
    let verdict: GossipVerdict = 'ignore'
    if (topic !== undefined) verdict = await this.#gossip.validate(topic, msg.data, from)
    if (this.#node !== node) return
    node.services.pubsub.reportMessageValidationResult(msgId, from, VERDICT_RESULT[verdict])
  }

  // ---- request/response

  async #handleOn(node: Node, protocol: WireProtocol): Promise<void> {
    await node.handle(namespaced(protocol, this.#policy.chainTag), (data) => void this.#serveStream(protocol, data))
  }

  async #serveStream(protocol: WireProtocol, { stream, connection }: IncomingStreamData): Promise<void> {
    const from = connection.remotePeer.toString()
    const limits = this.#policy.protocolLimits[protocol]
    const signal = AbortSignal.timeout(limits.timeoutMs)
    const lp = lpStream(stream, { maxDataLength: limits.maxRequestBytes })
    try {
      let frame: Uint8Array
      try {
        const request = (await lp.read({ signal })).subarray()
        frame = await this.#server.serve(protocol, request, from)
      } catch (error) {
        if (!isLengthError(error)) throw error
        frame = this.#server.oversized(protocol, from)
      }
      await lp.write(frame, { signal })
      await stream.close({ signal })
    } catch (error) {
      this.#log.debug('serving a request failed', { protocol, from, error })
      stream.abort(error instanceof Error ? error : new Error(String(error)))
    }
  }

  #call(node: Node, peer: string, protocol: WireProtocol, request: Uint8Array, options: RequestOptions): Promise<Uint8Array> {
    const context = { metrics: this.#metrics, penalize: (who: string, reason: PenaltyReason) => this.penalize(who, reason) }
    return observeCall(context, peer, protocol, () => this.#exchange(node, peer, protocol, request, options))
  }

  async #exchange(node: Node, peer: string, protocol: WireProtocol, request: Uint8Array, options: RequestOptions): Promise<Uint8Array> {
    const limits = this.#policy.protocolLimits[protocol]
    checkRequest(limits, protocol, request)
    let peerId: PeerId
    try {
      peerId = peerIdFromString(peer)
    } catch (cause) {
      throw new P2pError('INVALID_PEER_ID', `not a peer id: ${peer}`, { cause })
    }
    if (this.#scores.isBanned(peer)) throw new P2pError('PEER_BANNED', `peer ${peer} is banned`)
    const call = callSignal(options.timeoutMs ?? limits.timeoutMs, options.signal)
    try {
      return await this.#converse(node, peerId, protocol, request, call)
    } finally {
      call.clear()
    }
  }

  /** One call on a new stream: request frame out, response frame in. */
  async #converse(node: Node, peerId: PeerId, protocol: WireProtocol, request: Uint8Array, call: ReturnType<typeof callSignal>): Promise<Uint8Array> {
    const peer = peerId.toString()
    const limits = this.#policy.protocolLimits[protocol]
    const what = `${protocol} request to ${peer}`
    let stream: Stream
    try {
      stream = await node.dialProtocol(peerId, namespaced(protocol, this.#policy.chainTag), { signal: call.signal })
    } catch (error) {
      if ((error as Error | undefined)?.name === 'UnsupportedProtocolError') {
        throw new P2pError('UNSUPPORTED_PROTOCOL', `peer ${peer} does not serve ${protocol}`, { cause: error })
      }
      const explained = call.explain(error, what)
      if (explained !== error) throw explained
      throw new P2pError('PEER_UNREACHABLE', `cannot reach peer ${peer}: ${(error as Error).message}`, { cause: error })
    }
    try {
      const lp = lpStream(stream, { maxDataLength: limits.maxResponseBytes + 1 })
      await lp.write(request, { signal: call.signal })
      await stream.closeWrite({ signal: call.signal })
      let frame: Uint8Array
      try {
        frame = (await lp.read({ signal: call.signal })).subarray()
      } catch (error) {
        if (isLengthError(error)) throw new P2pError('RESPONSE_TOO_LARGE', `peer ${peer} answered ${protocol} with more than ${limits.maxResponseBytes} bytes`, { cause: error })
        throw error
      }
      const response = decodeResponse(frame, protocol, peer)
      await stream.close({ signal: call.signal })
      return response
    } catch (error) {
      stream.abort(error instanceof Error ? error : new Error(String(error)))
      const explained = call.explain(error, what)
      if (explained instanceof P2pError) throw explained
      throw new P2pError('REMOTE_ERROR', `${what} failed: ${(error as Error).message}`, { cause: error })
    }
  }
}

const VERDICT_RESULT: Readonly<Record<GossipVerdict, TopicValidatorResult>> = {
  accept: TopicValidatorResult.Accept,
  ignore: TopicValidatorResult.Ignore,
  reject: TopicValidatorResult.Reject,
}
