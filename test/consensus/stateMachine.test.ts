import t from 'tap'
import { ConsensusError } from '../../consensus/errors.ts'
import { proposerIndex } from '../../consensus/proposer.ts'
import { ConsensusStateMachine, timeoutDuration, DEFAULT_TIMEOUTS, type Input, type Output, type Step, type TimeoutConfig, type VoteOutput } from '../../consensus/stateMachine.ts'
import { createCommitCertificate, verifyCommit, verifyEvidence, type VoteType } from '../../consensus/types.ts'
import { blockHash, CHAIN_ID, committee, keyPair, proposal, vote } from './fixtures.ts'

const c = committee([1n, 1n, 1n, 1n])
const A = blockHash('A')
const B = blockHash('B')
const X = blockHash('X')
const TIMEOUTS: TimeoutConfig = { proposeMs: 100, proposeDeltaMs: 10, prevoteMs: 50, prevoteDeltaMs: 5, precommitMs: 40, precommitDeltaMs: 4 }

/** One machine plus a tiny driver: own votes are signed and fed back, everything is logged. */
class Harness {
  readonly machine: ConsensusStateMachine
  readonly own: number | undefined
  readonly height: number
  readonly log: Output[] = []
  readonly inputs: Input[] = []

  constructor(own: number | undefined, height: number, options: { maxRoundsAhead?: number } = {}) {
    this.own = own
    this.height = height
    this.machine = new ConsensusStateMachine({ ...(own === undefined ? {} : { ownKey: c.keys[own]!.publicKey }), timeouts: TIMEOUTS, ...options })
    this.apply({ type: 'start', height, validatorSet: c.set })
  }

  apply(input: Input): Output[] {
    this.inputs.push(input)
    const out = this.machine.apply(input)
    this.log.push(...out)
    for (const o of out) {
      if (o.type === 'vote' && this.own !== undefined) this.apply({ type: 'vote', vote: vote(c, this.own, o.voteType, o.height, o.round, o.blockHash) })
    }
    return out
  }

  propose(round: number, hash: Uint8Array, polRound = -1, blockValid = true, timely = true): void {
    this.apply({ type: 'proposal', proposal: proposal(c, proposerIndex(c.set, this.height, round), this.height, round, hash, polRound), blockValid, timely })
  }

  votes(type: VoteType, round: number, hash: Uint8Array | undefined, signers: number[]): void {
    for (const i of signers) this.apply({ type: 'vote', vote: vote(c, i, type, this.height, round, hash) })
  }

  timeout(step: Step, round: number): void {
    this.apply({ type: 'timeout', step, height: this.height, round })
  }

  myVotes(type?: VoteType, round?: number): VoteOutput[] {
    return this.log.filter((o): o is VoteOutput => o.type === 'vote' && (type === undefined || o.voteType === type) && (round === undefined || o.round === round))
  }

  of<T extends Output['type']>(type: T): Extract<Output, { type: T }>[] {
    return this.log.filter((o): o is Extract<Output, { type: T }> => o.type === type)
  }
}

/** A height at which validator `own` proposes in none of the given rounds (or exactly in `proposes`). */
function heightWhere(own: number, rounds: number[], proposes: number[] = []): number {
  for (let height = 1; height < 1000; height++) {
    if (rounds.every((round) => (proposerIndex(c.set, height, round) === own) === proposes.includes(round))) return height
  }
  throw new Error('no such height')
}

const hex = (bytes: Uint8Array | undefined) => (bytes === undefined ? 'nil' : Buffer.from(bytes).toString('hex'))

t.test('start: the proposer is asked to propose; everyone schedules the propose timeout', async (t) => {
  const proposerHeight = heightWhere(0, [0], [0])
  const h = new Harness(0, proposerHeight)
  t.same(h.of('propose'), [{ type: 'propose', height: proposerHeight, round: 0, blockHash: undefined, polRound: -1, polPrevotes: [] }])
  t.same(h.of('scheduleTimeout'), [{ type: 'scheduleTimeout', step: 'propose', height: proposerHeight, round: 0, durationMs: 100 }])
  const other = new Harness(0, heightWhere(0, [0]))
  t.same(other.of('propose'), [])
  t.equal(other.of('scheduleTimeout').length, 1)
  t.match(other.machine.state(), { height: other.height, round: 0, step: 'propose', lockedRound: -1, validRound: -1, isValidator: true })
  t.same(other.machine.state().proposer, c.keys[proposerIndex(c.set, other.height, 0)]!.publicKey)
})

t.test('happy path: prevote, lock and precommit on a polka, decide on 2f+1 precommits', async (t) => {
  const h = new Harness(0, heightWhere(0, [0]))
  h.propose(0, A)
  t.same(h.myVotes().map((v) => [v.voteType, hex(v.blockHash)]), [['prevote', hex(A)]])
  h.votes('prevote', 0, A, [1])
  t.same(h.myVotes('precommit'), [], 'two prevotes are not a polka')
  h.votes('prevote', 0, A, [2])
  t.same(h.myVotes('precommit').map((v) => hex(v.blockHash)), [hex(A)])
  t.match(h.machine.state(), { step: 'precommit', lockedRound: 0, validRound: 0 })
  t.same(h.machine.state().lockedValue, A)
  h.votes('precommit', 0, A, [3])
  t.same(h.of('decide'), [])
  h.votes('precommit', 0, A, [1])
  const [decide] = h.of('decide')
  t.ok(decide)
  t.match(decide, { height: h.height, round: 0 })
  t.same(decide!.blockHash, A)
  t.same(decide!.commit.map((v) => v.validator), [0, 1, 3].map((i) => c.keys[i]!.publicKey), 'the counted precommits, in validator order')
  const cert = createCommitCertificate(c.set, decide!.height, decide!.round, decide!.blockHash, decide!.commit)
  t.same(verifyCommit(CHAIN_ID, c.set, cert, { height: h.height, blockHash: A }), { ok: true })
  t.match(h.machine.state(), { step: 'decided', decision: { round: 0 } })
  // a decided height ignores everything but the next start
  t.same(h.machine.apply({ type: 'timeout', step: 'precommit', height: h.height, round: 0 }), [])
  t.same(h.machine.apply({ type: 'vote', vote: vote(c, 2, 'precommit', h.height, 0, A) }), [])
  const next = h.machine.apply({ type: 'start', height: h.height + 1, validatorSet: c.set })
  t.ok(next.some((o) => o.type === 'scheduleTimeout'))
  t.match(h.machine.state(), { height: h.height + 1, round: 0, step: 'propose', lockedRound: -1, decision: undefined })
})

t.test('an invalid block gets a nil prevote; 2f+1 nil prevotes give a nil precommit at once', async (t) => {
  const h = new Harness(0, heightWhere(0, [0]))
  h.propose(0, A, -1, false)
  t.same(h.myVotes().map((v) => hex(v.blockHash)), ['nil'])
  h.votes('prevote', 0, undefined, [1, 2])
  t.same(h.myVotes('precommit').map((v) => hex(v.blockHash)), ['nil'])
  t.equal(h.machine.state().lockedRound, -1)
})

t.test('an untimely new block gets a nil prevote; a re-proposal with its proof-of-lock is not judged again', async (t) => {
  const h = new Harness(0, heightWhere(0, [0, 1]))
  h.propose(0, A, -1, true, false)
  t.same(h.myVotes('prevote', 0).map((v) => hex(v.blockHash)), ['nil'], 'valid but not timely: nil')
  // the others found it timely: their polka locks no one here, but makes A the valid value
  h.votes('prevote', 0, A, [1, 2, 3])
  h.timeout('precommit', 0)
  h.votes('prevote', 0, A, [])
  // round 1: A re-proposed with polRound 0; 2f+1 prevoted it in round 0, so its timeliness stands
  h.propose(1, A, 0, true, false)
  t.same(h.myVotes('prevote', 1).map((v) => hex(v.blockHash)), [hex(A)], 'the re-proposal gets our prevote')
})

t.test('timeouts: propose → nil prevote, prevote → nil precommit, precommit → next round; they grow per round', async (t) => {
  const h = new Harness(0, heightWhere(0, [0, 1]))
  h.timeout('propose', 0)
  t.same(h.myVotes('prevote', 0).map((v) => hex(v.blockHash)), ['nil'])
  h.votes('prevote', 0, A, [1])
  t.equal(h.of('scheduleTimeout').length, 1, 'no prevote timeout before 2f+1 prevotes')
  h.votes('prevote', 0, B, [2])
  t.same(h.of('scheduleTimeout').at(-1), { type: 'scheduleTimeout', step: 'prevote', height: h.height, round: 0, durationMs: 50 })
  t.same(h.myVotes('precommit'), [], 'no polka: wait for the timeout')
  h.timeout('prevote', 0)
  t.same(h.myVotes('precommit', 0).map((v) => hex(v.blockHash)), ['nil'])
  h.votes('precommit', 0, A, [1, 2])
  t.same(h.of('scheduleTimeout').at(-1), { type: 'scheduleTimeout', step: 'precommit', height: h.height, round: 0, durationMs: 40 })
  // stale and foreign timeouts change nothing
  t.same(h.machine.apply({ type: 'timeout', step: 'propose', height: h.height, round: 0 }), [])
  t.same(h.machine.apply({ type: 'timeout', step: 'precommit', height: h.height + 1, round: 0 }), [])
  t.same(h.machine.apply({ type: 'timeout', step: 'precommit', height: h.height, round: 1 }), [])
  h.timeout('precommit', 0)
  t.match(h.machine.state(), { round: 1, step: 'propose' })
  t.same(h.of('scheduleTimeout').at(-1), { type: 'scheduleTimeout', step: 'propose', height: h.height, round: 1, durationMs: 110 })
  t.equal(timeoutDuration(DEFAULT_TIMEOUTS, 'prevote', 4), 500 + 4 * 250)
  t.equal(timeoutDuration(TIMEOUTS, 'precommit', 10), 80)
})

t.test('round skipping: messages of a higher round from more than 1/3 of the power', async (t) => {
  const h = new Harness(0, heightWhere(0, [0]))
  h.votes('prevote', 5, A, [1])
  t.equal(h.machine.state().round, 0, '1/4 of the power is not enough')
  h.votes('precommit', 5, undefined, [1])
  t.equal(h.machine.state().round, 0, 'the same validator again is not enough')
  h.votes('precommit', 5, undefined, [2])
  t.match(h.machine.state(), { round: 5, step: 'propose' })
  t.same(h.of('scheduleTimeout').at(-1), { type: 'scheduleTimeout', step: 'propose', height: h.height, round: 5, durationMs: 150 })

  // a proposal counts as a message of its proposer
  const h2 = new Harness(0, heightWhere(0, [0, 7]))
  const proposer7 = proposerIndex(c.set, h2.height, 7)
  const other = [1, 2, 3].find((i) => i !== proposer7)!
  h2.propose(7, A)
  t.equal(h2.machine.state().round, 0)
  h2.votes('prevote', 7, A, [other])
  t.equal(h2.machine.state().round, 7)
  t.same(h2.myVotes('prevote', 7).map((v) => hex(v.blockHash)), [hex(A)], 'and the stored round-7 proposal gets its prevote')

  // far beyond the stored window: not stored, but the skip still happens
  const h3 = new Harness(0, heightWhere(0, [0, 1000]), { maxRoundsAhead: 100 })
  h3.votes('prevote', 1000, undefined, [1, 2])
  t.equal(h3.machine.state().round, 1000)
  h3.timeout('propose', 1000)
  t.equal(h3.of('scheduleTimeout').filter((o) => o.step === 'prevote').length, 0, 'the far votes were not kept, so no 2f+1 prevotes yet')
  h3.votes('prevote', 1000, undefined, [1, 2])
  t.same(h3.myVotes('precommit', 1000).map((v) => hex(v.blockHash)), ['nil'], 'counted once resent inside the window')
})

t.test('locking: a locked validator prevotes another block only with a proof-of-lock newer than its lock', async (t) => {
  // --- positive: locked on A in round 0, B with a POL from round 1 is accepted in round 2
  const h = new Harness(0, heightWhere(0, [0, 1, 2]))
  h.propose(0, A)
  h.votes('prevote', 0, A, [1, 2])
  t.same(h.machine.state().lockedValue, A)
  t.equal(h.machine.state().lockedRound, 0)
  h.votes('precommit', 0, undefined, [1, 2])
  h.timeout('precommit', 0)
  t.equal(h.machine.state().round, 1)
  h.propose(1, B)
  t.same(h.myVotes('prevote', 1).map((v) => hex(v.blockHash)), ['nil'], 'round 1: B without a POL is refused while locked on A')
  h.votes('precommit', 2, undefined, [1, 2]) // f+1 in round 2: skip ahead
  t.equal(h.machine.state().round, 2)
  h.propose(2, B, 1)
  t.same(h.myVotes('prevote', 2), [], 'round 2: B claims a POL in round 1 that we have not seen: wait')
  h.votes('prevote', 1, B, [1, 2])
  t.same(h.myVotes('prevote', 2), [], 'two prevotes are not a POL')
  h.votes('prevote', 1, B, [3])
  t.same(h.myVotes('prevote', 2).map((v) => hex(v.blockHash)), [hex(B)], 'POL round 1 >= locked round 0: prevote B')

  // --- negative: locked on A in round 1, B with an older POL (round 0) is refused
  const g = new Harness(0, heightWhere(0, [0, 1, 2]))
  g.votes('prevote', 0, B, [1, 2, 3]) // a polka for B we have no proposal for
  t.same(g.of('requestBlock').map((o) => [o.round, hex(o.blockHash)]), [[0, hex(B)]])
  g.timeout('propose', 0)
  g.timeout('prevote', 0)
  t.same(g.myVotes('precommit', 0).map((v) => hex(v.blockHash)), ['nil'])
  t.equal(g.machine.state().lockedRound, -1, 'cannot lock on a block it does not have')
  g.votes('precommit', 0, undefined, [1, 2])
  g.timeout('precommit', 0)
  g.propose(1, A)
  g.votes('prevote', 1, A, [1, 2])
  t.equal(g.machine.state().lockedRound, 1)
  g.votes('precommit', 1, undefined, [1, 2])
  g.timeout('precommit', 1)
  g.propose(2, B, 0)
  t.same(g.myVotes('prevote', 2).map((v) => hex(v.blockHash)), ['nil'], 'POL round 0 < locked round 1 and B != A: nil')
  g.votes('precommit', 2, undefined, [1, 2])
  g.timeout('precommit', 2)
  if (proposerIndex(c.set, g.height, 3) === 0) {
    t.match(g.of('propose'), [{ type: 'propose', height: g.height, round: 3, blockHash: A, polRound: 1 }], 'our own turn: re-propose the valid value')
  }
  g.propose(3, A, 1)
  t.same(g.myVotes('prevote', 3).map((v) => hex(v.blockHash)), [hex(A)], 're-proposal of the locked value with its POL')
})

t.test('a proposer that saw a polka re-proposes the valid value with its POL round', async (t) => {
  const h = new Harness(0, heightWhere(0, [0, 1], [1]))
  h.propose(0, A)
  h.votes('prevote', 0, A, [1, 2])
  h.votes('precommit', 0, undefined, [1, 2])
  h.timeout('precommit', 0)
  const [propose] = h.of('propose')
  t.match(propose, { type: 'propose', height: h.height, round: 1, polRound: 0 })
  t.same(propose!.blockHash, A)
  t.same(propose!.polPrevotes.map((v) => [v.type, v.round, hex(v.blockHash), v.validator]), [0, 1, 2].map((i) => ['prevote', 0, hex(A), c.keys[i]!.publicKey]), 'with the prevotes of its POL')
  t.match(h.machine.state(), { validRound: 0, lockedRound: 0 })
})

t.test('validValue is updated by a polka seen after precommitting nil, without changing the lock', async (t) => {
  const h = new Harness(0, heightWhere(0, [0]))
  h.propose(0, A)
  h.votes('prevote', 0, undefined, [1])
  h.votes('prevote', 0, B, [2])
  h.timeout('prevote', 0)
  t.same(h.myVotes('precommit', 0).map((v) => hex(v.blockHash)), ['nil'])
  h.votes('prevote', 0, A, [3])
  t.match(h.machine.state(), { lockedRound: -1, validRound: -1 }, 'validator 2 voted B; 3 of 4 on A is needed')
  const g = new Harness(0, heightWhere(0, [0]))
  g.propose(0, A)
  g.votes('prevote', 0, undefined, [1])
  g.votes('prevote', 0, A, [2, 3])
  t.equal(g.machine.state().lockedRound, 0, 'a polka among mixed prevotes locks')
  const f = new Harness(0, heightWhere(0, [0]))
  f.timeout('propose', 0)
  f.votes('prevote', 0, A, [1, 2])
  f.timeout('prevote', 0)
  f.propose(0, A)
  t.same(f.myVotes('prevote', 0).map((v) => hex(v.blockHash)), ['nil'], 'already prevoted nil')
  f.votes('prevote', 0, A, [3])
  t.match(f.machine.state(), { lockedRound: -1, validRound: 0, step: 'precommit' })
  t.same(f.machine.state().validValue, A)
})

t.test('conflicting votes produce evidence once; only the first vote counts', async (t) => {
  const h = new Harness(0, heightWhere(0, [0]))
  h.propose(0, A)
  h.votes('prevote', 0, B, [2])
  const before = h.log.length
  h.votes('prevote', 0, A, [2])
  const evidence = h.of('evidence')
  t.equal(evidence.length, 1)
  t.equal(h.log.length, before + 1)
  t.same(verifyEvidence(CHAIN_ID, c.set, evidence[0]!.evidence), { ok: true })
  t.same(evidence[0]!.evidence.voteA.validator, c.keys[2]!.publicKey)
  h.votes('prevote', 0, undefined, [2])
  t.equal(h.of('evidence').length, 1, 'reported once per validator, round and type')
  h.votes('prevote', 0, A, [1])
  t.same(h.myVotes('precommit'), [], "validator 2's A vote was not counted: 2 of 4")
  h.votes('prevote', 0, A, [3])
  t.same(h.myVotes('precommit').map((v) => hex(v.blockHash)), [hex(A)])
  // the same vote twice is a duplicate, not a conflict, and counts once
  const g = new Harness(0, heightWhere(0, [0]))
  g.timeout('propose', 0)
  g.votes('prevote', 0, A, [1, 1, 1])
  t.equal(g.of('scheduleTimeout').filter((o) => o.step === 'prevote').length, 0)
  t.same(g.of('evidence'), [])
})

t.test('2f+1 precommits for an unknown block: request it, decide when it arrives valid', async (t) => {
  const h = new Harness(0, heightWhere(0, [0]))
  h.votes('precommit', 0, X, [1, 2, 3])
  t.same(h.of('requestBlock'), [{ type: 'requestBlock', height: h.height, round: 0, blockHash: X }])
  h.votes('precommit', 0, X, [3])
  t.equal(h.of('requestBlock').length, 1, 'requested once')
  t.same(h.of('decide'), [])
  h.apply({ type: 'block', height: h.height + 1, blockHash: X, valid: true })
  t.same(h.of('decide'), [], 'a block of another height does not count')
  h.apply({ type: 'block', height: h.height, blockHash: X, valid: true })
  t.match(h.of('decide'), [{ round: 0 }])
  t.same(h.of('decide')[0]!.blockHash, X)

  const invalid = new Harness(0, heightWhere(0, [0]))
  invalid.votes('precommit', 0, X, [1, 2, 3])
  invalid.apply({ type: 'block', height: invalid.height, blockHash: X, valid: false })
  t.same(invalid.of('decide'), [], 'never decides an invalid block')
})

t.test('decides on precommits of an earlier round', async (t) => {
  const h = new Harness(0, heightWhere(0, [0, 3]))
  h.propose(0, A)
  h.votes('prevote', 3, undefined, [1, 2])
  t.equal(h.machine.state().round, 3)
  h.votes('precommit', 0, A, [1, 2, 3])
  t.match(h.of('decide'), [{ round: 0 }])
})

t.test('a non-validator follows and decides but never votes or proposes', async (t) => {
  const outsider = new ConsensusStateMachine({ ownKey: keyPair(99).publicKey, timeouts: TIMEOUTS })
  const follower = new ConsensusStateMachine({ timeouts: TIMEOUTS })
  for (const machine of [outsider, follower]) {
    const height = 3
    const outputs: Output[] = []
    const feed = (input: Input) => outputs.push(...machine.apply(input))
    feed({ type: 'start', height, validatorSet: c.set })
    for (let round = 0; round < 4; round++) feed({ type: 'timeout', step: 'propose', height, round })
    feed({ type: 'proposal', proposal: proposal(c, proposerIndex(c.set, height, 0), height, 0, A), blockValid: true })
    for (const i of [0, 1, 2]) feed({ type: 'vote', vote: vote(c, i, 'precommit', height, 0, A) })
    t.same(outputs.filter((o) => o.type === 'vote' || o.type === 'propose'), [])
    t.match(outputs.filter((o) => o.type === 'decide'), [{ height, round: 0 }])
    t.equal(machine.state().isValidator, false)
  }
})

t.test('inputs outside the current height are ignored; starts only move forward', async (t) => {
  const m = new ConsensusStateMachine({ ownKey: c.keys[0]!.publicKey, timeouts: TIMEOUTS })
  t.same(m.apply({ type: 'vote', vote: vote(c, 1, 'prevote', 1, 0, A) }), [], 'nothing before the first start')
  t.same(m.state().step, 'idle')
  m.apply({ type: 'start', height: 5, validatorSet: c.set })
  for (const height of [4, 6]) {
    t.same(m.apply({ type: 'vote', vote: vote(c, 1, 'precommit', height, 0, A) }), [])
    t.same(m.apply({ type: 'proposal', proposal: proposal(c, proposerIndex(c.set, height, 0), height, 0, A), blockValid: true }), [])
  }
  t.same(m.apply({ type: 'start', height: 5, validatorSet: c.set }), [], 'replayed start')
  t.same(m.apply({ type: 'start', height: 3, validatorSet: c.set }), [], 'older start')
  t.equal(m.state().height, 5)
  // a proposal from someone who is not the round's proposer is ignored
  const wrong = [0, 1, 2, 3].find((i) => i !== proposerIndex(c.set, 5, 0))!
  m.apply({ type: 'proposal', proposal: proposal(c, wrong, 5, 0, A), blockValid: true })
  t.equal(m.state().step, 'propose')
  t.throws(() => m.apply({ type: 'start', height: 0, validatorSet: c.set }), { code: 'INVALID_INPUT' })
})

t.test('restoring by replay: the same inputs give the same outputs and state', async (t) => {
  const h = new Harness(0, heightWhere(0, [0, 1, 2]))
  h.propose(0, A)
  h.votes('prevote', 0, A, [1, 2])
  h.votes('precommit', 0, undefined, [1, 2])
  h.timeout('precommit', 0)
  h.propose(1, B)
  h.votes('prevote', 1, B, [3])
  h.votes('prevote', 1, A, [3])
  h.votes('precommit', 2, undefined, [1, 2])
  const replayed = new ConsensusStateMachine({ ownKey: c.keys[0]!.publicKey, timeouts: TIMEOUTS })
  const outputs = h.inputs.flatMap((input) => replayed.apply(input))
  t.same(outputs, h.log)
  t.same(replayed.state(), h.machine.state())
})

t.test('options are checked', async (t) => {
  t.throws(() => new ConsensusStateMachine({ ownKey: new Uint8Array(31) }), ConsensusError)
  t.throws(() => new ConsensusStateMachine({ timeouts: { proposeMs: -1 } }), { code: 'INVALID_OPTIONS', message: /timeouts\.proposeMs/ })
  t.throws(() => new ConsensusStateMachine({ timeouts: { prevoteDeltaMs: Number.NaN } }), { code: 'INVALID_OPTIONS' })
  t.throws(() => new ConsensusStateMachine({ maxRoundsAhead: 0 }), { code: 'INVALID_OPTIONS' })
})
