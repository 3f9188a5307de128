// The governance genesis: its parameters only (proposals are made by transactions). Absent, the
// defaults apply and are not stored.
import * as k from '../../codec/schema.ts'
import type { StateOverlay } from '../../state/overlay.ts'
import { governanceParamsKind, params } from './state.ts'

export const governanceGenesisKind = k.struct({ params: k.optional(governanceParamsKind) })
export type GovernanceGenesis = k.Infer<typeof governanceGenesisKind>

export function applyGovernanceGenesis(state: StateOverlay, config: GovernanceGenesis): void {
  if (config.params !== undefined) params.set(state, config.params)
}
