// The ledger operations other modules build on. Issuance only changes by burning: OPEN is minted
// once, at genesis.
import type { Address } from '../../crypto/secp256k1.ts'
import type { CallResult, ExecutionContext } from '../../module.ts'
import type { StateOverlay, StateReader } from '../../state/overlay.ts'
import { BalancesError } from './errors.ts'
import { Burned, Transferred } from './events.ts'
import { accounts, totalIssuance, vesting, type VestingSchedule } from './state.ts'

export async function balanceOf(state: StateReader, account: Address): Promise<bigint> {
  return (await accounts.get(state, account))?.free ?? 0n
}

/** The part of a schedule still locked at `now`; rounds up so nothing unlocks early. */
export function lockedAt(schedule: VestingSchedule, now: number): bigint {
  if (now < schedule.cliffEnd) return schedule.total
  if (now >= schedule.end) return 0n
  const span = BigInt(schedule.end - schedule.cliffEnd)
  const remaining = BigInt(schedule.end - now)
  return (schedule.total * remaining + span - 1n) / span
}

export async function lockedOf(state: StateReader, account: Address, now: number): Promise<bigint> {
  const schedule = await vesting.get(state, account)
  return schedule === undefined ? 0n : lockedAt(schedule, now)
}

export function setBalance(state: StateOverlay, account: Address, free: bigint): void {
  if (free === 0n) accounts.delete(state, account)
  else accounts.set(state, account, { free })
}

/** Moves `amount` if `from` can spend it (free minus vesting lock). */
export async function transfer(context: ExecutionContext, from: Address, to: Address, amount: bigint): Promise<CallResult> {
  const { state } = context
  const fromBalance = await balanceOf(state, from)
  if (fromBalance < amount) return BalancesError.InsufficientBalance
  const locked = await lockedOf(state, from, context.block.timestamp)
  if (fromBalance - amount < locked) return BalancesError.VestingLocked
  setBalance(state, from, fromBalance - amount)
  setBalance(state, to, (await balanceOf(state, to)) + amount)
  context.emit(Transferred.create({ from, to, amount }))
  return undefined
}

/**
 * Takes a fee. Vesting locks do not stop fees (as with Substrate's vesting), so a team or investor
 * account can still transact. `balance` is the account's balance the caller has just read and checked.
 */
export function withdrawFee(state: StateOverlay, account: Address, balance: bigint, amount: bigint): void {
  if (balance < amount) throw new Error('withdrawFee: fee exceeds balance (checked before dispatch)')
  setBalance(state, account, balance - amount)
}

export async function deposit(state: StateOverlay, account: Address, amount: bigint): Promise<void> {
  if (amount === 0n) return
  setBalance(state, account, (await balanceOf(state, account)) + amount)
}

/** Destroys `amount` already withdrawn from `account`: the only way issuance changes. */
export async function burn(context: ExecutionContext, account: Address, amount: bigint): Promise<void> {
  if (amount === 0n) return
  totalIssuance.set(context.state, (await totalIssuance.get(context.state)) - amount)
  context.emit(Burned.create({ account, amount }))
}
