import t from 'tap'
import fc from 'fast-check'
import { readBits, SpanIndex, spanIndexRoot, verifySpanIndex, writeBits, type ContributionTokens } from '../../attribution/spanIndex.ts'
import { attributeSpans, findSpans, longestMatches } from '../../attribution/spans.ts'

/** Small random corpora: few token values, so n-grams repeat within and across contributions. */
const corpus = (vocab: number) => fc.array(fc.array(fc.integer({ min: 0, max: vocab - 1 }), { maxLength: 60 }), { minLength: 1, maxLength: 6 })
  .map((texts): ContributionTokens[] => texts.map((tokens, i) => ({ id: 100 + 7 * i, tokens })))

/** Every occurrence of ngram inside one contribution: [contribution index, offset]. */
function bruteOccurrences(contributions: readonly ContributionTokens[], ngram: readonly number[]): Array<[number, number]> {
  const found: Array<[number, number]> = []
  contributions.forEach((c, k) => {
    const tokens = Array.from(c.tokens)
    for (let i = 0; i + ngram.length <= tokens.length; i++) if (ngram.every((x, j) => tokens[i + j] === x)) found.push([k, i])
  })
  return found
}

t.test('count and find equal a brute-force scan, and never cross contributions', async () => {
  fc.assert(fc.property(corpus(4), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 6 }), (contributions, ngram) => {
    const index = SpanIndex.build(contributions, 4)
    const expected = bruteOccurrences(contributions, ngram).length
    return index.count(ngram) === expected
  }), { numRuns: 500 })
})

t.test('longest matches, maximal spans and their contributions equal brute force', async () => {
  fc.assert(fc.property(corpus(3), fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 40 }), (contributions, output) => {
    const index = SpanIndex.build(contributions, 3)
    const { lengths } = longestMatches(index, output)
    for (let i = 0; i < output.length; i++) {
      let best = 0
      while (i + best < output.length && bruteOccurrences(contributions, output.slice(i, i + best + 1)).length > 0) best++
      if (lengths[i] !== best) return false
    }
    const spans = findSpans(index, output, { minLength: 1, maxOccurrences: 1 << 20 })
    const expectedStarts = output.map((_, i) => i).filter((i) => lengths[i]! >= 1 && (i === 0 || lengths[i]! >= lengths[i - 1]!))
    if (spans.map((s) => s.start).join() !== expectedStarts.join()) return false
    for (const span of spans) {
      const occurrences = bruteOccurrences(contributions, output.slice(span.start, span.start + span.length))
      if (span.count !== occurrences.length) return false
      const perContribution = new Map<number, number>()
      for (const [k] of occurrences) perContribution.set(k, (perContribution.get(k) ?? 0) + 1)
      const expected = [...perContribution].sort((a, b) => a[0] - b[0]).map(([contribution, n]) => ({ contribution, occurrences: n }))
      if (JSON.stringify(span.contributions) !== JSON.stringify(expected)) return false
    }
    return true
  }), { numRuns: 300 })
})

t.test('shares are conserved: they sum exactly to the total, and only holders of a span are credited', async () => {
  fc.assert(fc.property(corpus(5), fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 50 }), fc.bigInt({ min: 1n, max: 10n ** 24n }), (contributions, output, total) => {
    const index = SpanIndex.build(contributions, 5)
    const { spans, scores } = attributeSpans(index, output, { minLength: 2, total })
    // no shares only when every span's floor(weight · occ / count) is 0
    if (scores.length === 0) return spans.every((s) => s.contributions.every(({ occurrences }) => s.weight * occurrences < s.count))
    if (scores.reduce((a, s) => a + s.score, 0n) !== total) return false
    const holders = new Set(spans.flatMap((s) => s.contributions.map((c) => c.contribution)))
    return scores.every((s) => holders.has(s.index) && s.id === contributions[s.index]!.id)
  }), { numRuns: 300 })
})

t.test('a planted quote is found whole and credited to exactly the contributions holding it', async (t) => {
  let x = 7
  const random = (n: number) => Int32Array.from({ length: n }, () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 8) % 500)
  const quote = random(20)
  const withQuote = (n: number) => Int32Array.of(...random(n), ...quote, ...random(n))
  const contributions = [{ id: 1, tokens: random(300) }, { id: 2, tokens: withQuote(100) }, { id: 3, tokens: random(300) }, { id: 4, tokens: withQuote(50) }]
  const index = SpanIndex.build(contributions, 500)
  const output = Int32Array.of(...random(30), ...quote, ...random(30))
  const { spans, scores } = attributeSpans(index, output, { minLength: 8 })
  const quoteSpans = spans.filter((s) => s.length >= 20)
  t.equal(quoteSpans.length, 1)
  t.equal(quoteSpans[0]!.start, 30)
  t.equal(quoteSpans[0]!.count, 2)
  t.strictSame(scores.map((s) => s.id), [2, 4])
  t.equal(scores.reduce((a, s) => a + s.score, 0n), 1_000_000n)
})

t.test('bytes: deterministic, round-trip through decode, widths as documented, tampering caught', async (t) => {
  const contributions = [{ id: 9, tokens: [1, 2, 3, 1, 2, 3, 4] }, { id: 3, tokens: [] }, { id: 5, tokens: [4, 4, 4, 1] }]
  const a = SpanIndex.build(contributions, 8192)
  const b = SpanIndex.build(contributions.map((c) => ({ id: c.id, tokens: Int32Array.from(c.tokens) })), 8192)
  t.strictSame(a.bytes, b.bytes, 'same bytes from arrays or typed arrays')
  t.strictSame(a.root(), spanIndexRoot(b.bytes))
  const n = 7 + 1 + 0 + 1 + 4
  t.equal(a.length, n)
  t.equal(a.bytes.length, 20 + 8 * 3 + Math.ceil(14 * n / 8) + Math.ceil(4 * n / 8), '14-bit tokens (8,192 ids and the separator), 4-bit positions (n = 13)')
  const decoded = verifySpanIndex(a.bytes.slice())
  t.equal(decoded.count([1, 2, 3]), 2)
  t.equal(decoded.contributionAt(decoded.starts[2]!), 2)
  t.strictSame(Array.from(decoded.contributionIds), [9, 3, 5])
  t.equal(SpanIndex.build([{ id: 1, tokens: [70000] }], 70001).tokenBits, 17)
  t.equal(SpanIndex.build([{ id: 1, tokens: [1] }], 2).tokenBits, 2, 'ids 0, 1 and the separator 2')

  const swapped = a.bytes.slice()
  const saOffset = 20 + 24 + Math.ceil(14 * n / 8)
  // the first two 4-bit positions share a byte: swap its nibbles
  swapped[saOffset] = ((swapped[saOffset]! & 0x0f) << 4) | (swapped[saOffset]! >>> 4)
  t.throws(() => verifySpanIndex(swapped), { code: 'INVALID_INDEX' }, 'a reordered suffix array')
  t.throws(() => SpanIndex.decode(a.bytes.subarray(0, a.bytes.length - 1)), { code: 'INVALID_INDEX' }, 'truncated')
  const badMagic = a.bytes.slice()
  badMagic[0] = 0
  t.throws(() => SpanIndex.decode(badMagic), { code: 'INVALID_MAGIC' })
  const badStart = a.bytes.slice()
  badStart[20 + 8 + 4] = 1
  t.throws(() => SpanIndex.decode(badStart), { code: 'INVALID_INDEX' }, 'a contribution not after a separator')
  const badToken = a.bytes.slice()
  badToken[20 + 24] = 0xff
  badToken[20 + 25] = 0xff
  t.throws(() => verifySpanIndex(badToken), { code: 'INVALID_INDEX' }, 'a token outside the vocabulary')
})

t.test('bad input is refused with stable codes', async (t) => {
  t.throws(() => SpanIndex.build([], 10), { code: 'EMPTY' })
  t.throws(() => SpanIndex.build([{ id: 1, tokens: [10] }], 10), { code: 'INVALID_ARGUMENT' })
  t.throws(() => SpanIndex.build([{ id: 1, tokens: [1] }, { id: 1, tokens: [2] }], 10), { code: 'INVALID_ARGUMENT' })
  t.throws(() => SpanIndex.build([{ id: -1, tokens: [1] }], 10), { code: 'INVALID_ARGUMENT' })
  const index = SpanIndex.build([{ id: 1, tokens: [1, 2, 3] }], 10)
  t.throws(() => index.count([10]), { code: 'INVALID_ARGUMENT' }, 'the separator is no query token')
  t.throws(() => findSpans(index, [1, 2], { minLength: 0 }), { code: 'INVALID_ARGUMENT' })
  t.throws(() => longestMatches(index, [1, -2]), { code: 'INVALID_ARGUMENT' })
  t.strictSame(attributeSpans(index, [4, 5, 6]).scores, [], 'nothing matches: no shares')
})

t.test('bit packing: any widths 1..32 at any offsets read back what was written', async (t) => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 32 }), fc.integer({ min: 0, max: 9 }), fc.array(fc.nat(), { minLength: 1, maxLength: 40 }), (width, base, raw) => {
    const values = raw.map((v) => v % 2 ** width)
    // a u32 value at width 32 (fc.nat stops at 2^31 − 1)
    if (width === 32) values[0] = 0xffff_ffff
    const bytes = new Uint8Array(base + Math.ceil((width * values.length) / 8))
    values.forEach((v, i) => writeBits(bytes, base, i * width, width, v))
    if (!values.every((v, i) => readBits(bytes, base, i * width, width) === v)) throw new Error(`width ${width}: read back differs`)
    if (bytes.subarray(0, base).some((b) => b !== 0)) throw new Error('wrote before the section')
  }), { seed: 5, numRuns: 2000 })
  t.pass('2,000 random packings')
})
