import * as k from '../../codec/schema.ts'
import { defineEvent } from '../../module.ts'
import { ModuleIndex } from '../indices.ts'
import { setMemberKind } from './state.ts'

const M = ModuleIndex.staking

/** why a validator was slashed or jailed (wrongWork, missedWork: by the models module, for training jobs) */
export const SlashReason = { doubleSign: 'doubleSign', downtime: 'downtime', wrongWork: 'wrongWork', missedWork: 'missedWork' } as const
export type SlashReason = (typeof SlashReason)[keyof typeof SlashReason]
const reason = k.string(16) as k.Kind<SlashReason>

export const ValidatorCreated = defineEvent(M, 0, 'ValidatorCreated', k.struct({ operator: k.address, consensusKey: k.hash, commissionBps: k.uint, selfBond: k.amount }))
export const Bonded = defineEvent(M, 1, 'Bonded', k.struct({ delegator: k.address, validator: k.address, amount: k.amount }))
export const Unbonded = defineEvent(M, 2, 'Unbonded', k.struct({ delegator: k.address, validator: k.address, amount: k.amount, completionHeight: k.uint }))
export const UnbondingReleased = defineEvent(M, 3, 'UnbondingReleased', k.struct({ delegator: k.address, validator: k.address, amount: k.amount }))
/** bonded and unbonding base units burned for an infraction at infractionHeight */
export const Slashed = defineEvent(M, 4, 'Slashed', k.struct({ validator: k.address, reason, infractionHeight: k.uint, bonded: k.amount, unbonding: k.amount }))
export const Jailed = defineEvent(M, 5, 'Jailed', k.struct({ validator: k.address, reason, until: k.uint }))
export const Unjailed = defineEvent(M, 6, 'Unjailed', k.struct({ validator: k.address }))
/** rewards paid to `delegator` from `validator`: its delegation's share plus, for the operator, commission */
export const RewardsClaimed = defineEvent(M, 7, 'RewardsClaimed', k.struct({ delegator: k.address, validator: k.address, amount: k.amount, commission: k.amount }))
export const ValidatorSetChanged = defineEvent(M, 8, 'ValidatorSetChanged', k.struct({ epoch: k.uint, effectiveHeight: k.uint, validators: k.list(setMemberKind, 1_000) }))
export const CommissionChanged = defineEvent(M, 9, 'CommissionChanged', k.struct({ validator: k.address, commissionBps: k.uint }))
/** the block reward credited to the proposer's validator, of which `commission` to its operator */
export const BlockRewarded = defineEvent(M, 10, 'BlockRewarded', k.struct({ validator: k.address, amount: k.amount, commission: k.amount }))

/** a validator registered a beacon hash chain: its blocks reveal from it from effectiveHeight on */
export const BeaconChainRegistered = defineEvent(M, 11, 'BeaconChainRegistered', k.struct({ validator: k.address, tip: k.hash, length: k.uint, generation: k.uint, effectiveHeight: k.uint }))

export const events = [
  ValidatorCreated, Bonded, Unbonded, UnbondingReleased, Slashed, Jailed, Unjailed, RewardsClaimed, ValidatorSetChanged, CommissionChanged, BlockRewarded,
  BeaconChainRegistered,
]
