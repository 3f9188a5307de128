// A language model's attribution receipt from its output tokens and the span index of every
// datanet version in the model's lineage (attribution/spans.ts), the same bytes on every node:
// each version's raw span credits (Q16 bits per contribution) are pooled over the lineage, the
// MAX_RECEIPT_CONTRIBUTIONS largest kept (ties to the lower datanet, then contribution index),
// apportioned to SCORE_TOTAL by largest remainder and sorted as the runtime requires (score
// descending, then datanet and index). No span crediting anyone: no contributions, and the runtime
// sends the record's pool to the treasury.
import { apportion } from '../../attribution/fixedPoint.ts'
import type { SpanIndex } from '../../attribution/spanIndex.ts'
import { findSpans, spanCredits, type SpanOptions } from '../../attribution/spans.ts'
import { type LineageEntry, MAX_RECEIPT_CONTRIBUTIONS, Method, type Receipt, SCORE_TOTAL, type Scored } from '../../runtime/modules/attribution/index.ts'

export interface VersionIndex extends LineageEntry {
  readonly index: SpanIndex
}

export interface SpanReceiptInput {
  readonly chainId: number
  readonly record: number
  readonly outputHash: Uint8Array
  /** the record's lineage, in the runtime's order, each with its span index */
  readonly versions: readonly VersionIndex[]
  /** the output as model token ids */
  readonly output: ArrayLike<number>
  readonly options?: SpanOptions
}

/** The top credited contributions of the output over the lineage, as the runtime's receipt. */
export function spanReceipt(input: SpanReceiptInput): Receipt {
  const pooled = new Map<string, { datanet: number; index: number; credit: number }>()
  for (const { datanet, index } of input.versions) {
    const credits = spanCredits(index, findSpans(index, input.output, input.options))
    for (let k = 0; k < credits.length; k++) {
      const credit = credits[k] ?? 0
      if (credit <= 0) continue
      const id = index.contributionIds[k] ?? 0
      // a contribution in two versions of the lineage: its credits add
      const key = `${datanet}/${id}`
      const entry = pooled.get(key) ?? { datanet, index: id, credit: 0 }
      entry.credit += credit
      pooled.set(key, entry)
    }
  }
  const top = [...pooled.values()].sort((a, b) => b.credit - a.credit || a.datanet - b.datanet || a.index - b.index).slice(0, MAX_RECEIPT_CONTRIBUTIONS)
  const contributions: Scored[] = []
  if (top.length > 0) {
    const shares = apportion(top.map((c) => BigInt(c.credit)), BigInt(SCORE_TOTAL))
    for (const [i, c] of top.entries()) if ((shares[i] ?? 0n) > 0n) contributions.push({ datanet: c.datanet, index: c.index, score: Number(shares[i]) })
    contributions.sort((a, b) => b.score - a.score || a.datanet - b.datanet || a.index - b.index)
  }
  return {
    chainId: input.chainId, record: input.record, method: Method.spans, datanets: input.versions.map(({ datanet, version }) => ({ datanet, version })),
    outputHash: input.outputHash, contributions, harmful: [],
  }
}

/**
 * TEST ONLY (`OPENLEDGER_ATTRIBUTION_FAULTY=1`): a wrong receipt of the same shape, everything
 * credited to the lineage's last contribution that the honest receipt credits least, so an e2e
 * test can show that a sampled re-check catches it and slashes its author. Never set in production.
 */
export function faultyReceipt(honest: Receipt, versions: readonly VersionIndex[]): Receipt {
  const last = versions[versions.length - 1]
  const ids = last === undefined ? [] : Array.from(last.index.contributionIds)
  const credited = new Set(honest.contributions.map((c) => `${c.datanet}/${c.index}`))
  const victim = ids.reverse().find((id) => !credited.has(`${last?.datanet}/${id}`)) ?? ids[0]
  if (last === undefined || victim === undefined) return honest
  return { ...honest, contributions: [{ datanet: last.datanet, index: victim, score: SCORE_TOTAL }] }
}
