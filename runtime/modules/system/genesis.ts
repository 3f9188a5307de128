// The system module's genesis: the beacon's first mix, the one the first block's reveal folds into.
// Derived from what makes the chain itself (its id and genesis time), so two chains never share a
// mix sequence even where their validators reveal alike. Account records are written by the
// balances genesis, which mints into them.
import { concatBytes, sha256, utf8 } from '../../crypto/hash.ts'
import type { GenesisContext } from '../../module.ts'
import type { StateOverlay } from '../../state/overlay.ts'
import { u32Key, u64Key } from '../../storage.ts'
import { randomMixes } from './state.ts'

const GENESIS_MIX_DOMAIN = utf8('openledger/beacon/genesis/v1')

/** mix(0) = sha256(GENESIS_MIX_DOMAIN ‖ u32 chainId ‖ u64 genesisTime) */
export function genesisMix(context: GenesisContext): Uint8Array {
  return sha256(concatBytes(GENESIS_MIX_DOMAIN, u32Key(context.chainId), u64Key(context.genesisTime)))
}

export function applySystemGenesis(state: StateOverlay, _config: undefined, context: GenesisContext): void {
  randomMixes.set(state, 0, genesisMix(context))
}
