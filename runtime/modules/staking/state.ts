// staking storage: parameters, validators, delegations (as shares of a validator's bonded
// tokens), unbonding entries and their release queue, the scheduled validator sets, downtime
// bitmaps, processed evidence and the module's running totals. Item indices are permanent.
// Fallback values are frozen: storageValue hands out the same object whenever the key is absent.
//
// The state can only be read key by key (no prefix scans inside a block), so every set the module
// walks has an explicit index: validator ids, per-validator lists of unbonding delegators, release
// queues keyed by height.
import { bytesToBigint, CodecError, CodecErrorCode } from '../../codec/canonical.ts'
import { readBytes } from '../../codec/read.ts'
import * as k from '../../codec/schema.ts'
import { concatBytes } from '../../crypto/hash.ts'
import type { Address } from '../../crypto/secp256k1.ts'
import { defineParams } from '../../params.ts'
import { bytesKey, storageMap, storageValue, u32Key, u64Key } from '../../storage.ts'
import { moduleAccount } from '../accounts.ts'
import { ModuleIndex } from '../indices.ts'

/** holds every bonded and unbonding token and every reward not yet claimed */
export const STAKING_ACCOUNT = moduleAccount('staking')

/** base units per unit of consensus power: one whole OPEN, so powers stay below 2^53 */
export const POWER_UNIT = 10n ** 18n
/** fixed-point scale of the reward-per-share accumulator */
export const REWARD_PRECISION = 10n ** 36n
/** basis points in one whole */
/** bits of a downtime window held by one storage value */
export const MISSED_CHUNK_BITS = 256

export const StorageItem = {
  params: 0,
  validator: 1,
  validatorByKey: 2,
  validatorCount: 3,
  validatorId: 4,
  delegation: 5,
  unbonding: 6,
  unbondingQueue: 7,
  validatorUnbonders: 8,
  validatorSets: 9,
  epoch: 10,
  totals: 11,
  missedBlocks: 12,
  missedCount: 13,
  processedEvidence: 14,
  evidenceExpiry: 15,
  setDirty: 16,
  slashedTotal: 17,
  doubleSignCovered: 18,
  beaconChain: 19,
  beaconRotation: 20,
  beaconRotationQueue: 21,
  beaconGeneration: 22,
} as const

/** Non-negative integers up to 2^256 - 1 (shares, scaled accumulators): minimal big-endian bytes. */
export const uint256: k.Kind<bigint> = {
  name: 'uint256',
  encode: (value) => value,
  decode: (value, field) => bytesToBigint(readBytes(value, field, undefined, 32)),
  toJson: (value) => value.toString(),
  fromJson(value, field) {
    if (typeof value === 'string' && /^(0|[1-9][0-9]{0,77})$/.test(value) && BigInt(value) < 1n << 256n) return BigInt(value)
    throw new CodecError(CodecErrorCode.wrongType, `${field}: expected a decimal string below 2^256`)
  },
}

export const stakingParamsKind = k.struct({
  /** the active set holds at most this many validators */
  maxValidators: k.uint,
  /** blocks per epoch: the active set is recomputed at each epoch boundary */
  epochLength: k.uint,
  /** blocks from unbond to release */
  unbondingPeriod: k.uint,
  /** unbonding entries one delegator may have at once per validator */
  maxUnbondingEntries: k.uint,
  /** base units an operator must keep bonded to be eligible for the active set */
  minSelfBond: k.amount,
  /** basis points a commission may move in one change; one change per epoch */
  maxCommissionChangeBps: k.uint,
  /** base units paid from the ecosystem pool to the proposer's validator each block */
  blockRewardPerBlock: k.amount,
  /** basis points of bonded and unbonding stake burned for a double sign */
  doubleSignSlashBps: k.uint,
  /** blocks a double-signer stays jailed */
  doubleSignJailBlocks: k.uint,
  /** blocks over which missed commit signatures are counted */
  downtimeWindow: k.uint,
  /** missing more than this many of the window's blocks jails */
  downtimeMaxMissed: k.uint,
  /** basis points of bonded and unbonding stake burned for downtime */
  downtimeSlashBps: k.uint,
  /** blocks a validator jailed for downtime stays jailed */
  downtimeJailBlocks: k.uint,
  /** blocks: older evidence is rejected; at most unbondingPeriod so the stake is still there */
  evidenceMaxAgeBlocks: k.uint,
})
export type StakingParams = k.Infer<typeof stakingParamsKind>

/** 6 s blocks assumed for the durations in the comments */
export const DEFAULT_STAKING_PARAMS: StakingParams = Object.freeze({
  maxValidators: 100,
  epochLength: 600, // 1 hour
  unbondingPeriod: 100_800, // 7 days
  maxUnbondingEntries: 7,
  minSelfBond: 10_000n * POWER_UNIT,
  maxCommissionChangeBps: 100,
  blockRewardPerBlock: 1n * POWER_UNIT,
  doubleSignSlashBps: 500, // 5 %
  doubleSignJailBlocks: 100_800, // 7 days
  downtimeWindow: 1_000,
  downtimeMaxMissed: 500,
  downtimeSlashBps: 1, // 0.01 %
  downtimeJailBlocks: 600, // 1 hour
  evidenceMaxAgeBlocks: 100_800,
})

/** The governable staking parameters (runtime/params.ts): bounds per parameter, then the rule across them. */
export const stakingParams = defineParams(
  { index: ModuleIndex.staking, name: 'staking' },
  StorageItem.params,
  stakingParamsKind,
  DEFAULT_STAKING_PARAMS,
  {
    maxValidators: { type: 'integer', min: 1, max: 1_000, description: 'the active set holds at most this many validators' },
    epochLength: { type: 'blocks', min: 1, description: 'blocks per epoch: the active set is recomputed at each boundary' },
    unbondingPeriod: { type: 'blocks', min: 1, description: 'blocks from unbond to release' },
    maxUnbondingEntries: { type: 'integer', min: 1, max: 100, description: 'unbonding entries one delegator may have at once per validator' },
    minSelfBond: { type: 'amount', min: POWER_UNIT, description: 'base units an operator must keep bonded to be eligible (at least one unit of power)' },
    maxCommissionChangeBps: { type: 'bps', description: 'how far a commission may move in one change' },
    blockRewardPerBlock: { type: 'amount', description: "base units paid from the ecosystem pool to the proposer's validator each block" },
    doubleSignSlashBps: { type: 'bps', description: 'share of bonded and unbonding stake burned for a double sign' },
    doubleSignJailBlocks: { type: 'blocks', description: 'blocks a double-signer stays jailed' },
    downtimeWindow: { type: 'blocks', min: 1, max: 1_000_000, description: 'blocks over which missed commit signatures are counted' },
    downtimeMaxMissed: { type: 'blocks', description: "missing more than this many of the window's blocks jails" },
    downtimeSlashBps: { type: 'bps', description: 'share of bonded and unbonding stake burned for downtime' },
    downtimeJailBlocks: { type: 'blocks', description: 'blocks a validator jailed for downtime stays jailed' },
    evidenceMaxAgeBlocks: { type: 'blocks', description: 'blocks: older evidence is rejected' },
  },
  (params) => {
    if (params.downtimeMaxMissed >= params.downtimeWindow) return 'downtimeMaxMissed must be below downtimeWindow'
    if (params.evidenceMaxAgeBlocks > params.unbondingPeriod) return 'evidenceMaxAgeBlocks must be at most unbondingPeriod'
    return undefined
  },
)

/** Why staking parameters are unusable, or undefined; genesis and governance check this. */
export function stakingParamsProblem(params: StakingParams): string | undefined {
  return stakingParams.problem(params)?.message
}

export const validatorKind = k.struct({
  operator: k.address,
  consensusKey: k.hash,
  commissionBps: k.uint,
  /** the epoch of the last commission change (creation counts as one) */
  commissionEpoch: k.uint,
  /** bonded base units: self-bond plus delegations, after slashes */
  tokens: k.amount,
  /** delegation shares outstanding; a delegation is worth shares x tokens / shares */
  shares: uint256,
  jailed: k.bool,
  /** height from which unjail is allowed */
  jailedUntil: k.uint,
  /** cumulative delegator reward per share, scaled by REWARD_PRECISION (F1-style) */
  rewardPerShare: uint256,
  /** scaled remainder of the last distribution, carried into the next so nothing is lost */
  rewardRemainder: uint256,
  /** operator commission credited and not yet claimed */
  commission: k.amount,
  /** rewards credited to this validator and not yet paid out (commission, delegators, rounding) */
  outstanding: k.amount,
  createdHeight: k.uint,
})
export type Validator = k.Infer<typeof validatorKind>

export const delegationKind = k.struct({
  shares: uint256,
  /** the validator's rewardPerShare when this delegation's rewards were last settled */
  rewardPerShareSeen: uint256,
})
export type Delegation = k.Infer<typeof delegationKind>

export const unbondingEntryKind = k.struct({
  /** base units when the entry was created: slashes are a fraction of this */
  initialAmount: k.amount,
  /** base units to release (after slashes) */
  amount: k.amount,
  creationHeight: k.uint,
  completionHeight: k.uint,
})
export type UnbondingEntry = k.Infer<typeof unbondingEntryKind>

export const pairKind = k.struct({ delegator: k.address, validator: k.address })

export const setMemberKind = k.struct({ operator: k.address, consensusKey: k.hash, power: k.uint })
export type SetMember = k.Infer<typeof setMemberKind>

export const scheduledSetKind = k.struct({ effectiveHeight: k.uint, epoch: k.uint, validators: k.list(setMemberKind, 1_000) })
export type ScheduledSet = k.Infer<typeof scheduledSetKind>

export const epochKind = k.struct({ index: k.uint, startHeight: k.uint })
export const totalsKind = k.struct({ bonded: k.amount, unbonding: k.amount, rewards: k.amount })
export type StakingTotals = k.Infer<typeof totalsKind>


export const pairKey = ({ delegator, validator }: { delegator: Address; validator: Address }): Uint8Array => concatBytes(delegator, validator)
export const chunkKey = ({ operator, chunk }: { operator: Address; chunk: number }): Uint8Array => concatBytes(operator, u32Key(chunk))

const M = ModuleIndex.staking
export const params = stakingParams.storage
export const validators = storageMap(M, StorageItem.validator, bytesKey, validatorKind)
/** consensus key -> operator */
export const validatorByKey = storageMap(M, StorageItem.validatorByKey, bytesKey, k.address)
export const validatorCount = storageValue(M, StorageItem.validatorCount, k.uint, 0)
/** creation order -> operator: the list the active-set computation walks */
export const validatorIds = storageMap(M, StorageItem.validatorId, u32Key, k.address)
export const delegations = storageMap(M, StorageItem.delegation, pairKey, delegationKind)
export const unbondings = storageMap(M, StorageItem.unbonding, pairKey, k.list(unbondingEntryKind, 100))
/** completion height -> (delegator, validator) pairs with an entry completing then */
export const unbondingQueue = storageMap(M, StorageItem.unbondingQueue, u64Key, k.list(pairKind, 1_000_000))
/** validator -> delegators with live unbonding entries (what a slash walks) */
export const validatorUnbonders = storageMap(M, StorageItem.validatorUnbonders, bytesKey, k.list(k.address, 10_000_000))
/** the set in force now and the ones scheduled (effective two heights after their computation) */
export const validatorSets = storageValue(M, StorageItem.validatorSets, k.list(scheduledSetKind, 16), Object.freeze([]) as unknown as ScheduledSet[])
export const epoch = storageValue(M, StorageItem.epoch, epochKind, Object.freeze({ index: 0, startHeight: 0 }))
export const totals = storageValue(M, StorageItem.totals, totalsKind, Object.freeze({ bonded: 0n, unbonding: 0n, rewards: 0n }))
/** (operator, chunk) -> 32-byte bitmap of missed blocks; absent = none missed */
export const missedBlocks = storageMap(M, StorageItem.missedBlocks, chunkKey, k.hash)
/** operator -> number of bits set in its missed-blocks bitmap */
export const missedCounts = storageMap(M, StorageItem.missedCount, bytesKey, k.uint)
/** infraction id -> infraction height */
export const processedEvidence = storageMap(M, StorageItem.processedEvidence, bytesKey, k.uint)
/** height -> infraction ids whose record is dropped then (they are too old to be submitted again) */
export const evidenceExpiry = storageMap(M, StorageItem.evidenceExpiry, u64Key, k.list(k.hash, 1_000_000))
/** a validator was jailed, or a set member's power fell, in this block: recompute the set at its end */
/** heights between the block that computes a set and the height it is in force from */
export const SET_DELAY = 2
export const setDirty = storageValue(M, StorageItem.setDirty, k.bool, false)
/** operator -> base units ever burned from its bonded and unbonding stake (for explorers; absent = none) */
export const slashedTotals = storageMap(M, StorageItem.slashedTotal, bytesKey, k.amount)
/**
 * operator -> the last height its latest double-sign punishment covers: equivocations at or
 * before it belong to the episode already slashed (one slash per episode, like a tombstone that
 * ends with the jail term)
 */
export const doubleSignCovered = storageMap(M, StorageItem.doubleSignCovered, bytesKey, k.uint)
export const beaconChainKind = k.struct({ tip: k.hash, remaining: k.uint })
/** operator -> its randomness beacon hash chain (beacon.ts); absent: it reveals nothing */
export const beaconChains = storageMap(M, StorageItem.beaconChain, bytesKey, beaconChainKind)
/** a chain registered by setBeaconChain, in force from effectiveHeight (beacon.ts BEACON_ROTATION_DELAY) */
export const beaconRotationKind = k.struct({ tip: k.hash, remaining: k.uint, generation: k.uint, effectiveHeight: k.uint })
/** operator -> its registered chain not yet in force (one at a time) */
export const beaconRotations = storageMap(M, StorageItem.beaconRotation, bytesKey, beaconRotationKind)
/** height -> operators whose registered chain comes into force at the end of that block (for the next one) */
export const beaconRotationQueue = storageMap(M, StorageItem.beaconRotationQueue, u64Key, k.list(k.address, 1_000_000))
/**
 * operator -> the generation of the seed its chain in force derives from (beacon.ts beaconSeed), so
 * its node knows which values to reveal; absent: 0 (genesis chains)
 */
export const beaconGenerations = storageMap(M, StorageItem.beaconGeneration, bytesKey, k.uint)
