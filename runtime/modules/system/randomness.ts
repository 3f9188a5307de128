// Randomness of the runtime: the beacon's per-block mix and the one way to draw from it.
//
// Each block's proposer reveals a value it cannot choose (the next value down the hash chain it
// registered in staking, checked on import: ARCHITECTURE.md "Randomness"); the mix folds it in at
// the start of the block:
//
//   mix(h) = sha256(MIX_DOMAIN ‖ mix(h − 1) ‖ sha256(reveal(h)))      mix(0) from the genesis (genesis.ts)
//
// A draw for a subject (a job, an inference record, a receipt) reads the mix of a height at least
// RANDOMNESS_LOOKAHEAD blocks after the subject was fixed, so the proposer that put the subject in
// a block did not know the value yet; from then on a proposer can only withhold its block (one bit,
// at the cost of its block reward). So no call draws: a call whose effect needs a draw records it,
// and the block hook draws RANDOMNESS_LOOKAHEAD blocks later. Every module draws through drawSeed,
// then drawWeighted (k of n by weight) or isSampled (a rate): a domain tag keeps draws of different
// purposes independent.
import { ZERO_HASH } from '../../block.ts'
import { concatBytes, sha256, toHex, utf8 } from '../../crypto/hash.ts'
import { OpenLedgerError } from '../../errors.ts'
import type { BlockInfo } from '../../module.ts'
import { randomMixes } from './state.ts'
import type { StateOverlay, StateReader } from '../../state/overlay.ts'

/** blocks between the height a subject is fixed at and the height whose mix draws for it */
export const RANDOMNESS_LOOKAHEAD = 2
/** heights whose mix stays in state: the oldest mix a draw may read is this far back */
export const MIX_HISTORY = 256

const MIX_DOMAIN = utf8('openledger/beacon/mix/v1')
const SEED_DOMAIN = utf8('openledger/draw/v1')
const TWO_256 = 1n << 256n

/** The mix after block h−1 and this block's reveal: the mix after block h. */
export function nextMix(previous: Uint8Array, reveal: Uint8Array): Uint8Array {
  return sha256(concatBytes(MIX_DOMAIN, previous, sha256(reveal)))
}

/**
 * Folds the block's reveal into the mix (system's beginBlock, before any other module runs) and
 * forgets the mix that fell out of the history. A block without a reveal (a chain built before the
 * beacon, the genesis) folds in its parent hash.
 */
export async function updateMix(state: StateOverlay, block: BlockInfo): Promise<Uint8Array> {
  const previous = block.height === 0 ? ZERO_HASH : await mixAt(state, block.height - 1)
  const mix = nextMix(previous, block.randomnessReveal ?? block.parentHash)
  randomMixes.set(state, block.height, mix)
  if (block.height >= MIX_HISTORY) randomMixes.delete(state, block.height - MIX_HISTORY)
  return mix
}

/** The mix after block `height` (zero for a height no longer kept, or in a state built without the system genesis). */
export async function mixAt(state: StateReader, height: number): Promise<Uint8Array> {
  return (await randomMixes.get(state, height)) ?? ZERO_HASH
}

export interface DrawRequest {
  /** what the draw is for, e.g. 'openledger/models/assignment/v1': draws of two purposes are independent */
  readonly domain: string
  /** the thing drawn for (job id and attempt, record id), fixed before the mix of `height` existed */
  readonly subject: Uint8Array
  /**
   * the height whose mix decides: at least RANDOMNESS_LOOKAHEAD after the height the subject was
   * fixed at, at most the current height, at most MIX_HISTORY − 1 back
   */
  readonly height: number
}

export const DrawErrorCode = { mixUnavailable: 'MIX_UNAVAILABLE', invalidRate: 'INVALID_RATE' } as const
export type DrawErrorCode = (typeof DrawErrorCode)[keyof typeof DrawErrorCode]
/** A caller's bug (a draw asked for a mix not made yet or forgotten, a rate that is none): never a receipt. */
export class DrawError extends OpenLedgerError<DrawErrorCode> {}

/**
 * The 32-byte seed of one draw: sha256(SEED_DOMAIN ‖ len(domain) ‖ domain ‖ mix(height) ‖ subject).
 * `now` is the executing block's height; asking for a mix not yet made or already forgotten is a
 * bug in the caller (DrawError).
 */
export async function drawSeed(state: StateReader, request: DrawRequest, now: number): Promise<Uint8Array> {
  if (request.height > now || request.height <= now - MIX_HISTORY || request.height < 0) {
    throw new DrawError(DrawErrorCode.mixUnavailable, `draw for '${request.domain}' asks for the mix of height ${request.height} at height ${now}`)
  }
  const domain = utf8(request.domain)
  return sha256(concatBytes(SEED_DOMAIN, u32(domain.length), domain, await mixAt(state, request.height), request.subject))
}

/**
 * `count` distinct indices of `weights` (all of them with a positive weight if fewer), each pick
 * in proportion to its weight among those not yet picked: the i-th pick is
 * uint256(sha256(seed ‖ i)) mod (weight left) along the cumulative weights. The result depends on
 * the order of `weights`: callers pass a canonical order (the validator set's, by operator).
 * The modulo bias is below total weight / 2^256.
 */
export function drawWeighted(seed: Uint8Array, weights: readonly bigint[], count: number): number[] {
  const left = weights.map((weight) => (weight > 0n ? weight : 0n))
  let total = left.reduce((sum, weight) => sum + weight, 0n)
  const picked: number[] = []
  for (let i = 0; picked.length < count && total > 0n; i++) {
    let point = uint256(sha256(concatBytes(seed, u32(i)))) % total
    let index = 0
    while (point >= (left[index] ?? 0n)) point -= left[index++] ?? 0n
    picked.push(index)
    total -= left[index] ?? 0n
    left[index] = 0n
  }
  return picked
}

/**
 * Whether the seed's subject is sampled at rate numerator/denominator:
 * uint256(sha256(seed ‖ 'sample')) < rate × 2^256, so exactly that share of seeds, independent of
 * drawWeighted's picks from the same seed.
 */
export function isSampled(seed: Uint8Array, numerator: bigint, denominator: bigint): boolean {
  if (denominator <= 0n || numerator < 0n) throw new DrawError(DrawErrorCode.invalidRate, `sampling rate ${numerator}/${denominator} is not a rate`)
  if (numerator >= denominator) return true
  return uint256(sha256(concatBytes(seed, SAMPLE_TAG))) * denominator < numerator * TWO_256
}

const SAMPLE_TAG = utf8('sample')

/** A 32-byte hash as a big-endian integer. */
const uint256 = (hash: Uint8Array): bigint => BigInt(toHex(hash))

function u32(value: number): Uint8Array {
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, value)
  return out
}
