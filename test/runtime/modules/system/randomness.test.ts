// The draw function (runtime/modules/system/randomness.ts) and why it exists: a documented demonstration that a
// draw from the parent block's hash, as ModelFactory's assignment was made before the beacon, is
// the parent proposer's to choose.
import t from 'tap'
import { hashHeader, ZERO_HASH, type BlockHeader } from '../../../../runtime/block.ts'
import { concatBytes, keccak256, sha256, utf8 } from '../../../../runtime/crypto/hash.ts'
import { u64Key } from '../../../../runtime/storage.ts'
import { beaconSeed } from '../../../../runtime/modules/staking/beacon.ts'
import { StateOverlay } from '../../../../runtime/state/overlay.ts'
import { DrawError, drawSeed, drawWeighted, isSampled, MIX_HISTORY, mixAt, nextMix, updateMix } from '../../../../runtime/modules/system/randomness.ts'
import { MapState } from '../../chainFixtures.ts'
import { buildGenesisState } from '../../../../genesis/build.ts'
import { devChainSpec } from '../../../../genesis/devSpec.ts'
import type { ChainSpec } from '../../../../genesis/spec.ts'

const operators = Array.from({ length: 7 }, (_, i) => sha256(utf8(`operator ${i}`)).subarray(0, 20))
const [grinder, friend] = operators as [Uint8Array, Uint8Array]
const sameBytes = (a: Uint8Array | undefined, b: Uint8Array): boolean => a !== undefined && Buffer.compare(a, b) === 0

/** The rule lifecycle.ts used before the beacon, reproduced: operators by keccak256(parentHash ‖ job ‖ operator). */
function parentHashOrder(parentHash: Uint8Array, job: number, members: readonly Uint8Array[]): Uint8Array[] {
  return members
    .map((operator) => ({ operator, key: keccak256(concatBytes(parentHash, u64Key(job), operator)) }))
    .sort((a, b) => Buffer.compare(a.key, b.key))
    .map(({ operator }) => operator)
}

function header(height: number, timestamp: number): BlockHeader {
  return {
    chainId: 1, height, parentHash: sha256(utf8(`parent of ${height}`)), timestamp, author: grinder, proposer: sha256(grinder), txRoot: ZERO_HASH,
    stateRoot: sha256(utf8(`state ${height}`)), receiptsRoot: ZERO_HASH, validatorsHash: ZERO_HASH, nextValidatorsHash: ZERO_HASH,
    lastCommitHash: ZERO_HASH, evidenceHash: ZERO_HASH, gasUsed: 0, baseFeePerGas: 0n, randomnessReveal: ZERO_HASH,
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
  const seed = await drawSeed(state, { domain: 'a', subject: u64Key(1), height: now }, now)
  t.notSame(await drawSeed(state, { domain: 'b', subject: u64Key(1), height: now }, now), seed, 'the domain takes part')
  t.notSame(await drawSeed(state, { domain: 'a', subject: u64Key(2), height: now }, now), seed, 'the subject takes part')
  t.notSame(await drawSeed(state, { domain: 'a', subject: u64Key(1), height: now - 1 }, now), seed, 'the height takes part')
  await t.rejects(drawSeed(state, { domain: 'a', subject: u64Key(1), height: now + 1 }, now), DrawError, 'a mix not made yet')
  await t.rejects(drawSeed(state, { domain: 'a', subject: u64Key(1), height: now - MIX_HISTORY }, now), { code: 'MIX_UNAVAILABLE' }, 'a mix forgotten')
})

t.test('with the beacon: block variants leave the mix alone, and withholding at most doubles the grinder\'s share', async (t) => {
  // Four validators of equal power, each revealing down its own hash chain. Subject j was fixed
  // RANDOMNESS_LOOKAHEAD blocks before the grinder proposes the block whose mix draws for it. The
  // grinder computes the draw with its reveal; if it is not drawn it withholds its block, and the
  // next round's proposer (another validator) makes the block instead: its one bit of choice.
  const validators = operators.slice(0, 4)
  const seeds = validators.map((operator) => beaconSeed(sha256(concatBytes(utf8('key of '), operator))))
  const powers = validators.map(() => 1n)
  const trials = 2_000
  let drawn = 0
  let variantsMoved = 0
  const committed = new MapState()
  const state = new StateOverlay(committed)
  // each chain's values, seed first: the k-th reveal is chain[length − k]
  const length = 2 * trials
  const chains = seeds.map((seed) => {
    const values = [seed]
    for (let i = 1; i <= length; i++) values.push(sha256(values[i - 1] as Uint8Array))
    return values
  })
  const revealed = validators.map(() => 0)
  const revealOf = (v: number): Uint8Array => chains[v]?.[length - ++revealed[v]!] as Uint8Array
  for (let height = 1; height <= trials; height++) {
    const honest = 1 + (height % 3)
    const reveal = revealOf(0)
    const withContent = async (parent: string, chosen: Uint8Array) => {
      const scratch = new StateOverlay(state)
      await updateMix(scratch, { chainId: 1, height, timestamp: height, author: grinder, parentHash: sha256(utf8(parent)), randomnessReveal: chosen })
      return { scratch, seed: await drawSeed(scratch, { domain: 'test/assignment', subject: u64Key(height), height }, height) }
    }
    const first = await withContent('variant 0', reveal)
    if (height <= 50) {
      // variants of the block's contents (here its parent hash; transactions alike): one mix
      for (let variant = 1; variant <= 20; variant++) if (Buffer.compare((await withContent(`variant ${variant}`, reveal)).seed, first.seed) !== 0) variantsMoved++
    }
    let final = reveal
    if (drawWeighted(first.seed, powers, 1)[0] !== 0) final = revealOf(honest) // withheld: the next proposer's block
    const { seed } = await withContent('the block made', final)
    if (drawWeighted(seed, powers, 1)[0] === 0) drawn++
    // the grinder's reveal stays unused when it withheld: it reveals the same value next time
    if (final !== reveal) revealed[0]!--
    await updateMix(state, { chainId: 1, height, timestamp: height, author: grinder, parentHash: ZERO_HASH, randomnessReveal: final })
  }
  t.equal(variantsMoved, 0, 'no variant of the block\'s contents moved the draw')
  const share = drawn / trials
  const fair = 1 / validators.length
  t.ok(share <= 2 * fair, `the withholding grinder was drawn ${drawn} of ${trials} times: ${(share / fair).toFixed(2)}x its fair share (bound 2x; 1 − (3/4)² = 1.75x expected)`)
  t.ok(share > fair, 'withholding does help it (the bound is not vacuous)')
})

t.test('the genesis writes the first mix from the chain id and genesis time; the first block folds into it', async (t) => {
  const genesisOf = async (spec: ChainSpec): Promise<MapState> => {
    const state = new MapState()
    state.apply(await buildGenesisState(spec))
    return state
  }
  const dev = devChainSpec()
  const mix0 = await mixAt(await genesisOf(dev), 0)
  t.notSame(mix0, ZERO_HASH, 'mix(0) is stored by the genesis')
  t.notSame(await mixAt(await genesisOf({ ...dev, chainId: dev.chainId + 1 }), 0), mix0, 'another chain id, another first mix')
  t.notSame(await mixAt(await genesisOf(devChainSpec({ genesisTime: dev.genesisTime + 1 })), 0), mix0, 'another genesis time, another first mix')
  const overlay = new StateOverlay(await genesisOf(dev))
  const reveal = sha256(utf8('reveal 1'))
  t.same(await updateMix(overlay, { ...header(1, dev.genesisTime + 1000), randomnessReveal: reveal }), nextMix(mix0, reveal), 'block 1 folds its reveal into the genesis mix')
})
