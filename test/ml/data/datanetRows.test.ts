// Datanet rows to engine data: token streams with <|endoftext|> between documents, label maps
// (integers as is, strings sorted), classifier inputs cut to the context, typed errors.
import t from 'tap'
import { parseRows, Format } from '../../../runtime/modules/datanets/formats.ts'
import { labelMapOf, rowsToExamples, rowsToTokenStream, rowsToTrainingData, textToClassifierIds } from '../../../ml/data/datanetRows.ts'
import { normaliseClassifierText } from '../../../ml/data/classifierText.ts'
import { buildVocabularyTable, END_OF_TEXT_ID, Tokenizer } from '../../../ml/tokenizer.ts'

const tokenizer = Tokenizer.fromTable(buildVocabularyTable(['the whale and the sea, the ship and the captain. Spam offers: buy now!'], 300))
const jsonl = (rows: object[]): Uint8Array => new TextEncoder().encode(rows.map((r) => JSON.stringify(r)).join('\n') + '\n')

t.test('text rows: one stream, documents joined by <|endoftext|>', async (t) => {
  const rows = parseRows(jsonl([{ text: 'the whale' }, { text: 'and the sea' }, { text: 'ship' }]), Format.documents)
  const stream = rowsToTokenStream(rows, tokenizer)
  const separators = Array.from(stream).flatMap((id, i) => (id === END_OF_TEXT_ID ? [i] : []))
  t.equal(separators.length, 2)
  t.equal(tokenizer.decode(stream), 'the whaleand the seaship', 'the separator decodes to nothing')
  t.same(Array.from(stream.subarray(0, separators[0])), Array.from(tokenizer.encode('the whale')))
  const single = rowsToTokenStream(parseRows(new TextEncoder().encode('# A title\n\nthe sea\n'), Format.markdown), tokenizer)
  t.equal(tokenizer.decode(single), '# A title\n\nthe sea\n')
})

t.test('string labels are sorted into ids; integers are used as is', async (t) => {
  const rows = parseRows(jsonl([{ text: 'a', label: 'spam' }, { text: 'b', label: 'ham' }, { text: 'c', label: 'spam' }]), Format.labelled)
  const map = labelMapOf(rows, 2)
  t.same(map.labels, ['ham', 'spam'])
  t.equal(map.idOf('ham'), 0)
  t.equal(map.idOf('spam'), 1)
  const examples = rowsToExamples(rows, tokenizer, map, 128)
  t.same(examples.map((e) => e.label), [1, 0, 1])
  const ints = parseRows(jsonl([{ text: 'a', label: 3 }, { text: 'b', label: 0 }]), Format.labelled)
  const intMap = labelMapOf(ints, 4)
  t.equal(intMap.kind, 'integer')
  t.same(rowsToExamples(ints, tokenizer, intMap, 128).map((e) => e.label), [3, 0])
  t.throws(() => labelMapOf(ints, 3), { code: 'LABEL_OUT_OF_RANGE' })
  // a mix reads every label as a string: "10" sorts before "9"
  const mixed = parseRows(jsonl([{ text: 'a', label: 9 }, { text: 'b', label: '10' }]), Format.labelled)
  t.same(labelMapOf(mixed, 2).labels, ['10', '9'])
  t.throws(() => labelMapOf(mixed, 1), { code: 'TOO_MANY_LABELS' })
})

t.test('classifier inputs are normalised and cut to the context', async (t) => {
  const text = 'Subject: buy now\n\n' + 'the sea '.repeat(100)
  const ids = textToClassifierIds(text, tokenizer, 16)
  t.equal(ids.length, 16)
  t.same(Array.from(ids), Array.from(tokenizer.encode(normaliseClassifierText(text)).subarray(0, 16)))
})

t.test('training and held-out data share the training rows\' label map', async (t) => {
  const train = parseRows(jsonl([{ text: 'the whale', label: 'b' }, { text: 'the sea', label: 'a' }]), Format.labelled)
  const heldOut = parseRows(jsonl([{ text: 'the ship', label: 'b' }]), Format.labelled)
  const data = rowsToTrainingData(train, heldOut, tokenizer, { kind: 'classifier', context: 64, classes: 2 })
  t.equal(data.train.kind, 'classifier')
  if (data.heldOut.kind !== 'classifier') throw new Error('kind')
  t.same(data.heldOut.examples.map((e) => e.label), [1])
  t.same(data.labels?.labels, ['a', 'b'])
  const unknown = parseRows(jsonl([{ text: 'x', label: 'c' }]), Format.labelled)
  t.throws(() => rowsToTrainingData(train, unknown, tokenizer, { kind: 'classifier', context: 64, classes: 3 }), { code: 'UNKNOWN_LABEL' })
  t.throws(() => rowsToExamples(parseRows(jsonl([{ text: 'x' }]), Format.documents), tokenizer, data.labels!, 64), { code: 'MISSING_LABEL' })
  t.throws(() => rowsToTrainingData([], [], tokenizer, { kind: 'lm', context: 64, classes: 0 }), { code: 'NO_ROWS' })
  const lm = rowsToTrainingData(train, heldOut, tokenizer, { kind: 'lm', context: 64, classes: 0 })
  t.equal(lm.train.kind, 'lm')
  t.equal(lm.labels, undefined)
})
