// The composition root: builds every service of a node in dependency order, starts them, and
// stops them in exactly the reverse order (a stack: each service's stop is pushed as it starts,
// so nothing still gossips or submits after the network or the pool under it has stopped). The
// only place that knows how the parts fit together.
//
//   <home>/db         the LevelDB: chain, state, metadata
//   <home>/keystore   encrypted keys (see node/keystore)
//   <home>/blobs      the content-addressed blob store (see node/blobs)
import { BeaconReveals } from './consensus/beaconReveals.ts'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { toHex } from '../runtime/crypto/hash.ts'
import type { Address } from '../runtime/crypto/secp256k1.ts'
import { createRuntime } from '../runtime/index.ts'
import { accountInfo } from '../runtime/modules/system/index.ts'
import { lockedOf } from '../runtime/modules/balances/index.ts'
import { timelinessParamsOf, type ChainSpec } from '../genesis/spec.ts'
import { createRpcRegistry } from './api/index.ts'
import { Chain, ChainError } from './chain/chain.ts'
import { DevBlockProducer } from './consensus/devProducer.ts'
import { LevelStore } from './db/levelStore.ts'
import type { Logger } from '../lib/logger.ts'
import { checkStoreFiles } from './db/storeCheck.ts'
import { pathOf, StorageHealth, type StorageError } from './storage/storageHealth.ts'
import { Mempool } from './mempool/mempool.ts'
import { Informant, type InformantOptions } from './informant.ts'
import { TxSubmission } from './mempool/txSubmission.ts'
import { TxGossip } from './mempool/txGossip.ts'
import { TxWatcher } from './mempool/txWatcher.ts'
import { TxJournal } from './mempool/txJournal.ts'
import { createMetrics, type NodeMetrics } from './metrics/metrics.ts'
import { MetricsServer } from './metrics/server.ts'
import { isLoopback, RPC_SERVER_DEFAULTS, RpcServer, RpcServerError, type RpcServerOptions } from './rpc/server.ts'
import { InlineVerifier, WorkerPoolVerifier, type SignatureVerifier } from './workers/signatureVerifier.ts'
import { ConsensusDriver } from '../consensus/driver/driver.ts'
import type { Clock } from '../consensus/clock.ts'
import { systemClock } from './clock.ts'
import { ClockMonitor } from './consensus/clockMonitor.ts'
import type { TimeoutConfig } from '../consensus/stateMachine.ts'
import type { SignedVote } from '../consensus/types.ts'
import { P2pNetwork } from '../p2p/p2pNetwork.ts'
import { Topic } from '../p2p/interface.ts'
import { DEFAULT_TOPIC_MAX_BYTES } from '../p2p/options.ts'
import { ENGINE_VERSION, kernelKind } from '../ml/index.ts'
import { BlockSync } from './consensus/blockSync.ts'
import { NodeConsensusChain, validatorSetFromState, validatorsHashFromState } from './consensus/consensusChain.ts'
import { createConsensusNetwork } from './consensus/consensusNetwork.ts'
import { EvidencePool } from './consensus/evidencePool.ts'
import { validatorIndex } from '../consensus/types.ts'
import { createEvidenceVerifier } from './consensus/evidence.ts'
import { BlobFetcher, serveBlobs } from './blobs/blobExchange.ts'
import { BlobStore, type BlobStoreOptions } from './blobs/blobStore.ts'
import { AvailabilityService } from './datanets/availabilityService.ts'
import { OperatorTransactions } from './operator/operatorTransactions.ts'
import { ProviderError, ProviderService, type ProviderServiceOptions } from './market/providerService.ts'
import { RecheckService, type CheckFault } from './market/recheckService.ts'
import { BaseModelResolver, publishShippedModels } from './models/baseModels.ts'
import { TrainingService, trainingDir, type TrainingFault } from './models/trainingService.ts'
import { AttributionService, attributionDir, type AttributionFault } from './attribution/attributionService.ts'
import { loadExplorerSite } from './explorer/site.ts'

export const NODE_VERSION = '0.1.0'

export interface NodeOptions {
  home: string
  spec: ChainSpec
  rpc?: RpcServerOptions | false
  /** `unsafe` also serves operator-only methods (peer blocking); keep it to trusted interfaces */
  rpcMethods?: 'safe' | 'unsafe'
  /** Confirms `rpcMethods: 'unsafe'` on a host that is not loopback (Substrate's --unsafe-rpc-external). */
  unsafeRpcExternal?: boolean
  metrics?: { host?: string; port?: number } | false
  /** wall-clock time for block times and consensus (default: the system clock); tests shift it */
  clock?: Clock
  /** single-validator dev chain: seal blocks locally, each final at once */
  dev?: { blockTime: number; instantSeal?: boolean; author: Address; maxTransactions?: number; operator?: { address: Address; privateKey: Uint8Array } }
  /** the inference market's provider (needs the blob store and an operator key): serves requests addressed to the operator through `servingUrl` */
  provider?: ProviderServiceOptions
  /** the blob store under <home>/blobs (default on) */
  blobs?: Omit<BlobStoreOptions, 'dir'> | false
  /** ModelFactory workers (needs the blob store): training threads per job; TEST ONLY faults */
  models?: { threads?: number; fault?: TrainingFault } | false
  /** Proof of Attribution's worker (needs the blob store and an operator key to do anything): TEST ONLY fault */
  attribution?: { fault?: AttributionFault } | false
  /** inference re-checks by this validator's operator (with the ModelFactory workers: they share the base models); TEST ONLY fault */
  recheck?: { fault?: CheckFault } | false
  /** state versions kept for historical reads and proofs */
  pruneWindow?: number
  /** free-space thresholds of the home (bytes): warn under `warnFreeBytes`, shut down under `minFreeBytes` (0: never) */
  storage?: { warnFreeBytes?: number; minFreeBytes?: number; checkIntervalMs?: number }
  /**
   * The software version the node runs as (default NODE_VERSION): a governance-enacted upgrade to
   * a newer version stops it before the upgrade height. Tests set it to play the new binary.
   */
  softwareVersion?: string
  /** signature verification threads; 0 verifies on the main thread */
  verifierThreads?: number
  mempool?: { maxTransactions?: number; maxPerAccount?: number }
  /** the periodic status line (node/informant.ts) */
  informant?: InformantOptions
  nodeName?: string
  /** the libp2p network: identity, listen addresses, bootnodes */
  network?: { nodeKey: Uint8Array; listen: string[]; bootnodes: string[] }
  /** BFT consensus (needs `network`): a validator when `validatorKey` is set, else a full node that follows */
  consensus?: {
    validatorKey?: { secretKey: Uint8Array; publicKey: Uint8Array } | undefined
    /** account credited with tips and used to submit evidence */
    operator?: { address: Address; privateKey: Uint8Array } | undefined
    timeouts?: Partial<TimeoutConfig>
    blockTimeMs: number
    /** TEST ONLY: double-sign prevotes */
    equivocate?: boolean
    /** every validly signed vote seen or made */
    observeVote?: (vote: SignedVote) => void
  }
}

export class OpenLedgerNode {
  readonly options: NodeOptions
  readonly log: Logger
  readonly metrics: NodeMetrics
  #chain: Chain | undefined
  #verifier: SignatureVerifier | undefined
  #submission: TxSubmission | undefined
  #producer: DevBlockProducer | undefined
  #rpc: RpcServer | undefined
  #metricsServer: MetricsServer | undefined
  /** what started, in order: stop() unwinds it from the top */
  readonly #started: Array<{ name: string; stop: () => Promise<void> | void }> = []
  #network: P2pNetwork | undefined
  #driver: ConsensusDriver | undefined
  #sync: BlockSync | undefined
  #blobs: BlobStore | undefined
  #availability: AvailabilityService | undefined
  #training: TrainingService | undefined
  #provider: ProviderService | undefined
  #attribution: AttributionService | undefined
  readonly #health: StorageHealth
  readonly #fatal: Promise<StorageError>
  readonly #upgradeHalt: Promise<ChainError>
  #onUpgradeHalt: (error: ChainError) => void = () => {}
  #stopping: Promise<void> | undefined
  #clockMonitor: ClockMonitor | undefined
  readonly #clock: Clock

  constructor(options: NodeOptions, components: { logger: Logger }) {
    this.options = options
    this.log = components.logger
    this.metrics = createMetrics({ labels: { chain: options.spec.id } })
    this.#clock = options.clock ?? systemClock()
    this.#upgradeHalt = new Promise((resolve) => (this.#onUpgradeHalt = resolve))
    let onFatal: (error: StorageError) => void = () => {}
    this.#fatal = new Promise((resolve) => (onFatal = resolve))
    this.#health = new StorageHealth(
      { home: options.home, ...options.storage },
      {
        logger: this.log.child('storage'),
        freeBytesGauge: this.metrics.diskFreeBytes,
        onFatal: (error) => {
          this.#halt()
          onFatal(error)
        },
      },
    )
  }

  /**
   * Resolves when a storage fault (a failed write, the disk under its minimum) has stopped the
   * node's work; the caller then stops the node and exits non-zero.
   */
  get fatal(): Promise<StorageError> {
    return this.#fatal
  }

  /**
   * Resolves when the chain reached the height of an enacted upgrade this version is too old for:
   * the node has stopped producing and voting with the upgrade height's parent as its head (state
   * intact); the caller stops it and exits, and the new version goes on from that head.
   */
  get upgradeRequired(): Promise<ChainError> {
    return this.#upgradeHalt
  }

  #checkUpgrade(chain: Chain): boolean {
    const upgrade = chain.upgradeRequired
    if (upgrade === undefined) return false
    const message = `upgrade required: governance proposal ${upgrade.proposal} scheduled version ${upgrade.version} from height ${upgrade.height}; this node runs ${this.options.softwareVersion ?? NODE_VERSION} and stopped with block ${chain.head.header.height} as its head (state intact): start version ${upgrade.version} or later on this home`
    void this.#producer?.stop()
    void this.#driver?.stop()
    this.#submission?.close('upgrade required')
    this.#onUpgradeHalt(new ChainError('UPGRADE_REQUIRED', message, { details: { proposal: upgrade.proposal, height: upgrade.height, version: upgrade.version, head: chain.head.header.height } }))
    return true
  }

  get storage(): StorageHealth {
    return this.#health
  }

  /**
   * Fail-stop, at once and synchronously: no block is sealed, no vote signed, no transaction
   * admitted after a write failed (the store refuses writes already; this stops the rest).
   */
  #halt(): void {
    void this.#producer?.stop()
    void this.#driver?.stop()
    this.#submission?.close(this.#health.fatal?.message ?? 'storage fault')
  }

  get chain(): Chain {
    if (this.#chain === undefined) throw new Error('node not started')
    return this.#chain
  }

  get network(): P2pNetwork | undefined {
    return this.#network
  }

  get consensus(): ConsensusDriver | undefined {
    return this.#driver
  }

  get sync(): BlockSync | undefined {
    return this.#sync
  }

  get training(): TrainingService | undefined {
    return this.#training
  }

  get blobs(): BlobStore | undefined {
    return this.#blobs
  }

  get rpcAddress(): { host: string; port: number } | undefined {
    return this.#rpc?.address
  }

  get metricsAddress(): { host: string; port: number } | undefined {
    return this.#metricsServer?.address
  }

  /**
   * Opens the store and starts every service. When one cannot start (a port taken, a corrupt
   * store), what already started is stopped again and the error is thrown: a node runs whole or
   * not at all, never headless without its RPC or network.
   */
  async start(): Promise<void> {
    try {
      await this.#start()
    } catch (error) {
      await this.stop().catch((stopError: unknown) => this.log.warn('stopping a node that failed to start failed too', { error: stopError }))
      throw error
    }
  }

  /** Records a started service's stop, to run when the node stops (in reverse order). */
  #onStop(name: string, stop: () => Promise<void> | void): void {
    this.#started.push({ name, stop })
  }

  async #start(): Promise<void> {
    const { options, log } = this
    await mkdir(options.home, { recursive: true })
    this.#health.start()
    this.#onStop('storage health', () => this.#health.stop())
    const dbPath = join(options.home, 'db')
    const checked = performance.now()
    const files = await checkStoreFiles(dbPath)
    log.debug('store files verified', { files: files.files, bytes: files.bytes, ms: Math.round(performance.now() - checked) })
    const store = await LevelStore.open(dbPath, { onWriteFailure: (error) => this.#health.writeFailed(dbPath, error) })
    this.#onStop('store', () => store.close())
    const runtime = createRuntime({ verifyEvidence: createEvidenceVerifier() })
    const chain = new Chain({ store, runtime, logger: log.child('chain'), validatorsHash: validatorsHashFromState, softwareVersion: options.softwareVersion ?? NODE_VERSION })
    this.#chain = chain
    await chain.open(options.spec, options.pruneWindow === undefined ? {} : { pruneWindow: options.pruneWindow })
    // an old binary restarted past an upgrade height refuses to run at all: nothing is written
    const required = chain.upgradeRequired
    if (required !== undefined) {
      throw new ChainError('UPGRADE_REQUIRED', `upgrade required: governance proposal ${required.proposal} scheduled version ${required.version} from height ${required.height}; this node runs ${options.softwareVersion ?? NODE_VERSION} (head ${chain.head.header.height}, state intact): start version ${required.version} or later on this home`)
    }
    // checked in the commit itself (listeners run before the next block is built or voted on)
    const unwatch = chain.onBlock(() => void this.#checkUpgrade(chain))
    this.#onStop('upgrade watch', () => void unwatch())

    const threads = options.verifierThreads
    const verifier = threads === 0 ? new InlineVerifier() : new WorkerPoolVerifier(threads === undefined ? {} : { threads }, { logger: log.child('verifier') })
    this.#verifier = verifier
    verifier.start()
    this.#onStop('verifier', () => verifier.stop())

    const mempool = new Mempool(options.mempool ?? {}, {
      runtime,
      accounts: {
        account: (account) => accountInfo(chain.state, account),
        locked: (account) => lockedOf(chain.state, account, chain.head.header.timestamp),
        // the next block's base fee, as the chain's head left it in state
        baseFeePerGas: () => chain.baseFeePerGas,
        chainId: () => options.spec.chainId,
      },
    })
    const journal = new TxJournal({ store, mempool, chain, logger: log.child('journal') })
    const submission = new TxSubmission({
      mempool,
      verifier,
      journal,
      metrics: this.metrics,
      prefetch: (items) => chain.state.prefetch(items.flatMap(({ tx, sender }) => runtime.accessHints(tx, sender))),
    })
    this.#submission = submission
    const watcher = new TxWatcher({ chain, mempool })
    this.#onStop('transaction watcher', () => watcher.stop())
    const informant = new Informant(options.informant ?? {}, { chain, mempool, peers: () => this.#network?.peers().length ?? 0, logger: log.child('informant') })
    informant.start()
    this.#onStop('informant', () => informant.stop())
    this.#trackMetrics(chain, mempool)

    if (options.blobs !== false) {
      const blobs = new BlobStore({ dir: join(options.home, 'blobs'), ...options.blobs }, { store, logger: log.child('blobs'), onWriteFailure: (path, error) => this.#health.writeFailed(path, error) })
      this.#blobs = blobs
      await blobs.start()
      this.#onStop('blob store', () => blobs.stop())
    }
    if (options.network !== undefined) await this.#startNetwork(options.network, chain, mempool, submission)
    // after the network, so replayed transactions are gossiped again like fresh local ones
    await journal.start((bytes, source) => submission.submit(bytes, source))
    this.#onStop('transaction journal', () => journal.stop())
    if (this.#blobs !== undefined) {
      const network = this.#network
      if (network !== undefined) serveBlobs(network, this.#blobs)
      const fetcher = network === undefined ? undefined : new BlobFetcher({ network, store: this.#blobs, logger: log.child('blobs') })
      // one signer of the operator's transactions for every service that submits them
      const operator = options.consensus?.operator ?? options.dev?.operator
      const transactions = operator === undefined ? undefined : new OperatorTransactions({
        chain,
        operator,
        nextNonce: (account) => mempool.nextNonce(account),
        submit: (bytes) => submission.submit(bytes),
        watch: (hash, listener) => watcher.watch(hash, listener),
      })
      this.#availability = new AvailabilityService({
        chain,
        store: this.#blobs,
        fetcher,
        transactions,
        logger: log.child('availability'),
      })
      const availability = this.#availability
      availability.start()
      this.#onStop('availability', () => availability.stop())
      const published = await publishShippedModels(this.#blobs)
      if (published > 0) log.debug('shipped base models in the blob store', { files: published })
      const resolver = new BaseModelResolver({ store: this.#blobs, fetcher })
      if (options.models !== false) {
        // the engine's kernel (WASM SIMD, or the bit-identical scalar build where SIMD does not
        // validate); a bad OPENLEDGER_ML_KERNEL setting fails the start here, not in a job
        log.info('training engine', { engine: ENGINE_VERSION, kernel: kernelKind() })
        this.#training = new TrainingService(
          { dir: trainingDir(options.home), ...(options.models?.threads === undefined ? {} : { threads: options.models.threads }), ...(options.models?.fault === undefined ? {} : { fault: options.models.fault }) },
          {
            chain,
            store: this.#blobs,
            fetcher,
            transactions,
            resolver,
            logger: log.child('training'),
          },
        )
        const training = this.#training
        training.start()
        this.#onStop('training', () => training.stop())
        if (transactions !== undefined && options.recheck !== false) {
          const recheck = new RecheckService(
            { dir: join(options.home, 'recheck'), ...(options.recheck?.fault === undefined ? {} : { fault: options.recheck.fault }) },
            { chain, transactions, store: this.#blobs, fetcher, resolver, logger: log.child('recheck') },
          )
          recheck.start()
          this.#onStop('recheck', () => recheck.stop())
        }
      }
      if (options.attribution !== false) {
        const attribution = new AttributionService(
          { dir: attributionDir(options.home), fault: options.attribution?.fault },
          { chain, store: this.#blobs, fetcher, transactions, resolver, logger: log.child('attribution') },
        )
        this.#attribution = attribution
        attribution.start()
        this.#onStop('attribution', () => attribution.stop())
      }
      if (options.provider !== undefined) {
        if (transactions === undefined) throw new ProviderError('NO_OPERATOR', 'an inference provider needs the operator key that signs its fulfilments')
        const provider = new ProviderService({ dir: join(options.home, 'provider'), ...options.provider }, { chain, transactions, blobs: this.#blobs, logger: log.child('provider') })
        this.#provider = provider
        await provider.start()
        this.#onStop('provider', () => provider.stop())
      }
    }
    if (options.rpc !== false) {
      const rpcHost = options.rpc?.host ?? RPC_SERVER_DEFAULTS.host
      if (options.rpcMethods === 'unsafe' && !isLoopback(rpcHost) && options.unsafeRpcExternal !== true) {
        throw new RpcServerError('UNSAFE_RPC_EXTERNAL', `refusing to serve operator-only RPC methods on ${rpcHost}, an address others can reach: bind the RPC to 127.0.0.1, or confirm with --unsafe-rpc-external`)
      }
      const methods = createRpcRegistry({
        chain,
        mempool,
        submission,
        watcher,
        nodeName: options.nodeName ?? 'openledger',
        version: NODE_VERSION,
        network: this.#network,
        consensus: this.#driver,
        sync: this.#sync,
        unsafeMethods: options.rpcMethods === 'unsafe',
        blobs: this.#blobs,
        training: this.#training,
        provider: this.#provider,
        attribution: this.#attribution,
        storage: this.#health,
        clock: this.#clockMonitor,
      })
      const rpc = new RpcServer({ ...options.rpc }, { logger: log, methods, metrics: this.metrics, site: loadExplorerSite() })
      this.#rpc = rpc
      await rpc.start()
      this.#onStop('rpc', () => rpc.stop())
      log.info('JSON-RPC listening', { url: `http://${this.#rpc.address.host}:${this.#rpc.address.port}` })
    }
    if (options.metrics !== false) {
      const metricsServer = new MetricsServer({ ...options.metrics }, { logger: log, registry: this.metrics.registry })
      this.#metricsServer = metricsServer
      await metricsServer.start()
      this.#onStop('metrics server', () => metricsServer.stop())
      log.info('metrics listening', { url: `http://${this.#metricsServer.address.host}:${this.#metricsServer.address.port}/metrics` })
    }
    if (options.dev !== undefined) {
      const producer = new DevBlockProducer(options.dev, { chain, mempool, clock: this.#clock, logger: log.child('producer'), metrics: this.metrics })
      this.#producer = producer
      producer.start()
      this.#onStop('producer', () => producer.stop())
    }
    log.info('node started', { chain: options.spec.id, height: chain.head.header.height, head: toHex(chain.head.hash) })
  }

  async #startNetwork(network: NonNullable<NodeOptions['network']>, chain: Chain, mempool: Mempool, submission: TxSubmission): Promise<void> {
    const { log, metrics } = this
    this.#network = new P2pNetwork(
      { nodeKey: network.nodeKey, listen: network.listen, bootnodes: network.bootnodes, genesisHash: (await chain.chainStore.genesisHash()) ?? new Uint8Array(32) },
      {
        logger: log.child('p2p'),
        metrics: { peers: metrics.p2pPeers, gossipMessages: metrics.p2pGossipMessages, reqRespRequests: metrics.p2pReqRespRequests, peerPenalties: metrics.p2pPeerPenalties, peerBans: metrics.p2pPeerBans },
      },
    )
    this.#gossipTransactions(this.#network, submission)
    const consensus = this.options.consensus
    if (consensus !== undefined) {
      const evidence = new EvidencePool({}, {
        verify: createEvidenceVerifier(),
        chainId: this.options.spec.chainId,
        nextHeight: () => chain.head.header.height + 1,
        isValidator: async (key) => validatorIndex(await validatorSetFromState(chain.state, chain.head.header.height + 1), key) !== undefined,
      })
      const beacon = consensus.validatorKey === undefined ? undefined : new BeaconReveals(consensus.validatorKey.secretKey)
      const consensusChain = new NodeConsensusChain({ chain, mempool, verifier: this.#verifier as SignatureVerifier, evidence, logger: log.child('consensus'), operator: consensus.operator, beacon })
      this.#network.subscribe(Topic.evidence, async ({ data }) => {
        const verdict = await evidence.add(data)
        // only bytes that prove nothing cost the sender: late evidence is merely useless
        return verdict === 'added' ? 'accept' : verdict === 'invalid' ? 'reject' : 'ignore'
      })
      this.#driver = new ConsensusDriver(
        {
          walDir: join(this.options.home, 'consensus', 'wal'),
          signGuardPath: join(this.options.home, 'consensus', 'sign-state.json'),
          validatorKey: consensus.validatorKey,
          ...(consensus.timeouts === undefined ? {} : { timeouts: consensus.timeouts }),
          blockTimeMs: consensus.blockTimeMs,
          timeliness: timelinessParamsOf(this.options.spec),
          ...(consensus.equivocate === true ? { equivocate: true } : {}),
          ...(consensus.observeVote === undefined ? {} : { observeVote: consensus.observeVote }),
        },
        {
          chain: consensusChain,
          network: createConsensusNetwork(this.#network),
          clock: this.#clock,
          logger: log.child('consensus'),
          metrics: { roundsPerHeight: metrics.consensusRoundsPerHeight, consensusHeight: metrics.consensusHeight, missedBlocks: metrics.consensusMissedBlocks, missedReveals: metrics.beaconMissedReveals, untimelyProposals: metrics.consensusUntimelyProposals },
          onWriteFailure: (error) => this.#health.writeFailed(pathOf(error, join(this.options.home, 'consensus')), error),
        },
      )
      this.#sync = new BlockSync({}, { chain, consensusChain, network: this.#network, logger: log.child('sync') })
      const driver = this.#driver
      const sync = this.#sync
      const unsubscribe = [sync.onImported(() => void driver.restartAtHead()), driver.onBehind(() => sync.trigger())]
      this.#onStop('sync and consensus wiring', () => unsubscribe.forEach((f) => f()))
    }
    this.#clockMonitor = new ClockMonitor(
      { timeliness: timelinessParamsOf(this.options.spec) },
      { network: this.#network, clock: this.#clock, logger: log.child('clock'), metrics: { peerOffsetSeconds: metrics.clockPeerOffset, skewed: metrics.clockSkewed } },
    )
    await mkdir(join(this.options.home, 'consensus'), { recursive: true })
    const p2p = this.#network
    await p2p.start()
    this.#onStop('network', () => p2p.stop())
    const clockMonitor = this.#clockMonitor
    clockMonitor.start()
    this.#onStop('clock monitor', () => clockMonitor.stop())
    const sync = this.#sync
    if (sync !== undefined) {
      await sync.start()
      this.#onStop('sync', () => sync.stop())
    }
    const driver = this.#driver
    if (driver !== undefined) {
      await driver.start()
      this.#onStop('consensus', () => driver.stop())
    }
    log.info('p2p started', { peerId: this.#network.peerId, listen: network.listen.join(','), validator: consensus?.validatorKey === undefined ? 'no' : toHex(consensus.validatorKey.publicKey).slice(0, 18) })
  }

  /**
   * Transactions travel on their topic in batches (see TxGossip): local submissions are queued
   * for the next batch; a peer's batch is admitted like RPC submissions — accepted (and forwarded)
   * when something in it was admitted, rejected (peer scored down) when any of it could never be
   * valid, ignored when it is merely not useful here (known, stale, pool full).
   */
  #gossipTransactions(network: P2pNetwork, submission: TxSubmission): void {
    const gossip = new TxGossip(
      { maxMessageBytes: DEFAULT_TOPIC_MAX_BYTES[Topic.transactions] },
      {
        publish: (bytes) => network.publish(Topic.transactions, bytes),
        submit: (bytes, source) => submission.submit(bytes, source),
        onPublishError: (error) => this.log.debug('publishing transactions failed', { error }),
      },
    )
    network.subscribe(Topic.transactions, ({ data }) => gossip.receive(data))
    const unsubscribe = submission.onAdmitted((bytes, source) => {
      if (source === 'local') gossip.enqueue(bytes)
    })
    this.#onStop('transaction gossip', () => {
      unsubscribe()
      gossip.stop()
    })
  }

  /**
   * Stops what started, in exactly the reverse order; what was committed stays committed. A stop
   * that fails does not keep the rest running: every one is called, and the first error is thrown.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stopAll()
    return this.#stopping
  }

  async #stopAll(): Promise<void> {
    let failure: { error: unknown } | undefined
    for (let next = this.#started.pop(); next !== undefined; next = this.#started.pop()) {
      this.log.debug('stopping', { service: next.name })
      try {
        await next.stop()
      } catch (error) {
        this.log.error('stopping failed', { service: next.name, error })
        failure ??= { error }
      }
    }
    this.log.info('node stopped')
    if (failure !== undefined) throw failure.error
  }

  /** The started services, in start order (stop() runs them the other way round). */
  get services(): string[] {
    return this.#started.map((entry) => entry.name)
  }

  #trackMetrics(chain: Chain, mempool: Mempool): void {
    const { metrics } = this
    metrics.chainHeadHeight.set(chain.head.header.height)
    metrics.chainFinalizedHeight.set(chain.finalized.header.height)
    const unsubscribe = chain.onBlock((block) => {
      metrics.chainHeadHeight.set(block.header.height)
      if (block.finalized) metrics.chainFinalizedHeight.set(block.header.height)
      metrics.blocksImported.inc()
      metrics.transactionsIncluded.inc(block.transactions.length)
      metrics.mempoolSize.set({ queue: 'ready' }, mempool.readyCount)
      metrics.mempoolSize.set({ queue: 'future' }, mempool.size - mempool.readyCount)
    })
    this.#onStop('metrics of blocks', unsubscribe)
  }
}
