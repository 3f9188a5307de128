// Charging a transaction: gasUsed x effective price leaves the sender when it is applied; the
// base-fee part is split between burning and the treasury (burnShareBps), the tip goes to the
// block author. The block's shares are credited once, when the block ends (settleFees): a block of
// n transactions writes the treasury, the author and the issuance once each instead of n times.
import type { Address } from '../../crypto/secp256k1.ts'
import type { ExecutionContext, RuntimeEvent } from '../../module.ts'
import { deposit, destroy } from '../balances/index.ts'
import { bpsOf, TREASURY_ACCOUNT } from '../accounts.ts'
import { FeePaid, FeesSettled } from './events.ts'
import { effectiveGasPrice } from './gas.ts'
import type { FeeParams } from './state.ts'

/** What a fee check needs of a transaction. */
interface FeeCaps {
  readonly gasLimit: number
  readonly maxFeePerGas: bigint
  readonly maxPriorityFeePerGas: bigint
}

/**
 * The most tip `tx` can pay at `baseFee`: its gas limit at the highest effective price, less the
 * base fee. The tip goes to the block's author, so it is a transfer in all but name: only the
 * unlocked part of a balance may pay it (tipPayable), or a vesting-locked holder who runs (or pays)
 * a proposer could hand it the whole schedule in one transaction. The base-fee part, burned or
 * kept by the treasury, may come out of locked funds, as Substrate's vesting lets fees through.
 */
export function maxTip(tx: FeeCaps, baseFee: bigint): bigint {
  return BigInt(tx.gasLimit) * (effectiveGasPrice(baseFee, tx.maxFeePerGas, tx.maxPriorityFeePerGas) - baseFee)
}

/** Whether `free`, of which `locked` is vesting-locked, can pay `tip` from its unlocked part. */
export function tipPayable(free: bigint, locked: bigint, tip: bigint): boolean {
  return tip === 0n || free - locked >= tip
}

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
  const burned = bpsOf(basePart, params.burnShareBps)
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
