// The shipped base models on disk (assets/models/ in the package, or any folder laid out the same
// way): reads the manifest, the tokenizer, a model's weights and ONNX export, and checks every file
// against the manifest's size and hash (ml/data/assets.ts) before anything uses it. A file that
// differs is refused with ModelAssetError code HASH_MISMATCH (or SIZE_MISMATCH / FILE_MISSING).
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { findModel, ModelAssetError, parseManifest, verifyFile, verifySize, verifyTokenizer, verifyWeights, type FileEntry, type ModelEntry, type ModelsManifest } from '../../ml/data/assets.ts'
import type { Tokenizer } from '../../ml/tokenizer.ts'

/** the assets/models folder of this package */
export const PACKAGE_MODELS_DIR = fileURLToPath(new URL('../../assets/models/', import.meta.url))
export const MANIFEST_FILE = 'manifest.json'

export interface AssetsOptions {
  /** the models folder; default PACKAGE_MODELS_DIR */
  readonly dir?: string
  readonly signal?: AbortSignal
}

export interface LoadedBaseModel {
  readonly entry: ModelEntry
  readonly weights: Map<string, Float32Array>
  /** weights.bin's bytes (its keccak256 is entry.weights.hash) */
  readonly weightsBytes: Uint8Array
  readonly tokenizer: Tokenizer
}

async function readAsset(dir: string, file: string, signal: AbortSignal | undefined): Promise<Uint8Array> {
  try {
    const bytes = await readFile(join(dir, ...file.split('/')), signal === undefined ? {} : { signal })
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') throw new ModelAssetError('FILE_MISSING', `model asset ${file} is missing`, { cause, details: { file, dir } })
    throw cause
  }
}

export async function readManifest(options: AssetsOptions = {}): Promise<ModelsManifest> {
  const bytes = await readAsset(options.dir ?? PACKAGE_MODELS_DIR, MANIFEST_FILE, options.signal)
  return parseManifest(new TextDecoder().decode(bytes))
}

export async function loadTokenizer(manifest: ModelsManifest, options: AssetsOptions = {}): Promise<Tokenizer> {
  const bytes = await readAsset(options.dir ?? PACKAGE_MODELS_DIR, manifest.tokenizer.file, options.signal)
  return verifyTokenizer(manifest.tokenizer, bytes)
}

/** A base model's checked weights and tokenizer. */
export async function loadBaseModel(name: string, options: AssetsOptions & { manifest?: ModelsManifest } = {}): Promise<LoadedBaseModel> {
  const manifest = options.manifest ?? (await readManifest(options))
  const entry = findModel(manifest, name)
  const tokenizer = await loadTokenizer(manifest, options)
  const weightsBytes = await readAsset(options.dir ?? PACKAGE_MODELS_DIR, entry.weights.file, options.signal)
  const weights = verifyWeights(entry, weightsBytes)
  return { entry, weights, weightsBytes, tokenizer }
}

/** One file's bytes, checked against its entry's size and hash (not decoded). */
export async function loadFile(entry: FileEntry, options: AssetsOptions = {}): Promise<Uint8Array> {
  return verifyFile(entry, await readAsset(options.dir ?? PACKAGE_MODELS_DIR, entry.file, options.signal))
}

/**
 * One file's bytes checked against its entry's size, not its hash: for the blob store, whose put
 * checks the bytes against the manifest's content id (sha256 over chunks, native) — the same
 * assurance without a pure-JS keccak pass over megabytes at every fresh node start.
 */
export async function readFileForStore(entry: FileEntry, options: AssetsOptions = {}): Promise<Uint8Array> {
  return verifySize(entry, await readAsset(options.dir ?? PACKAGE_MODELS_DIR, entry.file, options.signal))
}

/** A base model's checked ONNX export; refused with FILE_MISSING when the manifest lists none. */
export async function loadOnnx(name: string, options: AssetsOptions & { manifest?: ModelsManifest } = {}): Promise<Uint8Array> {
  const manifest = options.manifest ?? (await readManifest(options))
  const entry = findModel(manifest, name)
  if (entry.onnx === undefined) throw new ModelAssetError('FILE_MISSING', `base model ${name} ships no ONNX export`, { details: { name } })
  return loadFile(entry.onnx, options)
}
