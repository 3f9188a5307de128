// The randomness beacon's reveals (ARCHITECTURE.md "Randomness"): each validator registers the tip
// of a sha256 hash chain, tip = sha256^n(seed), with a secret seed only its node knows. A block it
// proposes carries the next value down the chain, sha256^(n−1)(seed): the one preimage of the tip,
// so the proposer cannot choose it (sha256 is second-preimage resistant), only withhold the block.
// The importer checks the reveal against the state before executing (revealProblem); staking's
// beginBlock then moves the tip down (advanceBeacon) and system's folds the reveal into the mix.
//
// A validator without a chain (created by a call before it registered one) proposes with a zero
// reveal: its blocks add nothing to the mix but cannot steer it either.
//
// Registering and rotating (setBeaconChain): a validator registers a new chain, from the next
// generation of its seed, whenever it likes; the chain comes into force BEACON_ROTATION_DELAY
// blocks after the call (rotateBeacons, staking's endBlock, writes it for the next block). Until
// then the old chain (or none) counts, and no second registration is taken: its seed was chosen
// before the reveals of the blocks in between existed, so its values cannot have been ground
// against the mix they will be folded into, and an operator cannot keep two candidates open.
import { bytesEqual } from '../../codec/canonical.ts'
import * as k from '../../codec/schema.ts'
import { concatBytes, sha256, utf8 } from '../../crypto/hash.ts'
import type { ExecutionContext } from '../../module.ts'
import { ZERO_HASH } from '../../block.ts'
import type { StateReader } from '../../state/overlay.ts'
import { RANDOMNESS_LOOKAHEAD } from '../system/index.ts'
import { beaconChainKind, beaconChains, beaconGenerations, beaconRotationQueue, beaconRotations, validatorByKey } from './state.ts'

/** values of a chain registered at genesis or by the node: ~262k proposals */
export const BEACON_CHAIN_LENGTH = 1 << 18
/** the longest chain a registration may claim */
export const MAX_BEACON_CHAIN_LENGTH = 1 << 24

/**
 * blocks between setBeaconChain and the first block whose reveal comes from the new chain: one more
 * than the randomness lookahead, so no draw for a subject fixed when the seed was chosen (whose mix
 * is at most RANDOMNESS_LOOKAHEAD blocks later) takes a value of the new chain
 */
export const BEACON_ROTATION_DELAY = RANDOMNESS_LOOKAHEAD + 1

/** tip: the last value revealed (the commitment, before any), the next reveal hashes to it; remaining: values left below it */
export type BeaconChain = k.Infer<typeof beaconChainKind>

const SEED_DOMAIN = utf8('openledger/beacon/seed/v1')

/**
 * The seed of a validator's chain, from its ed25519 secret key: the node needs no other secret,
 * and a key file restored on another machine reveals the same values.
 */
export function beaconSeed(consensusSecretKey: Uint8Array, generation = 0): Uint8Array {
  const counter = new Uint8Array(4)
  new DataView(counter.buffer).setUint32(0, generation)
  return sha256(concatBytes(SEED_DOMAIN, counter, consensusSecretKey))
}

/** The tip a chain of `length` values from this key's seed `generation` registers: sha256^length(seed). */
export function beaconTip(consensusSecretKey: Uint8Array, generation: number, length: number): Uint8Array {
  return hashChain(beaconSeed(consensusSecretKey, generation), length)
}

/** sha256 applied `times` times to `value`. */
export function hashChain(value: Uint8Array, times: number): Uint8Array {
  let out = value
  for (let i = 0; i < times; i++) out = sha256(out)
  return out
}

export const RevealProblemCode = {
  /** the proposer has a chain, and the block carries no reveal */
  missing: 'MISSING_REVEAL',
  /** the reveal does not hash to the proposer's tip, or a proposer without a chain revealed something */
  wrong: 'WRONG_REVEAL',
} as const
export type RevealProblemCode = (typeof RevealProblemCode)[keyof typeof RevealProblemCode]

/**
 * Why `reveal` is not the reveal a block by `proposerKey` must carry on `state` (the parent's), or
 * undefined. `proposerKey` undefined: a block without a proposer (the dev chain), which reveals nothing.
 */
export async function revealProblem(state: StateReader, proposerKey: Uint8Array | undefined, reveal: Uint8Array): Promise<{ code: RevealProblemCode; message: string } | undefined> {
  const chain = proposerKey === undefined ? undefined : await chainOf(state, proposerKey)
  const none = bytesEqual(reveal, ZERO_HASH)
  if (chain === undefined || chain.remaining === 0) {
    return none ? undefined : { code: RevealProblemCode.wrong, message: 'the proposer has no beacon chain: its reveal must be zero' }
  }
  if (none) return { code: RevealProblemCode.missing, message: 'the block carries no reveal; its proposer has a beacon chain' }
  if (!bytesEqual(sha256(reveal), chain.tip)) return { code: RevealProblemCode.wrong, message: 'the reveal does not hash to the proposer\'s beacon chain tip' }
  return undefined
}

async function chainOf(state: StateReader, proposerKey: Uint8Array): Promise<BeaconChain | undefined> {
  const operator = await validatorByKey.get(state, proposerKey)
  return operator === undefined ? undefined : beaconChains.get(state, operator)
}

/** The block's reveal, checked by the importer, becomes its proposer's tip (staking's beginBlock). */
export async function advanceBeacon(context: ExecutionContext): Promise<void> {
  const { proposerKey, randomnessReveal } = context.block
  if (proposerKey === undefined || randomnessReveal === undefined || bytesEqual(randomnessReveal, ZERO_HASH)) return
  const operator = await validatorByKey.get(context.state, proposerKey)
  const chain = operator === undefined ? undefined : await beaconChains.get(context.state, operator)
  if (operator === undefined || chain === undefined || chain.remaining === 0 || !bytesEqual(sha256(randomnessReveal), chain.tip)) return
  beaconChains.set(context.state, operator, { tip: randomnessReveal, remaining: chain.remaining - 1 })
}

/** Registered chains whose delay ends with this block come into force for the next one (staking's endBlock). */
export async function rotateBeacons(context: ExecutionContext): Promise<void> {
  const { state } = context
  const height = context.block.height
  const due = await beaconRotationQueue.get(state, height)
  if (due === undefined) return
  beaconRotationQueue.delete(state, height)
  for (const operator of due) {
    const rotation = await beaconRotations.get(state, operator)
    if (rotation === undefined || rotation.effectiveHeight !== height + 1) continue
    beaconRotations.delete(state, operator)
    beaconChains.set(state, operator, { tip: rotation.tip, remaining: rotation.remaining })
    beaconGenerations.set(state, operator, rotation.generation)
  }
}
