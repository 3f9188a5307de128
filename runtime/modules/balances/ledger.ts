// The ledger operations other modules build on. Issuance only changes by burning: OPEN is minted
// once, at genesis. Free balances are the `free` part of the system module's account record.
import type { Address } from '../../crypto/secp256k1.ts'
import type { CallResult, ExecutionContext } from '../../module.ts'
import type { StateOverlay, StateReader } from '../../state/overlay.ts'
import { accountInfo, accounts, putAccountInfo } from '../system/index.ts'
import { BalancesError } from './errors.ts'
import { Burned, Transferred } from './events.ts'
import { totalIssuance, vesting, type VestingSchedule } from './state.ts'

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

/** Sets the account's free balance; its nonce stays. */
export async function setBalance(state: StateOverlay, account: Address, free: bigint): Promise<void> {
  const info = await accountInfo(state, account)
  info.free = free
  putAccountInfo(state, account, info)
}

/** Moves `amount` if `from` can spend it (free minus vesting lock). */
export async function transfer(context: ExecutionContext, from: Address, to: Address, amount: bigint): Promise<CallResult> {
  const { state } = context
  const source = await accountInfo(state, from)
  if (source.free < amount) return BalancesError.InsufficientBalance
  const locked = await lockedOf(state, from, context.block.timestamp)
  if (source.free - amount < locked) return BalancesError.VestingLocked
  source.free -= amount
  putAccountInfo(state, from, source)
  // read after the debit: a transfer to oneself credits what it just debited
  const target = await accountInfo(state, to)
  target.free += amount
  putAccountInfo(state, to, target)
  context.emit(Transferred.create({ from, to, amount }))
  return undefined
}

export async function deposit(state: StateOverlay, account: Address, amount: bigint): Promise<void> {
  if (amount === 0n) return
  const info = await accountInfo(state, account)
  info.free += amount
  putAccountInfo(state, account, info)
}

/**
 * Destroys `amount` already withdrawn from the accounts that paid it: the only way issuance
 * changes. The caller records why in its own event (`burn` below, the fees module's settlement).
 */
export async function destroy(state: StateOverlay, amount: bigint): Promise<void> {
  if (amount === 0n) return
  totalIssuance.set(state, (await totalIssuance.get(state)) - amount)
}

/** Destroys `amount` already withdrawn from `account`, with a Burned event. */
export async function burn(context: ExecutionContext, account: Address, amount: bigint): Promise<void> {
  if (amount === 0n) return
  await destroy(context.state, amount)
  context.emit(Burned.create({ account, amount }))
}

/**
 * Pays `amount` out of a module account (an escrow, the staking pool). The module's records say
 * the account holds it, so a failure is an accounting bug of the runtime: it throws, and the block
 * cannot be built with it, rather than record a payment that did not happen.
 */
export async function payFromModuleAccount(context: ExecutionContext, account: Address, to: Address, amount: bigint, module: string): Promise<void> {
  if (amount === 0n) return
  const failed = await transfer(context, account, to, amount)
  if (failed !== undefined) throw new Error(`${module}: module account cannot pay ${amount} (${failed.code}): accounting bug`)
}
