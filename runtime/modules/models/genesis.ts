import * as k from '../../codec/schema.ts'
import type { StateOverlay } from '../../state/overlay.ts'
import { storeBaseModel } from './calls.ts'
import { baseModelArgsKind, MODELS_ACCOUNT, modelsParamsKind, params } from './state.ts'

/** at most this many base models in a chain spec */
export const MAX_GENESIS_BASE_MODELS = 256

export const modelsGenesisKind = k.struct({
  params: k.optional(modelsParamsKind),
  /** registered at genesis, with ids from 1 in this order, owned by the module account, no deposit */
  baseModels: k.list(baseModelArgsKind, MAX_GENESIS_BASE_MODELS),
})
export type ModelsGenesis = k.Infer<typeof modelsGenesisKind>
export type GenesisBaseModel = k.Infer<typeof baseModelArgsKind>

/** Absent, the default parameters apply (and are not stored). The spec was validated before. */
export async function applyModelsGenesis(state: StateOverlay, config: ModelsGenesis): Promise<void> {
  if (config.params !== undefined) params.set(state, config.params)
  for (const model of config.baseModels) await storeBaseModel(state, model, MODELS_ACCOUNT, 0n, 0)
}
