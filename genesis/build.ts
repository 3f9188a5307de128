// Genesis state: every module's initial storage from a validated chain spec, each module applying
// its own part (`RuntimeModule.genesis`) in dispatch order. Pure: the node commits the resulting
// changes as state version 0 and builds block 0 over its root.
import { createRuntime } from '../runtime/index.ts'
import { StateOverlay, type StateReader } from '../runtime/state/overlay.ts'
import { feeParamsOf, validateChainSpec, type ChainSpec } from './spec.ts'

const EMPTY_STATE: StateReader = { get: async () => undefined }

/** Each module's part of a chain spec, by module name (absent: the module's defaults). */
function moduleConfigs(spec: ChainSpec): Record<string, unknown> {
  return {
    balances: {
      balances: spec.allocations.map(({ address, amount }) => ({ address, amount })),
      vesting: spec.allocations.flatMap(({ address, amount, vesting }) => (vesting === undefined ? [] : [{ address, schedule: { total: amount, ...vesting } }])),
    },
    fees: feeParamsOf(spec),
    staking: spec.staking,
    datanets: spec.datanets,
    models: spec.models,
    inference: spec.inference,
    attribution: spec.attribution,
    governance: spec.governance,
  }
}

export async function buildGenesisState(spec: ChainSpec): Promise<Array<{ key: Uint8Array; value: Uint8Array | undefined }>> {
  validateChainSpec(spec)
  const state = new StateOverlay(EMPTY_STATE)
  const configs = moduleConfigs(spec)
  for (const module of createRuntime().modules) await module.genesis?.apply(state, configs[module.name], { chainId: spec.chainId, genesisTime: spec.genesisTime })
  return state.changes()
}
