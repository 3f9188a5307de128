// The classifier's text normalisation: headers but Subject dropped, HTML stripped, base64 lines
// dropped, whitespace collapsed, length capped.
import t from 'tap'
import fc from 'fast-check'
import { CLASSIFIER_MAX_CHARS, normaliseClassifierText } from '../../../ml/data/classifierText.ts'

const email = [
  'From someone@example.com  Thu Aug 22 13:17:22 2002',
  'Return-Path: <someone@example.com>',
  'Subject: Cheap   meds',
  '  now',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  '<html><body><p>Buy =3D now&nbsp;&amp; save</p><!-- hidden --></body></html>',
  'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3',
  'a soft=',
  'break',
].join('\r\n')

t.test('an e-mail keeps its subject and body text', async (t) => {
  t.equal(normaliseClassifierText(email), 'Subject: Cheap meds now\nBuy = now & save\na softbreak')
})

t.test('plain text is only tidied', async (t) => {
  t.equal(normaliseClassifierText('  hello \t world \n\n second line  '), 'hello world\nsecond line')
  t.equal(normaliseClassifierText('Note: no blank line so not an e-mail'), 'Note: no blank line so not an e-mail')
})

t.test('the result is capped and never splits a surrogate pair', async () => {
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 3000 }), fc.integer({ min: 1, max: 2000 }), (text, cap) => {
    const out = normaliseClassifierText(text, cap)
    return out.length <= cap && !/[\uD800-\uDBFF]$/.test(out)
  }), { seed: 11, numRuns: 200 })
  fc.assert(fc.property(fc.string({ maxLength: 100 }), (text) => normaliseClassifierText(text.repeat(100)).length <= CLASSIFIER_MAX_CHARS), { seed: 12, numRuns: 50 })
})

t.test('deterministic', async () => {
  fc.assert(fc.property(fc.string({ unit: 'grapheme-ascii', maxLength: 400 }), (text) => {
    const once = normaliseClassifierText(text)
    return normaliseClassifierText(text) === once
  }), { seed: 13, numRuns: 200 })
})
