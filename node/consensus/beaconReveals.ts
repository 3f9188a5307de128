// This validator's reveals for the randomness beacon (runtime/modules/staking/beacon.ts): the values
// of its hash chain, from the seed its consensus key derives for the chain's generation (0 for a
// genesis chain, the one setBeaconChain named for a registered one). The chain in staking says
// how many values are left below its tip; the reveal is sha256^(remaining − 1)(seed). A table of
// every CHECKPOINT_STRIDE-th value (built on the first proposal of a generation, as far as the
// chain reaches: BEACON_CHAIN_LENGTH hashes, well under a second) keeps each reveal to at most
// CHECKPOINT_STRIDE hashes.
import { bytesEqual } from '../../runtime/codec/canonical.ts'
import { sha256 } from '../../runtime/crypto/hash.ts'
import { beaconSeed, hashChain, type BeaconChain } from '../../runtime/modules/staking/index.ts'

/** values between two checkpoints */
const CHECKPOINT_STRIDE = 1024

export class BeaconReveals {
  readonly #secretKey: Uint8Array
  /** the generation whose table is built, and the table (one generation at a time: rotations are rare) */
  #table: { generation: number; checkpoints: Uint8Array[] } | undefined

  constructor(consensusSecretKey: Uint8Array) {
    this.#secretKey = consensusSecretKey
  }

  /** The value that hashes to the chain's tip, or undefined if the registered chain is not ours (or is used up). */
  revealFor(chain: BeaconChain, generation = 0): Uint8Array | undefined {
    if (chain.remaining < 1) return undefined
    const index = chain.remaining - 1
    const checkpoints = this.#checkpoints(generation, index)
    const from = Math.floor(index / CHECKPOINT_STRIDE)
    const reveal = hashChain(checkpoints[from] as Uint8Array, index - from * CHECKPOINT_STRIDE)
    return bytesEqual(sha256(reveal), chain.tip) ? reveal : undefined
  }

  /** The generation's checkpoints, reaching at least `index` (values below a chain's tip only ever get fewer). */
  #checkpoints(generation: number, index: number): Uint8Array[] {
    const needed = Math.floor(index / CHECKPOINT_STRIDE) + 1
    if (this.#table?.generation !== generation) this.#table = { generation, checkpoints: [beaconSeed(this.#secretKey, generation)] }
    const { checkpoints } = this.#table
    while (checkpoints.length < needed) checkpoints.push(hashChain(checkpoints.at(-1) as Uint8Array, CHECKPOINT_STRIDE))
    return checkpoints
  }
}
