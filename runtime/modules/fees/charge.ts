// Charging a transaction: gasUsed x effective price leaves the sender when it is applied; the
// base-fee part is split between burning and the treasury (burnShareBps), the tip goes to the
// block author. The block's shares are credited once, when the block ends (settleFees): a block of
// n transactions writes the treasury, the author and the issuance once each instead of n times.
import type { Address } from '../../crypto/secp256k1.ts'
import type { ExecutionContext, RuntimeEvent } from '../../module.ts'
import { deposit, destroy } from '../balances/ledger.ts'
import { TREASURY_ACCOUNT } from '../accounts.ts'
import { FeePaid, FeesSettled } from './events.ts'
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

export function feePaidEvent(payer: Address, gasUsed: number, charge: FeeCharge): RuntimeEvent {
  return FeePaid.create({ account: payer, gasUsed, baseFee: charge.burned + charge.treasury, burned: charge.burned, tip: charge.tip })
}

/** The fees a block's transactions have paid so far, not yet credited. */
export class BlockFees {
  transactions = 0
  treasury = 0n
  tips = 0n
  burned = 0n

  add(charge: FeeCharge): void {
    this.transactions++
    this.treasury += charge.treasury
    this.tips += charge.tip
    this.burned += charge.burned
  }
}

/** Credits a block's fees: the treasury's share, the author's tips, and the burn. */
export async function settleFees(context: ExecutionContext, fees: BlockFees): Promise<void> {
  if (fees.transactions === 0) return
  await deposit(context.state, TREASURY_ACCOUNT, fees.treasury)
  await deposit(context.state, context.block.author, fees.tips)
  await destroy(context.state, fees.burned)
  const { transactions, treasury, tips, burned } = fees
  context.emit(FeesSettled.create({ author: context.block.author, transactions, treasury, tips, burned }))
}
