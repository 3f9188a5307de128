// Citations of an output, as OLMoTrace shows them: each maximal span of the output found in the
// training data of the model's lineage (attribution/spans.ts over each datanet version's span
// index), with its text, where it sits in the output, how often the corpus holds it, and the
// contributions that hold it (datanet, version, contribution, occurrences). The same spans the
// receipt credits (same minimum length and occurrence bound), so what a user sees is what paid.
import { findSpans, type SpanOptions } from '../../attribution/spans.ts'
import type { Tokenizer } from '../../ml/tokenizer.ts'
import type { Citation, CitationSource } from '../rpc/contract.ts'
import type { VersionIndex } from './spanReceipt.ts'

/** sources listed per citation at most (the most occurrences first); `sourceCount` says how many there are */
export const MAX_CITATION_SOURCES = 16
/** citations returned at most (the heaviest first) */
export const MAX_CITATIONS = 64

export type { Citation, CitationSource } from '../rpc/contract.ts'

/**
 * The output's spans over each version of the lineage, merged per (start, end), the heaviest
 * MAX_CITATIONS in output order. A span too common to credit anyone (count > maxOccurrences) is
 * not cited.
 */
export function citationsOf(versions: readonly VersionIndex[], output: readonly number[], tokenizer: Tokenizer, options: SpanOptions = {}): Citation[] {
  const merged = new Map<string, { start: number; end: number; count: number; weight: number; sources: CitationSource[] }>()
  for (const { datanet, version, index } of versions) {
    for (const span of findSpans(index, output, options)) {
      if (span.contributions.length === 0) continue
      const key = `${span.start}/${span.length}`
      const entry = merged.get(key) ?? { start: span.start, end: span.start + span.length, count: 0, weight: 0, sources: [] }
      entry.count += span.count
      entry.weight = Math.max(entry.weight, span.weight)
      for (const { contribution, occurrences } of span.contributions) entry.sources.push({ datanet, version, contribution: index.contributionIds[contribution] ?? contribution, occurrences })
      merged.set(key, entry)
    }
  }
  const heaviest = [...merged.values()].sort((a, b) => b.weight - a.weight || a.start - b.start).slice(0, MAX_CITATIONS)
  return heaviest
    .sort((a, b) => a.start - b.start || a.end - b.end)
    .map((c) => ({
      start: c.start, end: c.end, text: tokenizer.decode(output.slice(c.start, c.end)), count: c.count, bits: Math.round((c.weight / 65_536) * 100) / 100,
      sources: [...c.sources].sort((a, b) => b.occurrences - a.occurrences || a.datanet - b.datanet || a.version - b.version || a.contribution - b.contribution).slice(0, MAX_CITATION_SOURCES),
      sourceCount: c.sources.length,
    }))
}
