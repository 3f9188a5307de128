// Base models as a node holds them: the project's shipped assets (assets/models) turned into
// genesis registrations (from the manifest alone) and published into the blob store so peers and
// wallets can download them by content id (a file is read and hash-checked only when the store
// does not hold it yet); and the resolver the training workers use to get a registered base
// model's weights and tokenizer — from the shipped assets when the weights hash matches, else
// from its artifact blob (local or fetched from peers, every chunk checked, then the weights hash).
import { ModelAssetError, type BlobFileEntry, type ModelsManifest } from '../../ml/data/assets.ts'
import { paramShapes, type ModelConfig } from '../../ml/model/config.ts'
import { decodeTensors, tensorsHash } from '../../ml/model/params.ts'
import type { Tokenizer } from '../../ml/tokenizer.ts'
import { ENGINE_VERSION } from '../../ml/index.ts'
import { bytesEqual } from '../../runtime/codec/canonical.ts'
import { fromHex, toHex } from '../../runtime/crypto/hash.ts'
import { OpenLedgerError } from '../../runtime/errors.ts'
import { BaseModelKind, canonicalArchitecture, parseArchitecture, type BaseModel, type GenesisBaseModel } from '../../runtime/modules/models/index.ts'
import type { BlobFetcher } from '../blobs/blobExchange.ts'
import { BlobError, type BlobStore } from '../blobs/blobStore.ts'
import { loadBaseModel, loadTokenizer, readFileForStore, readManifest, type AssetsOptions } from './assets.ts'

export type BaseModelErrorCode = 'INVALID_ARCHITECTURE' | 'UNSUPPORTED_TOKENIZER' | 'UNSUPPORTED_ENGINE' | 'ARTIFACT_UNAVAILABLE' | 'WEIGHTS_MISMATCH'
export class BaseModelError extends OpenLedgerError<BaseModelErrorCode> {}

/** The manifest, or undefined when this package ships no models (a checkout before they were built). */
export async function shippedManifest(options: AssetsOptions = {}): Promise<ModelsManifest | undefined> {
  try {
    return await readManifest(options)
  } catch (error) {
    if (error instanceof ModelAssetError && error.code === 'FILE_MISSING') return undefined
    throw error
  }
}

function hashFromHex(hex: string): Uint8Array {
  const bytes = fromHex(hex)
  if (bytes?.length !== 32) throw new ModelAssetError('INVALID_MANIFEST', `not a 32-byte hex hash: ${hex}`)
  return bytes
}

/**
 * The shipped base models as genesis registrations (ids from 1 in manifest order), from the
 * manifest's hashes and content ids alone: no model file is read (a changed file is refused where
 * it is loaded: publishing, the resolver).
 */
export async function shippedBaseModels(options: AssetsOptions = {}): Promise<GenesisBaseModel[]> {
  const manifest = await shippedManifest(options)
  if (manifest === undefined) return []
  return manifest.models.map((entry) => ({
    name: entry.name,
    kind: entry.kind === 'lm' ? BaseModelKind.lm : BaseModelKind.classifier,
    architecture: canonicalArchitecture(entry.config),
    artifact: hashFromHex(entry.weights.cid),
    weightsHash: hashFromHex(entry.weights.hash),
    onnx: entry.onnx === undefined ? new Uint8Array(32) : hashFromHex(entry.onnx.cid),
    tokenizer: manifest.tokenizer.name,
    tokenizerHash: hashFromHex(manifest.tokenizer.hash),
    // the engine that trains and verifies adapters on it (the base weights themselves are data)
    engineVersion: ENGINE_VERSION,
  }))
}

/**
 * Puts the shipped weights and ONNX files into the blob store, pinned as base-model/<name>, so peers
 * can fetch them; returns how many files. A file the store already holds under the manifest's
 * content id is only pinned, unread (every start after the first); any other is read, checked
 * against the manifest's size, and stored under the manifest's content id, which authenticates its
 * bytes — refused with ModelAssetError CID_MISMATCH when they have another.
 */
export async function publishShippedModels(store: BlobStore, options: AssetsOptions = {}): Promise<number> {
  const manifest = await shippedManifest(options)
  if (manifest === undefined) return 0
  let count = 0
  for (const model of manifest.models) {
    const owner = `base-model/${model.name}`
    for (const entry of model.onnx === undefined ? [model.weights] : [model.weights, model.onnx]) {
      const cid = hashFromHex(entry.cid)
      // pin is false for a blob the store does not hold (the check and the pin under one index lock)
      if (!(await store.pin(cid, owner))) {
        await putShippedFile(store, entry, cid, options)
        await store.pin(cid, owner)
      }
      count++
    }
  }
  return count
}

async function putShippedFile(store: BlobStore, entry: BlobFileEntry, cid: Uint8Array, options: AssetsOptions): Promise<void> {
  const bytes = await readFileForStore(entry, options)
  try {
    await store.put(bytes, cid)
  } catch (cause) {
    if (!(cause instanceof BlobError && cause.code === 'CID_MISMATCH')) throw cause
    throw new ModelAssetError('CID_MISMATCH', `${entry.file} does not have the content id the manifest names`, { cause, details: { file: entry.file, cid: cause.details?.['cid'], expected: entry.cid } })
  }
}

export interface ResolvedBaseModel {
  readonly config: ModelConfig
  readonly weights: Map<string, Float32Array>
  readonly tokenizer: Tokenizer
}

export interface BaseModelSources {
  /** the node's blob store: the artifact is fetched into it (when a fetcher is given) and pinned */
  readonly store?: BlobStore
  readonly fetcher?: BlobFetcher | undefined
  /**
   * Without the node's store (a serving process): the artifact's bytes by content id, however the
   * caller gets them (node/serving/sources.ts); checked here against the weights hash all the same.
   */
  readonly read?: (cid: Uint8Array, signal: AbortSignal | undefined) => Promise<Uint8Array>
  readonly assets?: AssetsOptions
}

/** Resolves registered base models to checked weights; caches the last few. */
export class BaseModelResolver {
  readonly #sources: BaseModelSources
  readonly #cache = new Map<string, Promise<ResolvedBaseModel>>()
  #manifest: Promise<ModelsManifest | undefined> | undefined

  constructor(sources: BaseModelSources) {
    this.#sources = sources
  }

  resolve(base: BaseModel, signal?: AbortSignal): Promise<ResolvedBaseModel> {
    const key = toHex(base.weightsHash)
    let entry = this.#cache.get(key)
    if (entry === undefined) {
      entry = this.#load(base, signal)
      entry.catch(() => this.#cache.delete(key))
      this.#cache.set(key, entry)
      if (this.#cache.size > 4) this.#cache.delete(this.#cache.keys().next().value as string)
    }
    return entry
  }

  async #load(base: BaseModel, signal: AbortSignal | undefined): Promise<ResolvedBaseModel> {
    const check = parseArchitecture(base.architecture, base.kind)
    if (check.config === undefined) throw new BaseModelError('INVALID_ARCHITECTURE', `base model ${base.id}: ${check.problem}`)
    if (base.engineVersion !== ENGINE_VERSION) {
      throw new BaseModelError('UNSUPPORTED_ENGINE', `base model ${base.id} needs engine ${base.engineVersion}; this node runs ${ENGINE_VERSION}`)
    }
    const config = check.config
    this.#manifest ??= shippedManifest(this.#sources.assets)
    const manifest = await this.#manifest
    if (manifest === undefined || manifest.tokenizer.hash !== toHex(base.tokenizerHash)) {
      throw new BaseModelError('UNSUPPORTED_TOKENIZER', `base model ${base.id} uses tokenizer ${base.tokenizer} (${toHex(base.tokenizerHash)}), which this node does not ship`)
    }
    const tokenizer = await loadTokenizer(manifest, this.#sources.assets)
    const shipped = manifest.models.find((m) => m.weights.hash === toHex(base.weightsHash))
    if (shipped !== undefined) {
      const model = await loadBaseModel(shipped.name, { ...this.#sources.assets, manifest })
      return { config, weights: model.weights, tokenizer }
    }
    const shapes = paramShapes(config)
    const weights = decodeTensors(await this.#artifact(base, signal), shapes)
    if (!bytesEqual(tensorsHash(shapes, weights), base.weightsHash)) throw new BaseModelError('WEIGHTS_MISMATCH', `base model ${base.id}'s artifact does not hash to its registered weights hash`)
    return { config, weights, tokenizer }
  }

  async #artifact(base: BaseModel, signal: AbortSignal | undefined): Promise<Uint8Array> {
    const { store, fetcher, read } = this.#sources
    if (store === undefined) {
      if (read === undefined) throw new BaseModelError('ARTIFACT_UNAVAILABLE', `base model ${base.id}'s weights are not shipped and no blob source was given`)
      try {
        return await read(base.artifact, signal)
      } catch (cause) {
        throw new BaseModelError('ARTIFACT_UNAVAILABLE', `could not read base model ${base.id}'s weights`, { cause })
      }
    }
    if (!(await store.has(base.artifact))) {
      if (fetcher === undefined) throw new BaseModelError('ARTIFACT_UNAVAILABLE', `base model ${base.id}'s weights are not stored here and the node has no network`)
      try {
        await fetcher.fetch(base.artifact, signal === undefined ? {} : { signal })
      } catch (cause) {
        throw new BaseModelError('ARTIFACT_UNAVAILABLE', `could not fetch base model ${base.id}'s weights`, { cause })
      }
    }
    await store.pin(base.artifact, `base-model/${base.id}`)
    return store.read(base.artifact)
  }
}
