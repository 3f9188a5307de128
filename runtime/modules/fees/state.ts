// fees storage: the current base fee and the fee parameters (changed by governance later).
import * as k from '../../codec/schema.ts'
import { defineParams } from '../../params.ts'
import { storageValue } from '../../storage.ts'
import { ModuleIndex } from '../indices.ts'

export const StorageItem = { baseFeePerGas: 0, params: 1 } as const

export const feeParamsKind = k.struct({
  /** base units per gas: the base fee never falls below this */
  minBaseFeePerGas: k.amount,
  /** gas: the most a block may use */
  maxBlockGas: k.uint,
  /** gas: the fullness at which the base fee stays the same (EIP-1559 target) */
  targetBlockGas: k.uint,
  /** the base fee moves by at most 1/denominator per block */
  baseFeeChangeDenominator: k.uint,
  /** basis points of the base-fee part that are burned; the rest goes to the treasury */
  burnShareBps: k.uint,
})
export type FeeParams = k.Infer<typeof feeParamsKind>

export const DEFAULT_FEE_PARAMS: FeeParams = {
  minBaseFeePerGas: 1_000_000_000n,
  maxBlockGas: 150_000_000,
  targetBlockGas: 75_000_000,
  baseFeeChangeDenominator: 8,
  burnShareBps: 5_000,
}

/** The governable fee parameters (runtime/params.ts): declarations, bounds, the rule across them. */
export const feesParams = defineParams(
  { index: ModuleIndex.fees, name: 'fees' },
  StorageItem.params,
  feeParamsKind,
  DEFAULT_FEE_PARAMS,
  {
    minBaseFeePerGas: { type: 'amount', min: 1n, description: 'base units per gas: the base fee never falls below this' },
    maxBlockGas: { type: 'integer', min: 1, description: 'gas: the most a block may use' },
    targetBlockGas: { type: 'integer', min: 1, description: 'gas: the fullness at which the base fee stays the same' },
    baseFeeChangeDenominator: { type: 'integer', min: 1, max: 1_000, description: 'the base fee moves by at most 1/denominator per block' },
    burnShareBps: { type: 'bps', description: 'share of the base-fee part burned; the rest goes to the treasury' },
  },
  (params) => (params.targetBlockGas > params.maxBlockGas ? 'targetBlockGas must be at most maxBlockGas' : undefined),
)

export const baseFeePerGas = storageValue(ModuleIndex.fees, StorageItem.baseFeePerGas, k.amount, DEFAULT_FEE_PARAMS.minBaseFeePerGas)
export const feeParams = feesParams.storage
