import t from 'tap'
import { loadTokenizer, readManifest } from '../../../../node/models/assets.ts'
import { IncrementalDetokenizer, StopMatcher } from '../../../../node/serving/http/textStream.ts'

const tokenizer = await loadTokenizer(await readManifest())

t.test('incremental detokenizing adds up to the whole decode, characters never split', async (t) => {
  for (const text of ['plain words here', 'naïve café — 東京 🎉 done', '🎉🎉', 'a\u00e9b']) {
    const ids = Array.from(tokenizer.encode(text))
    const detokenizer = new IncrementalDetokenizer(tokenizer)
    const pieces = ids.map((id) => detokenizer.push(id))
    pieces.push(detokenizer.flush())
    t.equal(pieces.join(''), text, `${text}: pieces concatenate to the text`)
    t.notOk(pieces.some((p) => p.includes('\uFFFD')), 'no replacement character streamed')
  }
  // an emoji is 4 bytes: split into byte tokens, it completes only at the last of them
  const emoji = Array.from(tokenizer.encode('🎉'))
  t.ok(emoji.length > 1, 'the emoji is several tokens')
  const detokenizer = new IncrementalDetokenizer(tokenizer)
  const pieces = emoji.map((id) => detokenizer.push(id))
  t.same(pieces, [...emoji.slice(1).map(() => ''), '🎉'])
  // invalid UTF-8 (a lead byte followed by ASCII) is emitted as U+FFFD after 4 tokens, as decode would
  const invalid = [emoji[0] as number, ...Array.from(tokenizer.encode('ABC'))]
  const broken = new IncrementalDetokenizer(tokenizer)
  const out = invalid.map((id) => broken.push(id)).join('') + broken.flush()
  t.equal(out, tokenizer.decode(invalid))
  t.match(out, /\uFFFD/)
})

t.test('stop strings: the text before the first match, partial matches held back', async (t) => {
  const stop = new StopMatcher(['END', 'xyz'])
  t.equal(stop.push('hello E'), 'hello ', 'a possible start of END is held')
  t.equal(stop.push('N'), '')
  t.equal(stop.push('Dless'), '', 'END matched: nothing after it')
  t.ok(stop.stopped)
  t.equal(stop.flush(), '')
  const miss = new StopMatcher(['END'])
  t.equal(miss.push('hello E'), 'hello ')
  t.equal(miss.push('Nx'), 'ENx', 'released once it cannot match')
  t.equal(miss.push(' EN'), ' ')
  t.equal(miss.flush(), 'EN', 'held text is released at the end')
  const earliest = new StopMatcher(['b c', 'a'])
  t.equal(earliest.push('xx b c a'), 'xx ', 'the earliest match wins')
  const none = new StopMatcher([])
  t.equal(none.push('abc'), 'abc')
})
