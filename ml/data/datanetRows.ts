// Datanet contribution rows (runtime/modules/datanets/formats.ts `parseRows`) turned into the
// training data the engine takes, the same way on every validator:
//
//   language model   every row's text is one document; documents are encoded with the tokenizer
//                    and joined, in row order, into one token stream with <|endoftext|>
//                    (END_OF_TEXT_ID) between consecutive documents.
//   classifier       every row is one example: normaliseClassifierText(text) encoded and cut to the
//                    model's context (the first `context` tokens), with the row's label id.
//                    Rows without a label are refused.
//
// Label map (label id ↔ label), built from the training rows:
//   - all labels integers → used as is: label id = the integer (all must be in 0..classes−1; a
//     class no row names simply has no examples);
//   - otherwise every label is read as a string (an integer as its decimal form) and the distinct
//     labels sorted by UTF-16 code units give ids 0, 1, …; a spam datanet labelled "ham"/"spam"
//     thus gets ham 0, spam 1 — the base classifier's order (SPAM_LABELS).
// Held-out rows use the training rows' map; a held-out label it does not know is refused.
// Pure and deterministic.
import { OpenLedgerError } from '../../runtime/errors.ts'
import type { Row } from '../../runtime/modules/datanets/index.ts'
import type { ClassifierExample } from '../model/forward.ts'
import type { TrainingData } from '../train/data.ts'
import { END_OF_TEXT_ID, type Tokenizer } from '../tokenizer.ts'
import { normaliseClassifierText } from './classifierText.ts'

export type { ClassifierExample, TrainingData }

export type DatanetRowsErrorCode = 'NO_ROWS' | 'MISSING_LABEL' | 'UNKNOWN_LABEL' | 'LABEL_OUT_OF_RANGE' | 'TOO_MANY_LABELS'
export class DatanetRowsError extends OpenLedgerError<DatanetRowsErrorCode> {}

/** label ids ↔ labels; `labels[id]` is the label of id (as a string), for both kinds of map */
export interface LabelMap {
  readonly kind: 'integer' | 'sorted'
  readonly labels: readonly string[]
  idOf(label: string | number): number | undefined
}

/** One token stream of the rows' texts, <|endoftext|> between documents. */
export function rowsToTokenStream(rows: readonly Pick<Row, 'text'>[], tokenizer: Tokenizer): Int32Array {
  const parts: Int32Array[] = []
  let length = 0
  for (const [i, row] of rows.entries()) {
    if (i > 0) {
      parts.push(Int32Array.of(END_OF_TEXT_ID))
      length += 1
    }
    const ids = tokenizer.encode(row.text)
    parts.push(ids)
    length += ids.length
  }
  const tokens = new Int32Array(length)
  let offset = 0
  for (const part of parts) {
    tokens.set(part, offset)
    offset += part.length
  }
  return tokens
}

/** The label map of these (training) rows, for a model of `classes` classes. */
export function labelMapOf(rows: readonly Row[], classes: number): LabelMap {
  if (rows.length === 0) throw new DatanetRowsError('NO_ROWS', 'no rows to take labels from')
  const labels = rows.map((row, i) => {
    if (row.label === undefined) throw new DatanetRowsError('MISSING_LABEL', `row ${i} has no label`, { details: { row: i } })
    return row.label
  })
  if (labels.every((label) => typeof label === 'number')) {
    for (const [i, label] of labels.entries()) {
      if (!(label >= 0 && label < classes)) throw new DatanetRowsError('LABEL_OUT_OF_RANGE', `row ${i} has label ${label}; integer labels must be in 0..${classes - 1}`, { details: { row: i } })
    }
    return {
      kind: 'integer',
      labels: Array.from({ length: classes }, (_, id) => String(id)),
      idOf: (label) => (typeof label === 'number' && Number.isInteger(label) && label >= 0 && label < classes ? label : undefined),
    }
  }
  const sorted = [...new Set(labels.map(String))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  if (sorted.length > classes) throw new DatanetRowsError('TOO_MANY_LABELS', `the rows hold ${sorted.length} distinct labels; the model has ${classes} classes`, { details: { labels: sorted.length, classes } })
  const ids = new Map(sorted.map((label, id) => [label, id]))
  return { kind: 'sorted', labels: sorted, idOf: (label) => ids.get(String(label)) }
}

/** Classifier examples of the rows under `labels`, each cut to `context` tokens. */
export function rowsToExamples(rows: readonly Row[], tokenizer: Tokenizer, labels: LabelMap, context: number): ClassifierExample[] {
  return rows.map((row, i) => {
    if (row.label === undefined) throw new DatanetRowsError('MISSING_LABEL', `row ${i} has no label`, { details: { row: i } })
    const label = labels.idOf(row.label)
    if (label === undefined) throw new DatanetRowsError('UNKNOWN_LABEL', `row ${i} has a label the training rows do not have`, { details: { row: i, label: row.label } })
    return { ids: textToClassifierIds(row.text, tokenizer, context), label }
  })
}

/** What a classifier reads of a text: normalised, encoded, cut to `context` tokens (inference uses this too). */
export function textToClassifierIds(text: string, tokenizer: Tokenizer, context: number): Int32Array {
  const ids = tokenizer.encode(normaliseClassifierText(text))
  return ids.length > context ? ids.slice(0, context) : ids
}

export interface RowsDataOptions {
  readonly kind: 'lm' | 'classifier'
  /** the model's context (classifier inputs are cut to it) */
  readonly context: number
  /** classifier: the model's number of classes */
  readonly classes: number
}

/** Training and held-out data of a job's rows; `labels` is the classifier's label map. */
export function rowsToTrainingData(train: readonly Row[], heldOut: readonly Row[], tokenizer: Tokenizer, options: RowsDataOptions): { train: TrainingData; heldOut: TrainingData; labels?: LabelMap } {
  if (train.length === 0) throw new DatanetRowsError('NO_ROWS', 'no training rows')
  if (options.kind === 'lm') {
    return { train: { kind: 'lm', tokens: rowsToTokenStream(train, tokenizer) }, heldOut: { kind: 'lm', tokens: rowsToTokenStream(heldOut, tokenizer) } }
  }
  const labels = labelMapOf(train, options.classes)
  return {
    train: { kind: 'classifier', examples: rowsToExamples(train, tokenizer, labels, options.context) },
    heldOut: { kind: 'classifier', examples: rowsToExamples(heldOut, tokenizer, labels, options.context) },
    labels,
  }
}
