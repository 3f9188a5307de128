// The staking block hooks. At the start of a block: punish the equivocation evidence the block
// carries (BlockInfo.evidence; invalid, stale or repeated evidence is skipped: whether a block may
// carry it is consensus's rule). At the end of a block, in this order:
//   1. release the unbonding entries that complete at this height;
//   2. forget processed evidence too old to be submitted again;
//   3. record who signed the previous block's commit; jail and slash a validator that missed more
//      than downtimeMaxMissed of the last downtimeWindow blocks;
//   4. pay the block reward from the ecosystem pool to the proposer's validator;
//   5. at an epoch boundary, or if a validator was jailed in this block, compute the active set
//      and schedule it for height + SET_DELAY (2); drop sets no longer needed. An unbond that
//      lowers a set member's power marks the set dirty too (calls.ts).
import { toHex } from '../../crypto/hash.ts'
import type { ExecutionContext } from '../../module.ts'
import type { StateOverlay } from '../../state/overlay.ts'
import { ECOSYSTEM_POOL_ACCOUNT } from '../accounts.ts'
import { balanceOf, deposit, setBalance } from '../balances/index.ts'
import { rotateBeacons } from './beacon.ts'
import { punishEquivocation, type EvidenceVerifier } from './evidence.ts'
import { BlockRewarded, SlashReason, UnbondingReleased } from './events.ts'
import { adjustTotals, creditReward, jail, payOut, slash } from './stake.ts'
import { sameAddress } from '../accounts.ts'
import {
  epoch, evidenceExpiry, MISSED_CHUNK_BITS, missedBlocks, missedCounts, params as stakingParams, processedEvidence, SET_DELAY, setDirty,
  STAKING_ACCOUNT, unbondingQueue, unbondings, validatorByKey, validators, validatorUnbonders, type StakingParams,
} from './state.ts'
import { pruneValidatorSets, scheduleValidatorSet, validatorSetAt } from './validatorSet.ts'

export async function punishBlockEvidence(context: ExecutionContext, verify: EvidenceVerifier): Promise<void> {
  // punishEquivocation checks everything before it writes or emits, so a rejection changes nothing
  for (const evidence of context.block.evidence ?? []) await punishEquivocation(context, verify, evidence)
}

export async function stakingEndBlock(context: ExecutionContext): Promise<void> {
  const params = await stakingParams.get(context.state)
  await releaseUnbondings(context)
  await expireEvidence(context.state, context.block.height)
  await recordCommitSignatures(context, params)
  await rewardProposer(context, params)
  await updateValidatorSet(context, params)
  await rotateBeacons(context)
}

async function releaseUnbondings(context: ExecutionContext): Promise<void> {
  const { state } = context
  const height = context.block.height
  const queued = await unbondingQueue.get(state, height)
  if (queued === undefined) return
  unbondingQueue.delete(state, height)
  for (const pair of queued) {
    const entries = (await unbondings.get(state, pair)) ?? []
    let released = 0n
    const kept = entries.filter((entry) => {
      if (entry.completionHeight > height) return true
      released += entry.amount
      return false
    })
    if (kept.length === entries.length) continue // already slashed to nothing and removed
    if (kept.length > 0) unbondings.set(state, pair, kept)
    else {
      unbondings.delete(state, pair)
      const unbonders = (await validatorUnbonders.get(state, pair.validator)) ?? []
      const left = unbonders.filter((delegator) => !sameAddress(delegator, pair.delegator))
      if (left.length === 0) validatorUnbonders.delete(state, pair.validator)
      else validatorUnbonders.set(state, pair.validator, left)
    }
    await adjustTotals(state, { unbonding: -released })
    await payOut(context, pair.delegator, released)
    context.emit(UnbondingReleased.create({ delegator: pair.delegator, validator: pair.validator, amount: released }))
  }
}

async function expireEvidence(state: StateOverlay, height: number): Promise<void> {
  const expired = await evidenceExpiry.get(state, height)
  if (expired === undefined) return
  for (const id of expired) processedEvidence.delete(state, id)
  evidenceExpiry.delete(state, height)
}

/** Sets or clears one bit of the validator's missed-blocks bitmap; returns its missed count. */
async function recordMissed(state: StateOverlay, operator: Uint8Array, index: number, missed: boolean): Promise<number> {
  const key = { operator, chunk: Math.floor(index / MISSED_CHUNK_BITS) }
  const bit = index % MISSED_CHUNK_BITS
  const count = (await missedCounts.get(state, operator)) ?? 0
  const chunk = (await missedBlocks.get(state, key)) ?? new Uint8Array(MISSED_CHUNK_BITS / 8)
  const mask = 1 << (bit % 8)
  const byte = Math.floor(bit / 8)
  const was = ((chunk[byte] ?? 0) & mask) !== 0
  if (was === missed) return count
  const updated = Uint8Array.from(chunk)
  updated[byte] = (updated[byte] ?? 0) ^ mask
  if (updated.every((b) => b === 0)) missedBlocks.delete(state, key)
  else missedBlocks.set(state, key, updated)
  const next = missed ? count + 1 : count - 1
  if (next === 0) missedCounts.delete(state, operator)
  else missedCounts.set(state, operator, next)
  return next
}

/**
 * Block h carries the commit for block h - 1, signed by the set in force at h - 1. Blocks built
 * without commit information (the dev chain) record nothing.
 */
async function recordCommitSignatures(context: ExecutionContext, params: StakingParams): Promise<void> {
  const signers = context.block.lastCommitSigners
  const height = context.block.height
  if (signers === undefined || height < 2) return
  const signed = new Set(signers.map((key) => toHex(key)))
  const index = (height - 1) % params.downtimeWindow
  for (const member of await validatorSetAt(context.state, height - 1)) {
    const validator = await validators.get(context.state, member.operator)
    if (validator === undefined || validator.jailed) continue
    const missed = await recordMissed(context.state, member.operator, index, !signed.has(toHex(member.consensusKey)))
    if (missed <= params.downtimeMaxMissed) continue
    await slash(context, validator, params.downtimeSlashBps, height - 1, SlashReason.downtime)
    await jail(context, validator, height + params.downtimeJailBlocks, SlashReason.downtime, params.downtimeWindow)
    validators.set(context.state, validator.operator, validator)
  }
}

/**
 * blockRewardPerBlock (or what is left of the pool) to the proposer's validator if it is in the
 * set for this height and not jailed. The proposer is found by its consensus key, or, in blocks
 * without one (the dev chain), as the validator operated by the block's author.
 */
async function rewardProposer(context: ExecutionContext, params: StakingParams): Promise<void> {
  const { state, block } = context
  if (params.blockRewardPerBlock === 0n) return
  const operator = block.proposerKey === undefined ? block.author : await validatorByKey.get(state, block.proposerKey)
  if (operator === undefined) return
  const members = await validatorSetAt(state, block.height)
  if (!members.some((member) => sameAddress(member.operator, operator))) return
  const validator = await validators.get(state, operator)
  if (validator === undefined || validator.jailed || validator.shares === 0n) return
  const pool = await balanceOf(state, ECOSYSTEM_POOL_ACCOUNT)
  const amount = pool < params.blockRewardPerBlock ? pool : params.blockRewardPerBlock
  if (amount === 0n) return
  await setBalance(state, ECOSYSTEM_POOL_ACCOUNT, pool - amount)
  await deposit(state, STAKING_ACCOUNT, amount)
  const commission = creditReward(validator, amount)
  validators.set(state, operator, validator)
  await adjustTotals(state, { rewards: amount })
  context.emit(BlockRewarded.create({ validator: operator, amount, commission }))
}

async function updateValidatorSet(context: ExecutionContext, params: StakingParams): Promise<void> {
  const { state } = context
  const height = context.block.height
  const current = await epoch.get(state)
  const boundary = height >= current.startHeight + params.epochLength
  const dirty = await setDirty.get(state)
  if (dirty) state.delete(setDirty.key)
  if (boundary) epoch.set(state, { index: current.index + 1, startHeight: height })
  if (boundary || dirty) await scheduleValidatorSet(context, params, boundary ? current.index + 1 : current.index, height + SET_DELAY)
  await pruneValidatorSets(state, height)
}
