// attribution calls. Every call checks everything before its first write, or relies on the state
// transition's per-call checkpoint to revert: a failed call changes nothing but its fee.
import { bytesEqual } from '../../codec/canonical.ts'
import * as k from '../../codec/schema.ts'
import { CommitPhase, allCommitted, commitmentBy, opens, SALT_BYTES } from '../../commitReveal.ts'
import { defineCall, type CallResult } from '../../module.ts'
import type { StateReader } from '../../state/overlay.ts'
import { sameAddress } from '../accounts.ts'
import { payFromModuleAccount } from '../balances/index.ts'
import { contributions, versions } from '../datanets/index.ts'
import { records } from '../inference/index.ts'
import { BaseModelKind, baseModels } from '../models/index.ts'
import { AttributionError } from './errors.ts'
import { ReceiptSubmitted, RewardClaimed } from './events.ts'
import { allRevealed, CHECK_COMMIT_DOMAIN, checkScope, lineageOf, openReveal, settleRevealed, submitted } from './lifecycle.ts'
import {
  ATTRIBUTION_ACCOUNT, AttributionStatus, attributions, Method, params as attributionParams, receiptFields, rewards, SCORE_TOTAL, type Receipt, type Scored,
} from './state.ts'

// Weights (gas): about 150 per state read or write.
export const SUBMIT_WEIGHT = 4_000
/** per credited or harmful contribution: its contribution read, later its penalty, its reward and its payout index entry */
export const SUBMIT_WEIGHT_PER_CONTRIBUTION = 650
export const COMMIT_WEIGHT = 1_500
/** a reveal may settle the check: up to the whole payout of the record */
export const REVEAL_WEIGHT = 3_000 + 64 * SUBMIT_WEIGHT_PER_CONTRIBUTION
export const CLAIM_WEIGHT = 1_500

/** Sorted by score descending, then (datanet, index) ascending: strictly, so no contribution twice. */
function sorted(list: readonly Scored[]): boolean {
  for (let i = 1; i < list.length; i++) {
    const a = list[i - 1] as Scored
    const b = list[i] as Scored
    const order = b.score - a.score || a.datanet - b.datanet || a.index - b.index
    if (order >= 0) return false
  }
  return true
}

function duplicated(receipt: Receipt): boolean {
  const keys = new Set([...receipt.contributions, ...receipt.harmful].map((c) => `${c.datanet}/${c.index}`))
  return keys.size !== receipt.contributions.length + receipt.harmful.length
}

/** Whether each contribution is in one of the lineage's datanet versions (accepted at a position the version covers). */
async function unknownContribution(state: StateReader, receipt: Receipt): Promise<boolean> {
  for (const { datanet, index } of [...receipt.contributions, ...receipt.harmful]) {
    const contribution = await contributions.get(state, { datanet, index })
    if (contribution?.position === undefined) return true
    let covered = false
    for (const entry of receipt.datanets) {
      if (entry.datanet !== datanet) continue
      const version = await versions.get(state, entry)
      const withdrawnBefore = contribution.withdrawnAfterVersion !== undefined && contribution.withdrawnAfterVersion < entry.version
      if (version !== undefined && contribution.position < version.positions && !withdrawnBefore) covered = true
    }
    if (!covered) return true
  }
  return false
}

export const receiptArgsKind = k.struct(receiptFields)

/**
 * The drawn attributor's receipt for a record, before its deadline: the method that fits the
 * base model, the lineage of the record's adapters, the record's output hash, the top credited
 * contributions (shares summing to SCORE_TOTAL) and the harmful ones.
 */
export const submitReceipt = defineCall({
  index: 0,
  name: 'submitReceipt',
  args: receiptArgsKind,
  weight: (args) => SUBMIT_WEIGHT + SUBMIT_WEIGHT_PER_CONTRIBUTION * (args.contributions.length + args.harmful.length),
  async execute(context, receipt): Promise<CallResult> {
    const { state, sender } = context
    const entry = await attributions.get(state, receipt.record)
    const record = await records.get(state, receipt.record)
    if (entry === undefined || record === undefined) return AttributionError.UnknownRecord
    if (entry.status !== AttributionStatus.assigned) return AttributionError.AlreadyAttributed
    if (!sameAddress(entry.attributor, sender)) return AttributionError.WrongSender
    if (context.block.height > entry.deadline) return AttributionError.DeadlinePassed
    if (receipt.chainId !== context.block.chainId) return AttributionError.WrongChain
    if (!bytesEqual(receipt.outputHash, record.outputHash)) return AttributionError.OutputMismatch
    const base = await baseModels.get(state, record.base)
    if (receipt.method !== (base?.kind === BaseModelKind.classifier ? Method.knnShapley : Method.spans)) return AttributionError.WrongMethod
    const lineage = (await lineageOf(state, record)) ?? []
    const sameLineage = lineage.length === receipt.datanets.length && lineage.every((e, i) => e.datanet === receipt.datanets[i]?.datanet && e.version === receipt.datanets[i]?.version)
    if (!sameLineage) return AttributionError.WrongLineage
    const sum = receipt.contributions.reduce((total, c) => total + c.score, 0)
    if (receipt.contributions.some((c) => c.score === 0) || (receipt.contributions.length > 0 && sum !== SCORE_TOTAL)) return AttributionError.ScoresDoNotSum
    if (receipt.harmful.some((c) => c.score === 0 || c.score > SCORE_TOTAL)) return AttributionError.ScoresDoNotSum
    if (!sorted(receipt.contributions) || !sorted(receipt.harmful) || duplicated(receipt)) return AttributionError.UnsortedScores
    if (await unknownContribution(state, receipt)) return AttributionError.UnknownContribution
    const next = await submitted(context, entry, receipt)
    attributions.set(state, entry.record, next)
    context.emit(ReceiptSubmitted.create({ record: entry.record, attributor: sender, receiptHash: next.receiptHash as Uint8Array, contributions: receipt.contributions.length }))
    return undefined
  },
})

/** A drawn verifier commits to the receipt hash it recomputed (commitReveal.ts: the domain, checkScope, itself, a salt). */
export const commitCheck = defineCall({
  index: 1,
  name: 'commitCheck',
  args: k.struct({ record: k.uint, commitment: k.hash }),
  weight: () => COMMIT_WEIGHT,
  async execute(context, args) {
    const { state, sender } = context
    const entry = await attributions.get(state, args.record)
    if (entry === undefined) return AttributionError.UnknownRecord
    if (entry.status !== AttributionStatus.verifying || entry.phase !== CommitPhase.commit) return AttributionError.NotCommitPhase
    if (!entry.verifiers.some((v) => sameAddress(v, sender))) return AttributionError.WrongSender
    if (commitmentBy(entry.commitments, sender) !== undefined) return AttributionError.AlreadyCommitted
    if (context.block.height > entry.deadline) return AttributionError.DeadlinePassed
    let next = { ...entry, commitments: [...entry.commitments, { worker: sender, commitment: args.commitment, height: context.block.height }] }
    if (allCommitted(next.commitments, next.verifiers)) next = await openReveal(context, next, await attributionParams.get(state))
    attributions.set(state, entry.record, next)
    return undefined
  },
})

/** A verifier that committed reveals its receipt hash and salt; the last reveal settles the check (or closes it, lifecycle.ts settleRevealed). */
export const revealCheck = defineCall({
  index: 2,
  name: 'revealCheck',
  args: k.struct({ record: k.uint, receiptHash: k.hash, salt: k.bytes(SALT_BYTES) }),
  weight: () => REVEAL_WEIGHT,
  async execute(context, args) {
    const { state, sender } = context
    const entry = await attributions.get(state, args.record)
    if (entry === undefined) return AttributionError.UnknownRecord
    if (entry.status !== AttributionStatus.verifying || entry.phase !== CommitPhase.reveal) return AttributionError.NotRevealPhase
    const commitment = commitmentBy(entry.commitments, sender)
    if (commitment === undefined) return AttributionError.WrongSender
    if (context.block.height > entry.deadline) return AttributionError.DeadlinePassed
    if (entry.reveals.some((r) => sameAddress(r.worker, sender)) || !opens(commitment, CHECK_COMMIT_DOMAIN, checkScope(entry), args.salt, args.receiptHash)) return AttributionError.BadReveal
    let next = { ...entry, reveals: [...entry.reveals, { worker: sender, receiptHash: args.receiptHash, height: context.block.height }] }
    if (allRevealed(next)) next = await settleRevealed(context, next, await attributionParams.get(state))
    attributions.set(state, entry.record, next)
    return undefined
  },
})

/** A contributor takes everything its contributions accrued. */
export const claim = defineCall({
  index: 3,
  name: 'claim',
  args: k.struct({}),
  weight: () => CLAIM_WEIGHT,
  async execute(context) {
    const { state, sender } = context
    const reward = await rewards.get(state, sender)
    if (reward === undefined || reward.accrued === 0n) return AttributionError.NothingToClaim
    rewards.set(state, sender, { accrued: 0n, claimed: reward.claimed + reward.accrued })
    await payFromModuleAccount(context, ATTRIBUTION_ACCOUNT, sender, reward.accrued, 'attribution')
    context.emit(RewardClaimed.create({ contributor: sender, amount: reward.accrued }))
    return undefined
  },
})

export const calls = [submitReceipt, commitCheck, revealCheck, claim]
