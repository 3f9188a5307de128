// A record's attribution after the end-of-block hook picked it up. Shared by the calls
// (submitReceipt, commitCheck, revealCheck) and the hook's deadlines, so an attribution moves the
// same way whichever of them moves it. Functions take the attribution, write what they must
// (payouts, slashes, penalties, the deadline index) and return the updated one for the caller
// to store.
//
//   record (RANDOMNESS_LOOKAHEAD blocks old) ──▶ assigned ──receipt──▶ submitted
//        ▲   │ deadline: attributor slashed                              │ LOOKAHEAD blocks later:
//        │   └──▶ reassigned (or unattributed)      not sampled ◀────────┤ isSampled(mix after the receipt)
//        │                                          ▼                    ▼ sampled
//        │                                        final ◀──upheld── verifying: commit ▶ reveal
//        └─────────────── receipt lost the majority: attributor slashed, reassigned ◀──┘
//
// Draws come from the beacon's mix (system/randomness.ts), never a block hash: the attributor of
// a record from the mix RANDOMNESS_LOOKAHEAD blocks after the record, whether a receipt is
// re-checked (and by whom) from the mix RANDOMNESS_LOOKAHEAD blocks after the receipt, so neither
// the provider nor the attributor knew the draw when it acted.
//
// Payout waits until the receipt is final. The record's pool is divided pro rata to the credited
// scores by largest remainder (the shares sum to the pool exactly) into per-contributor accrued
// rewards, skipping contributions cut off for harm; harmful scores accumulate per contribution
// and past penaltyThreshold cut it off and send penaltySlashBps of its deposit to the treasury.
import { CommitPhase, commitmentBy } from '../../commitReveal.ts'
import { encode } from '../../codec/canonical.ts'
import { concatBytes, keccak256, toHex, utf8 } from '../../crypto/hash.ts'
import type { Address } from '../../crypto/secp256k1.ts'
import type { ExecutionContext } from '../../module.ts'
import type { StateOverlay, StateReader } from '../../state/overlay.ts'
import { BPS, bpsOf, largestRemainder, sameAddress, TREASURY_ACCOUNT } from '../accounts.ts'
import { payFromModuleAccount } from '../balances/index.ts'
import { contributions, ContributionStatus, DATANETS_ACCOUNT } from '../datanets/index.ts'
import { type InferenceRecord, records, takeContributorsPool } from '../inference/index.ts'
import { modelVersions } from '../models/index.ts'
import { u64Key } from '../../storage.ts'
import { drawValidators, slashForWork, SlashReason } from '../staking/index.ts'
import { drawSeed, isSampled, MIX_HISTORY, RANDOMNESS_LOOKAHEAD } from '../system/index.ts'
import {
  AttributionFinal, AttributionSlashReason, AttributorAssigned, AttributorReassigned, CheckOpened, CheckRevealOpened, CheckSettled, ContributionCutOff,
  ReassignReason, RecordUnattributed, UnattributedReason, WorkerSlashed,
} from './events.ts'
import {
  ATTRIBUTION_ACCOUNT, AttributionStatus, contributorPayouts, deadlines, MAX_LINEAGE, MAX_WORKERS, penalties, receiptKind, rewards,
  type Attribution, type AttributionParams, type Credit, type LineageEntry, type Payout, type Receipt, type Reveal,
} from './state.ts'

/** Domains of the draws (system/randomness.ts) and of the re-check commitments (commitReveal.ts). */
export const ATTRIBUTOR_DOMAIN = 'openledger/attribution/attributor/v1'
export const CHECK_DOMAIN = 'openledger/attribution/check/v1'
export const CHECK_COMMIT_DOMAIN = 'openledger/attribution/check-commit/v1'
const RECEIPT_DOMAIN = utf8('openledger/attribution/receipt/v1')

/** The hash a receipt is known by: what verifiers recompute and commit to. */
export function receiptHash(receipt: Receipt): Uint8Array {
  return keccak256(concatBytes(RECEIPT_DOMAIN, encode(receiptKind.encode(receipt))))
}

/** The scope of a re-check's commitments: the record and the attempt (a reassigned record is a new round). */
export function checkScope(entry: Pick<Attribution, 'record' | 'attempt'>): Uint8Array {
  return concatBytes(u64Key(entry.record), u64Key(entry.attempt))
}

const includes = (list: readonly Address[], account: Address): boolean => list.some((entry) => sameAddress(entry, account))
const without = (list: readonly Address[], drop: readonly Address[]): Address[] => list.filter((entry) => !includes(drop, entry))

/**
 * The record's model lineage: each adapter's model version's datanet versions, in adapter order,
 * without repeats (a base model alone has none on chain). Undefined if an adapter is missing.
 */
export async function lineageOf(state: StateReader, record: Pick<InferenceRecord, 'adapters'>): Promise<LineageEntry[] | undefined> {
  const lineage: LineageEntry[] = []
  const seen = new Set<string>()
  for (const adapter of record.adapters) {
    const version = await modelVersions.get(state, adapter.id)
    if (version === undefined) return undefined
    for (const { datanet, version: v } of version.datanets) {
      const key = `${datanet}/${v}`
      if (seen.has(key) || lineage.length >= MAX_LINEAGE) continue
      seen.add(key)
      lineage.push({ datanet, version: v })
    }
  }
  return lineage
}

/** The active operators whose stake counts at this height, in the order drawn by power for (record, attempt) from the mix of `height`. */
function ordering(context: ExecutionContext, domain: string, record: number, attempt: number, height: number): Promise<Address[]> {
  return drawValidators(context, { domain, subject: concatBytes(u64Key(record), u64Key(attempt)), height })
}

async function schedule(state: StateOverlay, entry: Attribution): Promise<void> {
  const due = (await deadlines.get(state, entry.deadline)) ?? []
  if (!due.includes(entry.record)) deadlines.set(state, entry.deadline, [...due, entry.record])
}

/** Sends what is left of the record's pool to the treasury and closes the attribution. */
async function unattributed(context: ExecutionContext, entry: Attribution, reason: number): Promise<Attribution> {
  const record = await records.get(context.state, entry.record)
  const pool = record?.contributorsPending ?? 0n
  if (pool > 0n && (await takeContributorsPool(context, entry.record, [{ to: TREASURY_ACCOUNT, amount: pool }])) === undefined) {
    throw new Error(`attribution: record ${entry.record}'s pool could not be taken: bug`)
  }
  context.emit(RecordUnattributed.create({ record: entry.record, toTreasury: pool, reason }))
  return { ...entry, status: AttributionStatus.unattributed, toTreasury: pool, finalHeight: context.block.height }
}

/** A new record, RANDOMNESS_LOOKAHEAD blocks after it was written: its first attributor (or its pool to the treasury). */
export async function assign(context: ExecutionContext, record: InferenceRecord, params: AttributionParams): Promise<Attribution> {
  const entry: Attribution = {
    record: record.id, status: AttributionStatus.assigned, attempt: 0, attributor: new Uint8Array(20), excluded: [], deadline: 0, forceCheck: false,
    receipt: undefined, receiptHash: undefined, submittedHeight: 0, verifiers: [], phase: CommitPhase.commit, commitments: [], reveals: [], payouts: [],
    paid: 0n, toTreasury: 0n, finalHeight: 0,
  }
  const lineage = await lineageOf(context.state, record)
  if (lineage === undefined || lineage.length === 0) return unattributed(context, entry, UnattributedReason.noLineage)
  // a backlog (one redeem writes up to 65,536 records, the hook assigns maxAssignPerBlock a block)
  // can leave a record's own lookahead mix forgotten: then the oldest mix still kept, which is
  // later still than the record, so its proposer did not know it either
  const drawHeight = Math.max(record.height + RANDOMNESS_LOOKAHEAD, context.block.height - MIX_HISTORY + 1)
  return nextAttempt(context, entry, drawHeight, undefined, params)
}

/**
 * The next attempt: an attributor drawn by power among the validators not excluded, a fresh
 * receipt deadline. After maxAttempts, or with nobody left, the pool goes to the treasury.
 */
async function nextAttempt(context: ExecutionContext, entry: Attribution, drawHeight: number, reason: number | undefined, params: AttributionParams): Promise<Attribution> {
  if (entry.attempt >= params.maxAttempts) return unattributed(context, entry, UnattributedReason.maxAttempts)
  const attempt = entry.attempt + 1
  const order = without(await ordering(context, ATTRIBUTOR_DOMAIN, entry.record, attempt, drawHeight), entry.excluded)
  const attributor = order[0]
  if (attributor === undefined) return unattributed(context, entry, UnattributedReason.noValidators)
  const next: Attribution = {
    ...entry, status: AttributionStatus.assigned, attempt, attributor, deadline: context.block.height + params.receiptBlocks, receipt: undefined, receiptHash: undefined,
    submittedHeight: 0, verifiers: [], phase: CommitPhase.commit, commitments: [], reveals: [],
  }
  await schedule(context.state, next)
  if (reason === undefined) context.emit(AttributorAssigned.create({ record: entry.record, attributor, attempt, deadline: next.deadline }))
  else context.emit(AttributorReassigned.create({ record: entry.record, attributor, attempt, deadline: next.deadline, reason }))
  return next
}

/** A receipt accepted: whether it is re-checked is drawn RANDOMNESS_LOOKAHEAD blocks later. */
export async function submitted(context: ExecutionContext, entry: Attribution, receipt: Receipt): Promise<Attribution> {
  const next: Attribution = {
    ...entry, status: AttributionStatus.submitted, receipt, receiptHash: receiptHash(receipt), submittedHeight: context.block.height,
    deadline: context.block.height + RANDOMNESS_LOOKAHEAD,
  }
  await schedule(context.state, next)
  return next
}

/** Sampled (or forced after a lost re-check): verifiers drawn by power besides the attributor; else final. */
async function drawCheck(context: ExecutionContext, entry: Attribution, params: AttributionParams): Promise<Attribution> {
  const height = entry.submittedHeight + RANDOMNESS_LOOKAHEAD
  const subject = concatBytes(u64Key(entry.record), u64Key(entry.attempt))
  const seed = await drawSeed(context.state, { domain: CHECK_DOMAIN, subject, height }, context.block.height)
  if (!entry.forceCheck && !isSampled(seed, BigInt(params.sampleRateBps), BPS)) return finalize(context, entry, params)
  const verifiers = without(await ordering(context, CHECK_DOMAIN, entry.record, entry.attempt, height), [...entry.excluded, entry.attributor]).slice(0, Math.min(params.verifiers, MAX_WORKERS))
  if (verifiers.length === 0) return finalize(context, entry, params)
  const next: Attribution = { ...entry, status: AttributionStatus.verifying, verifiers, phase: CommitPhase.commit, commitments: [], reveals: [], deadline: context.block.height + params.verifyBlocks }
  await schedule(context.state, next)
  context.emit(CheckOpened.create({ record: entry.record, verifiers, commitDeadline: next.deadline }))
  return next
}

/** Every verifier committed, or the commit deadline passed with some committed: reveals are taken. */
export async function openReveal(context: ExecutionContext, entry: Attribution, params: AttributionParams): Promise<Attribution> {
  const next: Attribution = { ...entry, phase: CommitPhase.reveal, deadline: context.block.height + params.verifyBlocks }
  await schedule(context.state, next)
  context.emit(CheckRevealOpened.create({ record: entry.record, revealDeadline: next.deadline }))
  return next
}

const committed = (entry: Attribution): Address[] => entry.verifiers.filter((worker) => commitmentBy(entry.commitments, worker) !== undefined)
const revealed = (entry: Attribution, worker: Address): boolean => entry.reveals.some((r) => sameAddress(r.worker, worker))

/** Whether every committed verifier has revealed. */
export function allRevealed(entry: Attribution): boolean {
  return committed(entry).every((worker) => revealed(entry, worker))
}

/** Burns `bps` of the operator's bonded stake through staking's slash (nothing if it is no validator any more). */
async function slashWorker(context: ExecutionContext, record: number, operator: Address, bps: number, infractionHeight: number, reason: number): Promise<void> {
  const stakingReason = reason === AttributionSlashReason.missedDeadline ? SlashReason.missedWork : SlashReason.wrongWork
  if (await slashForWork(context, operator, bps, infractionHeight, stakingReason)) context.emit(WorkerSlashed.create({ record, worker: operator, reason, slashBps: bps }))
}

/** The votes (the attributor's receipt hash one, each reveal one), their counts by hash, and the unique leader (undefined on a tie). */
function tally(entry: Attribution): { hash: Uint8Array; votes: Reveal[]; counts: Map<string, number>; winner: string | undefined } {
  const hash = entry.receiptHash
  if (hash === undefined) throw new Error(`attribution: record ${entry.record} settled without a receipt`)
  const votes = [{ worker: entry.attributor, receiptHash: hash, height: entry.submittedHeight }, ...entry.reveals]
  const counts = new Map<string, number>()
  for (const vote of votes) counts.set(toHex(vote.receiptHash), (counts.get(toHex(vote.receiptHash)) ?? 0) + 1)
  const top = Math.max(...counts.values())
  const leaders = [...counts.entries()].filter(([, count]) => count === top)
  return { hash, votes, counts, winner: leaders.length === 1 ? leaders[0]?.[0] : undefined }
}

/**
 * The last reveal (a transaction) completed the check. Upheld, it settles now; otherwise settling
 * draws the next attributor, and a call must not draw from its own block's mix (its proposer knows
 * it and chose to include the reveal there): the hook settles it RANDOMNESS_LOOKAHEAD blocks later.
 */
export async function settleRevealed(context: ExecutionContext, entry: Attribution, params: AttributionParams): Promise<Attribution> {
  const { hash, winner } = tally(entry)
  if (winner === toHex(hash)) return settle(context, entry, params)
  const next: Attribution = { ...entry, deadline: context.block.height + RANDOMNESS_LOOKAHEAD }
  await schedule(context.state, next)
  return next
}

/**
 * Counts the votes (tally). A unique majority for the receipt makes it final (verifiers that voted
 * otherwise slashed); a unique majority against it slashes the attributor and those that voted
 * with it and reassigns the record, the next receipt re-checked whatever the sample; a tie
 * reassigns with nobody slashed. Drawing the next attributor from this height's mix: the hook
 * runs it (a deadline, or RANDOMNESS_LOOKAHEAD blocks after the last reveal: settleRevealed).
 */
export async function settle(context: ExecutionContext, entry: Attribution, params: AttributionParams): Promise<Attribution> {
  const { hash, votes, counts, winner } = tally(entry)
  const upheld = winner === toHex(hash)
  context.emit(CheckSettled.create({ record: entry.record, receiptUpheld: upheld, tie: winner === undefined, votesFor: counts.get(toHex(hash)) ?? 0, totalVotes: votes.length }))
  if (winner === undefined) return nextAttempt(context, { ...entry, forceCheck: true }, context.block.height, ReassignReason.tiedCheck, params)
  const losers = votes.filter((vote) => toHex(vote.receiptHash) !== winner)
  for (const loser of losers) {
    const reason = sameAddress(loser.worker, entry.attributor) ? AttributionSlashReason.wrongReceipt : AttributionSlashReason.wrongCheck
    await slashWorker(context, entry.record, loser.worker, params.slashBps, loser.height, reason)
  }
  if (upheld) return finalize(context, entry, params)
  const excluded = [...entry.excluded, ...losers.map((loser) => loser.worker)].slice(0, MAX_WORKERS)
  return nextAttempt(context, { ...entry, excluded, forceCheck: true }, context.block.height, ReassignReason.lostCheck, params)
}

/**
 * The receipt is final: harmful scores add to their contributions' penalties (cutting off those
 * past the threshold), then the record's pool is divided among the credited contributions not cut
 * off, pro rata to their scores by largest remainder, into their contributors' accrued rewards.
 */
export async function finalize(context: ExecutionContext, entry: Attribution, params: AttributionParams): Promise<Attribution> {
  const { state } = context
  const receipt = entry.receipt
  if (receipt === undefined || entry.receiptHash === undefined) throw new Error(`attribution: record ${entry.record} final without a receipt`)
  for (const { datanet, index, score } of receipt.harmful) await penalize(context, datanet, index, score, params)
  const credited: Array<{ datanet: number; index: number; contributor: Address; score: bigint }> = []
  for (const { datanet, index, score } of receipt.contributions) {
    if ((await penalties.get(state, { datanet, index }))?.cutOff === true) continue
    const contribution = await contributions.get(state, { datanet, index })
    if (contribution === undefined) throw new Error(`attribution: a checked contribution ${datanet}/${index} is missing: bug`)
    credited.push({ datanet, index, contributor: contribution.contributor, score: BigInt(score) })
  }
  const record = await records.get(state, entry.record)
  const pool = record?.contributorsPending ?? 0n
  const shares = credited.length === 0 || pool === 0n ? credited.map(() => 0n) : largestRemainder(credited.map((c) => c.score), pool)
  const payouts: Payout[] = credited.map((c, i) => ({ datanet: c.datanet, index: c.index, contributor: c.contributor, amount: shares[i] ?? 0n }))
  const paid = shares.reduce((sum, share) => sum + share, 0n)
  const toTreasury = pool - paid
  if (pool > 0n) {
    const left = await takeContributorsPool(context, entry.record, [{ to: ATTRIBUTION_ACCOUNT, amount: paid }, { to: TREASURY_ACCOUNT, amount: toTreasury }])
    if (left !== 0n) throw new Error(`attribution: record ${entry.record}'s pool could not be taken: bug`)
  }
  const byContributor = new Map<string, { contributor: Address; credits: Credit[] }>()
  for (const [i, payout] of payouts.entries()) {
    const key = toHex(payout.contributor)
    const entry = byContributor.get(key) ?? { contributor: payout.contributor, credits: [] }
    entry.credits.push({ datanet: payout.datanet, index: payout.index, score: Number(credited[i]?.score ?? 0n), amount: payout.amount })
    byContributor.set(key, entry)
  }
  for (const { contributor, credits } of byContributor.values()) contributorPayouts.set(state, { contributor, record: entry.record }, credits)
  for (const payout of payouts) {
    if (payout.amount === 0n) continue
    const reward = (await rewards.get(state, payout.contributor)) ?? { accrued: 0n, claimed: 0n }
    rewards.set(state, payout.contributor, { ...reward, accrued: reward.accrued + payout.amount })
  }
  context.emit(AttributionFinal.create({ record: entry.record, receiptHash: entry.receiptHash, paid, toTreasury, contributors: payouts.length }))
  return { ...entry, status: AttributionStatus.final, payouts, paid, toTreasury, finalHeight: context.block.height }
}

/** Adds a harmful score to a contribution's penalty; past the threshold it is cut off and part of its deposit slashed to the treasury. */
async function penalize(context: ExecutionContext, datanet: number, index: number, score: number, params: AttributionParams): Promise<void> {
  const { state } = context
  const before = (await penalties.get(state, { datanet, index })) ?? { score: 0, cutOff: false, slashed: 0n, cutOffHeight: 0 }
  const total = Math.min(before.score + score, Number.MAX_SAFE_INTEGER)
  if (before.cutOff || total < params.penaltyThreshold) {
    penalties.set(state, { datanet, index }, { ...before, score: total })
    return
  }
  const contribution = await contributions.get(state, { datanet, index })
  // the deposit is escrowed only while the contribution is live (a withdrawn one got it back)
  const held = contribution !== undefined && contribution.status === ContributionStatus.accepted ? contribution.deposit : 0n
  const slashed = bpsOf(held, params.penaltySlashBps)
  if (contribution !== undefined && slashed > 0n) {
    contributions.set(state, { datanet, index }, { ...contribution, deposit: contribution.deposit - slashed })
    await payFromModuleAccount(context, DATANETS_ACCOUNT, TREASURY_ACCOUNT, slashed, 'attribution')
  }
  penalties.set(state, { datanet, index }, { score: total, cutOff: true, slashed, cutOffHeight: context.block.height })
  context.emit(ContributionCutOff.create({ datanet, index, score: total, slashed }))
}

/** The end-of-block work for an attribution whose phase ends at this height. */
export async function expire(context: ExecutionContext, entry: Attribution, params: AttributionParams): Promise<Attribution> {
  const height = context.block.height
  switch (entry.status) {
    case AttributionStatus.assigned: {
      await slashWorker(context, entry.record, entry.attributor, params.missedDeadlineSlashBps, height, AttributionSlashReason.missedDeadline)
      const excluded = [...entry.excluded, entry.attributor].slice(0, MAX_WORKERS)
      return nextAttempt(context, { ...entry, excluded }, height, ReassignReason.missedDeadline, params)
    }
    case AttributionStatus.submitted:
      return drawCheck(context, entry, params)
    case AttributionStatus.verifying: {
      if (entry.phase === CommitPhase.commit) {
        const committers = committed(entry)
        for (const worker of without(entry.verifiers, committers)) {
          await slashWorker(context, entry.record, worker, params.missedDeadlineSlashBps, height, AttributionSlashReason.missedDeadline)
        }
        if (committers.length === 0) return finalize(context, { ...entry, verifiers: [] }, params)
        return openReveal(context, { ...entry, verifiers: committers }, params)
      }
      // a commitment never revealed costs like a wrong check: otherwise a verifier could reveal only when it agrees
      for (const worker of committed(entry).filter((w) => !revealed(entry, w))) {
        await slashWorker(context, entry.record, worker, params.slashBps, height, AttributionSlashReason.unrevealed)
      }
      return settle(context, entry, params)
    }
    default:
      return entry
  }
}
