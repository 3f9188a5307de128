import { defineErrors } from '../../module.ts'
import { ModuleIndex } from '../indices.ts'

export const TreasuryError = defineErrors(ModuleIndex.treasury, 'treasury', {
  InsufficientFunds: { index: 0, message: 'the treasury holds less than the spend' },
  ZeroSpend: { index: 1, message: 'a spend must move at least one base unit' },
})
