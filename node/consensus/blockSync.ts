// Block sync: a node that is behind (new, restarted, or cut off) fetches finalized blocks from
// peers with their commit certificates, verifies each certificate against the validator set its
// own state gives for that height, executes and commits them, then hands over to consensus.
//
//   status          request: empty             response: [genesisHash, headHeight, headHash]
//   blocksByRange   request: [from, count]     response: [[block, certificate], …] (from ≥ 1,
//                                              count ≤ 32, stops early at 8 MiB or the head)
import { CodecError, decode, encode } from '../../runtime/codec/canonical.ts'
import { bytesEqual } from '../../runtime/codec/canonical.ts'
import { readArray, readBytes, readUint } from '../../runtime/codec/read.ts'
import { P2pError } from '../../p2p/errors.ts'
import { PenaltyReason, ReqRespProtocol, type NetworkPort } from '../../p2p/interface.ts'
import type { Chain } from '../chain/chain.ts'
import type { Logger } from '../../lib/logger.ts'
import { isPeerFault } from '../../consensus/errors.ts'
import { encodeBlock, type NodeConsensusChain } from './consensusChain.ts'

const MAX_BLOCKS_PER_REQUEST = 32
/** bytes: a range response stops growing past this */
const MAX_RANGE_RESPONSE_BYTES = 8 * 1024 * 1024

/** A blocks-by-range answer: [[block, certificate], …]; CodecError when it is not one. */
function decodeRange(response: Uint8Array): Array<[Uint8Array, Uint8Array]> {
  return readArray(decode(response, 32 * 1024 * 1024), 'range').map((item, i) => {
    const [block, certificate] = readArray(item, `range[${i}]`, 2)
    return [readBytes(block ?? null, 'block'), readBytes(certificate ?? null, 'certificate')]
  })
}

export interface PeerStatus {
  genesisHash: Uint8Array
  headHeight: number
  headHash: Uint8Array
}

export class BlockSync {
  readonly #chain: Chain
  readonly #consensusChain: NodeConsensusChain
  readonly #network: NetworkPort
  readonly #log: Logger
  readonly #intervalMs: number
  #timer: NodeJS.Timeout | undefined
  #running = false
  #syncing: Promise<void> | undefined
  #genesisHash: Uint8Array = new Uint8Array(32)
  #statuses = new Map<string, PeerStatus>()
  readonly #imported = new Set<(count: number) => void>()

  constructor(options: { intervalMs?: number }, components: { chain: Chain; consensusChain: NodeConsensusChain; network: NetworkPort; logger: Logger }) {
    this.#chain = components.chain
    this.#consensusChain = components.consensusChain
    this.#network = components.network
    this.#log = components.logger
    this.#intervalMs = options.intervalMs ?? 2_000
  }

  /** Called after blocks were imported by sync (consensus must restart at the new head). */
  onImported(listener: (count: number) => void): () => void {
    this.#imported.add(listener)
    return () => this.#imported.delete(listener)
  }

  /** The best height a peer reported, for system_syncState. */
  get highestPeerHeight(): number {
    let best = this.#chain.head.header.height
    for (const status of this.#statuses.values()) best = Math.max(best, status.headHeight)
    return best
  }

  get isSyncing(): boolean {
    return this.#syncing !== undefined
  }

  async start(): Promise<void> {
    this.#genesisHash = (await this.#chain.chainStore.genesisHash()) ?? new Uint8Array(32)
    this.#network.handle(ReqRespProtocol.status, async () => encode([this.#genesisHash, this.#chain.head.header.height, this.#chain.head.hash]))
    this.#network.handle(ReqRespProtocol.blocksByRange, (request) => this.#serveRange(request))
    this.#running = true
    this.#network.onPeerDisconnected((peer) => this.#statuses.delete(peer))
    const tick = () => {
      if (!this.#running) return
      this.trigger()
      this.#timer = setTimeout(tick, this.#intervalMs)
    }
    this.#timer = setTimeout(tick, 200)
  }

  async stop(): Promise<void> {
    this.#running = false
    clearTimeout(this.#timer)
    await this.#syncing
  }

  /** Starts a sync round unless one is running. */
  trigger(): void {
    if (!this.#running || this.#syncing !== undefined) return
    this.#syncing = this.#syncRound()
      .catch((error: unknown) => this.#log.warn('sync round failed', { error }))
      .finally(() => (this.#syncing = undefined))
  }

  async #serveRange(request: Uint8Array): Promise<Uint8Array> {
    let from: number
    let count: number
    try {
      const [a, b] = readArray(decode(request, 64), 'range', 2)
      from = readUint(a ?? null, 'from')
      count = readUint(b ?? null, 'count', MAX_BLOCKS_PER_REQUEST)
    } catch (cause) {
      throw new P2pError('INVALID_REQUEST', 'malformed blocks-by-range request', { cause })
    }
    if (from < 1 || count < 1) throw new P2pError('INVALID_REQUEST', 'blocks-by-range: from ≥ 1 and count ≥ 1')
    const out: Uint8Array[][] = []
    let bytes = 0
    for (let height = from; height < from + count && height <= this.#chain.head.header.height; height++) {
      const hash = await this.#chain.chainStore.getHash(height)
      const block = hash === undefined ? undefined : await this.#chain.chainStore.getBlock(hash)
      const certificate = hash === undefined ? undefined : await this.#chain.chainStore.getCommit(hash)
      if (block === undefined || certificate === undefined) break
      const encoded = encodeBlock(block.header, block.body)
      if (out.length > 0 && bytes + encoded.length > MAX_RANGE_RESPONSE_BYTES) break
      bytes += encoded.length + certificate.length
      out.push([encoded, certificate])
    }
    return encode(out)
  }

  async #status(peer: string): Promise<PeerStatus | undefined> {
    try {
      const bytes = await this.#network.request(peer, ReqRespProtocol.status, new Uint8Array(0), { timeoutMs: 3_000 })
      const [genesisHash, headHeight, headHash] = readArray(decode(bytes, 1024), 'status', 3)
      const status = { genesisHash: readBytes(genesisHash ?? null, 'genesisHash', 32), headHeight: readUint(headHeight ?? null, 'headHeight'), headHash: readBytes(headHash ?? null, 'headHash', 32) }
      if (!bytesEqual(status.genesisHash, this.#genesisHash)) return undefined
      this.#statuses.set(peer, status)
      return status
    } catch {
      return undefined
    }
  }

  async #syncRound(): Promise<void> {
    const peers = this.#network.peers()
    const statuses = await Promise.all(peers.map(async (peer) => ({ peer: peer.id, status: await this.#status(peer.id) })))
    const ahead = statuses
      .filter((s): s is { peer: string; status: PeerStatus } => s.status !== undefined && s.status.headHeight > this.#chain.head.header.height)
      .sort((a, b) => b.status.headHeight - a.status.headHeight)
    let imported = 0
    for (const { peer, status } of ahead) {
      while (this.#running && this.#chain.head.header.height < status.headHeight) {
        const from = this.#chain.head.header.height + 1
        const count = Math.min(MAX_BLOCKS_PER_REQUEST, status.headHeight - from + 1)
        let response: Uint8Array
        try {
          response = await this.#network.request(peer, ReqRespProtocol.blocksByRange, encode([from, count]))
        } catch (error) {
          this.#log.debug('blocks-by-range failed', { peer, error })
          break
        }
        let entries: Array<[Uint8Array, Uint8Array]>
        try {
          entries = decodeRange(response)
        } catch (error) {
          if (!(error instanceof CodecError)) throw error
          this.#log.warn('peer answered blocks-by-range with something else', { peer, error })
          this.#network.penalize(peer, PenaltyReason.invalidResponse)
          break
        }
        if (entries.length === 0) break
        try {
          for (const [block, certificate] of entries) {
            await this.#consensusChain.importCertified(block, certificate)
            imported++
          }
        } catch (error) {
          if (isPeerFault(error)) {
            this.#log.warn('peer served an invalid block', { peer, code: error.code, error })
            this.#network.penalize(peer, PenaltyReason.invalidBlock)
          } else {
            // our failure (a write, a read, a bug): the peer is not to blame and keeps its score
            this.#log.error('importing a synced block failed', { peer, error })
          }
          break
        }
      }
      if (this.#chain.head.header.height >= status.headHeight) break
    }
    if (imported > 0) {
      this.#log.info('synced blocks from peers', { imported, height: this.#chain.head.header.height })
      for (const listener of this.#imported) listener(imported)
    }
  }
}
