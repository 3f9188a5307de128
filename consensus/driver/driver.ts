// The consensus driver: runs the pure state machine (consensus/stateMachine.ts) against the real
// world — timers, the write-ahead log, signing with the double-sign guard, gossip — and the chain.
//
// Every input is appended to the WAL before the machine sees it; on restart the inputs of the
// unfinished height are replayed into a fresh machine, which re-derives the same state and the
// same (deterministically re-signed) votes. Own proposals and votes pass the sign guard (synced)
// and are synced into the WAL before they are published, then fed back as inputs like any peer's.
// Inputs are processed one at a time, in arrival order, through one queue.
//
// Gossip validation: malformed or wrongly signed messages are rejected (the peer is scored down);
// messages for past heights or too far ahead are ignored; messages for the next two heights are
// buffered (bounded) and replayed when that height starts.
//
// Time: a new block's time is this node's clock (the Clock port) when it proposes; a proposal's
// receive time is read from the same clock when the message arrives (gossip or catch-up), logged
// in the WAL with it, and judged by the timeliness rule (consensus/timeliness.ts) after the block
// was executed, so a replay re-derives the same verdict and the same votes.
//
// Catch-up: gossip is best effort (a message published before the mesh formed, or while a peer was
// down, is gone), so while a height makes no progress the driver asks its peers for every proposal
// and vote they hold for it (`consensusMessages` request/response) and validates the answers like
// gossip. A node also serves the previous height's messages, so a peer that missed the last
// precommits can still decide.
import { CodecError, CodecErrorCode, decode, encode, type Decoded } from '../../runtime/codec/canonical.ts'
import { readArray, readBytes, readString, readUint } from '../../runtime/codec/read.ts'
import { sha256, toHex } from '../../runtime/crypto/hash.ts'
import { OpenLedgerError } from '../../runtime/errors.ts'
import type { Logger } from '../../lib/logger.ts'
import { proposerFor } from '../proposer.ts'
import type { Clock } from '../clock.ts'
import { ConsensusStateMachine, type ConsensusState, type Input, type Output, type TimeoutConfig } from '../stateMachine.ts'
import { DEFAULT_TIMELINESS, type TimelinessParams } from '../../runtime/consensusParams.ts'
import { checkedTimelinessParams, messageDelayInRound, proposalTimeliness, type Timeliness } from '../timeliness.ts'
import {
  createCommitCertificate,
  decodeSignedProposal,
  decodeSignedVote,
  encodeEvidence,
  encodeSignedProposal,
  encodeSignedVote,
  proposalSignBytes,
  signProposal,
  signVote,
  validatorIndex,
  verifyProposalSignature,
  verifyVoteSignature,
  voteSignBytes,
  type SignedProposal,
  type SignedVote,
  type ValidatorSet,
} from '../types.ts'
import type { BlockCandidate, ConsensusChain, ConsensusNetwork, MessageVerdict } from './ports.ts'
import { SignGuard, SignStep } from './signGuard.ts'
import { ConsensusWal } from './wal.ts'

export type DriverErrorCode =
  | 'DRIVER_STOPPED'
  /** a peer's catch-up request that does not parse (the network adapter scores the asker down) */
  | 'INVALID_REQUEST'
export class DriverError extends OpenLedgerError<DriverErrorCode> {}

/** messages buffered for the next heights at most */
const MAX_FUTURE_MESSAGES = 10_000
/** bytes: a proposal message = signed proposal + its block */
const MAX_PROPOSAL_MESSAGE_BYTES = 17 * 1024 * 1024
/** messages kept per height for catch-up answers (votes of every round, proposals) */
const MAX_MESSAGES_PER_HEIGHT = 4_096
/** proposals in one catch-up answer (each carries a block): the latest rounds' */
const MAX_PROPOSALS_PER_ANSWER = 2
/** rounds a catch-up request may list as held; and the request's size limit */
const MAX_HELD_ROUNDS = 16
const MAX_CATCH_UP_REQUEST_BYTES = 256
/** peers asked per catch-up tick */
const CATCH_UP_PEERS = 3

export interface ConsensusDriverOptions {
  walDir: string
  signGuardPath: string
  /** this validator's ed25519 keys; undefined for a full node that follows without voting */
  validatorKey?: { secretKey: Uint8Array; publicKey: Uint8Array } | undefined
  timeouts?: Partial<TimeoutConfig>
  /** ms from the start of one height to the start of the next, at least: the target block time */
  blockTimeMs: number
  /** TEST ONLY: sign a second, conflicting prevote in every round (equivocation) */
  equivocate?: boolean
  /** called with every validly signed vote this node sees or makes (audits, tests) */
  observeVote?: (vote: SignedVote) => void
  /** ms without progress at a height before asking peers for its messages, and between asks */
  catchUpIntervalMs?: number
  /** the chain's timeliness parameters (its spec's consensus params); default DEFAULT_TIMELINESS */
  timeliness?: TimelinessParams
}

export interface ConsensusDriverComponents {
  chain: ConsensusChain
  network: ConsensusNetwork
  logger: Logger
  /** wall-clock time: block times and proposals' receive times */
  clock: Clock
  metrics?: {
    roundsPerHeight?: { observe(value: number): void }
    consensusHeight?: { set(value: number): void }
    /** decided blocks whose commit lacks this validator's precommit */
    missedBlocks?: { inc(): void }
    /**
     * proposers whose round of a decided height ended without their block: their beacon reveal
     * (and the block reward) went to a later round's proposer — withholding, or a fault, made visible
     */
    missedReveals?: { inc(labels: { validator: string }): void }
    /** proposals of new blocks judged not timely, by which bound they broke */
    untimelyProposals?: { inc(labels: { bound: Exclude<Timeliness, 'timely'> }): void }
  }
  /**
   * Called once when a write consensus depends on failed (the WAL, the sign guard, or the chain's
   * commit: any error whose code ends in _WRITE_FAILED). The driver has stopped by then: it
   * signs nothing more, because what it signed or saw may not be on disk.
   */
  onWriteFailure?: (error: Error) => void
}

/** A failed write, by the convention every storage error follows (WAL_WRITE_FAILED, DB_WRITE_FAILED, …). */
export function isWriteFailure(error: unknown): error is Error & { code: string } {
  const code = (error as { code?: unknown } | null)?.code
  return error instanceof Error && typeof code === 'string' && code.endsWith('_WRITE_FAILED')
}

/** WAL records (canonical arrays): what the machine consumed, in order. */
type WalRecord =
  | ['start', number]
  /** signed proposal, block, receive time by our clock (absent in records of older versions: no check) */
  | ['proposal', Uint8Array, Uint8Array, number?]
  | ['vote', Uint8Array]
  | ['timeout', string, number, number]

function decodeWalRecord(bytes: Uint8Array): WalRecord {
  const items = readArray(decode(bytes, MAX_PROPOSAL_MESSAGE_BYTES + 1024), 'wal')
  const kind = readString(items[0] ?? null, 'wal.kind', 16)
  switch (kind) {
    case 'start':
      return ['start', readUint(items[1] ?? null, 'wal.height')]
    case 'proposal':
      return items[3] === undefined
        ? ['proposal', readBytes(items[1] ?? null, 'wal.proposal'), readBytes(items[2] ?? null, 'wal.block')]
        : ['proposal', readBytes(items[1] ?? null, 'wal.proposal'), readBytes(items[2] ?? null, 'wal.block'), readUint(items[3], 'wal.receivedAt')]
    case 'vote':
      return ['vote', readBytes(items[1] ?? null, 'wal.vote')]
    case 'timeout':
      return ['timeout', readString(items[1] ?? null, 'wal.step', 16), readUint(items[2] ?? null, 'wal.height'), readUint(items[3] ?? null, 'wal.round')]
    default:
      throw new Error(`unknown WAL record ${kind}`)
  }
}

export function encodeProposalMessage(proposal: SignedProposal, block: Uint8Array): Uint8Array {
  return encode([encodeSignedProposal(proposal), block])
}

export function decodeProposalMessage(bytes: Uint8Array): { proposal: SignedProposal; proposalBytes: Uint8Array; block: Uint8Array } {
  const [proposalBytes, block] = readArray(decode(bytes, MAX_PROPOSAL_MESSAGE_BYTES), 'proposalMessage', 2) as [Decoded, Decoded]
  const raw = readBytes(proposalBytes, 'proposalMessage.proposal')
  return { proposal: decodeSignedProposal(raw), proposalBytes: raw, block: readBytes(block, 'proposalMessage.block') }
}

export class ConsensusDriver {
  readonly #options: ConsensusDriverOptions
  readonly #chain: ConsensusChain
  readonly #network: ConsensusNetwork
  readonly #log: Logger
  readonly #clock: Clock
  readonly #timeliness: TimelinessParams
  readonly #metrics: ConsensusDriverComponents['metrics']
  readonly #onWriteFailure: ConsensusDriverComponents['onWriteFailure']
  readonly #wal: ConsensusWal
  readonly #guard: SignGuard | undefined
  #machine: ConsensusStateMachine
  #height = 0
  #set: ValidatorSet | undefined
  #heightStartedAt = 0
  #queue: Promise<void> = Promise.resolve()
  #timers = new Set<NodeJS.Timeout>()
  /** receivedAt: a proposal's receive time by our clock */
  #future: Array<{ height: number; kind: 'proposal' | 'vote'; bytes: Uint8Array; receivedAt: number }> = []
  /** blocks we built or received this height, by hash hex */
  #blocks = new Map<string, Uint8Array>()
  #running = false
  #replaying = false
  #highestSeen = 0
  #behindListeners = new Set<(height: number) => void>()
  /** proposal messages and votes consumed at the current and the previous height, by content hash */
  #messages = new Map<string, CatchUpMessage>()
  #previousMessages = new Map<string, CatchUpMessage>()
  #catchUpTimer: NodeJS.Timeout | undefined
  #catchUpRunning = false

  constructor(options: ConsensusDriverOptions, components: ConsensusDriverComponents) {
    this.#options = options
    this.#chain = components.chain
    this.#network = components.network
    this.#log = components.logger
    this.#clock = components.clock
    this.#timeliness = checkedTimelinessParams(options.timeliness ?? DEFAULT_TIMELINESS)
    this.#metrics = components.metrics
    this.#onWriteFailure = components.onWriteFailure
    this.#wal = new ConsensusWal(options.walDir)
    this.#guard = options.validatorKey === undefined ? undefined : new SignGuard(options.signGuardPath)
    this.#machine = this.#newMachine()
  }

  #newMachine(): ConsensusStateMachine {
    const ownKey = this.#options.validatorKey?.publicKey
    return new ConsensusStateMachine({ ...(ownKey === undefined ? {} : { ownKey }), ...(this.#options.timeouts === undefined ? {} : { timeouts: this.#options.timeouts }) })
  }

  get height(): number {
    return this.#height
  }

  state(): ConsensusState & { validators: ValidatorSet | undefined } {
    return { ...this.#machine.state(), validators: this.#set }
  }

  /** Called with a height some peer is known to be at, when it is beyond what consensus can catch up. */
  onBehind(listener: (height: number) => void): () => void {
    this.#behindListeners.add(listener)
    return () => this.#behindListeners.delete(listener)
  }

  async start(): Promise<void> {
    this.#running = true
    this.#network.subscribe('votes', (data) => this.#onVoteMessage(data))
    this.#network.subscribe('proposals', (data) => this.#onProposalMessage(data))
    this.#network.serveCatchUp((request) => this.#serveCatchUp(request))
    await this.#enqueue(() => this.#startHeight(this.#chain.headHeight() + 1, true))
    const interval = this.#options.catchUpIntervalMs ?? 1_000
    this.#catchUpTimer = setInterval(() => void this.#catchUp(interval), interval)
  }

  async stop(): Promise<void> {
    this.#running = false
    clearInterval(this.#catchUpTimer)
    for (const timer of this.#timers) clearTimeout(timer)
    this.#timers.clear()
    await this.#queue.catch(() => {})
    this.#wal.close()
  }

  /** Fail-stop after a failed write: nothing more is signed, timed out or logged. */
  #halt(error: Error): void {
    if (!this.#running) return
    this.#running = false
    clearInterval(this.#catchUpTimer)
    for (const timer of this.#timers) clearTimeout(timer)
    this.#timers.clear()
    this.#wal.close()
    this.#log.error('consensus stopped: a write failed', { error: error.message })
    this.#onWriteFailure?.(error)
  }

  /** After sync committed blocks behind our back: drop the current height and start at the head. */
  async restartAtHead(): Promise<void> {
    await this.#enqueue(async () => {
      const next = this.#chain.headHeight() + 1
      if (next !== this.#height) await this.#startHeight(next, false)
    })
  }

  #enqueue(task: () => Promise<void> | void): Promise<void> {
    const run = this.#queue.then(async () => {
      if (!this.#running) return
      await task()
    })
    this.#queue = run.catch((error: unknown) => {
      if (isWriteFailure(error)) return this.#halt(error)
      this.#log.error('consensus step failed', { error, stack: error instanceof Error ? error.stack : undefined })
    })
    return this.#queue
  }

  // ---------------------------------------------------------------------------------------------
  // Heights

  async #startHeight(height: number, replayWal: boolean): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer)
    this.#timers.clear()
    this.#height = height
    this.#set = await this.#chain.validatorSet(height)
    this.#machine = this.#newMachine()
    this.#blocks.clear()
    this.#previousMessages = this.#messages
    this.#messages = new Map()
    this.#heightStartedAt = performance.now()
    this.#metrics?.consensusHeight?.set(height)
    const records = this.#wal.openHeight(height)
    if (replayWal && records.length > 0) {
      this.#log.info('replaying consensus WAL', { height, records: records.length })
      this.#replaying = true
      try {
        for (const bytes of records) {
          let record: WalRecord
          try {
            record = decodeWalRecord(bytes)
          } catch (error) {
            this.#log.warn('skipping unreadable WAL record', { error })
            continue
          }
          await this.#consume(record, false)
        }
      } finally {
        this.#replaying = false
      }
      // a replayed start is enough; otherwise fall through to start fresh
      if (this.#machine.state().height === height) return this.#drainFuture()
    }
    await this.#consume(['start', height], true)
    await this.#drainFuture()
  }

  async #drainFuture(): Promise<void> {
    const now = this.#future.filter((m) => m.height === this.#height)
    this.#future = this.#future.filter((m) => m.height > this.#height)
    for (const message of now) {
      if (message.kind === 'vote') await this.#processVote(message.bytes)
      else await this.#processProposal(message.bytes, message.receivedAt)
    }
  }

  /** Logs (unless replaying) and applies one input, then carries out the outputs. */
  async #consume(record: WalRecord, log: boolean): Promise<void> {
    if (log) this.#wal.append(encode(record as unknown as Decoded), { sync: false })
    if (record[0] === 'vote') this.#remember({ kind: 'vote', bytes: record[1] })
    else if (record[0] === 'proposal') this.#remember({ kind: 'proposal', bytes: encode([record[1], record[2]]), round: decodeSignedProposal(record[1]).round })
    const input = await this.#toInput(record)
    if (input === undefined) return
    const outputs = this.#machine.apply(input)
    for (const output of outputs) await this.#act(output)
  }

  async #toInput(record: WalRecord): Promise<Input | undefined> {
    const set = this.#set as ValidatorSet
    switch (record[0]) {
      case 'start':
        return { type: 'start', height: record[1], validatorSet: set }
      case 'vote':
        return { type: 'vote', vote: decodeSignedVote(record[1]) }
      case 'timeout':
        return { type: 'timeout', step: record[1] as 'propose' | 'prevote' | 'precommit', height: record[2], round: record[3] }
      case 'proposal': {
        const proposal = decodeSignedProposal(record[1])
        const known = this.#blocks.get(toHex(proposal.blockHash))
        const block = known ?? record[2]
        const result = await this.#chain.validateBlock(block)
        const valid = result.valid && result.height === proposal.height && toHex(result.hash) === toHex(proposal.blockHash)
        if (!valid) this.#log.warn('proposed block is invalid', { height: proposal.height, round: proposal.round, reason: result.reason ?? 'hash or height mismatch' })
        else this.#blocks.set(toHex(proposal.blockHash), block)
        const receivedAt = record[3]
        // a re-proposal's proof-of-lock stands for its timeliness (consensus/timeliness.ts)
        if (!valid || proposal.polRound !== -1 || receivedAt === undefined) return { type: 'proposal', proposal, blockValid: valid }
        const timeliness = proposalTimeliness(result.time, receivedAt, this.#timeliness, proposal.round)
        if (timeliness !== 'timely' && !this.#replaying) {
          this.#metrics?.untimelyProposals?.inc({ bound: timeliness })
          this.#log.warn('proposal is not timely: prevoting nil', {
            height: proposal.height, round: proposal.round, proposer: toHex(proposal.proposer).slice(0, 18), blockTime: result.time, receivedAt,
            aheadMs: result.time - receivedAt, bound: timeliness, precisionMs: this.#timeliness.precisionMs, messageDelayMs: messageDelayInRound(this.#timeliness, proposal.round),
          })
        }
        return { type: 'proposal', proposal, blockValid: valid, timely: timeliness === 'timely' }
      }
    }
  }

  async #act(output: Output): Promise<void> {
    switch (output.type) {
      case 'scheduleTimeout': {
        const timer = setTimeout(() => {
          this.#timers.delete(timer)
          void this.#enqueue(() => {
            if (output.height !== this.#height) return
            this.#log.debug('timeout', { step: output.step, height: output.height, round: output.round, ms: Math.round(performance.now() - this.#heightStartedAt) })
            return this.#consume(['timeout', output.step, output.height, output.round], true)
          })
        }, output.durationMs)
        this.#timers.add(timer)
        return
      }
      case 'propose':
        return this.#propose(output.height, output.round, output.blockHash, output.polRound)
      case 'vote':
        return this.#vote(output.voteType, output.height, output.round, output.blockHash)
      case 'decide':
        return this.#decide(output.height, output.round, output.blockHash, output.commit)
      case 'evidence': {
        const bytes = encodeEvidence(output.evidence)
        this.#log.warn('equivocation detected', { height: output.evidence.voteA.height, validator: toHex(output.evidence.voteA.validator) })
        this.#chain.reportEvidence(bytes)
        await this.#network.publish('evidence', bytes).catch(() => {})
        return
      }
      case 'requestBlock':
        this.#log.debug('quorum for a block we do not have', { height: output.height, round: output.round, block: toHex(output.blockHash) })
        return
    }
  }

  async #propose(height: number, round: number, reuse: Uint8Array | undefined, polRound: number): Promise<void> {
    const key = this.#options.validatorKey
    // when replaying, the WAL holds the proposal we made (if we got as far as signing it)
    if (key === undefined || this.#replaying) return
    let block: Omit<BlockCandidate, 'time'> | undefined
    /** a new block's time: a re-proposal's was judged in its proof-of-lock round */
    let newBlockTime: number | undefined
    if (reuse !== undefined) {
      const bytes = this.#blocks.get(toHex(reuse))
      if (bytes !== undefined) block = { hash: reuse, height, bytes }
    }
    if (block === undefined) {
      if (reuse !== undefined) return // cannot re-propose what we do not have: the round times out
      const built = await this.#chain.buildBlock(height, key.publicKey, this.#clock.now())
      block = built
      newBlockTime = built.time
    }
    this.#blocks.set(toHex(block.hash), block.bytes)
    const proposal = { height, round, blockHash: block.hash, polRound, proposer: key.publicKey }
    if (!this.#authorize(height, round, SignStep.proposal, proposalSignBytes(this.#chain.chainId, proposal))) return
    const signed = signProposal(this.#chain.chainId, proposal, key.secretKey)
    // our own proposal is received now, and judged like any other (an own block whose time had to
    // follow a parent from the future is not timely here either)
    const receivedAt = this.#clock.now()
    const record: WalRecord = ['proposal', encodeSignedProposal(signed), block.bytes, receivedAt]
    this.#wal.append(encode(record as unknown as Decoded), { sync: true })
    if (!this.#replaying) this.#log.debug('proposing', { height, round, block: toHex(block.hash).slice(0, 18) })
    const message = encodeProposalMessage(signed, block.bytes)
    this.#remember({ kind: 'proposal', bytes: message, round })
    await this.#network.publish('proposals', message).catch((error: unknown) => this.#log.warn('publishing proposal failed', { error }))
    // our own proposal is an input like any other (already in the WAL)
    const timely = newBlockTime === undefined || proposalTimeliness(newBlockTime, receivedAt, this.#timeliness, round) === 'timely'
    const outputs = this.#machine.apply({ type: 'proposal', proposal: signed, blockValid: true, timely })
    for (const output of outputs) await this.#act(output)
  }

  async #vote(type: 'prevote' | 'precommit', height: number, round: number, blockHash: Uint8Array | undefined): Promise<void> {
    const key = this.#options.validatorKey
    if (key === undefined) return
    const vote = { type, height, round, blockHash, validator: key.publicKey }
    if (!this.#authorize(height, round, type === 'prevote' ? SignStep.prevote : SignStep.precommit, voteSignBytes(this.#chain.chainId, vote))) return
    const signed = signVote(this.#chain.chainId, vote, key.secretKey)
    this.#options.observeVote?.(signed)
    const bytes = encodeSignedVote(signed)
    if (!this.#replaying) this.#wal.append(encode(['vote', bytes]), { sync: true })
    this.#remember({ kind: 'vote', bytes })
    await this.#network.publish('votes', bytes).catch((error: unknown) => this.#log.warn('publishing vote failed', { error }))
    if (this.#options.equivocate === true && type === 'prevote' && !this.#replaying) {
      // TEST ONLY: a second prevote for something else in the same round
      const conflicting = signVote(this.#chain.chainId, { ...vote, blockHash: blockHash === undefined ? sha256(Uint8Array.of(height, round)) : undefined }, key.secretKey)
      this.#options.observeVote?.(conflicting)
      this.#log.warn('equivocating (test mode)', { height, round })
      await this.#network.publish('votes', encodeSignedVote(conflicting)).catch(() => {})
    }
    const outputs = this.#machine.apply({ type: 'vote', vote: signed })
    for (const output of outputs) await this.#act(output)
  }

  /** The sign guard, unless replaying (a replayed message re-signs the identical bytes). */
  #authorize(height: number, round: number, step: SignStep, signBytes: Uint8Array): boolean {
    if (this.#guard === undefined) return false
    try {
      this.#guard.authorize({ height, round, step, digest: toHex(sha256(signBytes)) })
      return true
    } catch (error) {
      // a guard that cannot record what it signs stops consensus (see #halt), never just skips a vote
      if (isWriteFailure(error)) throw error
      this.#log.error('refused to sign', { error })
      return false
    }
  }

  async #decide(height: number, round: number, blockHash: Uint8Array, commit: readonly SignedVote[]): Promise<void> {
    const set = this.#set as ValidatorSet
    const certificate = createCommitCertificate(set, height, round, blockHash, commit)
    if (!this.#blocks.has(toHex(blockHash))) {
      this.#log.warn('decided a block we do not have; waiting for sync', { height })
      for (const listener of this.#behindListeners) listener(height)
      return
    }
    await this.#chain.commitBlock(blockHash, certificate)
    this.#metrics?.roundsPerHeight?.observe(round + 1)
    if (!this.#replaying) this.#log.info('finalized', { height, round, block: toHex(blockHash).slice(0, 18), signatures: certificate.signatures.length, ms: Math.round(performance.now() - this.#heightStartedAt) })
    if (!this.#replaying) for (let missed = 0; missed < round; missed++) this.#metrics?.missedReveals?.inc({ validator: toHex(proposerFor(set, height, missed).publicKey).slice(0, 18) })
    const ownKey = this.#options.validatorKey?.publicKey
    if (ownKey !== undefined) {
      const own = validatorIndex(set, ownKey)
      if (own !== undefined && !certificate.signatures.some((signature) => signature.validatorIndex === own)) this.#metrics?.missedBlocks?.inc()
    }
    const elapsed = performance.now() - this.#heightStartedAt
    const wait = Math.max(0, this.#options.blockTimeMs - elapsed)
    const timer = setTimeout(() => {
      this.#timers.delete(timer)
      void this.#enqueue(() => (this.#chain.headHeight() + 1 > this.#height ? this.#startHeight(this.#chain.headHeight() + 1, false) : undefined))
    }, wait)
    this.#timers.add(timer)
  }

  // ---------------------------------------------------------------------------------------------
  // Gossip

  #classify(height: number): 'now' | 'future' | 'past' | 'far' {
    if (height === this.#height) return 'now'
    if (height < this.#height) return 'past'
    if (height <= this.#height + 2) return 'future'
    return 'far'
  }

  #noteHeight(height: number): void {
    if (height > this.#highestSeen) this.#highestSeen = height
    if (height > this.#height + 1) for (const listener of this.#behindListeners) listener(height)
  }

  #bufferFuture(height: number, kind: 'proposal' | 'vote', bytes: Uint8Array, receivedAt = 0): void {
    if (this.#future.length >= MAX_FUTURE_MESSAGES) this.#future.shift()
    this.#future.push({ height, kind, bytes, receivedAt })
  }

  #onVoteMessage(bytes: Uint8Array): MessageVerdict {
    if (this.#messages.has(messageKey(bytes))) return 'ignore'
    let vote: SignedVote
    try {
      vote = decodeSignedVote(bytes)
    } catch {
      return 'reject'
    }
    if (!verifyVoteSignature(this.#chain.chainId, vote)) return 'reject'
    this.#options.observeVote?.(vote)
    const where = this.#classify(vote.height)
    this.#noteHeight(vote.height)
    if (where === 'past' || where === 'far') return 'ignore'
    if (where === 'future') {
      this.#bufferFuture(vote.height, 'vote', bytes)
      return 'accept'
    }
    if (this.#set !== undefined && validatorIndex(this.#set, vote.validator) === undefined) return 'reject'
    void this.#enqueue(() => this.#processVote(bytes))
    return 'accept'
  }

  async #processVote(bytes: Uint8Array): Promise<void> {
    const vote = decodeSignedVote(bytes)
    if (vote.height !== this.#height) return
    await this.#consume(['vote', bytes], true)
  }

  #onProposalMessage(bytes: Uint8Array): MessageVerdict {
    if (this.#messages.has(messageKey(bytes))) return 'ignore'
    // before anything else: decoding, queueing and executing are not part of the message's delay
    const receivedAt = this.#clock.now()
    let message: ReturnType<typeof decodeProposalMessage>
    try {
      message = decodeProposalMessage(bytes)
    } catch {
      return 'reject'
    }
    const { proposal } = message
    if (!verifyProposalSignature(this.#chain.chainId, proposal)) return 'reject'
    const where = this.#classify(proposal.height)
    this.#noteHeight(proposal.height)
    if (where === 'past' || where === 'far') return 'ignore'
    if (where === 'future') {
      this.#bufferFuture(proposal.height, 'proposal', bytes, receivedAt)
      return 'accept'
    }
    if (this.#set !== undefined && toHex(proposerFor(this.#set, proposal.height, proposal.round).publicKey) !== toHex(proposal.proposer)) return 'reject'
    void this.#enqueue(() => this.#processProposal(bytes, receivedAt))
    return 'accept'
  }

  async #processProposal(bytes: Uint8Array, receivedAt: number): Promise<void> {
    const { proposal, proposalBytes, block } = decodeProposalMessage(bytes)
    if (proposal.height !== this.#height) return
    const set = this.#set as ValidatorSet
    if (toHex(proposerFor(set, proposal.height, proposal.round).publicKey) !== toHex(proposal.proposer)) return
    const startedMs = performance.now()
    await this.#consume(['proposal', proposalBytes, block, receivedAt], true)
    this.#log.debug('proposal', { height: proposal.height, round: proposal.round, bytes: block.length, atMs: Math.round(startedMs - this.#heightStartedAt), validateMs: Math.round(performance.now() - startedMs) })
  }

  // ---------------------------------------------------------------------------------------------
  // Catch-up

  #remember(message: CatchUpMessage): void {
    if (this.#messages.size >= MAX_MESSAGES_PER_HEIGHT) return
    this.#messages.set(messageKey(message.bytes), message)
  }

  /**
   * Request: `[height]` or `[height, [rounds]]`, the rounds whose proposal the asker already holds
   * (each carries a block: a slow height must not pull every block again every second). Answer:
   * `[[proposal messages], [votes]]` we hold for that height, without proposals of those rounds.
   */
  #serveCatchUp(request: Uint8Array): Uint8Array {
    let height: number
    let held: Set<number>
    try {
      const items = readArray(decode(request, MAX_CATCH_UP_REQUEST_BYTES), 'catchUp')
      if (items.length < 1 || items.length > 2) throw new Error('catchUp: expected [height] or [height, rounds]')
      height = readUint(items[0] ?? null, 'catchUp.height')
      const rounds = items[1] === undefined ? [] : readArray(items[1], 'catchUp.rounds')
      if (rounds.length > MAX_HELD_ROUNDS) throw new Error(`catchUp.rounds: at most ${MAX_HELD_ROUNDS}`)
      held = new Set(rounds.map((round, i) => readUint(round, `catchUp.rounds[${i}]`)))
    } catch (error) {
      throw new DriverError('INVALID_REQUEST', 'a catch-up request is [height] or [height, [rounds]]', { cause: error })
    }
    const kept = height === this.#height ? this.#messages : height === this.#height - 1 ? this.#previousMessages : undefined
    const messages = [...(kept?.values() ?? [])]
    const proposals = messages
      .filter((m) => m.kind === 'proposal' && !held.has(m.round))
      .slice(-MAX_PROPOSALS_PER_ANSWER)
      .map((m) => m.bytes)
    const votes = messages.filter((m) => m.kind === 'vote').map((m) => m.bytes)
    return encode([proposals, votes])
  }

  /** While a height makes no progress, asks a few peers for its messages and validates them like gossip. */
  async #catchUp(intervalMs: number): Promise<void> {
    if (!this.#running || this.#catchUpRunning || performance.now() - this.#heightStartedAt < intervalMs) return
    this.#catchUpRunning = true
    const height = this.#height
    try {
      const peers = this.#network.peers()
      for (let i = peers.length - 1; i > 0; i--) {
        const j = Math.floor(Math.random() * (i + 1))
        ;[peers[i], peers[j]] = [peers[j] as string, peers[i] as string]
      }
      await Promise.all(peers.slice(0, CATCH_UP_PEERS).map((peer) => this.#catchUpFrom(peer, height)))
    } finally {
      this.#catchUpRunning = false
    }
  }

  /** The rounds of this height whose proposal we hold (the latest MAX_HELD_ROUNDS). */
  #heldProposalRounds(): number[] {
    const rounds = new Set<number>()
    for (const message of this.#messages.values()) if (message.kind === 'proposal') rounds.add(message.round)
    return [...rounds].sort((a, b) => a - b).slice(-MAX_HELD_ROUNDS)
  }

  async #catchUpFrom(peer: string, height: number): Promise<void> {
    let answer: Uint8Array
    try {
      answer = await this.#network.requestCatchUp(peer, encode([height, this.#heldProposalRounds()]))
    } catch (error) {
      this.#log.debug('catch-up request failed', { peer, height, error })
      return
    }
    let proposals: Uint8Array[]
    let votes: Uint8Array[]
    try {
      const [proposalItems, voteItems] = readArray(decode(answer, MAX_PROPOSAL_MESSAGE_BYTES * MAX_PROPOSALS_PER_ANSWER + 8 * 1024 * 1024), 'catchUp', 2) as [Decoded, Decoded]
      proposals = readArray(proposalItems, 'catchUp.proposals').map((item, i) => readBytes(item, `catchUp.proposals[${i}]`))
      votes = readArray(voteItems, 'catchUp.votes').map((item, i) => readBytes(item, `catchUp.votes[${i}]`))
      if (proposals.length > MAX_PROPOSALS_PER_ANSWER || votes.length > MAX_MESSAGES_PER_HEIGHT) throw new CodecError(CodecErrorCode.tooLarge, 'catchUp: too many messages')
    } catch (error) {
      // only an answer that is not one is the peer's fault; anything else is our bug
      if (!(error instanceof CodecError)) {
        this.#log.error('reading a catch-up answer failed', { peer, height, error })
        return
      }
      this.#network.penalize(peer, 'invalidResponse')
      return
    }
    let penalized = false
    for (const bytes of proposals) if (this.#onProposalMessage(bytes) === 'reject' && !penalized) penalized = true
    for (const bytes of votes) if (this.#onVoteMessage(bytes) === 'reject' && !penalized) penalized = true
    if (penalized) this.#network.penalize(peer, 'invalidMessage')
  }
}

type CatchUpMessage = { kind: 'proposal'; bytes: Uint8Array; round: number } | { kind: 'vote'; bytes: Uint8Array }

function messageKey(bytes: Uint8Array): string {
  return toHex(sha256(bytes))
}
