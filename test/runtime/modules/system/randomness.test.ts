// The draw function (runtime/modules/system/randomness.ts) and why it exists: a documented demonstration that a
// draw from the parent block's hash, as ModelFactory's assignment was made before the beacon, is
// the parent proposer's to choose.
import t from 'tap'
import { hashHeader, ZERO_HASH, type BlockHeader } from '../../../../runtime/block.ts'
import { concatBytes, keccak256, sha256, utf8 } from '../../../../runtime/crypto/hash.ts'
import { u64 } from '../../../../runtime/modules/models/state.ts'
import { StateOverlay } from '../../../../runtime/state/overlay.ts'
import { DrawError, drawSeed, drawWeighted, isSampled, MIX_HISTORY, mixAt, nextMix, updateMix } from '../../../../runtime/modules/system/randomness.ts'
import { MapState } from '../../chainFixtures.ts'

const operators = Array.from({ length: 7 }, (_, i) => sha256(utf8(`operator ${i}`)).subarray(0, 20))
const [grinder, friend] = operators as [Uint8Array, Uint8Array]
const sameBytes = (a: Uint8Array | undefined, b: Uint8Array): boolean => a !== undefined && Buffer.compare(a, b) === 0

/** The rule lifecycle.ts used before the beacon, reproduced: operators by keccak256(parentHash ‖ job ‖ operator). */
function parentHashOrder(parentHash: Uint8Array, job: number, members: readonly Uint8Array[]): Uint8Array[] {
  return members
    .map((operator) => ({ operator, key: keccak256(concatBytes(parentHash, u64(job), operator)) }))
    .sort((a, b) => Buffer.compare(a.key, b.key))
    .map(({ operator }) => operator)
}

function header(height: number, timestamp: number): BlockHeader {
  return {
    chainId: 1, height, parentHash: sha256(utf8(`parent of ${height}`)), timestamp, author: grinder, proposer: sha256(grinder), txRoot: ZERO_HASH,
    stateRoot: sha256(utf8(`state ${height}`)), receiptsRoot: ZERO_HASH, validatorsHash: ZERO_HASH, nextValidatorsHash: ZERO_HASH,
    lastCommitHash: ZERO_HASH, evidenceHash: ZERO_HASH, gasUsed: 0, baseFeePerGas: 0n,
  }
}

t.test('the parent-hash rule: a grinding proposer makes itself trainer and its friend a verifier at will', (t) => {
  // The grinder proposes block h − 1; block h creates job h, drawn from hash(h − 1). It only moves
  // its timestamp by a millisecond per try (it could as well reorder or drop transactions).
  const verifiers = 2
  const jobs = 40
  let won = 0
  let tries = 0
  for (let job = 1; job <= jobs; job++) {
    for (let variant = 0; variant < 2_000; variant++) {
      tries++
      const order = parentHashOrder(hashHeader(header(job - 1, 1_700_000_000_000 + variant)), job, operators)
      if (sameBytes(order[0], grinder) && order.slice(1, 1 + verifiers).some((v) => sameBytes(v, friend))) {
        won++
        break
      }
    }
  }
  // fair share of "trainer and friend among the verifiers": 1/7 × 2/6 = 1/21
  t.equal(won, jobs, `the grinder got every one of ${jobs} jobs (fair share 1/21), ${(tries / jobs).toFixed(1)} block variants per job`)
  t.end()
})

t.test('drawWeighted: distinct picks in proportion to weight, zero weights never, at most what exists', (t) => {
  const weights = [1n, 2n, 3n, 0n, 4n]
  const firsts = [0, 0, 0, 0, 0]
  const trials = 10_000
  let wrong = 0
  for (let i = 0; i < trials; i++) {
    const picks = drawWeighted(sha256(utf8(`seed ${i}`)), weights, 3)
    if (new Set(picks).size !== 3 || picks.includes(3)) wrong++
    firsts[picks[0] as number]! += 1
  }
  t.equal(wrong, 0, 'three distinct picks, never the zero weight')
  for (const [index, weight] of weights.entries()) {
    const expected = (trials * Number(weight)) / 10
    t.ok(Math.abs((firsts[index] as number) - expected) <= 4 * Math.sqrt(expected + 1), `first pick ${index}: ${firsts[index]} of ${trials}, expected ~${expected}`)
  }
  t.same(drawWeighted(sha256(utf8('x')), weights, 10).sort(), [0, 1, 2, 4], 'count above the candidates: every positive weight once')
  t.same(drawWeighted(sha256(utf8('x')), [], 3), [])
  t.same(drawWeighted(sha256(utf8('x')), weights, 4), drawWeighted(sha256(utf8('x')), weights, 4), 'deterministic')
  t.end()
})

t.test('isSampled: the rate of seeds sampled, the ends exact, a bad rate refused', (t) => {
  let sampled = 0
  const trials = 20_000
  for (let i = 0; i < trials; i++) if (isSampled(sha256(utf8(`record ${i}`)), 3n, 100n)) sampled++
  t.ok(Math.abs(sampled - 600) <= 4 * Math.sqrt(600), `${sampled} of ${trials} sampled at 3 %`)
  t.equal(isSampled(sha256(utf8('r')), 0n, 1n), false)
  t.equal(isSampled(sha256(utf8('r')), 1n, 1n), true)
  t.throws(() => isSampled(sha256(utf8('r')), 1n, 0n), { code: 'INVALID_RATE' })
  t.end()
})

t.test('the mix: folds each reveal in, ignores the parent hash when a reveal is given, keeps MIX_HISTORY heights', async (t) => {
  const committed = new MapState()
  const state = new StateOverlay(committed)
  const block = (height: number, reveal: string, parent = 'p') => ({
    chainId: 1, height, timestamp: 0, author: grinder, parentHash: sha256(utf8(parent)), randomnessReveal: utf8(reveal),
  })
  const m1 = await updateMix(state, block(1, 'r1'))
  t.same(m1, nextMix(ZERO_HASH, utf8('r1')))
  const m2 = await updateMix(state, block(2, 'r2'))
  t.same(m2, nextMix(m1, utf8('r2')))
  const other = new StateOverlay(committed)
  await updateMix(other, block(1, 'r1', 'another parent'))
  t.same(await updateMix(other, block(2, 'r2', 'yet another')), m2, 'the parent hash takes no part')
  for (let height = 3; height <= MIX_HISTORY + 2; height++) await updateMix(state, block(height, `r${height}`))
  t.same(await mixAt(state, 2), ZERO_HASH, 'a mix older than MIX_HISTORY is forgotten')
  t.notSame(await mixAt(state, 3), ZERO_HASH)

  const now = MIX_HISTORY + 2
  const seed = await drawSeed(state, { domain: 'a', subject: u64(1), height: now }, now)
  t.notSame(await drawSeed(state, { domain: 'b', subject: u64(1), height: now }, now), seed, 'the domain takes part')
  t.notSame(await drawSeed(state, { domain: 'a', subject: u64(2), height: now }, now), seed, 'the subject takes part')
  t.notSame(await drawSeed(state, { domain: 'a', subject: u64(1), height: now - 1 }, now), seed, 'the height takes part')
  await t.rejects(drawSeed(state, { domain: 'a', subject: u64(1), height: now + 1 }, now), DrawError, 'a mix not made yet')
  await t.rejects(drawSeed(state, { domain: 'a', subject: u64(1), height: now - MIX_HISTORY }, now), { code: 'MIX_UNAVAILABLE' }, 'a mix forgotten')
})
