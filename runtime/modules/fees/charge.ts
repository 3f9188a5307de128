// Charging a transaction: gasUsed x effective price leaves the sender; the base-fee part is split
// between burning and the treasury (burnShareBps), the tip goes to the block author.
import type { Address } from '../../crypto/secp256k1.ts'
import type { ExecutionContext } from '../../module.ts'
import { burn, deposit, withdrawFee } from '../balances/ledger.ts'
import { TREASURY_ACCOUNT } from '../accounts.ts'
import { FeePaid } from './events.ts'
import { effectiveGasPrice } from './gas.ts'
import type { FeeParams } from './state.ts'

export interface FeeCharge {
  readonly total: bigint
  readonly burned: bigint
  readonly treasury: bigint
  readonly tip: bigint
}

export function computeFee(gasUsed: number, baseFee: bigint, maxFeePerGas: bigint, maxPriorityFeePerGas: bigint, params: FeeParams): FeeCharge {
  const gas = BigInt(gasUsed)
  const price = effectiveGasPrice(baseFee, maxFeePerGas, maxPriorityFeePerGas)
  const basePart = gas * baseFee
  const tip = gas * (price - baseFee)
  const burned = (basePart * BigInt(params.burnShareBps)) / 10_000n
  return { total: basePart + tip, burned, treasury: basePart - burned, tip }
}

/** Charges `payer`, whose balance the caller has just read as `payerBalance` (at least the fee). */
export async function chargeFee(context: ExecutionContext, payer: Address, payerBalance: bigint, gasUsed: number, charge: FeeCharge): Promise<void> {
  withdrawFee(context.state, payer, payerBalance, charge.total)
  await deposit(context.state, TREASURY_ACCOUNT, charge.treasury)
  await deposit(context.state, context.block.author, charge.tip)
  await burn(context, payer, charge.burned)
  context.emit(FeePaid.create({ account: payer, gasUsed, baseFee: charge.burned + charge.treasury, burned: charge.burned, tip: charge.tip }))
}
