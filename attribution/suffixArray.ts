// Suffix array construction by induced sorting (SA-IS; Nong, Zhang & Chan 2009): linear time,
// about 2n words of memory beside the text. Integer-only, so the result is the same array on any
// machine (a suffix array is unique anyway: this just makes the cost linear).
//
// `suffixArray(text, alphabet)` sorts the suffixes of `text` (ids in 0..alphabet−1) in
// lexicographic order with a shorter suffix before any suffix it is a prefix of. Internally the text
// is shifted by one and ends with the unique smallest sentinel 0 that SA-IS needs.
import { AttributionError } from './errors.ts'

/** Longest text the construction takes: int32 positions with room for the sentinel. */
export const MAX_SUFFIX_ARRAY_LENGTH = 0x7fff_fff0

export function suffixArray(text: ArrayLike<number>, alphabet: number): Int32Array {
  const n = text.length
  if (n > MAX_SUFFIX_ARRAY_LENGTH) throw new AttributionError('TOO_LARGE', `a text of ${n} tokens is longer than ${MAX_SUFFIX_ARRAY_LENGTH}`)
  if (!Number.isSafeInteger(alphabet) || alphabet < 1 || alphabet > 0x7fff_fff0) throw new AttributionError('INVALID_ARGUMENT', `alphabet must be a positive integer, got ${alphabet}`)
  const s = new Int32Array(n + 1)
  for (let i = 0; i < n; i++) {
    const c = text[i]!
    if (!(c >= 0 && c < alphabet) || !Number.isInteger(c)) throw new AttributionError('INVALID_ARGUMENT', `token ${i} is ${c}, outside 0..${alphabet - 1}`, { details: { index: i } })
    s[i] = c + 1
  }
  s[n] = 0
  const sa = new Int32Array(n + 1)
  sais(s, sa, n + 1, alphabet + 1)
  return sa.subarray(1) // sa[0] is the sentinel's suffix
}

/** Bucket starts (end = false) or ends (end = true) of each character of s[0..n). */
function buckets(s: Int32Array, bucket: Int32Array, n: number, alphabet: number, end: boolean): void {
  bucket.fill(0, 0, alphabet)
  for (let i = 0; i < n; i++) bucket[s[i]!]!++
  let sum = 0
  for (let c = 0; c < alphabet; c++) {
    sum += bucket[c]!
    bucket[c] = end ? sum : sum - bucket[c]!
  }
}

function induceL(s: Int32Array, sa: Int32Array, isS: Uint8Array, bucket: Int32Array, n: number, alphabet: number): void {
  buckets(s, bucket, n, alphabet, false)
  for (let i = 0; i < n; i++) {
    const j = sa[i]! - 1
    if (j >= 0 && isS[j] === 0) sa[bucket[s[j]!]!++] = j
  }
}

function induceS(s: Int32Array, sa: Int32Array, isS: Uint8Array, bucket: Int32Array, n: number, alphabet: number): void {
  buckets(s, bucket, n, alphabet, true)
  for (let i = n - 1; i >= 0; i--) {
    const j = sa[i]! - 1
    if (j >= 0 && isS[j] === 1) sa[--bucket[s[j]!]!] = j
  }
}

/** SA-IS over s[0..n) whose last character is the unique smallest (0). */
function sais(s: Int32Array, sa: Int32Array, n: number, alphabet: number): void {
  if (n === 1) {
    sa[0] = 0
    return
  }
  // Types: S if s[i] < s[i+1], or equal and i+1 is S; the sentinel is S, the one before it L.
  const isS = new Uint8Array(n)
  isS[n - 1] = 1
  for (let i = n - 2; i >= 0; i--) isS[i] = s[i]! < s[i + 1]! || (s[i] === s[i + 1] && isS[i + 1] === 1) ? 1 : 0
  const isLms = (i: number): boolean => i > 0 && isS[i] === 1 && isS[i - 1] === 0
  const bucket = new Int32Array(alphabet)

  // Stage 1: sort the LMS substrings by inducing from their bucket ends.
  buckets(s, bucket, n, alphabet, true)
  sa.fill(-1, 0, n)
  for (let i = 1; i < n; i++) if (isLms(i)) sa[--bucket[s[i]!]!] = i
  induceL(s, sa, isS, bucket, n, alphabet)
  induceS(s, sa, isS, bucket, n, alphabet)

  // Compact the sorted LMS positions into sa[0..n1) and name the substrings.
  let n1 = 0
  for (let i = 0; i < n; i++) if (isLms(sa[i]!)) sa[n1++] = sa[i]!
  sa.fill(-1, n1, n)
  let names = 0
  let previous = -1
  for (let i = 0; i < n1; i++) {
    const position = sa[i]!
    let differs = false
    for (let d = 0; ; d++) {
      if (previous === -1 || s[position + d] !== s[previous + d] || isS[position + d] !== isS[previous + d]) {
        differs = true
        break
      }
      if (d > 0 && (isLms(position + d) || isLms(previous + d))) break
    }
    if (differs) {
      names++
      previous = position
    }
    sa[n1 + (position >> 1)] = names - 1 // LMS positions are ≥ 2 apart, so position/2 is unique
  }
  for (let i = n - 1, j = n - 1; i >= n1; i--) if (sa[i]! >= 0) sa[j--] = sa[i]!

  // Stage 2: the reduced string s1 (names in text order) sorted recursively, or directly when unique.
  const s1 = sa.subarray(n - n1, n)
  const sa1 = sa.subarray(0, n1)
  if (names < n1) sais(s1, sa1, n1, names)
  else for (let i = 0; i < n1; i++) sa1[s1[i]!] = i

  // Stage 3: the LMS suffixes in sorted order at their bucket ends, then induce everything.
  buckets(s, bucket, n, alphabet, true)
  for (let i = 1, j = 0; i < n; i++) if (isLms(i)) s1[j++] = i
  for (let i = 0; i < n1; i++) sa1[i] = s1[sa1[i]!]!
  sa.fill(-1, n1, n)
  for (let i = n1 - 1; i >= 0; i--) {
    const j = sa[i]!
    sa[i] = -1
    sa[--bucket[s[j]!]!] = j
  }
  induceL(s, sa, isS, bucket, n, alphabet)
  induceS(s, sa, isS, bucket, n, alphabet)
}
