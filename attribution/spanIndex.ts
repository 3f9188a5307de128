// The span index of one datanet version under one tokenizer: the token ids of its contributions
// and their suffix array, in one canonical byte layout whose hash is the index's root (what the
// datanets module commits once validators agree on it). Queries read the packed bytes in place,
// so a loaded index costs its file size in memory and a cold query needs no pass over it.
//
// Text: the contributions' token ids in version order, one SEPARATOR (= vocab, an id no query can
// hold) between consecutive contributions, so no match ever crosses a contribution boundary.
//
// Layout (all integers little-endian):
//
//   offset  size            field
//   0       4               magic "OLSX"
//   4       1               layout version (2)
//   5       1               token bits b_t: the bit length of vocab (the separator, the largest id)
//   6       1               position bits b_p: the bit length of n − 1 (at least 1)
//   7       1               0
//   8       4               vocab
//   12      4               n: tokens of the text, separators included
//   16      4               K: contributions
//   20      8·K             per contribution: id u32, start u32 (its first token's position)
//   20+8K   ⌈b_t·n / 8⌉     the text, bit-packed: token i in bits [i·b_t, (i+1)·b_t)
//   …       ⌈b_p·n / 8⌉     the suffix array, bit-packed the same way: positions of the suffixes
//                           in lexicographic order (a suffix that is a prefix of another sorts first)
//
// Fields are packed least significant bit first (bit j of a section is bit j % 8 of its byte
// ⌊j / 8⌋); the pad bits of a section's last byte are 0. Widths are the smallest that fit, so the
// bytes are a function of (vocab, contributions) alone: with the project's 8,192-id tokenizer
// (14 bits) and under 16M tokens (24 bits), 4.75 bytes per token (infini-gram: ~7).
// root = sha256("openledger/span-index/2" ‖ bytes).
import { sha256 } from '../runtime/crypto/hash.ts'
import { AttributionError } from './errors.ts'
import { suffixArray } from './suffixArray.ts'

export const SPAN_INDEX_MAGIC = 0x58534c4f // "OLSX" read little-endian
export const SPAN_INDEX_VERSION = 2
const HEADER_BYTES = 20
/** contributions one index holds (the datanet version tree has 2^24 positions) */
export const MAX_CONTRIBUTIONS = 1 << 24
/** tokens one index holds (positions are at most 4 bytes) */
export const MAX_INDEX_TOKENS = 0xffff_fff0
const ROOT_DOMAIN = new TextEncoder().encode('openledger/span-index/2')

export interface ContributionTokens {
  /** the datanet's contribution id */
  readonly id: number
  /** its text as model token ids, rows joined as the training data joins them */
  readonly tokens: ArrayLike<number>
}

/** Half-open range [lo, hi) of suffix-array ranks. */
export interface RankRange {
  readonly lo: number
  readonly hi: number
}

export class SpanIndex {
  readonly bytes: Uint8Array
  readonly vocab: number
  /** tokens of the text, separators included */
  readonly length: number
  readonly separator: number
  readonly contributionIds: Uint32Array
  /** first position of each contribution, then length + 1 (a virtual start after the end) */
  readonly starts: Uint32Array
  /** bits per token of the packed text */
  readonly tokenBits: number
  /** bits per position of the packed suffix array */
  readonly positionBits: number
  readonly #textOffset: number
  readonly #saOffset: number
  #unigrams: Map<number, number> | undefined

  /** Wraps bytes after a structural check (header, lengths, contribution table, separators). */
  private constructor(bytes: Uint8Array) {
    const fail = (message: string) => new AttributionError('INVALID_INDEX', message)
    if (bytes.length < HEADER_BYTES) throw fail('shorter than the header')
    const u32 = (at: number) => (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0
    if (u32(0) !== SPAN_INDEX_MAGIC || bytes[4] !== SPAN_INDEX_VERSION) throw new AttributionError('INVALID_MAGIC', `not a span index of layout version ${SPAN_INDEX_VERSION}`)
    const vocab = u32(8)
    const n = u32(12)
    const k = u32(16)
    if (vocab < 1 || vocab + 1 > 1 << 24) throw fail(`vocab ${vocab} out of range`)
    if (bytes[5] !== tokenBitsFor(vocab) || bytes[6] !== positionBitsFor(n) || bytes[7] !== 0) throw fail('widths are not the smallest that fit')
    if (k < 1 || k > MAX_CONTRIBUTIONS || n > MAX_INDEX_TOKENS || n < k - 1) throw fail('contribution or token count out of range')
    this.tokenBits = bytes[5]!
    this.positionBits = bytes[6]!
    this.#textOffset = HEADER_BYTES + 8 * k
    this.#saOffset = this.#textOffset + packedBytes(this.tokenBits, n)
    if (bytes.length !== this.#saOffset + packedBytes(this.positionBits, n)) throw fail(`length ${bytes.length} does not match the header`)
    this.bytes = bytes
    this.vocab = vocab
    this.separator = vocab
    this.length = n
    this.contributionIds = new Uint32Array(k)
    this.starts = new Uint32Array(k + 1)
    const seen = new Set<number>()
    for (let i = 0; i < k; i++) {
      const id = u32(HEADER_BYTES + 8 * i)
      const start = u32(HEADER_BYTES + 8 * i + 4)
      if (seen.has(id)) throw fail(`contribution ${id} appears twice`)
      seen.add(id)
      if (i === 0 ? start !== 0 : start <= this.starts[i - 1]! || start > n || this.token(start - 1) !== vocab) throw fail(`contribution ${i} does not start after a separator`)
      this.contributionIds[i] = id
      this.starts[i] = start
    }
    this.starts[k] = n + 1
  }

  /** An index over bytes from `encode` (or the layout above); checks structure, not the suffix order — see verifySpanIndex. */
  static decode(bytes: Uint8Array): SpanIndex {
    return new SpanIndex(bytes)
  }

  /** Builds the index of these contributions (in version order) with token ids in 0..vocab−1. */
  static build(contributions: readonly ContributionTokens[], vocab: number): SpanIndex {
    return new SpanIndex(buildSpanIndexBytes(contributions, vocab))
  }

  root(): Uint8Array {
    return spanIndexRoot(this.bytes)
  }

  get contributionCount(): number {
    return this.contributionIds.length
  }

  token(position: number): number {
    return readBits(this.bytes, this.#textOffset, position * this.tokenBits, this.tokenBits)
  }

  /** The text position of the suffix of rank r. */
  suffix(rank: number): number {
    return readBits(this.bytes, this.#saOffset, rank * this.positionBits, this.positionBits)
  }

  /** The token at depth d of the suffix of rank r, or −1 when that suffix is shorter. */
  #tokenAt(rank: number, depth: number): number {
    const position = this.suffix(rank) + depth
    return position < this.length ? this.token(position) : -1
  }

  /**
   * Narrows [lo, hi) — suffixes sharing a prefix of `depth` tokens — to those whose next token
   * is `token` (two binary searches on that one token).
   */
  narrow(range: RankRange, depth: number, token: number): RankRange {
    let lo = range.lo
    let hi = range.hi
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.#tokenAt(mid, depth) < token) lo = mid + 1
      else hi = mid
    }
    const first = lo
    hi = range.hi
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.#tokenAt(mid, depth) <= token) lo = mid + 1
      else hi = mid
    }
    return { lo: first, hi: lo }
  }

  /** The rank range of the suffixes starting with `ngram` (empty when it does not occur). */
  find(ngram: ArrayLike<number>): RankRange {
    let range: RankRange = { lo: 0, hi: this.length }
    for (let d = 0; d < ngram.length && range.lo < range.hi; d++) {
      const token = ngram[d]!
      if (!(Number.isInteger(token) && token >= 0 && token < this.vocab)) throw new AttributionError('INVALID_ARGUMENT', `token ${d} is ${token}, outside 0..${this.vocab - 1}`, { details: { index: d } })
      range = this.narrow(range, d, token)
    }
    return range
  }

  /** Occurrences of `ngram` in the corpus. */
  count(ngram: ArrayLike<number>): number {
    const { lo, hi } = this.find(ngram)
    return hi - lo
  }

  /** Occurrences of one token (cached: span rarity asks for the same few tokens again and again). */
  unigramCount(token: number): number {
    this.#unigrams ??= new Map()
    let count = this.#unigrams.get(token)
    if (count === undefined) {
      count = this.count([token])
      if (this.#unigrams.size >= 1 << 16) this.#unigrams.clear()
      this.#unigrams.set(token, count)
    }
    return count
  }

  /** The index (in version order) of the contribution holding text position p. */
  contributionAt(position: number): number {
    let lo = 0
    let hi = this.starts.length - 1
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1
      if (this.starts[mid]! <= position) lo = mid
      else hi = mid
    }
    return lo
  }
}

/** Bits of a packed token: enough for every id and the separator (= vocab). */
export function tokenBitsFor(vocab: number): number {
  return bitLength(vocab)
}

/** Bits of a packed position: enough for n − 1. */
export function positionBitsFor(length: number): number {
  return Math.max(1, bitLength(length - 1))
}

/** The bit length of a u32. */
function bitLength(value: number): number {
  return 32 - Math.clz32(value)
}

function packedBytes(bits: number, count: number): number {
  return Math.ceil((bits * count) / 8)
}

/**
 * The `width`-bit field (width ≤ 32) at bit offset `bit` of the section starting at byte `base`.
 * Bytes past the end read as 0 (a section's last field may end inside its last byte).
 */
export function readBits(b: Uint8Array, base: number, bit: number, width: number): number {
  // integer ops while the offset fits in 31 bits (indexes up to ~100M tokens), floats beyond
  const at = base + (bit < 0x8000_0000 ? bit >>> 3 : Math.floor(bit / 8))
  const shift = bit < 0x8000_0000 ? bit & 7 : bit % 8
  const low = (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0
  if (shift + width <= 32) return width === 32 ? low : (low >>> shift) & (2 ** width - 1)
  // a 26..32-bit field straddling a fifth byte
  const high = (b[at + 4] ?? 0) & ((1 << (shift + width - 32)) - 1)
  return (low >>> shift) + high * 2 ** (32 - shift)
}

/** Writes `value` as the `width`-bit field at bit offset `bit` of the section at `base` (its bits are 0). */
export function writeBits(b: Uint8Array, base: number, bit: number, width: number, value: number): void {
  const at = base + Math.floor(bit / 8)
  const shift = bit % 8
  if (shift + width <= 32) {
    // one 32-bit word; bytes past the end of the array are not written (they would only get 0s)
    const word = (value << shift) >>> 0
    b[at] = b[at]! | (word & 0xff)
    if (shift + width > 8) b[at + 1] = b[at + 1]! | ((word >>> 8) & 0xff)
    if (shift + width > 16) b[at + 2] = b[at + 2]! | ((word >>> 16) & 0xff)
    if (shift + width > 24) b[at + 3] = b[at + 3]! | (word >>> 24)
    return
  }
  let rest = value
  for (let i = 0, left = width, s = shift; left > 0; i++, s = 0) {
    const take = Math.min(8 - s, left)
    b[at + i] = b[at + i]! | ((rest % 2 ** take) << s)
    rest = Math.floor(rest / 2 ** take)
    left -= take
  }
}

export function spanIndexRoot(bytes: Uint8Array): Uint8Array {
  const joined = new Uint8Array(ROOT_DOMAIN.length + bytes.length)
  joined.set(ROOT_DOMAIN)
  joined.set(bytes, ROOT_DOMAIN.length)
  return sha256(joined)
}

/** The canonical bytes of the index of these contributions (see the layout above). */
export function buildSpanIndexBytes(contributions: readonly ContributionTokens[], vocab: number): Uint8Array {
  if (!Number.isSafeInteger(vocab) || vocab < 1 || vocab + 1 > 1 << 24) throw new AttributionError('INVALID_ARGUMENT', `vocab must be in 1..${(1 << 24) - 1}, got ${vocab}`)
  const k = contributions.length
  if (k < 1) throw new AttributionError('EMPTY', 'an index needs at least one contribution')
  if (k > MAX_CONTRIBUTIONS) throw new AttributionError('TOO_LARGE', `${k} contributions, at most ${MAX_CONTRIBUTIONS}`)
  let n = k - 1
  const ids = new Set<number>()
  for (const [i, c] of contributions.entries()) {
    if (!(Number.isInteger(c.id) && c.id >= 0 && c.id <= 0xffff_ffff)) throw new AttributionError('INVALID_ARGUMENT', `contribution ${i} has id ${c.id}, not a u32`, { details: { index: i } })
    if (ids.has(c.id)) throw new AttributionError('INVALID_ARGUMENT', `contribution id ${c.id} appears twice`, { details: { index: i } })
    ids.add(c.id)
    n += c.tokens.length
  }
  if (n > MAX_INDEX_TOKENS) throw new AttributionError('TOO_LARGE', `${n} tokens, at most ${MAX_INDEX_TOKENS}`)
  const text = new Int32Array(n)
  const starts = new Uint32Array(k)
  let at = 0
  for (const [i, c] of contributions.entries()) {
    if (i > 0) text[at++] = vocab
    starts[i] = at
    const tokens = c.tokens
    for (let j = 0; j < tokens.length; j++) {
      const t = tokens[j]!
      if (!(t >= 0 && t < vocab) || !Number.isInteger(t)) throw new AttributionError('INVALID_ARGUMENT', `contribution ${c.id} token ${j} is ${t}, outside 0..${vocab - 1}`, { details: { contribution: c.id, index: j } })
      text[at++] = t
    }
  }
  const sa = suffixArray(text, vocab + 1)
  const tokenBits = tokenBitsFor(vocab)
  const positionBits = positionBitsFor(n)
  const textOffset = HEADER_BYTES + 8 * k
  const saOffset = textOffset + packedBytes(tokenBits, n)
  const bytes = new Uint8Array(saOffset + packedBytes(positionBits, n))
  const view = new DataView(bytes.buffer)
  view.setUint32(0, SPAN_INDEX_MAGIC, true)
  bytes[4] = SPAN_INDEX_VERSION
  bytes[5] = tokenBits
  bytes[6] = positionBits
  view.setUint32(8, vocab, true)
  view.setUint32(12, n, true)
  view.setUint32(16, k, true)
  for (const [i, c] of contributions.entries()) {
    view.setUint32(HEADER_BYTES + 8 * i, c.id, true)
    view.setUint32(HEADER_BYTES + 8 * i + 4, starts[i]!, true)
  }
  for (let i = 0; i < n; i++) writeBits(bytes, textOffset, i * tokenBits, tokenBits, text[i]!)
  for (let i = 0; i < n; i++) writeBits(bytes, saOffset, i * positionBits, positionBits, sa[i]!)
  return bytes
}

/**
 * Full check of index bytes received from elsewhere: rebuilds the index from its own text and
 * contribution table and compares every byte (linear time). Returns the index.
 */
export function verifySpanIndex(bytes: Uint8Array): SpanIndex {
  const index = SpanIndex.decode(bytes)
  const contributions: ContributionTokens[] = []
  for (let i = 0; i < index.contributionCount; i++) {
    const start = index.starts[i]!
    const end = index.starts[i + 1]! - 1
    const tokens = new Int32Array(end - start)
    for (let p = start; p < end; p++) tokens[p - start] = index.token(p)
    contributions.push({ id: index.contributionIds[i]!, tokens })
  }
  let rebuilt: Uint8Array
  try {
    rebuilt = buildSpanIndexBytes(contributions, index.vocab)
  } catch (error) {
    throw new AttributionError('INVALID_INDEX', 'the text of the index is not a valid corpus', { cause: error })
  }
  if (rebuilt.length !== bytes.length || !rebuilt.every((b, i) => b === bytes[i])) throw new AttributionError('INVALID_INDEX', 'the suffix array is not the one of the text')
  return index
}
