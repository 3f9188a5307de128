import t from 'tap'
import fc from 'fast-check'
import { proposerFor, proposerIndex } from '../../consensus/proposer.ts'
import { decodeValidatorSet, encodeValidatorSet, type ValidatorSet } from '../../consensus/types.ts'
import { committee } from './fixtures.ts'

/** The rule stated plainly: turn k goes to the validator with the earliest next due point (2c+1)/(2p), ties to the smaller key. */
function referenceSequence(set: ValidatorSet, turns: number): number[] {
  const counts = set.validators.map(() => 0n)
  const sequence: number[] = []
  for (let k = 0; k < turns; k++) {
    let best = 0
    for (let i = 1; i < set.validators.length; i++) {
      const a = (2n * counts[i]! + 1n) * set.validators[best]!.power
      const b = (2n * counts[best]! + 1n) * set.validators[i]!.power
      if (a < b || (a === b && Buffer.compare(set.validators[i]!.publicKey, set.validators[best]!.publicKey) < 0)) best = i
    }
    counts[best]!++
    sequence.push(best)
  }
  return sequence
}

t.test('matches the step-by-step rule for random powers', async (t) => {
  fc.assert(fc.property(fc.array(fc.bigInt({ min: 1n, max: 30n }), { minLength: 1, maxLength: 7 }), (powers) => {
    const { set } = committee(powers)
    const expected = referenceSequence(set, 150)
    for (let height = 1; height < 150; height++) {
      if (proposerIndex(set, height, 0) !== expected[height]) return false
    }
    return true
  }), { seed: 3, numRuns: 60 })
  t.pass('the closed form and the step-by-step rule agree')
})

t.test('selection is proportional to power (1, 2, 3, 4 over 10,000 heights)', async (t) => {
  const { set } = committee([1n, 2n, 3n, 4n])
  const counts = [0, 0, 0, 0]
  const heights = 10_000
  for (let height = 1; height <= heights; height++) counts[proposerIndex(set, height, 0)]!++
  for (const [i, count] of counts.entries()) {
    const expected = (heights * (i + 1)) / 10
    t.ok(Math.abs(count - expected) / expected < 0.01, `validator ${i}: ${count} turns, expected ${expected}`)
  }
  // and at every prefix, nobody is more than ~1.5 turns from its exact share
  const running = [0, 0, 0, 0]
  let worst = 0
  for (let height = 1; height <= 1000; height++) {
    running[proposerIndex(set, height, 0)]!++
    for (let i = 0; i < 4; i++) worst = Math.max(worst, Math.abs(running[i]! - (height * (i + 1)) / 10))
  }
  t.ok(worst < 1.5, `largest deviation from the exact share: ${worst}`)
})

t.test('every validator gets a turn; equal powers are plain round robin', async (t) => {
  const skewed = committee([1n, 1000n])
  const seen = new Set<number>()
  for (let height = 1; height <= 1001; height++) seen.add(proposerIndex(skewed.set, height, 0))
  t.same([...seen].sort(), [0, 1])
  const small = committee([1n, 2n, 3n, 4n])
  t.same(new Set(Array.from({ length: 10 }, (_, h) => proposerIndex(small.set, h + 1, 0))).size, 4, 'all four within 10 heights')
  const equal = committee([5n, 5n, 5n, 5n, 5n])
  const order = Array.from({ length: 15 }, (_, h) => proposerIndex(equal.set, h + 1, 0))
  for (let h = 5; h < 15; h++) t.equal(order[h], order[h - 5], 'period 5')
  t.equal(new Set(order.slice(0, 5)).size, 5, 'each once per period')
})

t.test('rounds continue the same sequence; deterministic; stake-sized powers are fast', async (t) => {
  const { set } = committee([3n, 1n, 4n, 1n, 5n])
  for (let height = 1; height < 40; height++) {
    for (let round = 0; round < 6; round++) t.equal(proposerIndex(set, height, round), proposerIndex(set, height + round, 0))
  }
  const copy = decodeValidatorSet(encodeValidatorSet(set))
  for (let height = 1; height < 100; height++) t.equal(proposerIndex(copy, height, 2), proposerIndex(set, height, 2))
  t.same(proposerFor(set, 7, 1).publicKey, set.validators[proposerIndex(set, 7, 1)]!.publicKey)

  const big = committee(Array.from({ length: 100 }, (_, i) => 10n ** 24n * BigInt(i + 1) + 12345n))
  const start = performance.now()
  const counts = new Map<number, number>()
  for (let height = 1_000_000_000; height < 1_000_000_000 + 500; height++) {
    const index = proposerIndex(big.set, height, 0)
    counts.set(index, (counts.get(index) ?? 0) + 1)
  }
  const perCall = (performance.now() - start) / 500
  t.ok(perCall < 20, `${perCall.toFixed(2)} ms per call with 100 validators at height 1e9`)
  t.ok((counts.get(99) ?? 0) > (counts.get(0) ?? 0), 'the heaviest validator proposes more than the lightest')
})
