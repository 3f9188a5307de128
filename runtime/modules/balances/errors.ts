import { defineErrors } from '../../module.ts'
import { ModuleIndex } from '../indices.ts'

export const BalancesError = defineErrors(ModuleIndex.balances, 'balances', {
  InsufficientBalance: { index: 0, message: 'balance too low' },
  VestingLocked: { index: 1, message: 'the amount is locked by a vesting schedule' },
})
