// The fees module's genesis: its parameters and the first base fee (the minimum).
import type { StateOverlay } from '../../state/overlay.ts'
import { baseFeePerGas, DEFAULT_FEE_PARAMS, feeParams, type FeeParams } from './state.ts'

export function applyFeesGenesis(state: StateOverlay, config: FeeParams | undefined): void {
  const params = config ?? DEFAULT_FEE_PARAMS
  feeParams.set(state, params)
  baseFeePerGas.set(state, params.minBaseFeePerGas)
}
