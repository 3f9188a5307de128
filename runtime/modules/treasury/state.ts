// treasury storage: none of its own. Its funds are the balance of TREASURY_ACCOUNT in the balances
// module (a module account: no key signs for it), so there is one ledger and one supply to
// conserve; what the treasury adds is the rule for paying out (spend.ts).
import type { StateReader } from '../../state/overlay.ts'
import { TREASURY_ACCOUNT } from '../accounts.ts'
import { balanceOf } from '../balances/index.ts'

export function treasuryBalance(state: StateReader): Promise<bigint> {
  return balanceOf(state, TREASURY_ACCOUNT)
}
