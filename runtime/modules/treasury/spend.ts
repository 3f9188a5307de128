// The treasury's only way out: a spend made by an enacted governance proposal. Its income arrives
// by plain deposits into TREASURY_ACCOUNT (the fees module's share of each block's base fees,
// datanets' forfeited contribution deposits, governance deposits forfeited in the deposit period).
import type { Address } from '../../crypto/secp256k1.ts'
import type { CallResult, ExecutionContext } from '../../module.ts'
import type { StateReader } from '../../state/overlay.ts'
import { TREASURY_ACCOUNT } from '../accounts.ts'
import { payFromModuleAccount } from '../balances/index.ts'
import { TreasuryError } from './errors.ts'
import { Spent } from './events.ts'
import { treasuryBalance } from './state.ts'

/** Whether the treasury can pay `amount` now: the error, or undefined. */
export async function spendProblem(state: StateReader, amount: bigint): Promise<CallResult> {
  if (amount === 0n) return TreasuryError.ZeroSpend
  if ((await treasuryBalance(state)) < amount) return TreasuryError.InsufficientFunds
  return undefined
}

/** Pays `amount` to `recipient` for enacted proposal `proposal`; nothing moves if the treasury cannot. */
export async function spendFromTreasury(context: ExecutionContext, proposal: number, recipient: Address, amount: bigint): Promise<CallResult> {
  const problem = await spendProblem(context.state, amount)
  if (problem !== undefined) return problem
  await payFromModuleAccount(context, TREASURY_ACCOUNT, recipient, amount, 'treasury')
  context.emit(Spent.create({ proposal, recipient, amount }))
  return undefined
}
