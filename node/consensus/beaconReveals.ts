// This validator's reveals for the randomness beacon (runtime/modules/staking/beacon.ts): the values
// of its hash chain, from the seed its consensus key derives. The chain registered in staking says
// how many values are left below its tip; the reveal is sha256^(remaining − 1)(seed). A table of
// every CHECKPOINT_STRIDE-th value (built once, on the first proposal: BEACON_CHAIN_LENGTH hashes,
// well under a second) keeps each reveal to at most CHECKPOINT_STRIDE hashes.
import { bytesEqual } from '../../runtime/codec/canonical.ts'
import { sha256 } from '../../runtime/crypto/hash.ts'
import { BEACON_CHAIN_LENGTH, type BeaconChain, beaconSeed, hashChain } from '../../runtime/modules/staking/index.ts'

/** values between two checkpoints */
const CHECKPOINT_STRIDE = 1024

export class BeaconReveals {
  readonly #seed: Uint8Array
  readonly #length: number
  #checkpoints: Uint8Array[] | undefined

  constructor(consensusSecretKey: Uint8Array, length = BEACON_CHAIN_LENGTH) {
    this.#seed = beaconSeed(consensusSecretKey)
    this.#length = length
  }

  /** The value that hashes to the chain's tip, or undefined if the registered chain is not ours (or is used up). */
  revealFor(chain: BeaconChain): Uint8Array | undefined {
    if (chain.remaining < 1 || chain.remaining > this.#length) return undefined
    const index = chain.remaining - 1
    const checkpoints = (this.#checkpoints ??= this.#buildCheckpoints())
    const from = Math.floor(index / CHECKPOINT_STRIDE)
    const reveal = hashChain(checkpoints[from] as Uint8Array, index - from * CHECKPOINT_STRIDE)
    return bytesEqual(sha256(reveal), chain.tip) ? reveal : undefined
  }

  #buildCheckpoints(): Uint8Array[] {
    const checkpoints: Uint8Array[] = []
    let value = this.#seed
    for (let i = 0; i < this.#length; i += CHECKPOINT_STRIDE) {
      checkpoints.push(value)
      value = hashChain(value, CHECKPOINT_STRIDE)
    }
    return checkpoints
  }
}
