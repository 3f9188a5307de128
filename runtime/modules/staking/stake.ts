// The stake ledger: delegations as shares of a validator's bonded tokens, rewards through a
// reward-per-share accumulator, slashing and jailing.
//
// Shares make slashing pro rata without touching delegators: a slash lowers the validator's
// tokens, every share is then worth less. Rewards are F1-style: each block's reward raises the
// validator's cumulative reward per share; a delegation remembers the value it last saw and is
// owed shares x (now - seen). Settling happens when its shares change (bond, unbond: the rewards
// are paid out then) and on claim, so nothing loops over delegators per block.
//
// Money: every bonded, unbonding or unclaimed-reward base unit sits in STAKING_ACCOUNT, and
// `totals` says how much of each there is, so balance(STAKING_ACCOUNT) = bonded + unbonding +
// rewards at all times. Slashed tokens leave that account and are burned (total issuance falls by
// exactly the slashed amount); burning rather than paying the treasury keeps misbehaviour from
// ever being profitable to anyone.
import type { Address } from '../../crypto/secp256k1.ts'
import type { ExecutionContext, ModuleError } from '../../module.ts'
import type { StateOverlay, StateReader } from '../../state/overlay.ts'
import { bpsOf } from '../accounts.ts'
import { balanceOf, burn, payFromModuleAccount, setBalance, transfer } from '../balances/index.ts'
import { StakingError } from './errors.ts'
import { Jailed, Slashed, type SlashReason } from './events.ts'
import {
  beaconChains, beaconGenerations, beaconRotations, delegations, missedBlocks, missedCounts, MISSED_CHUNK_BITS, POWER_UNIT, REWARD_PRECISION, SET_DELAY, setDirty, slashedTotals, STAKING_ACCOUNT, totals,
  unbondings, validators, validatorUnbonders, type Delegation, type StakingTotals, type Validator,
} from './state.ts'

export async function adjustTotals(state: StateOverlay, delta: Partial<StakingTotals>): Promise<void> {
  const current = await totals.get(state)
  totals.set(state, {
    bonded: current.bonded + (delta.bonded ?? 0n),
    unbonding: current.unbonding + (delta.unbonding ?? 0n),
    rewards: current.rewards + (delta.rewards ?? 0n),
  })
}

/** Pays `amount` out of the staking account; the account always covers what it owes. */
export function payOut(context: ExecutionContext, to: Address, amount: bigint): Promise<void> {
  return payFromModuleAccount(context, STAKING_ACCOUNT, to, amount, 'staking')
}

/** What `shares` of the validator are worth, rounded down. */
export function sharesValue(validator: Validator, shares: bigint): bigint {
  return validator.shares === 0n ? 0n : (shares * validator.tokens) / validator.shares
}

/** Rewards a delegation has earned since it was last settled, rounded down. */
export function pendingRewards(validator: Validator, delegation: Delegation): bigint {
  return (delegation.shares * (validator.rewardPerShare - delegation.rewardPerShareSeen)) / REWARD_PRECISION
}

/** Pays a delegation's pending rewards and marks it settled; returns the amount paid. */
export async function settleRewards(context: ExecutionContext, validator: Validator, delegator: Address, delegation: Delegation): Promise<bigint> {
  const pending = pendingRewards(validator, delegation)
  delegation.rewardPerShareSeen = validator.rewardPerShare
  if (pending === 0n) return 0n
  validator.outstanding -= pending
  await adjustTotals(context.state, { rewards: -pending })
  await payOut(context, delegator, pending)
  return pending
}

/**
 * Bonds `amount` of `delegator`'s balance to the validator (self-bond when delegator is the
 * operator). Pays the delegation's pending rewards first; returns them, or the reason it failed.
 * Mutates `validator`; the caller stores it.
 */
export async function addStake(context: ExecutionContext, validator: Validator, delegator: Address, amount: bigint): Promise<ModuleError | { rewards: bigint }> {
  if (amount === 0n) return StakingError.ZeroAmount
  let shares: bigint
  if (validator.shares === 0n) shares = amount
  else if (validator.tokens === 0n) return StakingError.ValidatorDepleted
  else shares = (amount * validator.shares) / validator.tokens
  if (shares === 0n) return StakingError.AmountTooSmall
  const failed = await transfer(context, delegator, STAKING_ACCOUNT, amount)
  if (failed !== undefined) return failed
  const pair = { delegator, validator: validator.operator }
  const delegation = (await delegations.get(context.state, pair)) ?? { shares: 0n, rewardPerShareSeen: validator.rewardPerShare }
  const rewards = await settleRewards(context, validator, delegator, delegation)
  delegation.shares += shares
  validator.shares += shares
  validator.tokens += amount
  delegations.set(context.state, pair, delegation)
  await adjustTotals(context.state, { bonded: amount })
  return { rewards }
}

/** Splits a reward between commission and the delegators' accumulator; the validator has shares. */
export function creditReward(validator: Validator, amount: bigint): bigint {
  const commission = bpsOf(amount, validator.commissionBps)
  const numerator = (amount - commission) * REWARD_PRECISION + validator.rewardRemainder
  validator.rewardPerShare += numerator / validator.shares
  validator.rewardRemainder = numerator % validator.shares
  validator.commission += commission
  validator.outstanding += amount
  return commission
}

export async function selfBondOf(state: StateReader, validator: Validator): Promise<bigint> {
  const own = await delegations.get(state, { delegator: validator.operator, validator: validator.operator })
  return own === undefined ? 0n : sharesValue(validator, own.shares)
}

/** Consensus power: whole OPEN of bonded stake. */
export function powerOf(tokens: bigint): bigint {
  return tokens / POWER_UNIT
}

async function burnFromStakingAccount(context: ExecutionContext, amount: bigint): Promise<void> {
  if (amount === 0n) return
  const balance = await balanceOf(context.state, STAKING_ACCOUNT)
  if (balance < amount) throw new Error('staking: module account holds less than the stake it records: accounting bug')
  await setBalance(context.state, STAKING_ACCOUNT, balance - amount)
  await burn(context, STAKING_ACCOUNT, amount)
}

/**
 * Whether an unbonding entry created at `creationHeight` may still have counted in a validator set
 * at `infractionHeight`. An unbond that lowers a set member's power has the set recomputed at the
 * end of its block, in force SET_DELAY heights later, so the stake counted up to
 * creationHeight + SET_DELAY - 1: a fault at any height up to that reaches it. Cosmos slashes only
 * entries created after the infraction (its set updates every block); here the set lags by
 * SET_DELAY, so the window extends over the lag, as Substrate keeps stake slashable for as long as
 * it can have counted.
 */
export function stillSlashable(creationHeight: number, infractionHeight: number): boolean {
  return infractionHeight <= creationHeight + SET_DELAY - 1
}

/** Slashes unbonding entries whose stake could still count at the infraction (stillSlashable). */
async function slashUnbondings(state: StateOverlay, operator: Address, bps: number, infractionHeight: number): Promise<bigint> {
  const unbonders = (await validatorUnbonders.get(state, operator)) ?? []
  const kept: Address[] = []
  let slashed = 0n
  for (const delegator of unbonders) {
    const pair = { delegator, validator: operator }
    const entries = (await unbondings.get(state, pair)) ?? []
    let changed = false
    for (const entry of entries) {
      if (!stillSlashable(entry.creationHeight, infractionHeight)) continue
      const wanted = bpsOf(entry.initialAmount, bps)
      const cut = wanted < entry.amount ? wanted : entry.amount
      if (cut === 0n) continue
      entry.amount -= cut
      slashed += cut
      changed = true
    }
    const live = entries.filter((entry) => entry.amount > 0n)
    if (live.length === 0) unbondings.delete(state, pair)
    else if (changed) unbondings.set(state, pair, live)
    if (live.length > 0) kept.push(delegator)
  }
  if (kept.length !== unbonders.length) {
    if (kept.length === 0) validatorUnbonders.delete(state, operator)
    else validatorUnbonders.set(state, operator, kept)
  }
  return slashed
}

/**
 * Burns `bps` of the validator's bonded tokens (every delegator pro rata, through shares) and of
 * the unbonding entries whose stake could still count at `infractionHeight`. Mutates `validator`.
 */
export async function slash(context: ExecutionContext, validator: Validator, bps: number, infractionHeight: number, reason: SlashReason): Promise<void> {
  const bonded = bpsOf(validator.tokens, bps)
  validator.tokens -= bonded
  const unbonding = await slashUnbondings(context.state, validator.operator, bps, infractionHeight)
  await adjustTotals(context.state, { bonded: -bonded, unbonding: -unbonding })
  await burnFromStakingAccount(context, bonded + unbonding)
  if (bonded + unbonding > 0n) slashedTotals.set(context.state, validator.operator, ((await slashedTotals.get(context.state, validator.operator)) ?? 0n) + bonded + unbonding)
  context.emit(Slashed.create({ validator: validator.operator, reason, infractionHeight, bonded, unbonding }))
}

/** Jails until `until` (or later, if already jailed longer); the set is recomputed at the block's end. */
export async function jail(context: ExecutionContext, validator: Validator, until: number, reason: SlashReason, downtimeWindow: number): Promise<void> {
  validator.jailed = true
  if (until > validator.jailedUntil) validator.jailedUntil = until
  setDirty.set(context.state, true)
  await resetMissed(context.state, validator.operator, downtimeWindow)
  context.emit(Jailed.create({ validator: validator.operator, reason, until: validator.jailedUntil }))
}

/** Forgets a validator's missed blocks (on jailing, and when it (re)enters the active set). */
export async function resetMissed(state: StateOverlay, operator: Address, downtimeWindow: number): Promise<void> {
  const count = await missedCounts.get(state, operator)
  if (count === undefined) return
  const chunks = Math.ceil(downtimeWindow / MISSED_CHUNK_BITS)
  for (let chunk = 0; chunk < chunks; chunk++) {
    if ((await missedBlocks.get(state, { operator, chunk })) !== undefined) missedBlocks.delete(state, { operator, chunk })
  }
  missedCounts.delete(state, operator)
}


// ---------------------------------------------------------------------------------------------
// Read helpers for the node, RPC and tests.

export interface ValidatorInfo extends Validator {
  /** the operator's own delegation, in base units */
  readonly selfBond: bigint
  /** base units burned by every slash so far (bonded and unbonding stake) */
  readonly slashed: bigint
  /** commit signatures missed in the current downtime window */
  readonly missedBlocks: number
  /** consensus power the validator would have (whole OPEN bonded) */
  readonly power: bigint
  /** its beacon hash chain in force and its seed's generation (beacon.ts); undefined: it reveals nothing */
  readonly beacon: { readonly tip: Uint8Array; readonly remaining: number; readonly generation: number } | undefined
  /** a chain it registered that is not in force yet */
  readonly beaconRotation: { readonly tip: Uint8Array; readonly remaining: number; readonly generation: number; readonly effectiveHeight: number } | undefined
}

export async function validatorInfo(state: StateReader, operator: Address): Promise<ValidatorInfo | undefined> {
  const validator = await validators.get(state, operator)
  if (validator === undefined) return undefined
  const chain = await beaconChains.get(state, operator)
  return {
    ...validator,
    selfBond: await selfBondOf(state, validator),
    power: powerOf(validator.tokens),
    slashed: (await slashedTotals.get(state, operator)) ?? 0n,
    missedBlocks: (await missedCounts.get(state, operator)) ?? 0,
    beacon: chain === undefined ? undefined : { ...chain, generation: (await beaconGenerations.get(state, operator)) ?? 0 },
    beaconRotation: await beaconRotations.get(state, operator),
  }
}

export interface DelegationInfo {
  readonly shares: bigint
  /** base units the shares are worth now */
  readonly amount: bigint
  /** rewards earned and not yet paid (commission not included) */
  readonly pendingRewards: bigint
}

export async function delegation(state: StateReader, delegator: Address, validator: Address): Promise<DelegationInfo | undefined> {
  const record = await delegations.get(state, { delegator, validator })
  const owner = await validators.get(state, validator)
  if (record === undefined || owner === undefined) return undefined
  return { shares: record.shares, amount: sharesValue(owner, record.shares), pendingRewards: pendingRewards(owner, record) }
}
