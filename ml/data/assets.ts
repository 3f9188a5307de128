// The base models the project ships (assets/models/, written by scripts/build-base-models.ts): the
// manifest's shape, its validation, and the hash checks every loaded file goes through. Pure: the
// bytes come from node/models/assets.ts (or from a blob store, or a test).
//
//   assets/models/manifest.json        this module's ModelsManifest
//   assets/models/tokenizer.bin        the vocabulary table (ml/tokenizer.ts encodeTable)
//   assets/models/<name>/weights.bin   encodeTensors(paramShapes(config), weights)
//   assets/models/<name>/config.json   the ModelConfig (the same as in the manifest)
//   assets/models/<name>/model.onnx    the ONNX export, when the build had an exporter
//
// Hashes are 0x-prefixed lowercase hex keccak256: a weights file's is keccak256 of its bytes
// (= tensorsHash of its tensors), the tokenizer's is tableHash of its table (keccak256 of the
// tokenizer name and the file's bytes), an ONNX file's keccak256 of its bytes. The weights and ONNX
// entries also name the file's blob-store content id (node/blobs/contentId.ts, 0x-prefixed hex),
// so a node can register and publish them without reading them; this module checks only its form.
import { keccak256 } from '../../runtime/crypto/hash.ts'
import { OpenLedgerError } from '../../runtime/errors.ts'
import { paramShapes, type ModelConfig, type ModelKind } from '../model/config.ts'
import { decodeTensors } from '../model/params.ts'
import { decodeTable, Tokenizer } from '../tokenizer.ts'

export const MANIFEST_FORMAT = 1

export type ModelAssetErrorCode =
  /** the manifest is not JSON or not of the expected shape */
  | 'INVALID_MANIFEST'
  /** no model of that name in the manifest */
  | 'UNKNOWN_MODEL'
  /** a file the manifest names is absent */
  | 'FILE_MISSING'
  /** a file's size differs from the manifest's */
  | 'SIZE_MISMATCH'
  /** a file's hash differs from the manifest's */
  | 'HASH_MISMATCH'
  /** a file has the right hash but does not decode (a manifest written by a broken build) */
  | 'INVALID_FILE'
  /** a file has the right hash but another content id than the manifest's (a broken build) */
  | 'CID_MISMATCH'

export class ModelAssetError extends OpenLedgerError<ModelAssetErrorCode> {}

export interface FileEntry {
  /** path relative to the assets folder, '/'-separated */
  readonly file: string
  /** 0x-prefixed keccak256 (see the header for what is hashed) */
  readonly hash: string
  readonly bytes: number
}

/** A file the node also serves from its blob store (weights, ONNX export). */
export interface BlobFileEntry extends FileEntry {
  /** 0x-prefixed content id of the file's bytes (node/blobs/contentId.ts) */
  readonly cid: string
}

export interface TokenizerEntry extends FileEntry {
  readonly name: string
  readonly vocab: number
  /** what the vocabulary table was counted on */
  readonly corpus: string
}

export interface HeldOutMetrics {
  /** mean cross-entropy (nats) before training (the initial weights) */
  readonly lossBefore: number
  readonly loss: number
  /** classifier only: the share of held-out examples classified right */
  readonly accuracyBefore?: number
  readonly accuracy?: number
  /** LM only: the loss on the Moby Dick held-out chapters, before and after (the fine-tuning baseline) */
  readonly mobyDickLossBefore?: number
  readonly mobyDickLoss?: number
  /** held-out tokens (lm) or examples (classifier) measured */
  readonly size: number
}

export interface TrainingRecord {
  /** the training data, in words */
  readonly data: string
  readonly steps: number
  /** tokens seen in training (lm: predicted positions + 1 per sequence; classifier: input tokens) */
  readonly tokens: number
  readonly batch: number
  readonly learningRate: number
  readonly warmupSteps: number
  readonly weightDecay: number
  readonly seed: number
  readonly engineVersion: string
}

export interface ModelEntry {
  readonly name: string
  readonly kind: ModelKind
  readonly config: ModelConfig
  readonly parameters: number
  readonly weights: BlobFileEntry
  readonly onnx?: BlobFileEntry
  readonly tokenizerHash: string
  readonly heldOut: HeldOutMetrics
  readonly training: TrainingRecord
  /** classifier only: label id → label */
  readonly labels?: readonly string[]
}

export interface ModelsManifest {
  readonly format: number
  readonly tokenizer: TokenizerEntry
  readonly models: readonly ModelEntry[]
}

export function hexHash(bytes: Uint8Array): string {
  return '0x' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}

export function keccakHex(bytes: Uint8Array): string {
  return hexHash(keccak256(bytes))
}

/** Parses and checks a manifest's JSON text (shape, not files). */
export function parseManifest(text: string): ModelsManifest {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (cause) {
    throw new ModelAssetError('INVALID_MANIFEST', 'the models manifest is not JSON', { cause })
  }
  const manifest = value as ModelsManifest
  const fail = (what: string): never => {
    throw new ModelAssetError('INVALID_MANIFEST', `the models manifest has an invalid ${what}`, { details: { field: what } })
  }
  if (typeof value !== 'object' || value === null) fail('root')
  if (manifest.format !== MANIFEST_FORMAT) fail('format')
  checkFileEntry(manifest.tokenizer, 'tokenizer', fail)
  if (!Number.isSafeInteger(manifest.tokenizer.vocab) || manifest.tokenizer.vocab * 4 !== manifest.tokenizer.bytes) fail('tokenizer.vocab')
  if (!Array.isArray(manifest.models)) fail('models')
  const names = new Set<string>()
  for (const [i, model] of manifest.models.entries()) {
    const at = `models[${i}]`
    if (typeof model !== 'object' || model === null || typeof model.name !== 'string' || !/^[a-z0-9][a-z0-9-]*$/.test(model.name) || names.has(model.name)) fail(`${at}.name`)
    names.add(model.name)
    if (typeof model.config !== 'object' || model.config === null || model.kind !== model.config.kind) fail(`${at}.config`)
    checkBlobFileEntry(model.weights, `${at}.weights`, fail)
    if (model.onnx !== undefined) checkBlobFileEntry(model.onnx, `${at}.onnx`, fail)
    if (model.tokenizerHash !== manifest.tokenizer.hash) fail(`${at}.tokenizerHash`)
  }
  return manifest
}

const HASH_HEX = /^0x[0-9a-f]{64}$/

function checkFileEntry(entry: FileEntry | undefined, at: string, fail: (what: string) => never): void {
  if (typeof entry !== 'object' || entry === null) fail(at)
  if (typeof entry.file !== 'string' || entry.file.length === 0 || entry.file.split('/').some((part) => part === '' || part === '.' || part === '..')) fail(`${at}.file`)
  if (typeof entry.hash !== 'string' || !HASH_HEX.test(entry.hash)) fail(`${at}.hash`)
  if (!Number.isSafeInteger(entry.bytes) || entry.bytes < 0) fail(`${at}.bytes`)
}

function checkBlobFileEntry(entry: BlobFileEntry | undefined, at: string, fail: (what: string) => never): void {
  checkFileEntry(entry, at, fail)
  if (typeof entry?.cid !== 'string' || !HASH_HEX.test(entry.cid)) fail(`${at}.cid`)
}

export function findModel(manifest: ModelsManifest, name: string): ModelEntry {
  const entry = manifest.models.find((m) => m.name === name)
  if (entry === undefined) throw new ModelAssetError('UNKNOWN_MODEL', `no base model named ${name}`, { details: { name, known: manifest.models.map((m) => m.name) } })
  return entry
}

function checkSize(entry: FileEntry, bytes: Uint8Array): void {
  if (bytes.length !== entry.bytes) throw new ModelAssetError('SIZE_MISMATCH', `${entry.file} holds ${bytes.length} bytes, the manifest says ${entry.bytes}`, { details: { file: entry.file, bytes: bytes.length, expected: entry.bytes } })
}

function checkHash(entry: FileEntry, actual: string): void {
  if (actual !== entry.hash) throw new ModelAssetError('HASH_MISMATCH', `${entry.file} does not have the hash the manifest names`, { details: { file: entry.file, hash: actual, expected: entry.hash } })
}

/** The tokenizer of tokenizer.bin's bytes, checked against the manifest. */
export function verifyTokenizer(entry: TokenizerEntry, bytes: Uint8Array): Tokenizer {
  checkSize(entry, bytes)
  let tokenizer: Tokenizer
  try {
    tokenizer = Tokenizer.fromTable(decodeTable(bytes))
  } catch (cause) {
    // a table that does not decode cannot have the manifest's hash either; say which is wrong
    const actual = hexHash(keccak256(bytes))
    checkHash(entry, actual)
    throw new ModelAssetError('INVALID_FILE', `${entry.file} is not a vocabulary table`, { cause, details: { file: entry.file } })
  }
  checkHash(entry, hexHash(tokenizer.hash()))
  return tokenizer
}

/** A model's weights from weights.bin's bytes, checked against the manifest. */
export function verifyWeights(entry: ModelEntry, bytes: Uint8Array): Map<string, Float32Array> {
  checkSize(entry.weights, bytes)
  checkHash(entry.weights, keccakHex(bytes))
  try {
    return decodeTensors(bytes, paramShapes(entry.config))
  } catch (cause) {
    throw new ModelAssetError('INVALID_FILE', `${entry.weights.file} does not hold ${entry.name}'s parameters`, { cause, details: { file: entry.weights.file } })
  }
}

/**
 * A file's bytes checked against its entry's size only: for a caller that authenticates them
 * another way (the blob store checks a file's content id, which the manifest also records).
 */
export function verifySize(entry: FileEntry, bytes: Uint8Array): Uint8Array {
  checkSize(entry, bytes)
  return bytes
}

/** Any other file (an ONNX export), checked against its entry. */
export function verifyFile(entry: FileEntry, bytes: Uint8Array): Uint8Array {
  checkSize(entry, bytes)
  checkHash(entry, keccakHex(bytes))
  return bytes
}
