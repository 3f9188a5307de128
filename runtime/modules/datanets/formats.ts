// Contribution formats and their parsing into rows. Pure and deterministic: the CLI checks a file
// before uploading it, the node checks an upload when asked, and validators check the bytes
// before attesting availability, all with this code, so a contribution whose bytes do not parse
// as its declared format, or whose row count differs from the declared one, never becomes
// available and so can never be accepted.
//
//   text       .txt   one UTF-8 document; 1 row
//   markdown   .md    one UTF-8 document; 1 row
//   documents  .jsonl one JSON object per line with a non-empty string `text`; 1 row per line
//   labelled   .jsonl one JSON object per line with a non-empty string `text` and a `label`
//                     (a non-empty string or an integer); 1 row per line
//
// UTF-8 is checked with a fatal decoder (no replacement characters), a byte-order mark is refused,
// CRLF line ends are accepted; blank lines are refused except one final newline.
import { OpenLedgerError } from '../../errors.ts'

export const Format = { text: 0, markdown: 1, documents: 2, labelled: 3 } as const
export type Format = (typeof Format)[keyof typeof Format]
export type FormatName = keyof typeof Format

export const FORMAT_NAMES = Object.keys(Format) as FormatName[]

export function formatName(code: number): FormatName | undefined {
  return FORMAT_NAMES.find((name) => Format[name] === code)
}

export function isFormat(code: number): code is Format {
  return formatName(code) !== undefined
}

/** The format a file name suggests: .txt text, .md markdown, .jsonl documents (labelled with `labelled`). */
export function formatForFileName(fileName: string, labelled = false): Format | undefined {
  const lower = fileName.toLowerCase()
  if (lower.endsWith('.txt')) return Format.text
  if (lower.endsWith('.md') || lower.endsWith('.markdown')) return Format.markdown
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson')) return labelled ? Format.labelled : Format.documents
  return undefined
}

export type FormatErrorCode =
  | 'UNKNOWN_FORMAT'
  | 'EMPTY_DATA'
  | 'INVALID_UTF8'
  | 'BYTE_ORDER_MARK'
  | 'BLANK_LINE'
  | 'INVALID_JSON'
  | 'MISSING_TEXT'
  | 'MISSING_LABEL'
  | 'ROW_COUNT_MISMATCH'

export class FormatError extends OpenLedgerError<FormatErrorCode> {}

export interface Row {
  readonly text: string
  readonly label?: string | number
}

const MAX_LABEL_CHARS = 256

/** Parses `bytes` as `format`; throws FormatError naming the line of the first problem. */
export function parseRows(bytes: Uint8Array, format: number): Row[] {
  const name = formatName(format)
  if (name === undefined) throw new FormatError('UNKNOWN_FORMAT', `unknown format ${format}; formats: ${FORMAT_NAMES.join(', ')}`)
  if (bytes.length === 0) throw new FormatError('EMPTY_DATA', 'the data is empty')
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) throw new FormatError('BYTE_ORDER_MARK', 'the data starts with a UTF-8 byte-order mark')
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes)
  } catch (cause) {
    throw new FormatError('INVALID_UTF8', 'the data is not valid UTF-8', { cause })
  }
  if (name === 'text' || name === 'markdown') {
    if (text.trim().length === 0) throw new FormatError('EMPTY_DATA', 'the document holds only whitespace')
    return [{ text }]
  }
  const lines = text.split('\n')
  if (lines.at(-1) === '') lines.pop()
  if (lines.length === 0) throw new FormatError('EMPTY_DATA', 'no rows')
  return lines.map((raw, i) => parseLine(raw.endsWith('\r') ? raw.slice(0, -1) : raw, i + 1, name === 'labelled'))
}

function parseLine(line: string, number: number, labelled: boolean): Row {
  if (line.trim().length === 0) throw new FormatError('BLANK_LINE', `line ${number} is blank`, { details: { line: number } })
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch (cause) {
    throw new FormatError('INVALID_JSON', `line ${number} is not JSON`, { cause, details: { line: number } })
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new FormatError('INVALID_JSON', `line ${number} is not a JSON object`, { details: { line: number } })
  const record = value as Record<string, unknown>
  const text = record['text']
  if (typeof text !== 'string' || text.trim().length === 0) throw new FormatError('MISSING_TEXT', `line ${number} has no non-empty string "text"`, { details: { line: number } })
  if (!labelled) return { text }
  const label = record['label']
  const validLabel = (typeof label === 'string' && label.length > 0 && label.length <= MAX_LABEL_CHARS) || (typeof label === 'number' && Number.isSafeInteger(label))
  if (!validLabel) throw new FormatError('MISSING_LABEL', `line ${number} has no "label" (a non-empty string of at most ${MAX_LABEL_CHARS} characters, or an integer)`, { details: { line: number } })
  return { text, label }
}

/** Parses and checks the row count a contributor declared. */
export function checkRows(bytes: Uint8Array, format: number, declaredRows: number): Row[] {
  const rows = parseRows(bytes, format)
  if (rows.length !== declaredRows) throw new FormatError('ROW_COUNT_MISMATCH', `the data holds ${rows.length} rows, ${declaredRows} were declared`, { details: { rows: rows.length, declared: declaredRows } })
  return rows
}
