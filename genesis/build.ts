// Genesis state: every module's initial storage from a validated chain spec. Pure: the node
// commits the resulting changes as state version 0 and builds block 0 over its root.
import { applyBalancesGenesis } from '../runtime/modules/balances/genesis.ts'
import { baseFeePerGas, feeParams } from '../runtime/modules/fees/state.ts'
import { applyDatanetsGenesis } from '../runtime/modules/datanets/genesis.ts'
import { applyModelsGenesis } from '../runtime/modules/models/genesis.ts'
import { applyStakingGenesis } from '../runtime/modules/staking/genesis.ts'
import { StateOverlay, type StateReader } from '../runtime/state/overlay.ts'
import { feeParamsOf, validateChainSpec, type ChainSpec } from './spec.ts'

const EMPTY_STATE: StateReader = { get: async () => undefined }

export async function buildGenesisState(spec: ChainSpec): Promise<Array<{ key: Uint8Array; value: Uint8Array | undefined }>> {
  validateChainSpec(spec)
  const state = new StateOverlay(EMPTY_STATE)
  applyBalancesGenesis(state, {
    balances: spec.allocations.map(({ address, amount }) => ({ address, amount })),
    vesting: spec.allocations.flatMap(({ address, amount, vesting }) => (vesting === undefined ? [] : [{ address, schedule: { total: amount, ...vesting } }])),
  })
  const fees = feeParamsOf(spec)
  feeParams.set(state, fees)
  baseFeePerGas.set(state, fees.minBaseFeePerGas)
  if (spec.staking !== undefined) await applyStakingGenesis(state, spec.staking, spec.genesisTime, spec.chainId)
  if (spec.datanets !== undefined) applyDatanetsGenesis(state, spec.datanets)
  if (spec.models !== undefined) await applyModelsGenesis(state, spec.models)
  return state.changes()
}
