// The chain as the consensus driver sees it (consensus/driver/ports.ts), over node/chain's Chain:
// validator sets from the staking module, blocks built from the mempool, proposed blocks decoded,
// signature-checked off the main thread and executed, commits written with their certificate.
// Every commit goes through one lock, so consensus and block sync never race on the head.
import { CodecError, decode, encode } from '../../runtime/codec/canonical.ts'
import { readArray, readBytes } from '../../runtime/codec/read.ts'
import { bytesEqual } from '../../runtime/codec/canonical.ts'
import { sha256, toHex } from '../../runtime/crypto/hash.ts'
import type { Address } from '../../runtime/crypto/secp256k1.ts'
import { decodeBody, decodeHeader, encodeBody, encodeHeader, hashHeader, MAX_BLOCK_BYTES, ZERO_HASH, type BlockBody, type BlockHeader } from '../../runtime/block.ts'
import { beaconChains, beaconGenerations, validatorByKey, validatorSetAt } from '../../runtime/modules/staking/index.ts'
import type { StateReader } from '../../runtime/state/overlay.ts'
import { decodeTransaction, type Transaction } from '../../runtime/transaction.ts'
import { createValidatorSet, decodeCommitCertificate, encodeCommitCertificate, validatorSetHash, verifyCommit, type CommitCertificate, type ValidatorSet } from '../../consensus/types.ts'
import type { BlockCandidate, ConsensusChain } from '../../consensus/driver/ports.ts'
import { BlockImportError, isPeerFault, type BlockImportErrorCode } from '../../consensus/errors.ts'
import { ChainError, type Chain, type ExecutedBlock } from '../chain/chain.ts'
import { OpenLedgerError } from '../../runtime/errors.ts'
import type { Logger } from '../../lib/logger.ts'
import type { Mempool } from '../mempool/mempool.ts'
import type { EvidencePool } from './evidencePool.ts'
import type { SignatureVerifier } from '../workers/signatureVerifier.ts'
import type { BeaconReveals } from './beaconReveals.ts'

/**
 * The driver asked for something this chain cannot do: build a height that does not follow the
 * head (NOT_NEXT_HEIGHT), commit a block it did not execute (NOT_EXECUTED). Our own fault, never a
 * peer's (isPeerFault is false): the driver logs it and moves on with the next round.
 */
export type ConsensusChainErrorCode = 'NOT_NEXT_HEIGHT' | 'NOT_EXECUTED'
export class ConsensusChainError extends OpenLedgerError<ConsensusChainErrorCode> {}

/** A block on the wire: encode([header, body]). */
export function encodeBlock(header: BlockHeader, body: BlockBody): Uint8Array {
  return encode([encodeHeader(header), encodeBody(body)])
}

/** Decodes a block a peer sent; BlockImportError UNDECODABLE when it is not one. */
export function decodeBlock(bytes: Uint8Array): { header: BlockHeader; body: BlockBody; hash: Uint8Array } {
  return fromPeer('UNDECODABLE', 'block', () => {
    const [header, body] = readArray(decode(bytes, MAX_BLOCK_BYTES + 8192), 'block', 2)
    const decodedHeader = decodeHeader(readBytes(header ?? null, 'block.header'))
    return { header: decodedHeader, body: decodeBody(readBytes(body ?? null, 'block.body')), hash: hashHeader(decodedHeader) }
  })
}

/** Runs a decoder over a peer's bytes: its CodecError is the peer's fault, anything else ours. */
function fromPeer<T>(code: BlockImportErrorCode, what: string, decoder: () => T): T {
  try {
    return decoder()
  } catch (cause) {
    if (cause instanceof CodecError) throw new BlockImportError(code, `${what}: ${cause.message}`, { cause })
    throw cause
  }
}

const PEER_FAULT_CODES: ReadonlySet<string> = new Set<BlockImportErrorCode>(['INVALID_BLOCK', 'UNKNOWN_PARENT', 'MISSING_REVEAL', 'WRONG_REVEAL'])

/** The chain's verdicts on a peer's block, as import errors; any other ChainError is ours. */
function chainVerdict(cause: unknown): unknown {
  if (cause instanceof ChainError && PEER_FAULT_CODES.has(cause.code)) return new BlockImportError(cause.code as BlockImportErrorCode, cause.message, { cause })
  return cause
}

/** The validator set that votes on `height`, from the staking module's state. */
export async function validatorSetFromState(state: StateReader, height: number): Promise<ValidatorSet> {
  const members = await validatorSetAt(state, height)
  return createValidatorSet(members.map((m) => ({ publicKey: m.consensusKey, power: m.power, address: m.operator })))
}

export async function validatorsHashFromState(state: StateReader, height: number): Promise<Uint8Array> {
  const members = await validatorSetAt(state, height)
  if (members.length === 0) return new Uint8Array(32)
  return validatorSetHash(createValidatorSet(members.map((m) => ({ publicKey: m.consensusKey, power: m.power, address: m.operator }))))
}

export interface ConsensusChainComponents {
  chain: Chain
  mempool: Mempool
  verifier: SignatureVerifier
  evidence: EvidencePool
  logger: Logger
  /** the account credited with this validator's tips */
  operator?: { address: Address; privateKey: Uint8Array } | undefined
  /** this validator's beacon reveals (a validator node; a follower proposes nothing) */
  beacon?: BeaconReveals | undefined
}

export class NodeConsensusChain implements ConsensusChain {
  readonly chainId: number
  readonly #chain: Chain
  readonly #mempool: Mempool
  readonly #verifier: SignatureVerifier
  readonly #evidence: EvidencePool
  readonly #log: Logger
  readonly #operator: ConsensusChainComponents['operator']
  readonly #beacon: BeaconReveals | undefined
  /** executed blocks on the current head, by hash */
  #executed = new Map<string, ExecutedBlock>()
  #lock: Promise<void> = Promise.resolve()
  #committedListeners = new Set<() => void>()

  constructor(components: ConsensusChainComponents) {
    this.#chain = components.chain
    this.#mempool = components.mempool
    this.#verifier = components.verifier
    this.#evidence = components.evidence
    this.#log = components.logger
    this.#operator = components.operator
    this.#beacon = components.beacon
    this.chainId = components.chain.spec.chainId
  }

  headHeight(): number {
    return this.#chain.head.header.height
  }

  validatorSet(height: number): Promise<ValidatorSet> {
    return validatorSetFromState(this.#chain.state, height)
  }

  onCommitted(listener: () => void): () => void {
    this.#committedListeners.add(listener)
    return () => this.#committedListeners.delete(listener)
  }

  /** Runs `task` alone: commits from consensus and from sync never interleave. */
  exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(task)
    this.#lock = run.then(() => undefined, () => undefined)
    return run
  }

  async #lastCommitSigners(lastCommit: Uint8Array): Promise<Uint8Array[] | undefined> {
    if (lastCommit.length === 0) return undefined
    const certificate = decodeCommitCertificate(lastCommit)
    const set = await this.validatorSet(certificate.height)
    return certificate.signatures.map((s) => set.validators[s.validatorIndex]?.publicKey).filter((key): key is Uint8Array => key !== undefined)
  }

  async buildBlock(height: number, proposerKey: Uint8Array, time: number): Promise<BlockCandidate> {
    return this.exclusive(async () => {
      const head = this.#chain.head
      if (head.header.height + 1 !== height) throw new ConsensusChainError('NOT_NEXT_HEIGHT', `cannot build height ${height} on head ${head.header.height}`, { details: { height, head: head.header.height } })
      const lastCommit = head.header.height === 0 ? new Uint8Array(0) : ((await this.#chain.chainStore.getCommit(head.hash)) ?? new Uint8Array(0))
      const lastCommitSigners = await this.#lastCommitSigners(lastCommit)
      const source = this.#mempool.selectForBlock()
      function* candidates(): Generator<{ tx: Transaction; sender: Address }, void, { skipSender?: boolean } | undefined> {
        let step = source.next()
        while (step.done !== true) {
          const feedback = yield { tx: step.value.tx, sender: step.value.sender }
          step = source.next(feedback)
        }
      }
      const built = await this.#chain.buildBlock(
        {
          timestamp: time, author: this.#operator?.address ?? new Uint8Array(20), proposer: proposerKey, lastCommit, evidence: this.#evidence.pending(),
          randomnessReveal: await this.#reveal(proposerKey), ...(lastCommitSigners === undefined ? {} : { lastCommitSigners }),
        },
        candidates(),
        { deadline: performance.now() + 400 },
      )
      this.#executed.set(toHex(built.hash), built)
      const body: BlockBody = { transactions: built.transactions.map((tx) => tx.bytes), lastCommit: built.lastCommit, evidence: built.evidence }
      return { hash: built.hash, height, time: built.header.timestamp, bytes: encodeBlock(built.header, body) }
    })
  }

  /**
   * Our beacon reveal for a block on the head: the preimage of our chain's tip, or zero if our
   * validator has no chain. A chain that is not ours (another seed) is logged: the block we
   * propose with a zero reveal is refused (MISSING_REVEAL), as it should be.
   */
  async #reveal(proposerKey: Uint8Array): Promise<Uint8Array> {
    const state = this.#chain.state
    const operator = await validatorByKey.get(state, proposerKey)
    const chain = operator === undefined ? undefined : await beaconChains.get(state, operator)
    if (operator === undefined || chain === undefined || chain.remaining === 0) return ZERO_HASH
    const generation = (await beaconGenerations.get(state, operator)) ?? 0
    const reveal = this.#beacon?.revealFor(chain, generation)
    if (reveal === undefined) this.#log.error('our validator\'s beacon chain is not derived from our consensus key: our blocks will be refused (MISSING_REVEAL)', { remaining: chain.remaining, generation })
    return reveal ?? ZERO_HASH
  }

  /**
   * A proposed block is valid or not; a peer's fault makes it invalid with the error's code. When
   * our own part fails (a read, the verifier) we cannot vouch for the block either: it is invalid
   * for this round, and the failure is logged as ours.
   */
  async validateBlock(bytes: Uint8Array): Promise<{ hash: Uint8Array; height: number; time: number; valid: boolean; reason?: string }> {
    let block: ReturnType<typeof decodeBlock>
    try {
      block = decodeBlock(bytes)
    } catch (error) {
      if (!isPeerFault(error)) throw error
      return { hash: new Uint8Array(32), height: -1, time: 0, valid: false, reason: `${error.code}: ${error.message}` }
    }
    const seen = { hash: block.hash, height: block.header.height, time: block.header.timestamp }
    const known = this.#executed.get(toHex(block.hash))
    if (known !== undefined) return { ...seen, valid: true }
    return this.exclusive(async () => {
      try {
        await this.#execute(block)
        return { ...seen, valid: true }
      } catch (error) {
        if (isPeerFault(error)) return { ...seen, valid: false, reason: `${error.code}: ${error.message}` }
        this.#log.error('could not validate a proposed block (our failure, not the proposer\'s)', { height: block.header.height, error })
        return { ...seen, valid: false, reason: `not validated: ${(error as Error).message}` }
      }
    })
  }

  /**
   * Checks the parent's certificate carried in the body, recovers senders, executes on the head.
   * Throws BlockImportError for what is wrong with the block; anything else it throws is ours.
   */
  async #execute(block: ReturnType<typeof decodeBlock>): Promise<ExecutedBlock> {
    const head = this.#chain.head
    if (block.header.height !== head.header.height + 1 || !bytesEqual(block.header.parentHash, head.hash)) throw new BlockImportError('UNKNOWN_PARENT', `block ${block.header.height} does not extend the head ${head.header.height}`)
    if (block.header.height > 1) {
      const certificate = fromPeer('INVALID_LAST_COMMIT', 'last commit', () => decodeCommitCertificate(block.body.lastCommit))
      const check = verifyCommit(this.chainId, await this.validatorSet(head.header.height), certificate, { height: head.header.height, blockHash: head.hash })
      if (!check.ok) throw new BlockImportError('INVALID_LAST_COMMIT', `last commit: ${check.reason}`)
    } else if (block.body.lastCommit.length !== 0) throw new BlockImportError('INVALID_LAST_COMMIT', 'block 1 carries a last commit')
    const { transactions, senders } = await this.#decodeWithSenders(block.body.transactions)
    const unsigned = senders.findIndex((s) => s === undefined)
    if (unsigned >= 0) throw new BlockImportError('INVALID_SIGNATURE', `transaction ${unsigned}: the signature does not verify`)
    const lastCommitSigners = await this.#lastCommitSigners(block.body.lastCommit)
    let executed: ExecutedBlock
    try {
      executed = await this.#chain.executeBlock(block.header, block.body, transactions, senders as Address[], lastCommitSigners === undefined ? {} : { lastCommitSigners })
    } catch (cause) {
      throw chainVerdict(cause)
    }
    this.#executed.set(toHex(block.hash), executed)
    return executed
  }

  /**
   * Each transaction of a block, decoded, and its signer. One the mempool admitted was decoded and
   * recovered then: the same sha256 id means the same bytes, so the pool's decoded transaction and
   * signer are reused. Only the others are decoded and recovered now (in one verifier batch).
   */
  async #decodeWithSenders(encoded: readonly Uint8Array[]): Promise<{ transactions: Transaction[]; senders: Array<Address | undefined> }> {
    const transactions: Transaction[] = []
    const senders: Array<Address | undefined> = []
    const missing: number[] = []
    for (const bytes of encoded) {
      const pooled = this.#mempool.get(sha256(bytes))
      if (pooled === undefined) {
        missing.push(transactions.length)
        transactions.push(fromPeer('UNDECODABLE', `transaction ${transactions.length}`, () => decodeTransaction(bytes)))
        senders.push(undefined)
      } else {
        transactions.push(pooled.tx)
        senders.push(pooled.sender)
      }
    }
    if (missing.length === 0) return { transactions, senders }
    const recovered = await this.#verifier.recoverSigners(missing.map((i) => ({ digest: (transactions[i] as Transaction).digest, signature: (transactions[i] as Transaction).signature })))
    missing.forEach((index, j) => (senders[index] = recovered[j]))
    return { transactions, senders }
  }

  async commitBlock(blockHash: Uint8Array, certificate: CommitCertificate): Promise<void> {
    await this.exclusive(async () => {
      const executed = this.#executed.get(toHex(blockHash))
      if (executed === undefined) throw new ConsensusChainError('NOT_EXECUTED', `no executed block ${toHex(blockHash)} to commit`)
      await this.#commit(executed, certificate)
    })
  }

  async #commit(executed: ExecutedBlock, certificate: CommitCertificate): Promise<void> {
    const imported = await this.#chain.commit(executed, { finalized: true, certificate: encodeCommitCertificate(certificate) })
    this.#executed.clear()
    this.#evidence.onCommitted(executed.evidence)
    this.#mempool.onBlock(imported)
    for (const listener of this.#committedListeners) listener()
  }

  /**
   * Sync: verifies a block's own certificate against the validator set of its height, executes
   * it on the head and commits it. What is wrong with the block or its certificate throws
   * BlockImportError (`isPeerFault`); a failure of ours (the write, a read) throws as it is.
   */
  async importCertified(bytes: Uint8Array, certificateBytes: Uint8Array): Promise<void> {
    await this.exclusive(async () => {
      const block = decodeBlock(bytes)
      if (block.header.height <= this.#chain.head.header.height) return // consensus got there first
      if (block.header.height !== this.#chain.head.header.height + 1) throw new BlockImportError('UNKNOWN_PARENT', `block ${block.header.height} skips heights after the head ${this.#chain.head.header.height}`)
      const certificate = fromPeer('INVALID_CERTIFICATE', 'commit certificate', () => decodeCommitCertificate(certificateBytes))
      const check = verifyCommit(this.chainId, await this.validatorSet(block.header.height), certificate, { height: block.header.height, blockHash: block.hash })
      if (!check.ok) throw new BlockImportError('INVALID_CERTIFICATE', `block ${block.header.height}: commit certificate: ${check.reason}`)
      const executed = await this.#execute(block)
      await this.#commit(executed, certificate)
    })
  }

  /** Evidence our consensus detected: pooled for the next block we propose (the driver gossips it). */
  reportEvidence(evidence: Uint8Array): void {
    void this.#evidence.add(evidence).then(
      (verdict) => this.#log.info('equivocation evidence', { verdict }),
      (error: unknown) => this.#log.warn('could not pool evidence', { error }),
    )
  }
}
