import t from 'tap'
import fc from 'fast-check'
import { suffixArray } from '../../attribution/suffixArray.ts'

/** The reference: sort every suffix by direct comparison (a prefix sorts before its extensions). */
function naiveSuffixArray(text: readonly number[]): number[] {
  const compare = (a: number, b: number): number => {
    for (let k = 0; ; k++) {
      if (a + k >= text.length) return b + k >= text.length ? 0 : -1
      if (b + k >= text.length) return 1
      const d = text[a + k]! - text[b + k]!
      if (d !== 0) return d
    }
  }
  return text.map((_, i) => i).sort(compare)
}

t.test('SA-IS equals the naive sort on random texts over small and large alphabets', async (t) => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 300 }).chain((alphabet) => fc.tuple(fc.constant(alphabet), fc.array(fc.integer({ min: 0, max: alphabet - 1 }), { maxLength: 400 }))), ([alphabet, text]) => {
    t.strictSame(Array.from(suffixArray(text, alphabet)), naiveSuffixArray(text))
  }), { numRuns: 400 })
})

t.test('SA-IS equals the naive sort on adversarial texts: all equal, periodic, Fibonacci, descending, ascending', async (t) => {
  const texts: Array<[string, number[], number]> = []
  for (const n of [0, 1, 2, 3, 17, 500]) texts.push([`all equal ${n}`, new Array<number>(n).fill(0), 1])
  for (const period of [2, 3, 7]) texts.push([`periodic ${period}`, Array.from({ length: 600 }, (_, i) => i % period), period])
  texts.push(['periodic with a break', Array.from({ length: 600 }, (_, i) => (i === 300 ? 2 : i % 2)), 3])
  let a = [0]
  let b = [0, 1]
  while (b.length < 700) [a, b] = [b, [...b, ...a]]
  texts.push(['fibonacci word', b, 2])
  texts.push(['descending', Array.from({ length: 300 }, (_, i) => 299 - i), 300])
  texts.push(['ascending', Array.from({ length: 300 }, (_, i) => i), 300])
  texts.push(['abab…ba runs', Array.from({ length: 512 }, (_, i) => (Math.floor(i / 64) % 2 === 0 ? i % 2 : 1 - (i % 2))), 2])
  for (const [name, text, alphabet] of texts) t.strictSame(Array.from(suffixArray(text, alphabet)), naiveSuffixArray(text), name)
})

t.test('a large text: the result is a permutation in sorted order (checked pairwise)', async (t) => {
  // A deterministic Zipf-ish text, long enough for several levels of recursion.
  const n = 200_000
  const text = new Int32Array(n)
  let x = 12345
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0
    text[i] = i % 1000 < 500 ? (x >>> 8) % 3 : Math.floor(((x >>> 8) / 16_777_216) ** 3 * 4096) // repetitive half, skewed half
  }
  const sa = suffixArray(text, 4096)
  const seen = new Uint8Array(n)
  for (const p of sa) seen[p] = 1
  t.equal(seen.reduce((a, b) => a + b, 0), n, 'every position once')
  let sorted = true
  for (let r = 1; r < n && sorted; r++) {
    const a = sa[r - 1]!
    const b = sa[r]!
    let k = 0
    while (a + k < n && b + k < n && text[a + k] === text[b + k]) k++
    sorted = a + k === n || (b + k < n && text[a + k]! < text[b + k]!)
  }
  t.ok(sorted, 'adjacent suffixes in order')
})

t.test('bad input is refused with stable codes', async (t) => {
  t.throws(() => suffixArray([0, 5], 5), { code: 'INVALID_ARGUMENT' })
  t.throws(() => suffixArray([0, -1], 5), { code: 'INVALID_ARGUMENT' })
  t.throws(() => suffixArray([0, 1.5], 5), { code: 'INVALID_ARGUMENT' })
  t.throws(() => suffixArray([0], 0), { code: 'INVALID_ARGUMENT' })
})
