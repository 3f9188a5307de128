// The treasury's genesis writes nothing: it starts with what the chain spec allocates to
// TREASURY_ACCOUNT, which the balances genesis mints like any allocation (so the supply is counted
// once), and it has no storage or parameters of its own (state.ts). Present so that every module
// has the one shape and genesis/build.ts hands each its part of the spec alike.
import type { StateOverlay } from '../../state/overlay.ts'

export function applyTreasuryGenesis(_state: StateOverlay, _config: undefined): void {}
