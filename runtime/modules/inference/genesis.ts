import * as k from '../../codec/schema.ts'
import type { StateOverlay } from '../../state/overlay.ts'
import { inferenceParamsKind, params } from './state.ts'

/**
 * The module's part of a chain spec: its parameters (declared in state.ts for the registry that
 * governance changes them through). Absent, the defaults apply (and are not stored).
 */
export const inferenceGenesisKind = k.struct({ params: k.optional(inferenceParamsKind) })
export type InferenceGenesis = k.Infer<typeof inferenceGenesisKind>

/** The spec was validated before (inferenceParamsProblem). */
export function applyInferenceGenesis(state: StateOverlay, config: InferenceGenesis): void {
  if (config.params !== undefined) params.set(state, config.params)
}
