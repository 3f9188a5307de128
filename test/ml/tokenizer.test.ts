// The tokenizer: lossless round trips (property, arbitrary Unicode), byte fallback, the table's
// layout, determinism and hash, agreement with GPT-2's own encoding on table tokens.
import t from 'tap'
import fc from 'fast-check'
import { createRequire } from 'node:module'
import { buildVocabularyTable, decodeTable, encodeTable, END_OF_TEXT_ID, GPT2_END_OF_TEXT, pieces, tableHash, Tokenizer, TokenizerError } from '../../ml/tokenizer.ts'
import { mobyDickTexts } from '../../ml/data/corpora.ts'

const corpus = mobyDickTexts('train').slice(0, 12)
const table = buildVocabularyTable(corpus, 2048)
const tokenizer = Tokenizer.fromTable(table)
const gpt2 = createRequire(import.meta.url)('gpt-3-encoder') as { encode(text: string): number[] }

t.test('table layout: byte tokens, <|endoftext|>, then the most frequent tokens', async (t) => {
  t.equal(table.length, 2048)
  t.equal(tokenizer.vocabSize, 2048)
  for (let i = 0; i < 256; i++) t.equal(table[i], i)
  t.equal(table[END_OF_TEXT_ID], GPT2_END_OF_TEXT)
  t.equal(new Set(table).size, table.length, 'no GPT-2 id twice')
  // the most frequent token of English prose is among the first: " the" (GPT-2 id 262)
  t.ok(Array.from(table.subarray(257, 262)).includes(262))
})

t.test('the table is deterministic and its hash names it', async (t) => {
  const again = buildVocabularyTable(corpus, 2048)
  t.same(Array.from(again), Array.from(table))
  t.same(Buffer.from(tableHash(again)), Buffer.from(tokenizer.hash()))
  t.same(Array.from(decodeTable(encodeTable(table))), Array.from(table))
  const other = buildVocabularyTable(corpus, 2047)
  t.notSame(Buffer.from(tableHash(other)), Buffer.from(tableHash(table)))
  t.same(Array.from(other), Array.from(table.subarray(0, 2047)), 'a smaller table is a prefix')
})

t.test('round trip: decode(encode(text)) === text for arbitrary Unicode', async () => {
  const text = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 60 }),
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.array(fc.constantFrom(' the', ' whale', 'Ahab', ',', '\n', '\n\n', '  ', "'s", '\uFEFF', '😀', 'é', '\t', '123', '<|endoftext|>'), { maxLength: 30 }).map((parts) => parts.join('')),
  )
  fc.assert(fc.property(text, (s) => tokenizer.decode(tokenizer.encode(s)) === s), { seed: 7, numRuns: 1000 })
})

t.test('round trip on the corpus and beyond it', async (t) => {
  for (const text of [...corpus.slice(0, 3), ...mobyDickTexts('heldOut').slice(0, 2)]) t.equal(tokenizer.decode(tokenizer.encode(text)), text)
  t.equal(tokenizer.decode(tokenizer.encode('')), '')
})

t.test('tokens in the table encode as GPT-2 does; others fall back to their bytes', async (t) => {
  const modelIdOf = new Map(Array.from(table, (gpt2Id, id) => [gpt2Id, id]))
  const text = ' the whale and the sea'
  t.same(Array.from(tokenizer.encode(text)), gpt2.encode(text).map((id) => modelIdOf.get(id)))
  // a word absent from the corpus: longer in model ids than in GPT-2 ids, and every id a byte
  const rare = ' Zyzzyva'
  const ids = tokenizer.encode(rare)
  t.ok(ids.length > gpt2.encode(rare).length)
  t.equal(tokenizer.decode(ids), rare)
  const bytes = tokenizer.encode('日')
  t.equal(bytes.length, 3, 'three UTF-8 bytes, three byte tokens')
  t.ok(Array.from(bytes).every((id) => id < 256))
})

t.test('pieces cover the text exactly', async () => {
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (s) => pieces(s).join('') === s), { seed: 3, numRuns: 500 })
})

t.test('<|endoftext|> decodes to nothing; the text "<|endoftext|>" is ordinary text', async (t) => {
  t.equal(tokenizer.decode([END_OF_TEXT_ID]), '')
  t.notOk(tokenizer.encode('<|endoftext|>').includes(END_OF_TEXT_ID))
})

t.test('bad input is refused with a typed error', async (t) => {
  t.throws(() => tokenizer.decode([2048]), { code: 'INVALID_TOKEN' })
  t.throws(() => tokenizer.decode([-1]), { code: 'INVALID_TOKEN' })
  t.throws(() => buildVocabularyTable([], 100), { code: 'INVALID_SIZE' })
  t.throws(() => Tokenizer.fromTable(table.subarray(0, 200)), { code: 'INVALID_TABLE' })
  const duplicate = table.slice()
  duplicate[300] = duplicate[301]!
  t.throws(() => Tokenizer.fromTable(duplicate), TokenizerError)
  const swapped = table.slice()
  swapped[0] = 1
  swapped[1] = 0
  t.throws(() => Tokenizer.fromTable(swapped), { code: 'INVALID_TABLE' })
  t.throws(() => decodeTable(new Uint8Array(5)), { code: 'INVALID_TABLE' })
})

t.test('a lone surrogate has no UTF-8 form: it comes back as U+FFFD, as with TextEncoder', async (t) => {
  t.equal(tokenizer.decode(tokenizer.encode('a\uD800b')), 'a\uFFFDb')
})
