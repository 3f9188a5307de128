// Where the serving process gets its models: the chain says what exists (base models, published
// model versions with their adapter's content id and weights hash), the blob store holds the bytes.
//
//   ChainModels        the chain reads serving needs, over the node's JSON-RPC (RpcChainModels):
//                      metadata only, a few hundred bytes per call
//   BlobReader         an artifact's bytes by content id, tried in order:
//                        home  <home>/blobs/ab/abcd… read directly when the serving process shares
//                              the node's home (in `start --serve`, or `serve --home`): one file read,
//                              no copy through the node (the store renames a blob into place only
//                              once its content id matched, so a present file is whole);
//                        rpc   chunked JSON-RPC download (`openledger_getBlobChunk`, base64, every
//                              chunk checked against the content id): works from any machine, costs
//                              JSON + base64 (5–12 MB/s measured for blobs: ~10–50 ms per adapter
//                              of ≤ 256 KiB, about a second for a 10 MB base model)
//   BaseModelSource    registered base models → checked weights + tokenizer (node/models'
//                      resolver: the shipped files when the weights hash is theirs, else the artifact)
//   ChainAdapterSource `<base>:<model version id>` → AdapterWeights: the version read from the chain,
//                      its adapter's bytes from a BlobReader, keccak256 checked against the version's
//                      weights hash (ADAPTER_HASH_MISMATCH otherwise), decoded with adapterShapes
//                      (the canonical tensor file the training worker writes: ml/model/params.ts)
//
// Published versions never change, so what was read of them is cached for good (bounded); a version
// unknown yet (published after the last refresh) is looked up by id on demand.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { adapterShapes, type ModelConfig } from '../../ml/model/config.ts'
import { decodeTensors } from '../../ml/model/params.ts'
import type { Tokenizer } from '../../ml/tokenizer.ts'
import { bytesEqual } from '../../runtime/codec/canonical.ts'
import { keccak256, toHex } from '../../runtime/crypto/hash.ts'
import { baseModelKind, type BaseModel as BaseModelRecord, type ModelVersion, modelVersionKind, parseArchitecture } from '../../runtime/modules/models/index.ts'
import { downloadBlob } from '../blobs/blobClient.ts'
import type { Logger } from '../../lib/logger.ts'
import { BaseModelResolver } from '../models/baseModels.ts'
import type { AssetsOptions } from '../models/assets.ts'
import { RpcClientError, type RpcClient } from '../rpc/client.ts'
import type { BaseModelView, ModelVersionView, RpcMethodName, RpcParamsOf, RpcResult } from '../rpc/contract.ts'
import { ServingError } from './errors.ts'
import type { AdapterSource, AdapterWeights, BaseModel } from './types.ts'

/** the chain reads the serving process needs */
export interface ChainModels {
  baseModels(signal?: AbortSignal): Promise<BaseModelRecord[]>
  modelVersion(id: number, signal?: AbortSignal): Promise<ModelVersion | undefined>
  /** published versions with an id above `after`, ascending */
  modelVersionsAfter(after: number, signal?: AbortSignal): Promise<ModelVersion[]>
}

/** RPC pages (the node's MAX_LIST) */
const PAGE = 100

// the views are checked again by the runtime's schemas: a node's JSON is input like any other
function versionFromJson(json: ModelVersionView): ModelVersion {
  const { lineage: _lineage, evaluation: _evaluation, ...fields } = json
  return modelVersionKind.fromJson(fields, 'modelVersion')
}

function baseFromJson(json: BaseModelView): BaseModelRecord {
  const { config: _config, kind, ...fields } = json
  return baseModelKind.fromJson({ ...fields, kind: kind === 'classifier' ? 1 : 0 }, 'baseModel')
}

/** ChainModels over the node's JSON-RPC (node/api/modelsApi.ts). */
export class RpcChainModels implements ChainModels {
  readonly #client: RpcClient
  constructor(client: RpcClient) {
    this.#client = client
  }

  async baseModels(signal?: AbortSignal): Promise<BaseModelRecord[]> {
    const out: BaseModelRecord[] = []
    for (let start = 1; ; start += PAGE) {
      const page = await this.#call('openledger_listBaseModels', [start, PAGE], signal)
      out.push(...page.map(baseFromJson))
      if (page.length < PAGE) return out
    }
  }

  async modelVersion(id: number, signal?: AbortSignal): Promise<ModelVersion | undefined> {
    const json = await this.#call('openledger_getModelVersion', [id], signal)
    return json === null ? undefined : versionFromJson(json)
  }

  async modelVersionsAfter(after: number, signal?: AbortSignal): Promise<ModelVersion[]> {
    const out: ModelVersion[] = []
    let start: number | null = null // newest first
    for (;;) {
      const page: ModelVersion[] = (await this.#call('openledger_listModelVersions', [start, PAGE], signal)).map(versionFromJson)
      for (const version of page) {
        if (version.id <= after) return out.reverse()
        out.push(version)
      }
      const last = page.at(-1)
      if (page.length < PAGE || last === undefined || last.id <= 1) return out.reverse()
      start = last.id - 1
    }
  }

  async #call<M extends RpcMethodName>(method: M, params: RpcParamsOf<M>, signal: AbortSignal | undefined): Promise<RpcResult<M>> {
    try {
      return await this.#client.call(method, params, signal === undefined ? {} : { signal })
    } catch (cause) {
      throw new ServingError('ADAPTER_UNAVAILABLE', `the chain's RPC did not answer ${method}`, { cause, details: { url: this.#client.url } })
    }
  }
}

export type BlobVia = 'home' | 'rpc'

/** An artifact's bytes by content id; undefined when this reader does not have it. */
export interface BlobReader {
  readonly via: BlobVia
  read(cid: Uint8Array, signal?: AbortSignal): Promise<Uint8Array | undefined>
}

/** The node's blob files under `<home>/blobs`, read directly (the node's layout: ab/abcd…). */
export function homeBlobReader(blobsDir: string): BlobReader {
  return {
    via: 'home',
    async read(cid, signal) {
      const hex = toHex(cid).slice(2)
      try {
        const bytes = await readFile(join(blobsDir, hex.slice(0, 2), hex), signal === undefined ? {} : { signal })
        return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
        throw error
      }
    },
  }
}

/** Chunked JSON-RPC download from the node, every chunk checked against the content id. */
export function rpcBlobReader(client: RpcClient): BlobReader {
  return {
    via: 'rpc',
    async read(cid) {
      try {
        return await downloadBlob(client, toHex(cid))
      } catch (error) {
        if (error instanceof RpcClientError && error.code === 'UNKNOWN_BLOB') return undefined
        throw error
      }
    },
  }
}

/** what a read cost: where it came from, its size and seconds */
export type ReadObserver = (via: BlobVia, bytes: number, seconds: number) => void

async function readBlob(readers: readonly BlobReader[], cid: Uint8Array, what: string, signal: AbortSignal | undefined, observe: ReadObserver | undefined): Promise<Uint8Array> {
  const problems: unknown[] = []
  for (const reader of readers) {
    const started = performance.now()
    try {
      const bytes = await reader.read(cid, signal)
      if (bytes === undefined) continue
      observe?.(reader.via, bytes.length, (performance.now() - started) / 1000)
      return bytes
    } catch (error) {
      signal?.throwIfAborted()
      problems.push(error)
    }
  }
  throw new ServingError('ADAPTER_UNAVAILABLE', `${what} (${toHex(cid)}) could not be read from ${readers.map((r) => r.via).join(' or ')}`, { cause: problems[0], details: { cid: toHex(cid) } })
}

export interface ServedBase {
  readonly id: number
  readonly name: string
  readonly kind: 'lm' | 'classifier'
  readonly config: ModelConfig
  readonly record: BaseModelRecord
}

export interface LoadedBase extends BaseModel {
  readonly tokenizer: Tokenizer
}

export interface ModelSourcesComponents {
  readonly chain: ChainModels
  readonly readers: readonly BlobReader[]
  readonly logger: Logger
  readonly assets?: AssetsOptions
  readonly observeRead?: ReadObserver
}

/** the published versions kept in memory (a record is ~1 KiB) */
const MAX_CACHED_VERSIONS = 100_000

/**
 * The chain's base models and published adapters as the serving process sees them, and the loader
 * of their bytes: BaseModelSource and AdapterSource in one, since both read the same chain.
 */
export class ModelSources implements AdapterSource {
  readonly #c: ModelSourcesComponents
  readonly #resolver: BaseModelResolver
  #bases = new Map<string, ServedBase>()
  readonly #versions = new Map<number, ModelVersion>()
  #newestVersion = 0
  #refreshing: Promise<void> | undefined

  constructor(components: ModelSourcesComponents) {
    this.#c = components
    this.#resolver = new BaseModelResolver({
      read: (cid, signal) => readBlob(components.readers, cid, 'base model weights', signal, components.observeRead),
      ...(components.assets === undefined ? {} : { assets: components.assets }),
    })
  }

  /** Reads the base models and the versions published since the last refresh (concurrent calls share one). */
  refresh(signal?: AbortSignal): Promise<void> {
    this.#refreshing ??= this.#refresh(signal).finally(() => (this.#refreshing = undefined))
    return this.#refreshing
  }

  async #refresh(signal: AbortSignal | undefined): Promise<void> {
    const bases = new Map<string, ServedBase>()
    for (const record of await this.#c.chain.baseModels(signal)) {
      const parsed = parseArchitecture(record.architecture, record.kind)
      if (parsed.config === undefined) {
        this.#c.logger.warn('base model with an invalid architecture skipped', { id: record.id, problem: parsed.problem })
        continue
      }
      // names are not unique on chain: the first registration keeps the name
      if (!bases.has(record.name)) bases.set(record.name, { id: record.id, name: record.name, kind: parsed.config.kind, config: parsed.config, record })
    }
    this.#bases = bases
    for (const version of await this.#c.chain.modelVersionsAfter(this.#newestVersion, signal)) this.#remember(version)
  }

  #remember(version: ModelVersion): void {
    if (this.#versions.size >= MAX_CACHED_VERSIONS) this.#versions.delete(this.#versions.keys().next().value as number)
    this.#versions.set(version.id, version)
    if (version.id > this.#newestVersion) this.#newestVersion = version.id
  }

  base(name: string): ServedBase | undefined {
    return this.#bases.get(name)
  }

  bases(): ServedBase[] {
    return [...this.#bases.values()]
  }

  /** published versions known since the last refresh, ascending, with the name of their base */
  adapters(): Array<{ base: string; version: ModelVersion }> {
    const nameOf = new Map([...this.#bases.values()].map((b) => [b.id, b.name]))
    const out: Array<{ base: string; version: ModelVersion }> = []
    for (const version of [...this.#versions.values()].sort((a, b) => a.id - b.id)) {
      const base = nameOf.get(version.base)
      if (base !== undefined) out.push({ base, version })
    }
    return out
  }

  /** A base model's checked weights and tokenizer (MODEL_NOT_FOUND when the chain has none by that name). */
  async loadBase(name: string, signal?: AbortSignal): Promise<LoadedBase> {
    const base = this.#bases.get(name)
    if (base === undefined) throw new ServingError('MODEL_NOT_FOUND', `no base model named ${name} is registered on chain`, { details: { model: name } })
    const resolved = await this.#resolver.resolve(base.record, signal)
    return { name, config: resolved.config, weights: resolved.weights, tokenizer: resolved.tokenizer }
  }

  /** The published version `id` of base `base`, or ADAPTER_NOT_FOUND. */
  async version(base: string, id: string, signal?: AbortSignal): Promise<{ served: ServedBase; version: ModelVersion }> {
    const served = this.#bases.get(base)
    if (served === undefined) throw new ServingError('MODEL_NOT_FOUND', `no base model named ${base} is registered on chain`, { details: { model: base } })
    const notFound = () => new ServingError('ADAPTER_NOT_FOUND', `${base}:${id} is not a published adapter of ${base}`, { details: { model: `${base}:${id}` } })
    if (!/^[1-9][0-9]{0,14}$/.test(id)) throw notFound()
    const number = Number(id)
    let version = this.#versions.get(number)
    if (version === undefined) {
      version = await this.#c.chain.modelVersion(number, signal)
      if (version !== undefined) this.#remember(version)
    }
    if (version?.base !== served.id) throw notFound()
    return { served, version }
  }

  async fetch(base: string, id: string, signal?: AbortSignal): Promise<AdapterWeights> {
    const { served, version } = await this.version(base, id, signal)
    const bytes = await readBlob(this.#c.readers, version.adapter, `adapter ${base}:${id}`, signal, this.#c.observeRead)
    return adapterWeights(bytes, version, served.config, base, id)
  }
}

/**
 * A published version's adapter from its artifact's bytes: keccak256 checked against the version's
 * weights hash (the canonical tensor file the quorum attested; ADAPTER_HASH_MISMATCH otherwise),
 * decoded with adapterShapes of the base's config (ADAPTER_INVALID otherwise). The serving engine
 * and the validators' re-checks load adapters through this one function.
 */
export function adapterWeights(bytes: Uint8Array, version: ModelVersion, config: ModelConfig, base: string, id: string): AdapterWeights {
  if (!bytesEqual(keccak256(bytes), version.weightsHash)) {
    throw new ServingError('ADAPTER_HASH_MISMATCH', `adapter ${base}:${id}'s bytes do not hash to its weights hash on chain`, { details: { model: `${base}:${id}`, cid: toHex(version.adapter), weightsHash: toHex(version.weightsHash) } })
  }
  const lora = { rank: version.hyper.rank, alpha: version.hyper.alpha }
  let tensors: Map<string, Float32Array>
  try {
    tensors = decodeTensors(bytes, adapterShapes(config, lora))
  } catch (cause) {
    throw new ServingError('ADAPTER_INVALID', `adapter ${base}:${id} is not an adapter of ${base}'s shape`, { cause, details: { model: `${base}:${id}` } })
  }
  let total = 0
  for (const tensor of tensors.values()) total += tensor.byteLength
  return { base, id, rank: lora.rank, alpha: lora.alpha, tensors, bytes: total }
}
