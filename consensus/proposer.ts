// Proposer selection: weighted round robin by voting power, as a pure function of
// (validator set, height, round) — no priorities carried from one height to the next.
//
// Tendermint's priority algorithm (each step: add every validator's power to its priority, pick
// the highest, subtract the total power from it) is path dependent: its state after k steps has no
// closed form, so a stateless answer would have to replay k steps (k grows with the chain, and with
// stake-sized powers one cycle is astronomically long). We keep its shape and make it closed form:
//
//   * One global sequence of turns; the proposer of (height, round) is turn number height + round.
//     This is what Tendermint does too: the next height advances the priorities by one step, and
//     round r of a height by r steps, so a failed round hands over to the next validator in line.
//   * Validator i (power p_i, total power T) accrues p_i of credit per step and its j-th turn
//     (j = 0, 1, …) falls due when its credit reaches (j + 1/2)·T, i.e. at step (2j+1)·T / (2·p_i).
//     Turn k goes to the owner of the k-th earliest due point over all validators; equal points go
//     to the smaller public key (bytewise). This is the sequential Sainte-Laguë (Webster) divisor
//     method: each turn goes to the validator most behind its share, which is also what the
//     priority algorithm approximates. After k turns each validator has had k·p_i/T turns within
//     about one, so selection is proportional to power, every validator gets a turn within about
//     T / (2·p_i) + n steps, and equal powers give plain round robin in key order.
//
// Computing turn k: the number of due points up to step s is Σ floor(s·p_i/T + 1/2), which is
// within n/2 of s, so turn k lies in the window [k − n, k + 1 + n]. We count the points before the
// window, list the ≈ 3n points inside it, sort them exactly (bigint cross-multiplication) and index.
// O(n log n) bigint work per call, independent of height and of the size of the powers.
import { type Validator, type ValidatorSet } from './types.ts'

interface DuePoint {
  readonly index: number
  /** the point is (2j+1)·T / (2·power); comparing (2j+1)/power is enough */
  readonly odd: bigint
  readonly power: bigint
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b
  return a % b !== 0n && (a < 0n) !== (b < 0n) ? q - 1n : q
}

function ceilDiv(a: bigint, b: bigint): bigint {
  return -floorDiv(-a, b)
}

/** The index in `set.validators` of the proposer of (height, round). */
export function proposerIndex(set: ValidatorSet, height: number, round: number): number {
  const validators = set.validators
  const count = BigInt(validators.length)
  const total = set.totalPower
  const turn = BigInt(height) + BigInt(round)
  const low = turn > count ? turn - count : 0n
  const high = turn + 1n + count
  let before = 0n
  const points: DuePoint[] = []
  validators.forEach((validator, index) => {
    const p = validator.power
    // first j with (2j+1)·T >= 2·p·low, last j with (2j+1)·T <= 2·p·high
    const first = low === 0n ? 0n : ceilDiv(2n * p * low - total, 2n * total)
    const firstJ = first > 0n ? first : 0n
    const lastJ = floorDiv(2n * p * high - total, 2n * total)
    before += firstJ
    for (let j = firstJ; j <= lastJ; j++) points.push({ index, odd: 2n * j + 1n, power: p })
  })
  points.sort((a, b) => {
    const left = a.odd * b.power
    const right = b.odd * a.power
    if (left !== right) return left < right ? -1 : 1
    return Buffer.compare((validators[a.index] as Validator).publicKey, (validators[b.index] as Validator).publicKey)
  })
  const chosen = points[Number(turn - before)]
  // unreachable for a valid set: the window provably holds turn k (see the header)
  if (chosen === undefined) throw new RangeError(`proposer window missed turn ${turn}`)
  return chosen.index
}

/** The validator that proposes in (height, round). */
export function proposerFor(set: ValidatorSet, height: number, round: number): Validator {
  return set.validators[proposerIndex(set, height, round)] as Validator
}
