import t from 'tap'
import { checkRows, Format, formatForFileName, parseRows } from '../../../../runtime/modules/datanets/formats.ts'

const bytes = (text: string) => new TextEncoder().encode(text)

t.test('text, markdown, documents and labelled rows', async (t) => {
  t.same(parseRows(bytes('# Title\n\nbody'), Format.markdown), [{ text: '# Title\n\nbody' }])
  t.equal(parseRows(bytes('plain'), Format.text).length, 1)
  t.same(parseRows(bytes('{"text":"a","year":1}\r\n{"text":"b"}\n'), Format.documents), [{ text: 'a' }, { text: 'b' }], 'CRLF and a final newline are fine')
  t.same(parseRows(bytes('{"text":"a","label":"spam"}\n{"text":"b","label":0}'), Format.labelled), [{ text: 'a', label: 'spam' }, { text: 'b', label: 0 }])
  t.equal(checkRows(bytes('{"text":"a"}\n'), Format.documents, 1).length, 1)
  t.equal(formatForFileName('x.JSONL', true), Format.labelled)
  t.equal(formatForFileName('x.md'), Format.markdown)
  t.equal(formatForFileName('x.csv'), undefined)
})

t.test('every problem has a stable code', async (t) => {
  const cases: Array<[Uint8Array, number, string]> = [
    [Uint8Array.of(0x61, 0xff, 0x62), Format.text, 'INVALID_UTF8'],
    [Uint8Array.of(0xed, 0xa0, 0x80), Format.text, 'INVALID_UTF8'], // an encoded surrogate
    [Uint8Array.of(0xc0, 0xaf), Format.text, 'INVALID_UTF8'], // overlong
    [Uint8Array.of(0xef, 0xbb, 0xbf, 0x61), Format.text, 'BYTE_ORDER_MARK'],
    [new Uint8Array(0), Format.text, 'EMPTY_DATA'],
    [bytes('  \n'), Format.markdown, 'EMPTY_DATA'],
    [bytes('{"text":"a"}\n\n{"text":"b"}'), Format.documents, 'BLANK_LINE'],
    [bytes('{"text":"a"'), Format.documents, 'INVALID_JSON'],
    [bytes('[1]'), Format.documents, 'INVALID_JSON'],
    [bytes('{"body":"a"}'), Format.documents, 'MISSING_TEXT'],
    [bytes('{"text":""}'), Format.documents, 'MISSING_TEXT'],
    [bytes('{"text":"a"}'), Format.labelled, 'MISSING_LABEL'],
    [bytes('{"text":"a","label":1.5}'), Format.labelled, 'MISSING_LABEL'],
    [bytes('a'), 9, 'UNKNOWN_FORMAT'],
  ]
  for (const [data, format, code] of cases) t.throws(() => parseRows(data, format), { name: 'FormatError', code }, code)
  t.throws(() => checkRows(bytes('{"text":"a"}\n{"text":"b"}\n'), Format.documents, 3), { code: 'ROW_COUNT_MISMATCH' })
})
