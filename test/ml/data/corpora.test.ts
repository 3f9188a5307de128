// The corpora's fixed splits: disjoint, covering, non-empty, stable; the spam labels.
import t from 'tap'
import { isSpamGroup, mobyDickChapters, mobyDickSplit, mobyDickTexts, sotuAddresses, sotuSplit, sotuTexts, SPAM_LABELS, spamExamples, spamMessages, spamSplit } from '../../../ml/data/corpora.ts'

t.test('State of the Union: years ending in 7 are held out, the rest train', async (t) => {
  const all = sotuAddresses()
  t.equal(all.length, 233)
  const train = sotuTexts('train')
  const heldOut = sotuTexts('heldOut')
  t.equal(train.length + heldOut.length, all.length)
  t.equal(heldOut.length, 23)
  t.ok(all.every((a) => (sotuSplit(a) === 'heldOut') === (a.year % 10 === 7)))
  const trainSet = new Set(train)
  t.ok(heldOut.every((text) => !trainSet.has(text)), 'no held-out address is also a training one')
})

t.test('Moby Dick: chapters 10, 20, …, 130 are held out; no table of contents', async (t) => {
  const chapters = mobyDickChapters()
  t.equal(chapters.length, 138)
  t.notOk(chapters.some((c) => c.chapter === 'Contents'))
  const heldOut = chapters.filter((c) => mobyDickSplit(c) === 'heldOut').map((c) => c.chapter)
  t.same(heldOut, ['10', '20', '30', '40', '50', '60', '70', '80', '90', '100', '110', '120', '130'])
  t.equal(mobyDickTexts('train').length, 125)
  t.ok(mobyDickTexts('train')[0]!.length > 0)
  t.equal(mobyDickSplit({ chapter: 'Epilogue' }), 'train')
})

t.test('SpamAssassin: a hash of the message picks the held-out fifth; splits are disjoint', async (t) => {
  const messages = spamMessages()
  t.equal(messages.length, 6046)
  t.equal(new Set(messages.map((m) => m.id)).size, messages.length, 'ids are unique')
  const heldOut = messages.filter((m) => spamSplit(m) === 'heldOut')
  t.ok(heldOut.length > 0.15 * messages.length && heldOut.length < 0.25 * messages.length, `${heldOut.length} held out`)
  const train = spamExamples('train')
  const test = spamExamples('heldOut')
  t.equal(train.length, 4615)
  t.equal(test.length, 1181)
  const trainIds = new Set(train.map((e) => e.id))
  t.ok(test.every((e) => !trainIds.has(e.id)))
  t.notOk([...train, ...test].some((e) => e.id.startsWith('hard-ham')), 'hard ham is not in the base task')
  t.ok(train.every((e) => e.label === (e.id.startsWith('spam') ? 1 : 0)))
  t.ok(train.some((e) => e.label === 1) && train.some((e) => e.label === 0))
  t.same([...SPAM_LABELS], ['ham', 'spam'])
  t.equal(isSpamGroup('spam-2'), true)
  const hard = spamExamples('train', ['hard-ham-1'])
  t.ok(hard.length > 150 && hard.every((e) => e.label === 0))
  // the split is a function of the checksum alone
  t.equal(spamSplit({ checksum: messages[0]!.checksum }), spamSplit(messages[0]!))
})
