// The runtime of the chain: its modules, in dispatch order.
import { balancesModule } from './modules/balances/index.ts'
import { feesModule } from './modules/fees/index.ts'
import { systemModule } from './modules/system/index.ts'
import { Runtime } from './stateTransition.ts'

export function createRuntime(): Runtime {
  return new Runtime([systemModule, balancesModule, feesModule])
}
