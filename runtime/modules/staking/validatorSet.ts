// The active set: the top maxValidators validators by bonded tokens, not jailed, with at least
// minSelfBond of their own stake and one unit of power; ties broken by consensus key bytes
// (ascending). Computed at the end of a block and in force two heights later, so when block h is
// final everyone already knows the sets for h + 1 and h + 2.
//
// `validatorSets` holds the set in force at the latest block and every set scheduled after it,
// each with the height it takes effect; `validatorSetAt(state, h)` answers for any h from the
// latest block's height up to two beyond it.
import { toHex } from '../../crypto/hash.ts'
import type { Address } from '../../crypto/secp256k1.ts'
import type { ExecutionContext } from '../../module.ts'
import type { StateOverlay, StateReader } from '../../state/overlay.ts'
import { OpenLedgerError } from '../../errors.ts'
import { ValidatorSetChanged } from './events.ts'
import { powerOf, resetMissed, selfBondOf } from './stake.ts'
import { sameAddress } from '../accounts.ts'
import { validatorCount, validatorIds, validators, validatorSets, type SetMember, type StakingParams } from './state.ts'

export type StakingQueryErrorCode = 'HEIGHT_PRUNED'
export class StakingQueryError extends OpenLedgerError<StakingQueryErrorCode> {}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length)
  for (let i = 0; i < length; i++) {
    const difference = (a[i] ?? 0) - (b[i] ?? 0)
    if (difference !== 0) return difference
  }
  return a.length - b.length
}

/** The set the current stake would give; walks every validator (only at boundaries and jailings). */
export async function computeActiveSet(state: StateReader, params: StakingParams): Promise<SetMember[]> {
  const count = await validatorCount.get(state)
  const candidates: Array<{ operator: Address; consensusKey: Uint8Array; tokens: bigint }> = []
  for (let id = 0; id < count; id++) {
    const operator = await validatorIds.get(state, id)
    const validator = operator === undefined ? undefined : await validators.get(state, operator)
    if (validator === undefined) throw new Error(`staking: validator id ${id} has no record`)
    if (validator.jailed || powerOf(validator.tokens) === 0n) continue
    if ((await selfBondOf(state, validator)) < params.minSelfBond) continue
    candidates.push({ operator: validator.operator, consensusKey: validator.consensusKey, tokens: validator.tokens })
  }
  candidates.sort((a, b) => (a.tokens === b.tokens ? compareBytes(a.consensusKey, b.consensusKey) : a.tokens > b.tokens ? -1 : 1))
  return candidates.slice(0, params.maxValidators).map(({ operator, consensusKey, tokens }) => ({ operator, consensusKey, power: Number(powerOf(tokens)) }))
}

function sameMembers(a: readonly SetMember[], b: readonly SetMember[]): boolean {
  return a.length === b.length && a.every((member, i) => {
    const other = b[i]
    return other !== undefined && member.power === other.power && sameAddress(member.operator, other.operator) && sameAddress(member.consensusKey, other.consensusKey)
  })
}

/**
 * Computes the active set and schedules it from `effectiveHeight` if it differs from the latest
 * scheduled one. An empty result keeps the previous set (a chain with no eligible validator
 * would halt). Validators entering the set start with a clean downtime record.
 */
export async function scheduleValidatorSet(context: ExecutionContext, params: StakingParams, epochIndex: number, effectiveHeight: number): Promise<void> {
  const { state } = context
  const next = await computeActiveSet(state, params)
  const sets = await validatorSets.get(state)
  const latest = sets.at(-1)
  if (next.length === 0 || (latest !== undefined && sameMembers(latest.validators, next))) return
  const previous = new Set((latest?.validators ?? []).map((member) => toHex(member.operator)))
  for (const member of next) if (!previous.has(toHex(member.operator))) await resetMissed(state, member.operator, params.downtimeWindow)
  validatorSets.set(state, [...sets, { effectiveHeight, epoch: epochIndex, validators: next }])
  context.emit(ValidatorSetChanged.create({ epoch: epochIndex, effectiveHeight, validators: next }))
}

/** Whether the operator is in the set in force at the latest block or in one scheduled after it. */
export async function inAnySet(state: StateReader, operator: Address): Promise<boolean> {
  return (await validatorSets.get(state)).some((set) => set.validators.some((member) => sameAddress(member.operator, operator)))
}

/** Drops sets no height from `height` on can need (keeps the one in force at `height`). */
export async function pruneValidatorSets(state: StateOverlay, height: number): Promise<void> {
  const sets = await validatorSets.get(state)
  let drop = 0
  while (drop + 1 < sets.length && (sets[drop + 1]?.effectiveHeight ?? Infinity) <= height) drop++
  if (drop > 0) validatorSets.set(state, sets.slice(drop))
}

export interface ValidatorSetMember {
  readonly consensusKey: Uint8Array
  readonly operator: Address
  /** bonded stake in whole OPEN (base units / 1e18, rounded down) when the set was computed */
  readonly power: bigint
}

/**
 * The validator set for `height`, from the state after block `current`: defined for
 * current <= height <= current + 2 (later heights get the latest scheduled set, which a future
 * epoch boundary may still replace). Empty on a chain without staking.
 */
export async function validatorSetAt(state: StateReader, height: number): Promise<ValidatorSetMember[]> {
  const sets = await validatorSets.get(state)
  let found: SetMember[] | undefined
  for (const set of sets) if (set.effectiveHeight <= height) found = set.validators
  if (found === undefined) {
    if (sets.length === 0) return []
    throw new StakingQueryError('HEIGHT_PRUNED', `the validator set for height ${height} is no longer in the state`)
  }
  return found.map(({ consensusKey, operator, power }) => ({ consensusKey, operator, power: BigInt(power) }))
}

/**
 * The set in force at `height` with each member's power clipped to what its bonded stake is worth
 * now (0 if jailed): what the runtime's own decisions weigh (availability attestations, worker
 * draws). A set lags the stake by up to SET_DELAY heights; consensus must use it as scheduled,
 * but nothing else has to let stake that has been unbonded or slashed in the meantime count.
 */
export async function countedSetAt(state: StateReader, height: number): Promise<ValidatorSetMember[]> {
  const members = await validatorSetAt(state, height)
  const counted: ValidatorSetMember[] = []
  for (const member of members) {
    const validator = await validators.get(state, member.operator)
    const now = validator === undefined || validator.jailed ? 0n : powerOf(validator.tokens)
    counted.push({ ...member, power: now < member.power ? now : member.power })
  }
  return counted
}
