// balances: OPEN balances, transfers, vesting locks and total issuance.
import type { RuntimeModule } from '../../module.ts'
import { ModuleIndex } from '../indices.ts'
import { calls } from './calls.ts'
import { BalancesError } from './errors.ts'
import { events } from './events.ts'
import { applyBalancesGenesis, type BalancesGenesis } from './genesis.ts'

export const balancesModule: RuntimeModule = {
  index: ModuleIndex.balances,
  name: 'balances',
  calls,
  events,
  errors: BalancesError.list,
  genesis: { apply: (state, config: BalancesGenesis | undefined) => void applyBalancesGenesis(state, config ?? { balances: [], vesting: [] }) },
}
export { balanceOf, burn, deposit, destroy, lockedAt, lockedOf, payFromModuleAccount, setBalance, transfer } from './ledger.ts'
export { totalIssuance, vesting } from './state.ts'
