import * as k from '../../codec/schema.ts'
import type { StateOverlay } from '../../state/overlay.ts'
import { datanetsParamsKind, params } from './state.ts'

export const datanetsGenesisKind = k.struct({ params: k.optional(datanetsParamsKind) })
export type DatanetsGenesis = k.Infer<typeof datanetsGenesisKind>

/** Only parameters: datanets are created by transactions. Absent, the defaults apply (and are not stored). */
export function applyDatanetsGenesis(state: StateOverlay, config: DatanetsGenesis): void {
  if (config.params !== undefined) params.set(state, config.params)
}
