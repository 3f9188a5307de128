// treasury: the module account that receives the fee share of every block's base fees and
// forfeited deposits, and pays out only through an enacted governance proposal (spend.ts). It has
// no calls of its own: nobody, not even a validator, can move its funds by a transaction.
import type { RuntimeModule } from '../../module.ts'
import { ModuleIndex } from '../indices.ts'
import { TreasuryError } from './errors.ts'
import { events } from './events.ts'
import { applyTreasuryGenesis } from './genesis.ts'

export const treasuryModule: RuntimeModule = {
  index: ModuleIndex.treasury,
  name: 'treasury',
  calls: [],
  events,
  errors: TreasuryError.list,
  genesis: { apply: applyTreasuryGenesis },
}

export { TREASURY_ACCOUNT } from '../accounts.ts'
export { spendFromTreasury, spendProblem } from './spend.ts'
export { treasuryBalance } from './state.ts'
export { TreasuryError } from './errors.ts'
