// Blobs over the p2p network: the `/openledger/blob/1` request/response protocol and a fetcher
// that downloads a blob from peers, verifying every chunk on its own before it is written.
//
//   request:  [cid, fromChunk, count]               count in [1, MAX_CHUNKS_PER_REQUEST]
//   response: [size, [[chunk, siblings[]], …]]      chunks fromChunk.. (fewer at the blob's end)
//
// A peer that does not hold the blob answers RESOURCE_UNAVAILABLE; one that serves a chunk that
// does not verify against the content id is penalized (`invalidBlock`) and the fetcher moves on
// to the next peer, resuming at the first chunk it still lacks.
import { decode, encode } from '../../runtime/codec/canonical.ts'
import { readArray, readBytes, readUint } from '../../runtime/codec/read.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import { OpenLedgerError } from '../../runtime/errors.ts'
import { P2pError } from '../../p2p/errors.ts'
import { PenaltyReason, ReqRespProtocol, type NetworkPort } from '../../p2p/interface.ts'
import type { Logger } from '../../lib/logger.ts'
import type { BlobStore } from './blobStore.ts'
import { chunkCount, verifyChunk } from './contentId.ts'

/** 16 chunks of 256 KiB: 4 MiB per response, under the protocol's 16 MiB limit */
export const MAX_CHUNKS_PER_REQUEST = 16
const MAX_SIBLINGS = 64

export function serveBlobs(network: NetworkPort, store: BlobStore): void {
  network.handle(ReqRespProtocol.blob, async (request) => {
    let cid: Uint8Array
    let from: number
    let count: number
    try {
      const [a, b, c] = readArray(decode(request, 128), 'request', 3)
      cid = readBytes(a ?? null, 'cid', 32)
      from = readUint(b ?? null, 'from')
      count = readUint(c ?? null, 'count', MAX_CHUNKS_PER_REQUEST)
    } catch (cause) {
      throw new P2pError('INVALID_REQUEST', 'malformed blob request', { cause })
    }
    if (count < 1) throw new P2pError('INVALID_REQUEST', 'blob request: count ≥ 1')
    const info = await store.info(cid)
    if (info === undefined) throw new P2pError('RESOURCE_UNAVAILABLE', 'blob not held here')
    if (from >= info.chunks) throw new P2pError('INVALID_REQUEST', `blob has ${info.chunks} chunks`)
    const chunks: Array<[Uint8Array, Uint8Array[]]> = []
    for (let index = from; index < Math.min(info.chunks, from + count); index++) {
      const { chunk, siblings } = await store.readChunk(cid, index)
      chunks.push([chunk, siblings])
    }
    return encode([info.size, chunks])
  })
}

export type FetchErrorCode = 'BLOB_NOT_FOUND'
export class BlobFetchError extends OpenLedgerError<FetchErrorCode> {}

export interface BlobFetcherComponents {
  network: NetworkPort
  store: BlobStore
  logger: Logger
}

export class BlobFetcher {
  readonly #network: NetworkPort
  readonly #store: BlobStore
  readonly #log: Logger
  /** one download per content id at a time */
  readonly #inFlight = new Map<string, Promise<void>>()

  constructor(components: BlobFetcherComponents) {
    this.#network = components.network
    this.#store = components.store
    this.#log = components.logger
  }

  /** Makes sure the blob is in the local store: fetched from peers and verified if it is not. */
  async fetch(cid: Uint8Array, options: { signal?: AbortSignal; peers?: string[] } = {}): Promise<void> {
    if (await this.#store.has(cid)) return
    const key = toHex(cid)
    const running = this.#inFlight.get(key)
    if (running !== undefined) return running
    const download = this.#download(cid, options).finally(() => this.#inFlight.delete(key))
    this.#inFlight.set(key, download)
    return download
  }

  async #download(cid: Uint8Array, options: { signal?: AbortSignal; peers?: string[] }): Promise<void> {
    const peers = options.peers ?? this.#network.peers().map((p) => p.id)
    let upload: { id: string; size: number; next: number } | undefined
    try {
      for (const peer of peers) {
        options.signal?.throwIfAborted()
        try {
          for (;;) {
            const from = upload?.next ?? 0
            const response = await this.#network.request(peer, ReqRespProtocol.blob, encode([cid, from, MAX_CHUNKS_PER_REQUEST]), options.signal === undefined ? {} : { signal: options.signal })
            const { size, chunks } = parseResponse(response)
            if (upload !== undefined && size !== upload.size) throw new BlobFetchInvalid('size changed between responses')
            for (const [i, [chunk, siblings]] of chunks.entries()) {
              if (!verifyChunk(cid, size, from + i, chunk, siblings)) throw new BlobFetchInvalid(`chunk ${from + i} does not verify`)
            }
            if (upload === undefined) {
              const begun = await this.#store.beginUpload(size)
              upload = { id: begun.uploadId, size, next: 0 }
            }
            for (const [chunk] of chunks) await this.#store.uploadChunk(upload.id, upload.next++, chunk)
            if (upload.next >= chunkCount(size)) {
              await this.#store.finishUpload(upload.id, cid)
              upload = undefined
              this.#log.debug('fetched blob', { cid: toHex(cid), size, peer })
              return
            }
          }
        } catch (error) {
          if (error instanceof BlobFetchInvalid) {
            this.#log.warn('peer served an invalid blob chunk', { peer, cid: toHex(cid), reason: error.message })
            this.#network.penalize(peer, PenaltyReason.invalidBlock)
            continue
          }
          if (options.signal?.aborted === true || !(error instanceof P2pError)) throw error
          this.#log.debug('blob request failed', { peer, code: error.code })
        }
      }
    } finally {
      if (upload !== undefined) await this.#store.abortUpload(upload.id)
    }
    throw new BlobFetchError('BLOB_NOT_FOUND', `no peer served blob ${toHex(cid)}`)
  }
}

class BlobFetchInvalid extends Error {}

function parseResponse(bytes: Uint8Array): { size: number; chunks: Array<[Uint8Array, Uint8Array[]]> } {
  try {
    const [size, list] = readArray(decode(bytes, 32 * 1024 * 1024), 'response', 2)
    const chunks = readArray(list ?? null, 'chunks')
    if (chunks.length === 0 || chunks.length > MAX_CHUNKS_PER_REQUEST) throw new BlobFetchInvalid('wrong number of chunks')
    return {
      size: readUint(size ?? null, 'size'),
      chunks: chunks.map((entry, i) => {
        const [chunk, siblings] = readArray(entry, `chunks[${i}]`, 2)
        const path = readArray(siblings ?? null, 'siblings')
        if (path.length > MAX_SIBLINGS) throw new BlobFetchInvalid('too many siblings')
        return [readBytes(chunk ?? null, 'chunk'), path.map((s, j) => readBytes(s, `siblings[${j}]`, 32))]
      }),
    }
  } catch (error) {
    if (error instanceof BlobFetchInvalid) throw error
    throw new BlobFetchInvalid(`malformed response: ${error instanceof Error ? error.message : String(error)}`)
  }
}
