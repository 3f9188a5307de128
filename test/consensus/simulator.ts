// A deterministic network simulator for the consensus state machine: N machines, each behind a
// minimal "driver" (signs outputs, feeds its own messages back, buffers future heights, answers
// block requests, turns scheduleTimeout into virtual-time events), wired through a message bus
// whose delivery order, delays and duplicates come from a seeded PRNG. Virtual time only.
import { ConsensusStateMachine, type Input, type Output, type TimeoutConfig } from '../../consensus/stateMachine.ts'
import {
  createCommitCertificate, signProposal, signVote, verifyCommit, verifyEvidence, verifyProposalSignature, verifyVoteSignature,
  type CommitCertificate, type DuplicateVoteEvidence, type SignedVote,
} from '../../consensus/types.ts'
import { blockKey } from '../../consensus/voteSet.ts'
import { sha256, utf8 } from '../../runtime/crypto/hash.ts'
import { CHAIN_ID, committee, seededRandom, type Committee } from './fixtures.ts'

/**
 * honest: follows the machine. crashed: sends and receives nothing. silentProposer: honest but
 * never proposes. equivocator: Byzantine — sends one block/vote to half the nodes and a conflicting
 * one to the other half, and spams votes for rounds ahead. chaos: Byzantine — whenever its machine
 * votes, sends every node its own random choice of prevote AND precommit (any known block or nil),
 * ignoring locks; proposes like the equivocator.
 */
export type Behavior = 'honest' | 'crashed' | 'silentProposer' | 'equivocator' | 'chaos'

export interface SimulationOptions {
  readonly powers: readonly bigint[]
  readonly behaviors?: readonly Behavior[]
  readonly seed: number
  /** heights to finalize */
  readonly heights: number
  /** ms: every message is delayed uniformly in [0, maxDelayMs] */
  readonly maxDelayMs?: number
  /** probability that a message is delivered a second time */
  readonly duplicateRate?: number
  /** probability that a message is delayed by up to lateDelayMs more (across rounds) */
  readonly lateRate?: number
  readonly lateDelayMs?: number
  /** ms: between a decision and the next height's start */
  readonly commitDelayMs?: number
  readonly timeouts?: Partial<TimeoutConfig>
  readonly maxEvents?: number
  /** check every signature on delivery and every commit certificate (slower) */
  readonly verify?: boolean
}

export interface NodeRecord {
  readonly index: number
  readonly behavior: Behavior
  /** height → decided block key */
  readonly decisions: Map<number, string>
  /** height → round of the decision */
  readonly decisionRounds: Map<number, number>
  readonly commits: Map<number, CommitCertificate>
  readonly evidence: DuplicateVoteEvidence[]
  /** `${height}/${round}/${type}` → block key of the vote this node emitted */
  readonly emittedVotes: Map<string, string>
  /** votes emitted twice with different values: must stay empty for honest nodes */
  readonly doubleVotes: string[]
  /** every input the machine consumed, in order (what a driver's WAL would hold) */
  readonly inputs: Input[]
  readonly outputs: Output[]
  readonly machine: ConsensusStateMachine
}

export interface SimulationResult {
  readonly committee: Committee
  readonly nodes: NodeRecord[]
  readonly events: number
  readonly virtualTimeMs: number
  /** every node that is not crashed or Byzantine decided every height */
  readonly finished: boolean
  readonly problems: string[]
}

type Delivery = Input | { readonly type: 'startHeight'; readonly height: number }

interface QueuedEvent {
  readonly at: number
  readonly seq: number
  readonly node: number
  readonly input: Delivery
}

/** A binary min-heap on (at, seq): deterministic order for equal times. */
class EventQueue {
  readonly #items: QueuedEvent[] = []
  get size(): number {
    return this.#items.length
  }
  push(event: QueuedEvent): void {
    const items = this.#items
    items.push(event)
    let i = items.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(items[i] as QueuedEvent, items[parent] as QueuedEvent)) break
      ;[items[i], items[parent]] = [items[parent] as QueuedEvent, items[i] as QueuedEvent]
      i = parent
    }
  }
  pop(): QueuedEvent | undefined {
    const items = this.#items
    const top = items[0]
    const last = items.pop()
    if (top === undefined || last === undefined || items.length === 0) return top
    items[0] = last
    let i = 0
    for (;;) {
      const left = 2 * i + 1
      const right = left + 1
      let smallest = i
      if (left < items.length && before(items[left] as QueuedEvent, items[smallest] as QueuedEvent)) smallest = left
      if (right < items.length && before(items[right] as QueuedEvent, items[smallest] as QueuedEvent)) smallest = right
      if (smallest === i) break
      ;[items[i], items[smallest]] = [items[smallest] as QueuedEvent, items[i] as QueuedEvent]
      i = smallest
    }
    return top
  }
}

function before(a: QueuedEvent, b: QueuedEvent): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq)
}

function heightOf(input: Delivery): number {
  switch (input.type) {
    case 'proposal': return input.proposal.height
    case 'vote': return input.vote.height
    case 'commit': return input.certificate.height
    default: return input.height
  }
}

export function simulate(options: SimulationOptions): SimulationResult {
  const random = seededRandom(options.seed)
  const c = committee(options.powers)
  const behaviors = options.behaviors ?? options.powers.map((): Behavior => 'honest')
  const maxDelay = options.maxDelayMs ?? 50
  const duplicateRate = options.duplicateRate ?? 0
  const lateRate = options.lateRate ?? 0
  const lateDelay = options.lateDelayMs ?? 3000
  const commitDelay = options.commitDelayMs ?? 10
  const maxEvents = options.maxEvents ?? 200_000
  const verify = options.verify ?? true
  const problems: string[] = []
  /** block key → valid */
  const blocks = new Map<string, { hash: Uint8Array; valid: boolean }>()
  const queue = new EventQueue()
  let seq = 0
  let now = 0

  const nodes: (NodeRecord & { height: number; buffer: Map<number, Input[]> })[] = c.keys.map((key, index) => ({
    index,
    behavior: behaviors[index] ?? 'honest',
    decisions: new Map(),
    decisionRounds: new Map(),
    commits: new Map(),
    evidence: [],
    emittedVotes: new Map(),
    doubleVotes: [],
    inputs: [],
    outputs: [],
    machine: new ConsensusStateMachine({ ownKey: key.publicKey, ...(options.timeouts === undefined ? {} : { timeouts: options.timeouts }) }),
    height: 0,
    buffer: new Map(),
  }))

  const enqueue = (node: number, input: Delivery, delay: number): void => {
    queue.push({ at: now + delay, seq: seq++, node, input })
  }
  const networkDelay = (): number => {
    let delay = Math.floor(random() * (maxDelay + 1))
    if (random() < lateRate) delay += Math.floor(random() * lateDelay)
    return delay
  }
  const send = (to: number, input: Input): void => {
    enqueue(to, input, networkDelay())
    if (random() < duplicateRate) enqueue(to, input, networkDelay())
  }
  const broadcast = (recipients: readonly number[], input: Input): void => {
    for (const to of recipients) send(to, input)
  }
  const everyone = nodes.map((node) => node.index)
  const newBlock = (label: string, valid = true): Uint8Array => {
    const hash = sha256(utf8(`sim block ${options.seed} ${label}`))
    blocks.set(blockKey(hash), { hash, valid })
    return hash
  }
  const proposalInput = (hash: Uint8Array, signed: ReturnType<typeof signProposal>, polPrevotes: readonly SignedVote[] = []): Input =>
    ({ type: 'proposal', proposal: signed, blockValid: blocks.get(blockKey(hash))?.valid === true, polPrevotes })

  const handle = (node: (typeof nodes)[number], outputs: Output[]): void => {
    const key = c.keys[node.index]
    if (key === undefined) return
    const halves = [everyone.filter((i) => i % 2 === node.index % 2), everyone.filter((i) => i % 2 !== node.index % 2)] as const
    for (const output of outputs) {
      node.outputs.push(output)
      switch (output.type) {
        case 'propose': {
          if (node.behavior === 'silentProposer') break
          const proposalFor = (hash: Uint8Array) => signProposal(CHAIN_ID, { height: output.height, round: output.round, blockHash: hash, polRound: output.polRound, proposer: key.publicKey }, key.secretKey)
          if (node.behavior === 'equivocator' || node.behavior === 'chaos') {
            // two different blocks to the two halves (a re-proposal is kept, with a rival new block)
            const first = output.blockHash ?? newBlock(`${output.height}/${output.round}/${node.index}/a`)
            const second = newBlock(`${output.height}/${output.round}/${node.index}/b`)
            broadcast(halves[0], proposalInput(first, proposalFor(first), output.polPrevotes))
            const rival = signProposal(CHAIN_ID, { height: output.height, round: output.round, blockHash: second, polRound: -1, proposer: key.publicKey }, key.secretKey)
            broadcast(halves[1], proposalInput(second, rival))
            break
          }
          const hash = output.blockHash ?? newBlock(`${output.height}/${output.round}/${node.index}`)
          broadcast(everyone, proposalInput(hash, proposalFor(hash), output.polPrevotes))
          break
        }
        case 'vote': {
          const id = `${output.height}/${output.round}/${output.voteType}`
          const value = blockKey(output.blockHash)
          const earlier = node.emittedVotes.get(id)
          if (earlier !== undefined && earlier !== value) node.doubleVotes.push(id)
          node.emittedVotes.set(id, value)
          const signed = signVote(CHAIN_ID, { type: output.voteType, height: output.height, round: output.round, blockHash: output.blockHash, validator: key.publicKey }, key.secretKey)
          if (node.behavior === 'chaos') {
            const known = [...blocks.values()].filter((b) => b.valid).map((b) => b.hash)
            for (const to of everyone) {
              for (const type of ['prevote', 'precommit'] as const) {
                const pick = Math.floor(random() * (known.length + 1))
                const choice = to === node.index && type === output.voteType ? output.blockHash : known[pick]
                send(to, { type: 'vote', vote: signVote(CHAIN_ID, { type, height: output.height, round: output.round, blockHash: choice, validator: key.publicKey }, key.secretKey) })
              }
            }
            break
          }
          if (node.behavior === 'equivocator') {
            broadcast(halves[0], { type: 'vote', vote: signed })
            const known = [...blocks.values()].map((b) => b.hash)
            const other = output.blockHash === undefined ? known[Math.floor(random() * known.length)] : undefined
            const rival = signVote(CHAIN_ID, { type: output.voteType, height: output.height, round: output.round, blockHash: other, validator: key.publicKey }, key.secretKey)
            broadcast(halves[1], { type: 'vote', vote: rival })
            // and noise for the rounds ahead: alone it must not move anyone
            const ahead = signVote(CHAIN_ID, { type: 'precommit', height: output.height, round: output.round + 1 + Math.floor(random() * 3), blockHash: other, validator: key.publicKey }, key.secretKey)
            broadcast(everyone, { type: 'vote', vote: ahead })
            break
          }
          broadcast(everyone, { type: 'vote', vote: signed })
          break
        }
        case 'scheduleTimeout':
          enqueue(node.index, { type: 'timeout', step: output.step, height: output.height, round: output.round }, output.durationMs)
          break
        case 'decide': {
          node.decisions.set(output.height, blockKey(output.blockHash))
          node.decisionRounds.set(output.height, output.round)
          const cert = createCommitCertificate(c.set, output.height, output.round, output.blockHash, output.commit)
          node.commits.set(output.height, cert)
          if (verify) {
            const result = verifyCommit(CHAIN_ID, c.set, cert, { height: output.height, blockHash: output.blockHash })
            if (!result.ok) problems.push(`node ${node.index} height ${output.height}: commit does not verify: ${result.reason}`)
          }
          if (output.height < options.heights) enqueue(node.index, { type: 'startHeight', height: output.height + 1 }, commitDelay)
          // what a driver does for peers still at this height: hand them the commit (catch-up)
          if (node.behavior === 'honest' || node.behavior === 'silentProposer') broadcast(everyone.filter((i) => i !== node.index), { type: 'commit', certificate: cert })
          break
        }
        case 'evidence':
          node.evidence.push(output.evidence)
          if (verify) {
            const result = verifyEvidence(CHAIN_ID, c.set, output.evidence)
            if (!result.ok) problems.push(`node ${node.index}: evidence does not verify: ${result.reason}`)
          }
          break
        case 'requestBlock': {
          const block = blocks.get(blockKey(output.blockHash))
          if (block !== undefined) enqueue(node.index, { type: 'block', height: output.height, blockHash: block.hash, valid: block.valid }, networkDelay())
          break
        }
      }
    }
  }

  const apply = (node: (typeof nodes)[number], input: Input): void => {
    node.inputs.push(input)
    handle(node, node.machine.apply(input))
  }

  const deliver = (node: (typeof nodes)[number], input: Delivery): void => {
    if (node.behavior === 'crashed') return
    if (input.type === 'startHeight') {
      node.height = input.height
      apply(node, { type: 'start', height: input.height, validatorSet: c.set })
      const buffered = node.buffer.get(input.height) ?? []
      node.buffer.delete(input.height)
      for (const message of buffered) apply(node, message)
      return
    }
    if (verify && input.type === 'vote' && !verifyVoteSignature(CHAIN_ID, input.vote)) {
      problems.push(`node ${node.index}: a vote with a bad signature was sent`)
      return
    }
    if (verify && input.type === 'commit' && !verifyCommit(CHAIN_ID, c.set, input.certificate).ok) {
      problems.push(`node ${node.index}: an invalid commit certificate was sent`)
      return
    }
    if (verify && input.type === 'proposal' && !(verifyProposalSignature(CHAIN_ID, input.proposal) && (input.polPrevotes ?? []).every((v) => verifyVoteSignature(CHAIN_ID, v)))) {
      problems.push(`node ${node.index}: a proposal with a bad signature was sent`)
      return
    }
    const height = heightOf(input)
    if (height > node.height) {
      // the driver buffers messages for heights it has not started (timeouts never are)
      if (input.type !== 'timeout') {
        const list = node.buffer.get(height) ?? []
        list.push(input)
        node.buffer.set(height, list)
      }
      return
    }
    if (height < node.height) return
    apply(node, input)
  }

  for (const node of nodes) enqueue(node.index, { type: 'startHeight', height: 1 }, 0)

  const correct = nodes.filter((node) => node.behavior === 'honest' || node.behavior === 'silentProposer')
  const finished = () => correct.every((node) => node.decisions.size >= options.heights)
  let events = 0
  while (queue.size > 0 && events < maxEvents && !finished()) {
    const event = queue.pop() as QueuedEvent
    now = event.at
    events++
    deliver(nodes[event.node] as (typeof nodes)[number], event.input)
  }

  return { committee: c, nodes, events, virtualTimeMs: now, finished: finished(), problems }
}

/** Safety checks over a finished (or cut-off) simulation; returns the violations. */
export function safetyViolations(result: SimulationResult): string[] {
  const violations: string[] = [...result.problems]
  const correct = result.nodes.filter((node) => node.behavior === 'honest' || node.behavior === 'silentProposer')
  const decided = new Map<number, string>()
  for (const node of correct) {
    for (const [height, value] of node.decisions) {
      const other = decided.get(height)
      if (other !== undefined && other !== value) violations.push(`height ${height}: honest nodes decided ${other} and ${value}`)
      decided.set(height, value)
    }
    for (const id of node.doubleVotes) violations.push(`node ${node.index} emitted two different votes for ${id}`)
  }
  return violations
}
