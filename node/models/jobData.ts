// The rows a training job learns from, gathered exactly as every validator gathers them: for each
// datanet version the job names (in the job's order), the contributions in that version sorted
// by tree position, each blob fetched (from the local store or from peers, every chunk checked
// against its content id) and parsed with the datanets module's own format parser. The version
// root recorded in the job is checked against the version on chain, so a job can never train on
// rows other than those its lineage names.
import { bytesEqual } from '../../runtime/codec/canonical.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import { OpenLedgerError } from '../../runtime/errors.ts'
import { type Contribution, contributions, inVersion, parseRows, type Row, versions } from '../../runtime/modules/datanets/index.ts'
import { u32Key } from '../../runtime/storage.ts'
import type { StateReader } from '../../runtime/state/overlay.ts'
import type { BlobFetcher } from '../blobs/blobExchange.ts'
import type { BlobStore } from '../blobs/blobStore.ts'

export type JobDataErrorCode = 'UNKNOWN_DATANET_VERSION' | 'VERSION_ROOT_MISMATCH' | 'DATA_UNAVAILABLE' | 'INVALID_DATA'
export class JobDataError extends OpenLedgerError<JobDataErrorCode> {}

export interface DatanetVersionRef {
  readonly datanet: number
  readonly version: number
  /** the version root the job recorded */
  readonly root: Uint8Array
}

export interface JobRows {
  /** every row, in the job's canonical order */
  readonly rows: Row[]
  /** bytes read */
  readonly bytes: number
  readonly contributions: number
}

export interface JobDataSources {
  readonly state: StateReader & { entries(prefix: Uint8Array): AsyncIterable<[Uint8Array, Uint8Array]> }
  readonly store: BlobStore
  readonly fetcher?: BlobFetcher | undefined
  readonly signal?: AbortSignal | undefined
  /** the blob-store pin owner for the job's inputs (kept while the job runs) */
  readonly pinOwner?: string
}

/** The contributions of one published version, by tree position. */
export async function versionContributions(state: JobDataSources['state'], ref: DatanetVersionRef): Promise<Contribution[]> {
  const version = await versions.get(state, { datanet: ref.datanet, version: ref.version })
  if (version === undefined) throw new JobDataError('UNKNOWN_DATANET_VERSION', `datanet ${ref.datanet} has no version ${ref.version}`)
  if (!bytesEqual(version.root, ref.root)) {
    throw new JobDataError('VERSION_ROOT_MISMATCH', `version ${ref.version} of datanet ${ref.datanet} has root ${toHex(version.root)}, the job names ${toHex(ref.root)}`)
  }
  const prefix = new Uint8Array([...contributions.prefix, ...u32Key(ref.datanet)])
  const included: Contribution[] = []
  for await (const [, value] of state.entries(prefix)) {
    const contribution = contributions.decodeValue(value)
    if (inVersion(contribution, version)) included.push(contribution)
  }
  return included.sort((a, b) => (a.position as number) - (b.position as number))
}

/** Fetches, checks and parses every row of the job's datanet versions. */
export async function loadJobRows(sources: JobDataSources, refs: readonly DatanetVersionRef[]): Promise<JobRows> {
  const rows: Row[] = []
  let bytes = 0
  let count = 0
  for (const ref of refs) {
    for (const contribution of await versionContributions(sources.state, ref)) {
      const { cid } = contribution
      if (!(await sources.store.has(cid))) {
        if (sources.fetcher === undefined) throw new JobDataError('DATA_UNAVAILABLE', `blob ${toHex(cid)} is not stored here and the node has no network`)
        try {
          await sources.fetcher.fetch(cid, sources.signal === undefined ? {} : { signal: sources.signal })
        } catch (cause) {
          throw new JobDataError('DATA_UNAVAILABLE', `could not fetch blob ${toHex(cid)} of datanet ${ref.datanet}`, { cause })
        }
      }
      if (sources.pinOwner !== undefined) await sources.store.pin(cid, sources.pinOwner)
      const data = await sources.store.read(cid)
      try {
        rows.push(...parseRows(data, contribution.format))
      } catch (cause) {
        throw new JobDataError('INVALID_DATA', `contribution ${ref.datanet}/${contribution.index} does not parse as its format`, { cause })
      }
      bytes += data.length
      count++
    }
  }
  return { rows, bytes, contributions: count }
}
