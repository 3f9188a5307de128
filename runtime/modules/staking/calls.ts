import * as k from '../../codec/schema.ts'
import { isAcceptablePublicKey } from '../../crypto/ed25519.ts'
import { defineCall, type CallDefinition } from '../../module.ts'
import type { StateOverlay } from '../../state/overlay.ts'
import { StakingError } from './errors.ts'
import { punishEquivocation, type EvidenceVerifier } from './evidence.ts'
import { computeActiveSet, inAnySet } from './validatorSet.ts'
import { BeaconChainRegistered, Bonded, CommissionChanged, RewardsClaimed, Unbonded, Unjailed, ValidatorCreated } from './events.ts'
import { addStake, adjustTotals, payOut, powerOf, selfBondOf, settleRewards, sharesValue } from './stake.ts'
import { sameAddress } from '../accounts.ts'
import { BEACON_ROTATION_DELAY, MAX_BEACON_CHAIN_LENGTH } from './beacon.ts'
import { ZERO_HASH } from '../../block.ts'
import { bytesEqual } from '../../codec/canonical.ts'
import {
  beaconChains, beaconGenerations, beaconRotationQueue, beaconRotations, delegations, epoch, params as stakingParams, setDirty, unbondingQueue, unbondings, validatorByKey, validatorCount, validatorIds, validators,
  validatorUnbonders, type Validator,
} from './state.ts'

// Weights (gas): about 150 per state read or write, more for curve work.
/** key check (point decoding) plus a dozen reads and writes */
export const CREATE_VALIDATOR_WEIGHT = 5_000
/** balance move, delegation and validator records, reward settlement */
export const BOND_WEIGHT = 2_500
/** as bond, plus the unbonding entry, the release queue and the validator's unbonder list */
export const UNBOND_WEIGHT = 4_000
export const SET_COMMISSION_WEIGHT = 800
export const UNJAIL_WEIGHT = 1_000
export const CLAIM_REWARDS_WEIGHT = 2_000
/** two ed25519 verifications, the slash (walks the unbonding delegators) and the jailing */
export const SUBMIT_EVIDENCE_WEIGHT = 50_000
/** gas per byte of evidence */
export const EVIDENCE_GAS_PER_BYTE = 16
/** bytes: two signed votes fit easily */
export const MAX_EVIDENCE_BYTES = 4 * 1024
export const MAX_COMMISSION_BPS = 10_000
/** a few reads and writes */
export const SET_BEACON_CHAIN_WEIGHT = 1_500

export const createValidator = defineCall({
  index: 0,
  name: 'createValidator',
  args: k.struct({ consensusKey: k.hash, commissionBps: k.uint, selfBond: k.amount }),
  weight: () => CREATE_VALIDATOR_WEIGHT,
  async execute(context, { consensusKey, commissionBps, selfBond }) {
    const { state, sender } = context
    const params = await stakingParams.get(state)
    if ((await validators.get(state, sender)) !== undefined) return StakingError.ValidatorExists
    if (!isAcceptablePublicKey(consensusKey)) return StakingError.InvalidConsensusKey
    if ((await validatorByKey.get(state, consensusKey)) !== undefined) return StakingError.ConsensusKeyInUse
    if (commissionBps > MAX_COMMISSION_BPS) return StakingError.InvalidCommission
    if (selfBond < params.minSelfBond) return StakingError.SelfBondBelowMinimum
    const validator = newValidator(sender, consensusKey, commissionBps, (await epoch.get(state)).index, context.block.height)
    const bonded = await addStake(context, validator, sender, selfBond)
    if ('module' in bonded) return bonded
    await registerValidator(state, validator)
    context.emit(ValidatorCreated.create({ operator: sender, consensusKey, commissionBps, selfBond }))
    return undefined
  },
})

export function newValidator(operator: Uint8Array, consensusKey: Uint8Array, commissionBps: number, epochIndex: number, height: number): Validator {
  return {
    operator, consensusKey, commissionBps, commissionEpoch: epochIndex, tokens: 0n, shares: 0n, jailed: false, jailedUntil: 0,
    rewardPerShare: 0n, rewardRemainder: 0n, commission: 0n, outstanding: 0n, createdHeight: height,
  }
}

export async function registerValidator(state: StateOverlay, validator: Validator): Promise<void> {
  const id = await validatorCount.get(state)
  validators.set(state, validator.operator, validator)
  validatorByKey.set(state, validator.consensusKey, validator.operator)
  validatorIds.set(state, id, validator.operator)
  validatorCount.set(state, id + 1)
}

export const bond = defineCall({
  index: 1,
  name: 'bond',
  args: k.struct({ validator: k.address, amount: k.amount }),
  weight: () => BOND_WEIGHT,
  async execute(context, { validator: operator, amount }) {
    if (amount === 0n) return StakingError.ZeroAmount
    const validator = await validators.get(context.state, operator)
    if (validator === undefined) return StakingError.UnknownValidator
    const bonded = await addStake(context, validator, context.sender, amount)
    if ('module' in bonded) return bonded
    validators.set(context.state, operator, validator)
    if (bonded.rewards > 0n) context.emit(RewardsClaimed.create({ delegator: context.sender, validator: operator, amount: bonded.rewards, commission: 0n }))
    context.emit(Bonded.create({ delegator: context.sender, validator: operator, amount }))
    return undefined
  },
})

export const unbond = defineCall({
  index: 2,
  name: 'unbond',
  args: k.struct({ validator: k.address, amount: k.amount }),
  weight: () => UNBOND_WEIGHT,
  async execute(context, { validator: operator, amount: requested }) {
    const { state, sender } = context
    const height = context.block.height
    if (requested === 0n) return StakingError.ZeroAmount
    const validator = await validators.get(state, operator)
    if (validator === undefined) return StakingError.UnknownValidator
    const pair = { delegator: sender, validator: operator }
    const record = await delegations.get(state, pair)
    if (record === undefined) return StakingError.NoDelegation
    if (requested > sharesValue(validator, record.shares)) return StakingError.InsufficientStake
    const params = await stakingParams.get(state)
    const entries = (await unbondings.get(state, pair)) ?? []
    if (entries.length >= params.maxUnbondingEntries) return StakingError.TooManyUnbondingEntries

    // shares to burn round up, so an unbond never takes more than the shares are worth
    let amount = requested
    let burned = (amount * validator.shares + validator.tokens - 1n) / validator.tokens
    let tokensLeft = validator.tokens - amount
    let sharesLeft = validator.shares - burned
    const remaining = sharesLeft === 0n ? 0n : ((record.shares - burned) * tokensLeft) / sharesLeft
    if (remaining === 0n) {
      // what is left of this delegation is worth nothing: close it
      burned = record.shares
      sharesLeft = validator.shares - burned
      if (sharesLeft === 0n) {
        // the last delegation takes any rounding left in the validator's tokens
        amount += tokensLeft
        tokensLeft = 0n
      }
    }
    if (sameAddress(sender, operator) && remaining > 0n && remaining < params.minSelfBond) return StakingError.SelfBondBelowMinimum
    // an operator leaving takes the minimum self-bond out of a set only through a recomputed set
    // without it (below); with nobody else eligible the set would be kept as it is (an empty set
    // halts the chain), with this validator in it and its stake gone: refused
    if (sameAddress(sender, operator) && remaining < params.minSelfBond && (await inAnySet(state, operator))) {
      if (!(await computeActiveSet(state, params)).some((member) => !sameAddress(member.operator, operator))) return StakingError.LastValidator
    }

    const rewards = await settleRewards(context, validator, sender, record)
    // power that falls must stop counting at once, not at the next epoch: the set is recomputed
    // at this block's end (in force SET_DELAY heights on), and the entry stays slashable for
    // faults until then (stake.ts stillSlashable); with no own stake left the validator leaves it
    if (powerOf(tokensLeft) < powerOf(validator.tokens) && (await inAnySet(state, operator))) setDirty.set(state, true)
    record.shares -= burned
    validator.shares = sharesLeft
    validator.tokens = tokensLeft
    validators.set(state, operator, validator)
    if (record.shares === 0n) delegations.delete(state, pair)
    else delegations.set(state, pair, record)

    const completionHeight = height + params.unbondingPeriod
    entries.push({ initialAmount: amount, amount, creationHeight: height, completionHeight })
    unbondings.set(state, pair, entries)
    const queued = (await unbondingQueue.get(state, completionHeight)) ?? []
    if (!queued.some((p) => sameAddress(p.delegator, sender) && sameAddress(p.validator, operator))) unbondingQueue.set(state, completionHeight, [...queued, pair])
    const unbonders = (await validatorUnbonders.get(state, operator)) ?? []
    if (!unbonders.some((delegator) => sameAddress(delegator, sender))) validatorUnbonders.set(state, operator, [...unbonders, sender])
    await adjustTotals(state, { bonded: -amount, unbonding: amount })

    if (rewards > 0n) context.emit(RewardsClaimed.create({ delegator: sender, validator: operator, amount: rewards, commission: 0n }))
    context.emit(Unbonded.create({ delegator: sender, validator: operator, amount, completionHeight }))
    return undefined
  },
})

export const setCommission = defineCall({
  index: 3,
  name: 'setCommission',
  args: k.struct({ commissionBps: k.uint }),
  weight: () => SET_COMMISSION_WEIGHT,
  async execute(context, { commissionBps }) {
    const { state, sender } = context
    const validator = await validators.get(state, sender)
    if (validator === undefined) return StakingError.UnknownValidator
    if (commissionBps > MAX_COMMISSION_BPS) return StakingError.InvalidCommission
    const current = (await epoch.get(state)).index
    if (validator.commissionEpoch >= current) return StakingError.CommissionChangeTooSoon
    const params = await stakingParams.get(state)
    if (Math.abs(commissionBps - validator.commissionBps) > params.maxCommissionChangeBps) return StakingError.CommissionChangeTooLarge
    validators.set(state, sender, { ...validator, commissionBps, commissionEpoch: current })
    context.emit(CommissionChanged.create({ validator: sender, commissionBps }))
    return undefined
  },
})

export const unjail = defineCall({
  index: 4,
  name: 'unjail',
  args: k.struct({}),
  weight: () => UNJAIL_WEIGHT,
  async execute(context) {
    const { state, sender } = context
    const validator = await validators.get(state, sender)
    if (validator === undefined) return StakingError.UnknownValidator
    if (!validator.jailed) return StakingError.NotJailed
    if (context.block.height < validator.jailedUntil) return StakingError.JailPeriodNotOver
    if ((await selfBondOf(state, validator)) < (await stakingParams.get(state)).minSelfBond) return StakingError.SelfBondBelowMinimum
    // back in the active set from the next epoch boundary
    validators.set(state, sender, { ...validator, jailed: false })
    context.emit(Unjailed.create({ validator: sender }))
    return undefined
  },
})

export const claimRewards = defineCall({
  index: 6,
  name: 'claimRewards',
  args: k.struct({ validator: k.address }),
  weight: () => CLAIM_REWARDS_WEIGHT,
  async execute(context, { validator: operator }) {
    const { state, sender } = context
    const validator = await validators.get(state, operator)
    if (validator === undefined) return StakingError.UnknownValidator
    const pair = { delegator: sender, validator: operator }
    const record = await delegations.get(state, pair)
    const rewards = record === undefined ? 0n : await settleRewards(context, validator, sender, record)
    const commission = sameAddress(sender, operator) ? validator.commission : 0n
    if (rewards + commission === 0n) return StakingError.NothingToClaim
    if (record !== undefined) delegations.set(state, pair, record)
    if (commission > 0n) {
      validator.commission = 0n
      validator.outstanding -= commission
      await adjustTotals(state, { rewards: -commission })
      await payOut(context, sender, commission)
    }
    validators.set(state, operator, validator)
    context.emit(RewardsClaimed.create({ delegator: sender, validator: operator, amount: rewards + commission, commission }))
    return undefined
  },
})

/** submitEvidence needs the node's evidence check, so it is built per runtime. */
export function submitEvidenceCall(verify: EvidenceVerifier): CallDefinition<{ evidence: Uint8Array }> {
  return defineCall({
    index: 5,
    name: 'submitEvidence',
    args: k.struct({ evidence: k.bytes(MAX_EVIDENCE_BYTES) }),
    weight: ({ evidence }) => SUBMIT_EVIDENCE_WEIGHT + evidence.length * EVIDENCE_GAS_PER_BYTE,
    execute: (context, { evidence }) => punishEquivocation(context, verify, evidence),
  })
}

/**
 * The sender's validator registers a beacon hash chain (beacon.ts): `tip` = sha256^length(seed of
 * `generation`). It comes into force BEACON_ROTATION_DELAY blocks later, replacing the chain in
 * force (or none: a validator created by createValidator reveals nothing until then). The
 * generation only tells the validator's node which seed to reveal from; it must rise with each
 * registration, so an old chain, whose values below its tip are public, is never registered again.
 */
export const setBeaconChain = defineCall({
  index: 7,
  name: 'setBeaconChain',
  args: k.struct({ tip: k.hash, length: k.uint, generation: k.uint }),
  weight: () => SET_BEACON_CHAIN_WEIGHT,
  async execute(context, { tip, length, generation }) {
    const { state, sender } = context
    if ((await validators.get(state, sender)) === undefined) return StakingError.UnknownValidator
    if ((await beaconRotations.get(state, sender)) !== undefined) return StakingError.BeaconRotationPending
    const current = await beaconChains.get(state, sender)
    const currentGeneration = (await beaconGenerations.get(state, sender)) ?? 0
    if (length < 1 || length > MAX_BEACON_CHAIN_LENGTH || bytesEqual(tip, ZERO_HASH)) return StakingError.InvalidBeaconChain
    if (current !== undefined && (generation <= currentGeneration || bytesEqual(tip, current.tip))) return StakingError.InvalidBeaconChain
    const effectiveHeight = context.block.height + BEACON_ROTATION_DELAY
    beaconRotations.set(state, sender, { tip, remaining: length, generation, effectiveHeight })
    const queued = (await beaconRotationQueue.get(state, effectiveHeight - 1)) ?? []
    beaconRotationQueue.set(state, effectiveHeight - 1, [...queued, sender])
    context.emit(BeaconChainRegistered.create({ validator: sender, tip, length, generation, effectiveHeight }))
    return undefined
  },
})

export function createCalls(verify: EvidenceVerifier) {
  return [createValidator, bond, unbond, setCommission, unjail, submitEvidenceCall(verify), claimRewards, setBeaconChain]
}
