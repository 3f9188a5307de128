import * as k from '../../codec/schema.ts'
import type { StateOverlay } from '../../state/overlay.ts'
import { attributionParamsKind, params } from './state.ts'

/** The module's part of a chain spec: its parameters (absent, the defaults apply and are not stored). */
export const attributionGenesisKind = k.struct({ params: k.optional(attributionParamsKind) })
export type AttributionGenesis = k.Infer<typeof attributionGenesisKind>

/** The spec was validated before (attributionParamsProblem). */
export function applyAttributionGenesis(state: StateOverlay, config: AttributionGenesis): void {
  if (config.params !== undefined) params.set(state, config.params)
}
