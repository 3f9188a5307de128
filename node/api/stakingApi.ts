// openledger_* staking queries: the active and scheduled validator sets, every registered
// validator, delegations and the module's parameters, epoch and totals. Each method reads the
// head's state, or the state after block `at` (a hash inside the pruning window).
//
// A validator's `status`: `jailed` when jailed; else `bonded` when it is in the set in force at
// the queried block (it signs blocks); else `unbonded` (registered, but below the top
// maxValidators, under the minimum self-bond, or not yet in force).
import { toHex } from '../../runtime/crypto/hash.ts'
import { toJsonOf } from '../../runtime/codec/schema.ts'
import type { Address } from '../../runtime/crypto/secp256k1.ts'
import { delegation, epoch, type ScheduledSet, params as stakingParams, stakingParamsKind, totals, unbondings, validatorCount, validatorIds, validatorInfo, type ValidatorInfo, validatorSets } from '../../runtime/modules/staking/index.ts'
import type { StateReader } from '../../runtime/state/overlay.ts'
import type { ValidatorSetView, ValidatorView } from '../rpc/contract.ts'
import { defineMethod, param, type RpcMethod } from '../rpc/registry.ts'
import { resolveBlock, type ApiComponents } from './context.ts'

export const ValidatorStatus = { bonded: 'bonded', jailed: 'jailed', unbonded: 'unbonded' } as const
export type ValidatorStatus = (typeof ValidatorStatus)[keyof typeof ValidatorStatus]

const at = () => param.optional(param.hash()).named('at')

function setToJson(set: ScheduledSet): ValidatorSetView {
  return {
    effectiveHeight: set.effectiveHeight,
    epoch: set.epoch,
    totalPower: set.validators.reduce((sum, member) => sum + member.power, 0),
    validators: set.validators.map((member) => ({ operator: toHex(member.operator), consensusKey: toHex(member.consensusKey), power: member.power })),
  }
}

/** The set in force at `height` and the ones scheduled after it. */
function splitSets(sets: readonly ScheduledSet[], height: number): { active: ScheduledSet | undefined; scheduled: ScheduledSet[] } {
  let active: ScheduledSet | undefined
  for (const set of sets) if (set.effectiveHeight <= height) active = set
  return { active, scheduled: sets.filter((set) => set.effectiveHeight > height) }
}

function validatorToJson(info: ValidatorInfo, active: ScheduledSet | undefined, scheduled: readonly ScheduledSet[]): ValidatorView {
  const inSet = (set: ScheduledSet | undefined) => set?.validators.some((member) => toHex(member.operator) === toHex(info.operator)) ?? false
  const next = scheduled.at(-1)
  const status: ValidatorStatus = info.jailed ? ValidatorStatus.jailed : inSet(active) ? ValidatorStatus.bonded : ValidatorStatus.unbonded
  return {
    operator: toHex(info.operator),
    consensusKey: toHex(info.consensusKey),
    status,
    inActiveSet: inSet(active),
    inNextSet: next === undefined ? inSet(active) : inSet(next),
    power: info.power.toString(),
    tokens: info.tokens.toString(),
    selfBond: info.selfBond.toString(),
    delegatorShares: info.shares.toString(),
    commissionBps: info.commissionBps,
    commissionEpoch: info.commissionEpoch,
    jailed: info.jailed,
    jailedUntil: info.jailedUntil,
    slashed: info.slashed.toString(),
    missedBlocks: info.missedBlocks,
    unclaimedCommission: info.commission.toString(),
    outstandingRewards: info.outstanding.toString(),
    createdHeight: info.createdHeight,
    beacon: info.beacon === undefined ? null : { ...info.beacon, tip: toHex(info.beacon.tip) },
    beaconRotation: info.beaconRotation === undefined ? null : { ...info.beaconRotation, tip: toHex(info.beaconRotation.tip) },
  }
}

export function stakingMethods({ chain }: ApiComponents): RpcMethod[] {
  /** the state after the block `hash` names (the head by default), and that block's height */
  async function stateAt(hash: Uint8Array | undefined): Promise<{ state: StateReader; height: number }> {
    const block = await resolveBlock(chain, hash)
    const height = block.header.height
    if (height === chain.state.version) return { state: chain.state, height }
    return { state: { get: (key) => chain.state.getAt(key, height) }, height }
  }

  return [
    defineMethod({
      name: 'openledger_getValidators',
      params: [at()],
      async handler([hash]) {
        const { state, height } = await stateAt(hash)
        const { active, scheduled } = splitSets(await validatorSets.get(state), height)
        const count = await validatorCount.get(state)
        const all: ValidatorView[] = []
        for (let id = 0; id < count; id++) {
          const operator = await validatorIds.get(state, id)
          const info = operator === undefined ? undefined : await validatorInfo(state, operator)
          if (info !== undefined) all.push(validatorToJson(info, active, scheduled))
        }
        return {
          height,
          active: active === undefined ? null : setToJson(active),
          next: scheduled.length === 0 ? null : setToJson(scheduled.at(-1) as ScheduledSet),
          validators: all,
        }
      },
    }),
    defineMethod({
      name: 'openledger_getValidator',
      params: [param.address().named('address'), at()],
      async handler([address, hash]) {
        const { state, height } = await stateAt(hash)
        const info = await validatorInfo(state, address as Address)
        if (info === undefined) return null
        const { active, scheduled } = splitSets(await validatorSets.get(state), height)
        return validatorToJson(info, active, scheduled)
      },
    }),
    defineMethod({
      name: 'openledger_getDelegation',
      params: [param.address().named('delegator'), param.address().named('validator'), at()],
      async handler([delegator, validator, hash]) {
        const { state } = await stateAt(hash)
        const [info, entries] = await Promise.all([delegation(state, delegator as Address, validator as Address), unbondings.get(state, { delegator, validator })])
        if (info === undefined && entries === undefined) return null
        return {
          delegator: toHex(delegator),
          validator: toHex(validator),
          shares: (info?.shares ?? 0n).toString(),
          amount: (info?.amount ?? 0n).toString(),
          pendingRewards: (info?.pendingRewards ?? 0n).toString(),
          unbonding: (entries ?? []).map((entry) => ({ amount: entry.amount.toString(), initialAmount: entry.initialAmount.toString(), creationHeight: entry.creationHeight, completionHeight: entry.completionHeight })),
        }
      },
    }),
    defineMethod({
      name: 'openledger_getStakingInfo',
      params: [at()],
      async handler([hash]) {
        const { state, height } = await stateAt(hash)
        const [params, current, sums, sets, count] = await Promise.all([stakingParams.get(state), epoch.get(state), totals.get(state), validatorSets.get(state), validatorCount.get(state)])
        const { active, scheduled } = splitSets(sets, height)
        const next = scheduled.at(-1)
        return {
          height,
          params: toJsonOf(stakingParamsKind, params),
          epoch: { index: current.index, startHeight: current.startHeight, nextBoundary: current.startHeight + params.epochLength },
          activeSet: active === undefined ? null : { effectiveHeight: active.effectiveHeight, epoch: active.epoch, size: active.validators.length },
          nextSet: next === undefined ? null : setToJson(next),
          validatorCount: count,
          totals: { bonded: sums.bonded.toString(), unbonding: sums.unbonding.toString(), unclaimedRewards: sums.rewards.toString() },
        }
      },
    }),
  ]
}
