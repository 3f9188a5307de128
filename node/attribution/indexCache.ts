// Span indexes of published datanet versions (attribution/spanIndex.ts), built on first use from
// the version's contributions (their blobs from the local store or peers, checked against their
// content ids, parsed with the datanets format parser, each contribution's rows tokenized and
// joined as training joins them: ml/data/datanetRows.ts) and kept on disk, one file per version
// and tokenizer: <dir>/<datanet>-<version>-<tokenizer hash>.olsx, written to a temporary file and
// renamed, so a file present is whole. A loaded index costs its size (SpanIndex.decode reads the
// packed bytes in place); at most `maxLoaded` stay in memory, least recently used dropped.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { SpanIndex, type ContributionTokens } from '../../attribution/spanIndex.ts'
import { rowsToTokenStream } from '../../ml/data/datanetRows.ts'
import type { Tokenizer } from '../../ml/tokenizer.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import { parseRows, type Row, versions } from '../../runtime/modules/datanets/index.ts'
import { JobDataError, versionContributions, type JobDataSources } from '../models/jobData.ts'

export interface IndexCacheOptions {
  readonly dir: string
  readonly sources: Omit<JobDataSources, 'pinOwner'>
  /** indexes kept decoded in memory */
  readonly maxLoaded?: number
}

export class SpanIndexCache {
  readonly #options: IndexCacheOptions
  readonly #loaded = new Map<string, SpanIndex>()
  readonly #building = new Map<string, Promise<SpanIndex>>()
  /** indexes built here (not found on disk), for tests and metrics */
  built = 0

  constructor(options: IndexCacheOptions) {
    this.#options = options
  }

  /** The index of `datanet` version `version` for this tokenizer (its hash names the file). */
  async get(datanet: number, version: number, tokenizer: Tokenizer, tokenizerHash: Uint8Array): Promise<SpanIndex> {
    const name = `${datanet}-${version}-${toHex(tokenizerHash).slice(2, 18)}.olsx`
    const cached = this.#loaded.get(name)
    if (cached !== undefined) {
      this.#loaded.delete(name)
      this.#loaded.set(name, cached)
      return cached
    }
    const pending = this.#building.get(name) ?? this.#load(name, datanet, version, tokenizer)
    this.#building.set(name, pending)
    try {
      const index = await pending
      this.#loaded.set(name, index)
      const max = this.#options.maxLoaded ?? 8
      for (const key of this.#loaded.keys()) {
        if (this.#loaded.size <= max) break
        this.#loaded.delete(key)
      }
      return index
    } finally {
      this.#building.delete(name)
    }
  }

  async #load(name: string, datanet: number, version: number, tokenizer: Tokenizer): Promise<SpanIndex> {
    const path = join(this.#options.dir, name)
    const bytes = await readFile(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined
      throw error
    })
    if (bytes !== undefined) return SpanIndex.decode(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength))
    const index = await this.#build(datanet, version, tokenizer)
    await mkdir(this.#options.dir, { recursive: true })
    const tmp = `${path}.tmp`
    await writeFile(tmp, index.bytes, { flush: true })
    await rename(tmp, path)
    this.built++
    return index
  }

  async #build(datanet: number, version: number, tokenizer: Tokenizer): Promise<SpanIndex> {
    const contributions: ContributionTokens[] = []
    for (const { index, rows } of await versionRows(this.#options.sources, datanet, version)) contributions.push({ id: index, tokens: rowsToTokenStream(rows, tokenizer) })
    return SpanIndex.build(contributions, tokenizer.vocabSize)
  }
}

/** The rows of each contribution of a published version, in version order (blobs from the store or peers, parsed by their format). */
export async function versionRows(sources: Omit<JobDataSources, 'pinOwner'>, datanet: number, version: number): Promise<Array<{ index: number; rows: Row[] }>> {
  const { state, store, fetcher, signal } = sources
  const published = await versions.get(state, { datanet, version })
  if (published === undefined) throw new JobDataError('UNKNOWN_DATANET_VERSION', `datanet ${datanet} has no version ${version}`)
  const out: Array<{ index: number; rows: Row[] }> = []
  for (const contribution of await versionContributions(state, { datanet, version, root: published.root })) {
    const { cid } = contribution
    if (!(await store.has(cid))) {
      if (fetcher === undefined) throw new JobDataError('DATA_UNAVAILABLE', `blob ${toHex(cid)} is not stored here and the node has no network`)
      await fetcher.fetch(cid, signal === undefined ? {} : { signal })
    }
    try {
      out.push({ index: contribution.index, rows: parseRows(await store.read(cid), contribution.format) })
    } catch (cause) {
      throw new JobDataError('INVALID_DATA', `contribution ${datanet}/${contribution.index} does not parse as its format`, { cause })
    }
  }
  return out
}
