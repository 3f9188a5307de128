import t, { type Test } from 'tap'
import fc from 'fast-check'
import { proposerIndex } from '../../consensus/proposer.ts'
import { ConsensusStateMachine } from '../../consensus/stateMachine.ts'
import { safetyViolations, simulate, type Behavior, type SimulationResult } from './simulator.ts'

function agreedDecisions(t: Test, result: SimulationResult, heights: number): void {
  t.ok(result.finished, `every correct node decided ${heights} heights (${result.events} events, ${result.virtualTimeMs} ms virtual)`)
  t.same(safetyViolations(result), [], 'no safety violation')
  const correct = result.nodes.filter((node) => node.behavior === 'honest' || node.behavior === 'silentProposer')
  const reference = correct[0]!
  for (const node of correct) {
    t.equal(node.decisions.size, heights)
    t.same([...node.decisions.entries()].sort(([a], [b]) => a - b), [...reference.decisions.entries()].sort(([a], [b]) => a - b), `node ${node.index} decided the same blocks`)
  }
}

t.test('4 honest validators decide the same block at every height for 50 heights', async (t) => {
  const result = simulate({ powers: [1n, 1n, 1n, 1n], seed: 1, heights: 50, maxDelayMs: 80 })
  agreedDecisions(t, result, 50)
  const rounds = result.nodes.flatMap((node) => [...node.decisionRounds.values()])
  t.ok(rounds.every((round) => round === 0), 'a good network decides in round 0')
  for (const node of result.nodes) t.equal(node.commits.size, 50, 'a verified commit certificate per height')
})

t.test('random order, duplicates and messages late by several rounds: still agreement and progress', async (t) => {
  const result = simulate({ powers: [1n, 1n, 1n, 1n], seed: 2, heights: 50, maxDelayMs: 150, duplicateRate: 0.3, lateRate: 0.15, lateDelayMs: 4000 })
  agreedDecisions(t, result, 50)
  const laterRounds = result.nodes.flatMap((node) => [...node.decisionRounds.values()]).filter((round) => round > 0)
  t.ok(laterRounds.length > 0, `late messages forced later rounds (${laterRounds.length} decisions after round 0)`)
})

t.test('a silent proposer: its rounds time out and the next round decides', async (t) => {
  const behaviors: Behavior[] = ['honest', 'silentProposer', 'honest', 'honest']
  const result = simulate({ powers: [1n, 1n, 1n, 1n], behaviors, seed: 3, heights: 20 })
  agreedDecisions(t, result, 20)
  let silentTurns = 0
  for (let height = 1; height <= 20; height++) {
    const round = result.nodes[0]!.decisionRounds.get(height)!
    if (proposerIndex(result.committee.set, height, 0) === 1) {
      silentTurns++
      t.ok(round >= 1, `height ${height}: the silent proposer's round 0 failed, decided in round ${round}`)
    } else {
      t.equal(round, 0, `height ${height}: decided in round 0`)
    }
  }
  t.ok(silentTurns >= 4)
})

t.test('a crashed validator (less than 1/3 of the power) does not stop the chain', async (t) => {
  agreedDecisions(t, simulate({ powers: [1n, 1n, 1n, 1n], behaviors: ['honest', 'honest', 'honest', 'crashed'], seed: 4, heights: 15 }), 15)
  agreedDecisions(t, simulate({ powers: [1n, 2n, 3n, 4n], behaviors: ['honest', 'honest', 'crashed', 'honest'], seed: 5, heights: 15 }), 15)
})

t.test('a Byzantine validator sending conflicting proposals and votes: evidence, and still agreement', async (t) => {
  const result = simulate({ powers: [1n, 1n, 1n, 1n], behaviors: ['honest', 'honest', 'equivocator', 'honest'], seed: 6, heights: 20, duplicateRate: 0.1 })
  agreedDecisions(t, result, 20)
  const honest = result.nodes.filter((node) => node.behavior === 'honest')
  const evidence = honest.flatMap((node) => node.evidence)
  t.ok(evidence.length > 0, `${evidence.length} pieces of evidence`)
  const byzantineKey = Buffer.from(result.committee.keys[2]!.publicKey)
  t.ok(evidence.every((e) => byzantineKey.equals(e.voteA.validator)), 'all of it against the equivocator (and verified by the simulator)')
  t.ok(honest.every((node) => node.evidence.length > 0), 'every honest node saw it')

  const weighted = simulate({ powers: [3n, 2n, 4n, 1n], behaviors: ['honest', 'honest', 'honest', 'equivocator'], seed: 7, heights: 20 })
  agreedDecisions(t, weighted, 20)
})

t.test("a node's inputs replayed into a fresh machine give exactly its outputs (WAL restoration)", async (t) => {
  const result = simulate({ powers: [1n, 1n, 1n, 1n], behaviors: ['honest', 'honest', 'equivocator', 'honest'], seed: 8, heights: 8, duplicateRate: 0.2, lateRate: 0.1 })
  t.ok(result.finished)
  for (const node of result.nodes.filter((n) => n.behavior === 'honest')) {
    const fresh = new ConsensusStateMachine({ ownKey: result.committee.keys[node.index]!.publicKey })
    const outputs = node.inputs.flatMap((input) => fresh.apply(input))
    t.same(outputs, node.outputs, `node ${node.index}: ${node.inputs.length} inputs replayed`)
    t.same(fresh.state(), node.machine.state())
  }
})

t.test('safety under arbitrary delivery: at most 1 faulty of 4 never splits honest nodes or makes them double-vote', async (t) => {
  const scenario = fc.record({
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    faulty: fc.integer({ min: 0, max: 4 }),
    behavior: fc.constantFrom<Behavior>('equivocator', 'crashed', 'silentProposer'),
    maxDelayMs: fc.integer({ min: 0, max: 600 }),
    duplicateRate: fc.double({ min: 0, max: 0.5, noNaN: true }),
    lateRate: fc.double({ min: 0, max: 0.4, noNaN: true }),
    lateDelayMs: fc.integer({ min: 0, max: 6000 }),
  })
  let finished = 0
  let runs = 0
  fc.assert(fc.property(scenario, (s) => {
    const behaviors = [0, 1, 2, 3].map((i): Behavior => (i === s.faulty ? s.behavior : 'honest'))
    const result = simulate({
      powers: [1n, 1n, 1n, 1n], behaviors, seed: s.seed, heights: 3, maxDelayMs: s.maxDelayMs,
      duplicateRate: s.duplicateRate, lateRate: s.lateRate, lateDelayMs: s.lateDelayMs, maxEvents: 8000,
    })
    runs++
    if (result.finished) finished++
    const violations = safetyViolations(result)
    if (violations.length > 0) throw new Error(violations.join('; '))
  }), { seed: 2026, numRuns: 40 })
  t.ok(finished >= runs * 0.9, `${finished} of ${runs} runs also finished all heights within the event budget`)
})
