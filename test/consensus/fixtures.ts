// Shared test fixtures: deterministic validator keys, sets, and signed messages.
import { generateEd25519FromSeed, type Ed25519KeyPair } from '../../runtime/crypto/ed25519.ts'
import { sha256, utf8 } from '../../runtime/crypto/hash.ts'
import { createValidatorSet, signProposal, signVote, type SignedProposal, type SignedVote, type ValidatorSet, type VoteType } from '../../consensus/types.ts'

export const CHAIN_ID = 7

export function keyPair(i: number): Ed25519KeyPair {
  return generateEd25519FromSeed(sha256(utf8(`consensus test validator ${i}`)))
}

export interface Committee {
  readonly keys: Ed25519KeyPair[]
  readonly set: ValidatorSet
}

/** Validators 0..n-1 (set order = creation order) with the given powers. */
export function committee(powers: readonly bigint[]): Committee {
  const keys = powers.map((_, i) => keyPair(i))
  const set = createValidatorSet(powers.map((power, i) => ({ publicKey: (keys[i] as Ed25519KeyPair).publicKey, power })))
  return { keys, set }
}

export function blockHash(label: string): Uint8Array {
  return sha256(utf8(`block ${label}`))
}

export function vote(c: Committee, i: number, type: VoteType, height: number, round: number, hash: Uint8Array | undefined, chainId = CHAIN_ID): SignedVote {
  const key = c.keys[i] as Ed25519KeyPair
  return signVote(chainId, { type, height, round, blockHash: hash, validator: key.publicKey }, key.secretKey)
}

export function proposal(c: Committee, i: number, height: number, round: number, hash: Uint8Array, polRound = -1, chainId = CHAIN_ID): SignedProposal {
  const key = c.keys[i] as Ed25519KeyPair
  return signProposal(chainId, { height, round, blockHash: hash, polRound, proposer: key.publicKey }, key.secretKey)
}

/** A small seeded PRNG (mulberry32): deterministic test randomness. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
