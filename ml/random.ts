// The engine's seeded pseudo-random generator: xoshiro128** (32-bit words, Math.imul), seeded
// from keccak256 of the seed bytes. Its whole state is four words, so a training state can store
// it and a resumed run draws the same numbers.
import { keccak256 } from '../runtime/crypto/hash.ts'
import { MlError } from './errors.ts'
import { log } from './math.ts'

const TWO_POW_32 = 4294967296
const TWO_POW_M53 = 1 / 9007199254740992

/** The seed as bytes: a number is a non-negative safe integer, written as 8 bytes little-endian. */
export function seedBytes(seed: Uint8Array | number): Uint8Array {
  if (seed instanceof Uint8Array) return seed
  if (!Number.isSafeInteger(seed) || seed < 0) throw new MlError('INVALID_ARGUMENT', 'a numeric seed must be a non-negative safe integer', { details: { seed } })
  const out = new Uint8Array(8)
  let rest = seed
  for (let i = 0; i < 8; i++) {
    out[i] = rest % 256
    rest = Math.floor(rest / 256)
  }
  return out
}

export class Rng {
  #s0: number
  #s1: number
  #s2: number
  #s3: number

  constructor(seed: Uint8Array | number) {
    const digest = keccak256(seedBytes(seed))
    const word = (i: number) => ((digest[i] as number) | ((digest[i + 1] as number) << 8) | ((digest[i + 2] as number) << 16) | ((digest[i + 3] as number) << 24)) >>> 0
    this.#s0 = word(0)
    this.#s1 = word(4)
    this.#s2 = word(8)
    this.#s3 = word(12)
    if ((this.#s0 | this.#s1 | this.#s2 | this.#s3) === 0) this.#s0 = 1 // the one state xoshiro cannot leave
  }

  /** A generator continuing from a saved state (four 32-bit words, not all zero). */
  static fromState(state: Uint32Array): Rng {
    if (state.length !== 4 || (state[0]! | state[1]! | state[2]! | state[3]!) === 0) throw new MlError('INVALID_ARGUMENT', 'an rng state is four words, not all zero')
    const rng = new Rng(0)
    rng.#s0 = state[0]!
    rng.#s1 = state[1]!
    rng.#s2 = state[2]!
    rng.#s3 = state[3]!
    return rng
  }

  state(): Uint32Array {
    return Uint32Array.of(this.#s0, this.#s1, this.#s2, this.#s3)
  }

  nextU32(): number {
    const s1 = this.#s1
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0
    const t = s1 << 9
    this.#s2 ^= this.#s0
    this.#s3 ^= this.#s1
    this.#s1 ^= this.#s2
    this.#s0 ^= this.#s3
    this.#s2 ^= t
    this.#s3 = rotl(this.#s3, 11)
    this.#s0 >>>= 0
    this.#s1 >>>= 0
    this.#s2 >>>= 0
    this.#s3 >>>= 0
    return result
  }

  /** Uniform in [0, 1) with 53 random bits. */
  nextFloat(): number {
    const high = this.nextU32() >>> 5 // 27 bits
    const low = this.nextU32() >>> 6 // 26 bits
    return (high * 67108864 + low) * TWO_POW_M53
  }

  /** Uniform integer in [0, n) for 1 ≤ n ≤ 2^32, without modulo bias (rejection). */
  below(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) throw new MlError('INVALID_ARGUMENT', 'below(n) needs an integer 1 ≤ n ≤ 2^32', { details: { n } })
    const limit = TWO_POW_32 - (TWO_POW_32 % n)
    while (true) {
      const x = this.nextU32()
      if (x < limit) return x % n
    }
  }

  /** Standard normal (Marsaglia's polar method; the second value of each pair is dropped so the state stays four words). */
  normal(): number {
    while (true) {
      const u = 2 * this.nextFloat() - 1
      const v = 2 * this.nextFloat() - 1
      const s = u * u + v * v
      if (s > 0 && s < 1) return u * Math.sqrt((-2 * log(s)) / s)
    }
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k))
}
