// openledger_* methods for datanets and blobs.
//
// Datanets (reads of the head state): getDatanet, listDatanets, getContribution,
// listContributions, listVersionContributions (a version's members by tree position, by the
// runtime's membership rule), getDatanetVersion, getContributionProof (inclusion in a version,
// plus the state key of the version record for state_getReadProof).
//
// Blobs, streamed in chunks over JSON-RPC (chunk bytes as base64, 256 KiB per chunk, so a call
// stays far below the 2 MiB request limit and works over HTTP and WebSocket alike):
//   beginBlobUpload(size)                             → { uploadId, chunkBytes, chunks }
//   uploadBlobChunk(uploadId, index, data)            → { received }          any order
//   finishBlobUpload(uploadId, cid?, format?, rows?)  → { cid, size }         checks cid / format
//   abortBlobUpload(uploadId)
//   getBlobInfo(cid)                                  → { size, chunks, chunkBytes, refs } | null
//   getBlobChunk(cid, index)                          → { size, index, data, siblings }
import { toHex } from '../../runtime/crypto/hash.ts'
import { OpenLedgerError } from '../../runtime/errors.ts'
import { toJsonOf } from '../../runtime/codec/schema.ts'
import { checkRows, type Contribution, CONTRIBUTION_STATUS_NAMES, contributionKind, contributionLeaf, contributions, type Datanet, datanetCount, datanetKind, datanets, type DatanetVersion, formatName, versionKind, versionLeaves, versions, versionTree, type VersionTree } from '../../runtime/modules/datanets/index.ts'
import { u32Key } from '../../runtime/storage.ts'
import { CHUNK_BYTES } from '../blobs/contentId.ts'
import type { BlobStore } from '../blobs/blobStore.ts'
import type { Chain } from '../chain/chain.ts'
import type { ContributionView, DatanetVersionView, DatanetView } from '../rpc/contract.ts'
import { defineMethod, invalidParam, param, type RpcMethod } from '../rpc/registry.ts'
import type { ApiComponents } from './context.ts'
import { listByIds, MAX_LIST } from './pagination.ts'

export type DatanetsApiErrorCode = 'BLOBS_DISABLED' | 'UNKNOWN_DATANET' | 'UNKNOWN_VERSION' | 'UNKNOWN_CONTRIBUTION' | 'NOT_IN_VERSION'
export class DatanetsApiError extends OpenLedgerError<DatanetsApiErrorCode> {}


const base64Chunk = param.string({ maxLength: Math.ceil(CHUNK_BYTES / 3) * 4 })

/** Canonical base64 only: decoding and re-encoding must give the same text (linear, unlike a regex). */
function fromBase64(value: string, path: string): Uint8Array {
  const buffer = Buffer.from(value, 'base64')
  if (buffer.toString('base64') !== value) throw invalidParam(path, 'expected canonical base64')
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
}

export function datanetToJson(datanet: Datanet): DatanetView {
  return { ...toJsonOf(datanetKind, datanet), visibility: datanet.visibility === 0 ? 'public' : 'private', formats: datanet.rules.formats.map((f) => formatName(f) ?? f) }
}

export function contributionToJson(contribution: Contribution): ContributionView {
  return { ...toJsonOf(contributionKind, contribution), status: CONTRIBUTION_STATUS_NAMES[contribution.status] ?? contribution.status, format: formatName(contribution.format) ?? contribution.format }
}

function versionToJson(version: DatanetVersion): DatanetVersionView {
  return { ...toJsonOf(versionKind, version), stateKey: toHex(versions.key({ datanet: version.datanet, version: version.version })) }
}

export function datanetsMethods({ chain, blobs }: ApiComponents): RpcMethod[] {
  const state = () => chain.state
  const store = (): BlobStore => {
    if (blobs === undefined) throw new DatanetsApiError('BLOBS_DISABLED', 'this node has no blob store')
    return blobs
  }
  const trees = new VersionTreeCache(chain)
  const id = param.uint({ max: 0xffffffff })
  return [
    defineMethod({
      name: 'openledger_getDatanet',
      params: [id.named('datanet')],
      handler: async ([datanet]) => {
        const record = await datanets.get(state(), datanet)
        return record === undefined ? null : datanetToJson(record)
      },
    }),
    defineMethod({
      name: 'openledger_listDatanets',
      params: [param.optional(id).named('start'), param.optional(param.uint({ max: MAX_LIST })).named('count')],
      async handler([start, count], { signal }) {
        const page = { first: 1, last: await datanetCount.get(state()), start, count, order: 'ascending', signal } as const
        return listByIds(page, async (i) => {
          const record = await datanets.get(state(), i)
          return record === undefined ? undefined : datanetToJson(record)
        })
      },
    }),
    defineMethod({
      name: 'openledger_getContribution',
      params: [id.named('datanet'), id.named('contribution')],
      async handler([datanet, index]) {
        const record = await contributions.get(state(), { datanet, index })
        return record === undefined ? null : contributionToJson(record)
      },
    }),
    defineMethod({
      name: 'openledger_listContributions',
      params: [id.named('datanet'), param.optional(id).named('start'), param.optional(param.uint({ max: MAX_LIST })).named('count')],
      async handler([datanet, start, count], { signal }) {
        const record = await datanets.get(state(), datanet)
        if (record === undefined) throw new DatanetsApiError('UNKNOWN_DATANET', `no datanet ${datanet}`)
        return listByIds({ first: 0, last: record.contributions - 1, start, count, order: 'ascending', signal }, async (index) => {
          const contribution = await contributions.get(state(), { datanet, index })
          return contribution === undefined ? undefined : contributionToJson(contribution)
        })
      },
    }),
    defineMethod({
      name: 'openledger_listVersionContributions',
      params: [id.named('datanet'), id.named('version'), param.optional(id).named('start'), param.optional(param.uint({ max: MAX_LIST })).named('count')],
      async handler([datanet, number, start, count], { signal }) {
        const version = await versions.get(state(), { datanet, version: number })
        if (version === undefined) throw new DatanetsApiError('UNKNOWN_VERSION', `datanet ${datanet} has no version ${number}`)
        // the members by tree position (the order a job reads its rows in); `start` counts members
        const { included } = await trees.get(version)
        const members = [...included.entries()].sort(([a], [b]) => a - b).map(([, index]) => index)
        return listByIds({ first: 0, last: members.length - 1, start, count, order: 'ascending', signal }, async (i) => {
          const contribution = await contributions.get(state(), { datanet, index: members[i] as number })
          return contribution === undefined ? undefined : contributionToJson(contribution)
        })
      },
    }),
    defineMethod({
      name: 'openledger_getDatanetVersion',
      params: [id.named('datanet'), param.optional(id).named('version')],
      async handler([datanet, number]) {
        const record = await datanets.get(state(), datanet)
        if (record === undefined) throw new DatanetsApiError('UNKNOWN_DATANET', `no datanet ${datanet}`)
        const version = await versions.get(state(), { datanet, version: number ?? record.versions })
        return version === undefined ? null : versionToJson(version)
      },
    }),
    defineMethod({
      name: 'openledger_getContributionProof',
      params: [id.named('datanet'), id.named('contribution'), param.optional(id).named('version')],
      async handler([datanet, index, number]) {
        const record = await datanets.get(state(), datanet)
        if (record === undefined) throw new DatanetsApiError('UNKNOWN_DATANET', `no datanet ${datanet}`)
        const version = await versions.get(state(), { datanet, version: number ?? record.versions })
        if (version === undefined) throw new DatanetsApiError('UNKNOWN_VERSION', `datanet ${datanet} has no version ${number ?? record.versions}`)
        const contribution = await contributions.get(state(), { datanet, index })
        if (contribution === undefined) throw new DatanetsApiError('UNKNOWN_CONTRIBUTION', `datanet ${datanet} has no contribution ${index}`)
        const tree = await trees.get(version)
        const position = contribution.position
        if (position === undefined || !tree.included.has(position) || tree.included.get(position) !== index) {
          throw new DatanetsApiError('NOT_IN_VERSION', `contribution ${index} is not in version ${version.version}`)
        }
        return {
          datanet, contribution: index, version: version.version, root: toHex(version.root), position, leaf: toHex(contributionLeaf(contribution)),
          siblings: tree.tree.proof(position).map(toHex), record: contributionToJson(contribution), versionStateKey: toHex(versions.key({ datanet, version: version.version })),
        }
      },
    }),
    defineMethod({
      name: 'openledger_beginBlobUpload',
      params: [param.uint().named('size')],
      handler: ([size], { client }) => store().beginUpload(size, client),
    }),
    defineMethod({
      name: 'openledger_uploadBlobChunk',
      params: [param.string({ maxLength: 64 }).named('uploadId'), param.uint().named('index'), base64Chunk.named('data')],
      handler: ([uploadId, index, data]) => store().uploadChunk(uploadId, index, fromBase64(data, 'data')),
    }),
    defineMethod({
      name: 'openledger_finishBlobUpload',
      params: [param.string({ maxLength: 64 }).named('uploadId'), param.optional(param.hash()).named('cid'), param.optional(param.uint({ max: 255 })).named('format'), param.optional(param.uint()).named('rows')],
      async handler([uploadId, cid, format, rows]) {
        const check = format === undefined ? undefined : (bytes: Uint8Array) => void checkRows(bytes, format, rows ?? 0)
        if (format !== undefined && rows === undefined) throw invalidParam('rows', 'required with format')
        const result = await store().finishUpload(uploadId, cid, check)
        return { cid: toHex(result.cid), size: result.size }
      },
    }),
    defineMethod({
      name: 'openledger_abortBlobUpload',
      params: [param.string({ maxLength: 64 }).named('uploadId')],
      handler: async ([uploadId]) => {
        await store().abortUpload(uploadId)
        return true
      },
    }),
    defineMethod({
      name: 'openledger_getBlobInfo',
      params: [param.hash().named('cid')],
      async handler([cid]) {
        const info = await store().info(cid)
        return info === undefined ? null : { cid: toHex(cid), size: info.size, chunks: info.chunks, chunkBytes: CHUNK_BYTES, refs: info.refs }
      },
    }),
    defineMethod({
      name: 'openledger_getBlobChunk',
      params: [param.hash().named('cid'), param.uint().named('index')],
      async handler([cid, index]) {
        const { size, chunk, siblings } = await store().readChunk(cid, index)
        return { size, index, data: Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('base64'), siblings: siblings.map(toHex) }
      },
    }),
  ]
}

/**
 * Version trees rebuilt from the contribution records (O(contributions)), kept for the last few
 * versions asked about: a published version never changes, so an entry never goes stale.
 */
class VersionTreeCache {
  readonly #chain: Chain
  readonly #entries = new Map<string, Promise<{ tree: VersionTree; included: Map<number, number> }>>()

  constructor(chain: Chain) {
    this.#chain = chain
  }

  get(version: DatanetVersion): Promise<{ tree: VersionTree; included: Map<number, number> }> {
    const key = `${version.datanet}/${version.version}`
    let entry = this.#entries.get(key)
    if (entry === undefined) {
      entry = this.#build(version)
      entry.catch(() => this.#entries.delete(key))
      this.#entries.set(key, entry)
      if (this.#entries.size > 8) this.#entries.delete(this.#entries.keys().next().value as string)
    }
    return entry
  }

  async #build(version: DatanetVersion) {
    const all: Contribution[] = []
    const prefix = new Uint8Array([...contributions.prefix, ...u32Key(version.datanet)])
    for await (const [, value] of this.#chain.state.entries(prefix)) all.push(contributions.decodeValue(value))
    const leaves = versionLeaves(all, version)
    const included = new Map<number, number>()
    for (const c of all) if (c.position !== undefined && leaves[c.position] !== undefined) included.set(c.position, c.index)
    return { tree: versionTree(leaves), included }
  }
}
