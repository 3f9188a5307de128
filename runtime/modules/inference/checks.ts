// Re-checks of inference records by validators: the sample, the rounds, the dispute and its
// settlement. Shared by the calls (commitCheck, revealCheck) and the end-of-block hook, so a check
// moves the same way whichever of them moves it (the house shape of models/ and attribution/).
//
//   on-chain request's record (RANDOMNESS_LOOKAHEAD blocks old) ── isSampled? ── no: nothing (it stands)
//        │ yes: `checkers` drawn by power, the provider excluded
//        ▼
//   checking round 0: commit ▶ reveal ── every verdict ok ──▶ upheld
//        │ a verdict wrong or unavailable
//        ▼
//   drawing (RANDOMNESS_LOOKAHEAD blocks) ▶ checking round 1 (`disputeCheckers` more): commit ▶ reveal
//        │ majority of all revealed verdicts (a tie upholds)
//        ▼
//   upheld (those that voted against slashed)  or  disproved (the provider's bond pays the user
//                                                   back the price, the rest of the penalty to the
//                                                   treasury; those that voted ok slashed)
//
// A checker re-scores the record's prompt and the output it fetched by the record's content id
// (node/serving/verify.ts, node/market/recheckService.ts) and votes ok, wrong, or unavailable: a
// provider that cannot produce a recorded output by the deadline is treated as having served a
// wrong one. Verdicts are committed before any is revealed (runtime/commitReveal.ts); a missed
// commit costs checkerMissedSlashBps, a commitment never revealed checkerSlashBps like a losing
// vote (otherwise a checker could reveal only when it agrees).
//
// Draws read the beacon's mix (system/randomness.ts), never the executing block's when a
// transaction triggered them: the sample and the first checkers from the mix RANDOMNESS_LOOKAHEAD
// blocks after the record, the dispute's checkers from the mix RANDOMNESS_LOOKAHEAD blocks after
// the reveal (or deadline) that found fault.
import { CommitPhase, commitmentBy } from '../../commitReveal.ts'
import { concatBytes } from '../../crypto/hash.ts'
import type { Address } from '../../crypto/secp256k1.ts'
import type { ExecutionContext } from '../../module.ts'
import { BPS, bpsOf, sameAddress, TREASURY_ACCOUNT } from '../accounts.ts'
import { u64Key as u64 } from '../../storage.ts'
import { payFromModuleAccount } from '../balances/index.ts'
import { drawValidators, slashForWork, SlashReason } from '../staking/index.ts'
import { drawSeed, isSampled, MIX_HISTORY, RANDOMNESS_LOOKAHEAD } from '../system/index.ts'
import { CheckDisputed, CheckerSlashed, CheckerSlashReason, CheckOpened, CheckRevealOpened, CheckSettled, ProviderSlashed, ProviderSlashReason, RecordDisproved } from './events.ts'
import { scheduleIndex, takeBond } from './records.ts'
import {
  checkDeadlines, CheckStatus, INFERENCE_ACCOUNT, MAX_CHECKERS, providers, RecordSource, records, RecordStatus, Verdict,
  type Check, type InferenceParams, type InferenceRecord,
} from './state.ts'

/** Domains of the draws (system/randomness.ts) and of the checkers' commitments (commitReveal.ts). */
export const CHECK_DRAW_DOMAIN = 'openledger/inference/check/v1'
export const CHECK_COMMIT_DOMAIN = 'openledger/inference/check-commit/v1'

/** The scope of a round's commitments: the record and the round. */
export function checkScope(check: Pick<Check, 'record' | 'round'>): Uint8Array {
  return concatBytes(u64(check.record), u64(check.round))
}

/** What a checker commits to: its verdict as one byte. */
export function verdictPayload(verdict: number): Uint8Array {
  return Uint8Array.of(verdict)
}

const includes = (list: readonly Address[], account: Address): boolean => list.some((entry) => sameAddress(entry, account))
const without = (list: readonly Address[], drop: readonly Address[]): Address[] => list.filter((entry) => !includes(drop, entry))
const committed = (check: Check): Address[] => check.checkers.filter((worker) => commitmentBy(check.commitments, worker) !== undefined)
const revealed = (check: Check, worker: Address): boolean => check.votes.some((v) => v.round === check.round && sameAddress(v.worker, worker))

/** Whether every checker that committed in this round has revealed. */
export function allRevealed(check: Check): boolean {
  return committed(check).every((worker) => revealed(check, worker))
}

async function schedule(context: ExecutionContext, check: Check): Promise<void> {
  await scheduleIndex(context.state, checkDeadlines, check.deadline, check.record)
}

async function slashChecker(context: ExecutionContext, record: number, checker: Address, bps: number, infractionHeight: number, reason: number): Promise<void> {
  const stakingReason = reason === CheckerSlashReason.missedCommit ? SlashReason.missedWork : SlashReason.wrongWork
  if (await slashForWork(context, checker, bps, infractionHeight, stakingReason)) context.emit(CheckerSlashed.create({ record, checker, reason, slashBps: bps }))
}

/**
 * The hook, RANDOMNESS_LOOKAHEAD blocks after the record (or later, after a backlog): whether it
 * is sampled and, if so, its first round's checkers; undefined when it is not re-checked.
 */
export async function sample(context: ExecutionContext, record: InferenceRecord, params: InferenceParams): Promise<Check | undefined> {
  // a channel inference's prompt is off chain (only its hash is in the record): nothing to re-score it against yet
  if (record.source !== RecordSource.request) return undefined
  // after a backlog longer than the mix history, the oldest mix kept: still later than the record
  const height = Math.max(record.height + RANDOMNESS_LOOKAHEAD, context.block.height - MIX_HISTORY + 1)
  const seed = await drawSeed(context.state, { domain: CHECK_DRAW_DOMAIN, subject: u64(record.id), height }, context.block.height)
  if (!isSampled(seed, BigInt(params.checkSampleRateBps), BPS)) return undefined
  const check: Check = {
    record: record.id, status: CheckStatus.drawing, round: 0, phase: CommitPhase.commit, checkers: [], excluded: [record.provider], commitments: [], votes: [],
    deadline: context.block.height, openedHeight: context.block.height, finalHeight: 0,
  }
  return openRound(context, check, 0, height, params)
}

/** A round's checkers drawn by power from the mix of `height`, none excluded; with nobody to draw, the votes in hand settle it. */
async function openRound(context: ExecutionContext, check: Check, round: number, height: number, params: InferenceParams): Promise<Check> {
  const wanted = Math.min(round === 0 ? params.checkers : params.disputeCheckers, MAX_CHECKERS - check.excluded.length)
  const order = await drawValidators(context, { domain: CHECK_DRAW_DOMAIN, subject: concatBytes(u64(check.record), u64(round)), height })
  const checkers = without(order, check.excluded).slice(0, Math.max(0, wanted))
  if (checkers.length === 0) return settle(context, { ...check, round }, params)
  const next: Check = {
    ...check, status: CheckStatus.checking, round, phase: CommitPhase.commit, checkers, excluded: [...check.excluded, ...checkers], commitments: [],
    deadline: context.block.height + params.checkBlocks,
  }
  await schedule(context, next)
  context.emit(CheckOpened.create({ record: check.record, round, checkers, commitDeadline: next.deadline }))
  return next
}

/** Every checker committed, or the commit deadline passed with some committed: reveals are taken. */
export async function openReveal(context: ExecutionContext, check: Check, params: InferenceParams): Promise<Check> {
  const next: Check = { ...check, phase: CommitPhase.reveal, deadline: context.block.height + params.checkBlocks }
  await schedule(context, next)
  context.emit(CheckRevealOpened.create({ record: check.record, round: check.round, revealDeadline: next.deadline }))
  return next
}

/**
 * The round's reveals are in (or their deadline passed). The first round upholds the record if
 * every verdict is ok; otherwise the dispute's checkers are drawn RANDOMNESS_LOOKAHEAD blocks
 * later. The dispute's end counts every revealed verdict of both rounds.
 */
export async function closeRound(context: ExecutionContext, check: Check, params: InferenceParams): Promise<Check> {
  const againstSeen = check.votes.some((vote) => vote.verdict !== Verdict.ok)
  if (check.round === 0 && againstSeen) {
    const next: Check = { ...check, status: CheckStatus.drawing, checkers: [], commitments: [], deadline: context.block.height + RANDOMNESS_LOOKAHEAD }
    await schedule(context, next)
    context.emit(CheckDisputed.create({ record: check.record, drawHeight: next.deadline }))
    return next
  }
  return settle(context, check, params)
}

/**
 * Counts the revealed verdicts: ok against wrong-or-unavailable. More against: the output is
 * disproved (the provider pays, the user is refunded) and the checkers that voted ok are slashed;
 * otherwise (a tie included) the record stands and those that voted against are slashed.
 */
async function settle(context: ExecutionContext, check: Check, params: InferenceParams): Promise<Check> {
  const ok = check.votes.filter((vote) => vote.verdict === Verdict.ok)
  const against = check.votes.filter((vote) => vote.verdict !== Verdict.ok)
  const upheld = against.length <= ok.length
  context.emit(CheckSettled.create({ record: check.record, upheld, votesOk: ok.length, votesAgainst: against.length }))
  for (const loser of upheld ? against : ok) await slashChecker(context, check.record, loser.worker, params.checkerSlashBps, loser.height, CheckerSlashReason.wrongCheck)
  if (!upheld) await disprove(context, check.record, params)
  return { ...check, status: upheld ? CheckStatus.upheld : CheckStatus.disproved, checkers: [], finalHeight: context.block.height }
}

/**
 * The record's output was proven wrong: the provider loses wrongOutputSlashBps of its bond, at
 * least the record's price; the price goes back to the user, the rest to the treasury. The
 * record's split was paid when it was recorded: the bond is what answers for it.
 */
async function disprove(context: ExecutionContext, recordId: number, params: InferenceParams): Promise<void> {
  const { state } = context
  const record = await records.get(state, recordId)
  if (record === undefined) throw new Error(`inference: re-checked record ${recordId} is missing: bug`)
  const provider = await providers.get(state, record.provider)
  const held = provider === undefined ? 0n : provider.bond + provider.unbonding
  const penalty = bpsOf(held, params.wrongOutputSlashBps)
  const slashed = await takeBond(context, record.provider, penalty > record.price ? penalty : record.price)
  const refunded = slashed < record.price ? slashed : record.price
  records.set(state, recordId, { ...record, status: RecordStatus.disproved })
  await payFromModuleAccount(context, INFERENCE_ACCOUNT, record.user, refunded, 'inference')
  await payFromModuleAccount(context, INFERENCE_ACCOUNT, TREASURY_ACCOUNT, slashed - refunded, 'inference')
  if (slashed > 0n) context.emit(ProviderSlashed.create({ provider: record.provider, amount: slashed, reason: ProviderSlashReason.wrongOutput, subject: recordId }))
  context.emit(RecordDisproved.create({ record: recordId, provider: record.provider, user: record.user, refunded, slashed }))
}

/** The end-of-block work for a check whose phase ends at this height. */
export async function expireCheck(context: ExecutionContext, check: Check, params: InferenceParams): Promise<Check> {
  const height = context.block.height
  if (check.status === CheckStatus.drawing) return openRound(context, check, check.round + 1, height, params)
  if (check.status !== CheckStatus.checking) return check
  if (check.phase === CommitPhase.commit) {
    const committers = committed(check)
    for (const silent of without(check.checkers, committers)) await slashChecker(context, check.record, silent, params.checkerMissedSlashBps, height, CheckerSlashReason.missedCommit)
    if (committers.length === 0) return closeRound(context, { ...check, checkers: [] }, params)
    return openReveal(context, { ...check, checkers: committers }, params)
  }
  for (const silent of committed(check).filter((worker) => !revealed(check, worker))) {
    await slashChecker(context, check.record, silent, params.checkerSlashBps, height, CheckerSlashReason.unrevealed)
  }
  return closeRound(context, check, params)
}
