// attribution storage: parameters, the cursor over the inference records, one attribution per
// record (its assignment, receipt, verification round and payouts), the deadline index the
// end-of-block hook reads, contributors' accrued rewards and contributions' penalty scores. Item
// indices are permanent. Keys are fixed-width big-endian.
import { commitmentKind } from '../../commitReveal.ts'
import * as k from '../../codec/schema.ts'
import { defineParams } from '../../params.ts'
import { concatBytes } from '../../crypto/hash.ts'
import { bytesKey, storageMap, storageValue } from '../../storage.ts'
import { moduleAccount } from '../accounts.ts'
import { contributionKey } from '../datanets/index.ts'
import { ModuleIndex } from '../indices.ts'
import { u64Key } from '../../storage.ts'

/** Holds every contributor's accrued, unclaimed reward (taken from the records' contributors' pools). */
export const ATTRIBUTION_ACCOUNT = moduleAccount('attribution')

export const StorageItem = {
  params: 0,
  cursor: 1,
  attribution: 2,
  deadline: 3,
  reward: 4,
  penalty: 5,
  contributorPayout: 6,
} as const

/** The fixed total the positive shares of a receipt sum to (attribution/spans.ts apportions to it). */
export const SCORE_TOTAL = 1_000_000
/** contributions credited by one receipt (the top ones), and harmful ones it reports */
export const MAX_RECEIPT_CONTRIBUTIONS = 64
export const MAX_RECEIPT_HARMFUL = 64
/** datanet versions in a model's lineage (adapters × their datanets) */
export const MAX_LINEAGE = 64
/** validators one attribution may exclude, verify with, collect commitments from */
export const MAX_WORKERS = 64

export const Method = { spans: 0, knnShapley: 1 } as const
export const METHOD_NAMES = Object.keys(Method) as Array<keyof typeof Method>

export const attributionParamsKind = k.struct({
  /** blocks the drawn attributor has to submit its receipt */
  receiptBlocks: k.uint,
  /** share of receipts re-checked by drawn verifiers, in basis points */
  sampleRateBps: k.uint,
  /** verifiers drawn for a sampled receipt */
  verifiers: k.uint,
  /** blocks of each of the commit and reveal phases of a re-check */
  verifyBlocks: k.uint,
  /** attempts (attributors) a record gets before its pool goes to the treasury */
  maxAttempts: k.uint,
  /** bps of stake burnt for a wrong receipt, a lying or silent verifier */
  slashBps: k.uint,
  /** bps of stake burnt for a missed deadline */
  missedDeadlineSlashBps: k.uint,
  /** accumulated harmful score (in SCORE_TOTAL units) past which a contribution is cut off */
  penaltyThreshold: k.uint,
  /** bps of a cut-off contribution's deposit sent to the treasury */
  penaltySlashBps: k.uint,
  /** new records assigned per block at most (the rest wait for the next blocks) */
  maxAssignPerBlock: k.uint,
})
export type AttributionParams = k.Infer<typeof attributionParamsKind>

/** 6 s blocks assumed for the durations in the comments */
export const DEFAULT_ATTRIBUTION_PARAMS: AttributionParams = Object.freeze({
  receiptBlocks: 100, // 10 minutes
  sampleRateBps: 500, // 5 %
  verifiers: 3,
  verifyBlocks: 50,
  maxAttempts: 3,
  slashBps: 500,
  missedDeadlineSlashBps: 10,
  penaltyThreshold: 5 * SCORE_TOTAL,
  penaltySlashBps: 5_000,
  maxAssignPerBlock: 256,
})

/** The governable attribution parameters (runtime/params.ts). */
export const attributionParams = defineParams(
  { index: ModuleIndex.attribution, name: 'attribution' },
  StorageItem.params,
  attributionParamsKind,
  DEFAULT_ATTRIBUTION_PARAMS,
  {
    receiptBlocks: { type: 'blocks', min: 1, description: 'blocks the drawn attributor has to submit the receipt of a record' },
    sampleRateBps: { type: 'bps', description: 'share of receipts re-computed by drawn verifiers before they pay out' },
    verifiers: { type: 'integer', min: 1, max: 16, description: 'verifiers drawn for a sampled receipt' },
    verifyBlocks: { type: 'blocks', min: 1, description: 'blocks of each of the commit and reveal phases of a re-check' },
    maxAttempts: { type: 'integer', min: 1, max: 16, description: "attributors a record gets before its contributors' pool goes to the treasury" },
    slashBps: { type: 'bps', description: 'stake burnt for a wrong receipt, a lying or silent verifier' },
    missedDeadlineSlashBps: { type: 'bps', description: 'stake burnt for a missed receipt or commit deadline' },
    penaltyThreshold: { type: 'integer', min: 1, description: 'accumulated harmful score past which a contribution earns nothing more and is slashed' },
    penaltySlashBps: { type: 'bps', description: "share of a cut-off contribution's deposit sent to the treasury" },
    maxAssignPerBlock: { type: 'integer', min: 1, max: 10_000, description: 'new inference records assigned an attributor per block at most' },
  },
)

export function attributionParamsProblem(params: AttributionParams): string | undefined {
  return attributionParams.problem(params)?.message
}

export const contributionRefKind = k.struct({ datanet: k.uint, index: k.uint })
export type ContributionRef = k.Infer<typeof contributionRefKind>
export const scoredKind = k.struct({ datanet: k.uint, index: k.uint, score: k.uint })
export type Scored = k.Infer<typeof scoredKind>
export const lineageEntryKind = k.struct({ datanet: k.uint, version: k.uint })
export type LineageEntry = k.Infer<typeof lineageEntryKind>

/**
 * What an attributor signs for a record. `chainId` and `record` bind it: its hash (receiptHash),
 * which verifiers commit to, means nothing on another chain or for another record.
 * `contributions`: the top credited contributions, shares summing to SCORE_TOTAL, sorted by score
 * descending then (datanet, index); `harmful`: contributions with a negative influence (its
 * magnitude), same order.
 */
export const receiptFields = {
  chainId: k.uint,
  record: k.uint,
  method: k.uint,
  /** the record's model lineage: each adapter's datanet versions, in adapter order, without repeats */
  datanets: k.list(lineageEntryKind, MAX_LINEAGE),
  outputHash: k.hash,
  contributions: k.list(scoredKind, MAX_RECEIPT_CONTRIBUTIONS),
  harmful: k.list(scoredKind, MAX_RECEIPT_HARMFUL),
}
export const receiptKind = k.struct(receiptFields)
export type Receipt = k.Infer<typeof receiptKind>

export const AttributionStatus = { assigned: 0, submitted: 1, verifying: 2, final: 3, unattributed: 4 } as const
export const ATTRIBUTION_STATUS_NAMES = Object.keys(AttributionStatus) as Array<keyof typeof AttributionStatus>

export const revealKind = k.struct({ worker: k.address, receiptHash: k.hash, height: k.uint })
export type Reveal = k.Infer<typeof revealKind>
export const payoutKind = k.struct({ datanet: k.uint, index: k.uint, contributor: k.address, amount: k.amount })
export type Payout = k.Infer<typeof payoutKind>

export const attributionKind = k.struct({
  record: k.uint,
  status: k.uint,
  attempt: k.uint,
  attributor: k.address,
  /** validators that failed this record (missed, lost a re-check): never drawn again for it */
  excluded: k.list(k.address, MAX_WORKERS),
  /** the height the hook acts at for the current phase */
  deadline: k.uint,
  /** the last receipt lost a re-check: the next one is re-checked whatever the sample */
  forceCheck: k.bool,
  receipt: k.optional(receiptKind),
  receiptHash: k.optional(k.hash),
  submittedHeight: k.uint,
  /** drawn for a sampled receipt; commit then reveal (runtime/commitReveal.ts) */
  verifiers: k.list(k.address, MAX_WORKERS),
  phase: k.uint,
  commitments: k.list(commitmentKind, MAX_WORKERS),
  reveals: k.list(revealKind, MAX_WORKERS),
  /** what each credited contribution's contributor accrued from this record (sums to `paid`) */
  payouts: k.list(payoutKind, MAX_RECEIPT_CONTRIBUTIONS),
  /** the record's contributors' pool taken (to accrued rewards, or the treasury if no one was credited) */
  paid: k.amount,
  toTreasury: k.amount,
  finalHeight: k.uint,
})
export type Attribution = k.Infer<typeof attributionKind>

export const rewardKind = k.struct({ accrued: k.amount, claimed: k.amount })
export type Reward = k.Infer<typeof rewardKind>

export const penaltyKind = k.struct({
  /** harmful score accumulated over receipts, in SCORE_TOTAL units */
  score: k.uint,
  /** past penaltyThreshold: credits nothing any more */
  cutOff: k.bool,
  slashed: k.amount,
  cutOffHeight: k.uint,
})
export type Penalty = k.Infer<typeof penaltyKind>

/** What one final record paid one contributor, per credited contribution of theirs. */
export const creditKind = k.struct({ datanet: k.uint, index: k.uint, score: k.uint, amount: k.amount })
export type Credit = k.Infer<typeof creditKind>

/** (contributor, record): the contributor's 20 bytes then the record id big-endian, so a contributor's entries list in record order by prefix */
export const contributorPayoutKey = ({ contributor, record }: { contributor: Uint8Array; record: number }): Uint8Array => concatBytes(contributor, u64Key(record))

const M = ModuleIndex.attribution
export const params = attributionParams.storage
/** the last inference record the hook has assigned (or closed) */
export const cursor = storageValue(M, StorageItem.cursor, k.uint, 0)
/** record id -> its attribution */
export const attributions = storageMap(M, StorageItem.attribution, u64Key, attributionKind)
/** height -> records whose phase ends there (stale entries skipped) */
export const deadlines = storageMap(M, StorageItem.deadline, u64Key, k.list(k.uint, 1_000_000))
/** contributor address -> accrued and claimed rewards */
export const rewards = storageMap(M, StorageItem.reward, bytesKey, rewardKind)
/** (datanet, contribution index) -> penalty */
export const penalties = storageMap(M, StorageItem.penalty, contributionKey, penaltyKind)
/**
 * (contributor, record) -> the contributor's credited contributions in that final record, with
 * their scores and amounts: the per-contributor index `openledger_listRewards` reads by prefix
 * (every inference that credited a contributor, without a scan of the attributions)
 */
export const contributorPayouts = storageMap(M, StorageItem.contributorPayout, contributorPayoutKey, k.list(creditKind, MAX_RECEIPT_CONTRIBUTIONS))
