// fees: gas prices. An EIP-1559-style base fee follows block fullness; tips go to the block
// author; the base-fee part is split between burning and the treasury.
import { feesParams } from './state.ts'
import type { RuntimeModule } from '../../module.ts'
import { ModuleIndex } from '../indices.ts'
import { FeesError } from './errors.ts'
import { applyFeesGenesis } from './genesis.ts'
import { events } from './events.ts'
import { nextBaseFee } from './gas.ts'
import { baseFeePerGas, feeParams } from './state.ts'

export const feesModule: RuntimeModule = {
  index: ModuleIndex.fees,
  name: 'fees',
  calls: [],
  events,
  errors: FeesError.list,
  genesis: { apply: applyFeesGenesis },
  params: feesParams,
  async endBlock(context) {
    const params = await feeParams.get(context.state)
    const current = await baseFeePerGas.get(context.state)
    const next = nextBaseFee(current, context.gasUsed, params.targetBlockGas, params.baseFeeChangeDenominator, params.minBaseFeePerGas)
    if (next !== current) baseFeePerGas.set(context.state, next)
  },
}

export { baseFeePerGas, feeParams } from './state.ts'
export { BlockFees, computeFee, feePaidEvent, maxTip, settleFees, tipPayable } from './charge.ts'
export { intrinsicGas } from './gas.ts'
export { DEFAULT_FEE_PARAMS, type FeeParams, feeParamsKind, feesParams } from './state.ts'
