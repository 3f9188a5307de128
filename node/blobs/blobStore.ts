// The content-addressed blob store: datanet contributions (and later model artifacts) as files
// under <home>/blobs, one file per blob named by its content id, with the index (size, chunk
// leaf hashes, reference count) in the node's LevelDB through the KeyValueStore port.
//
// Limits (issue 21): uploads open at once in all and per client; an upload's deadline is its begin
// plus `uploadIdleMs` plus what its received bytes earn at `minUploadBytesPerSecond` (swept by the
// GC timer, and checked at every chunk), so neither silence nor a trickle holds a slot; finished
// blobs nobody references plus open uploads stay under `maxUnreferencedBytes` (BLOB_QUOTA_EXCEEDED).
//
// Uploads stream: beginUpload(size) opens a temporary file; chunks arrive in any order (clients
// keep several in flight) and are written at their offset while their leaf hashes are computed; finishUpload() checks the content id (against
// the one the client expects, if given), syncs the file and moves it into place. Nothing of a
// failed or abandoned upload remains (temporary files are removed on failure, on timeout and at
// start).
//
// References: the node pins a blob for each live contribution naming it (node/datanets; the
// owner is the contribution's id, so pinning twice for the same owner is a no-op and restarts can
// reconcile) and unpins it when the contribution is rejected or withdrawn. A blob nobody references is deleted
// by the garbage collector once it has been unreferenced for `gcGraceMs` — which is also how
// long an uploader has to reference a fresh upload on chain.
import { randomBytes } from 'node:crypto'
import { mkdir, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { bytesEqual, decodeTrusted, encode } from '../../runtime/codec/canonical.ts'
import { readArray, readBytes, readUint } from '../../runtime/codec/read.ts'
import { concatBytes, toHex, utf8 } from '../../runtime/crypto/hash.ts'
import { OpenLedgerError } from '../../runtime/errors.ts'
import { Bucket } from '../db/buckets.ts'
import { WriteBatch, type KeyValueStore } from '../db/store.ts'
import type { Logger } from '../../lib/logger.ts'
import { CHUNK_BYTES, chunkCount, chunkLeaf, chunkLength, chunkProof, chunkTreeLevels, contentIdFromLeaves } from './contentId.ts'

export type BlobErrorCode =
  | 'BLOB_TOO_LARGE'
  | 'EMPTY_BLOB'
  | 'UNKNOWN_BLOB'
  | 'UNKNOWN_UPLOAD'
  | 'DUPLICATE_CHUNK'
  | 'UPLOAD_BUSY'
  | 'CHUNK_OUT_OF_RANGE'
  | 'BAD_CHUNK_LENGTH'
  | 'UPLOAD_INCOMPLETE'
  | 'CID_MISMATCH'
  | 'TOO_MANY_UPLOADS'
  | 'BLOB_QUOTA_EXCEEDED'

export class BlobError extends OpenLedgerError<BlobErrorCode> {}

export interface BlobStoreOptions {
  /** where blob files live: <home>/blobs */
  dir: string
  /** bytes: the largest blob accepted (default 64 MiB, the runtime's default maxContributionBytes) */
  maxBlobBytes?: number
  /** uploads open at once (default 64) */
  maxUploads?: number
  /** uploads one client (remote address) may have open at once (default 8) */
  maxUploadsPerClient?: number
  /**
   * ms an upload may take beyond what its received bytes earn at `minUploadBytesPerSecond`
   * (default 10 min): its deadline is begin + this + received / rate, so a trickle of chunks
   * cannot keep a slot forever
   */
  uploadIdleMs?: number
  /** the slowest upload rate that keeps an upload alive (default 64 KiB/s) */
  minUploadBytesPerSecond?: number
  /** bytes of finished blobs nothing references, plus open uploads, kept at most (default 1 GiB) */
  maxUnreferencedBytes?: number
  /** ms an unreferenced blob is kept (default 1 h) */
  gcGraceMs?: number
  /** ms between garbage collections (default 1 min; 0 = only when called) */
  gcIntervalMs?: number
}

export interface BlobStoreComponents {
  store: KeyValueStore
  logger: Logger
  /** the clock (ms); tests pass their own */
  now?: () => number
  /** a blob file could not be written: the node stops (node/storage); the error is thrown as well */
  onWriteFailure?: (path: string, error: unknown) => void
}

export interface BlobInfo {
  readonly size: number
  readonly chunks: number
  readonly refs: number
  readonly unreferencedSince: number
}

interface BlobRecord extends BlobInfo {
  readonly leaves: Uint8Array[]
}

interface Upload {
  readonly id: string
  readonly size: number
  readonly path: string
  readonly file: FileHandle
  /** leaf hash per chunk index, once that chunk is written */
  readonly leaves: Array<Uint8Array | undefined>
  /** chunks being written now */
  readonly writing: Set<number>
  received: number
  readonly begun: number
  readonly client: string | undefined
}

interface ReadEntry {
  readonly record: BlobRecord
  readonly levels: Uint8Array[][]
  readonly file: Promise<FileHandle>
}

/** blobs kept open for reading */
const READ_CACHE_SIZE = 32

export const DEFAULT_MAX_BLOB_BYTES = 64 * 1024 * 1024

function encodeRecord(record: BlobRecord): Uint8Array {
  const leaves = new Uint8Array(record.leaves.length * 32)
  record.leaves.forEach((leaf, i) => leaves.set(leaf, i * 32))
  return encode([record.size, leaves, record.refs, record.unreferencedSince])
}

function decodeRecord(bytes: Uint8Array): BlobRecord {
  const [size, leafBytes, refs, since] = readArray(decodeTrusted(bytes), 'blob', 4)
  const all = readBytes(leafBytes ?? null, 'leaves')
  const leaves: Uint8Array[] = []
  for (let offset = 0; offset < all.length; offset += 32) leaves.push(all.subarray(offset, offset + 32))
  const blobSize = readUint(size ?? null, 'size')
  return { size: blobSize, chunks: leaves.length, leaves, refs: readUint(refs ?? null, 'refs'), unreferencedSince: readUint(since ?? null, 'since') }
}

export class BlobStore {
  readonly dir: string
  readonly maxBlobBytes: number
  readonly #maxUploads: number
  readonly #maxUploadsPerClient: number
  readonly #uploadIdleMs: number
  readonly #minUploadRate: number
  readonly #maxUnreferencedBytes: number
  /** bytes of finished blobs with no reference (counted at start, then kept in step) */
  #unreferencedBytes = 0
  readonly #gcGraceMs: number
  readonly #gcIntervalMs: number
  readonly #store: KeyValueStore
  readonly #log: Logger
  readonly #now: () => number
  readonly #onWriteFailure: ((path: string, error: unknown) => void) | undefined
  readonly #uploads = new Map<string, Upload>()
  /** recently read blobs: index record, chunk tree and an open file (serving chunks needs all three) */
  readonly #readCache = new Map<string, ReadEntry>()
  /** serializes index read-modify-writes (pin, unpin, finish, gc) */
  #indexLock: Promise<unknown> = Promise.resolve()
  #timer: NodeJS.Timeout | undefined

  constructor(options: BlobStoreOptions, components: BlobStoreComponents) {
    this.dir = options.dir
    this.maxBlobBytes = options.maxBlobBytes ?? DEFAULT_MAX_BLOB_BYTES
    this.#maxUploads = options.maxUploads ?? 64
    this.#maxUploadsPerClient = options.maxUploadsPerClient ?? 8
    this.#uploadIdleMs = options.uploadIdleMs ?? 10 * 60_000
    this.#minUploadRate = options.minUploadBytesPerSecond ?? 64 * 1024
    this.#maxUnreferencedBytes = options.maxUnreferencedBytes ?? 1024 * 1024 * 1024
    this.#gcGraceMs = options.gcGraceMs ?? 60 * 60_000
    this.#gcIntervalMs = options.gcIntervalMs ?? 60_000
    this.#store = components.store
    this.#log = components.logger
    this.#now = components.now ?? Date.now
    this.#onWriteFailure = components.onWriteFailure
  }

  /** Runs a file write; a failure is reported (fail-stop) and rethrown. */
  async #fileWrite<T>(path: string, write: () => Promise<T>): Promise<T> {
    try {
      return await write()
    } catch (error) {
      this.#onWriteFailure?.(path, error)
      throw error
    }
  }

  get #tmpDir(): string {
    return join(this.dir, 'tmp')
  }

  async start(): Promise<void> {
    await rm(this.#tmpDir, { recursive: true, force: true })
    await mkdir(this.#tmpDir, { recursive: true })
    this.#unreferencedBytes = 0
    for await (const [, bytes] of this.#store.entries(Bucket.blobIndex)) {
      const record = decodeRecord(bytes)
      if (record.refs === 0) this.#unreferencedBytes += record.size
    }
    if (this.#gcIntervalMs > 0) {
      const tick = () => {
        this.#dropExpiredUploads()
        void this.collectGarbage()
          .catch((error: unknown) => this.#log.warn('blob garbage collection failed', { error }))
          .finally(() => {
            if (this.#timer !== undefined) this.#timer = setTimeout(tick, this.#gcIntervalMs).unref()
          })
      }
      this.#timer = setTimeout(tick, this.#gcIntervalMs).unref()
    }
  }

  async stop(): Promise<void> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    for (const id of [...this.#uploads.keys()]) await this.abortUpload(id)
    await this.#indexLock
    for (const key of [...this.#readCache.keys()]) this.#forget(key)
  }

  #pathOf(cid: Uint8Array): string {
    const hex = toHex(cid).slice(2)
    return join(this.dir, hex.slice(0, 2), hex)
  }

  #withIndexLock<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#indexLock.then(work, work)
    this.#indexLock = run.catch(() => undefined)
    return run
  }

  async #record(cid: Uint8Array): Promise<BlobRecord | undefined> {
    const bytes = await this.#store.get(Bucket.blobIndex, cid)
    return bytes === undefined ? undefined : decodeRecord(bytes)
  }

  #forget(key: string): void {
    const entry = this.#readCache.get(key)
    if (entry === undefined) return
    this.#readCache.delete(key)
    void entry.file.then((file) => file.close()).catch(() => undefined)
  }

  async #writeRecord(cid: Uint8Array, record: BlobRecord | undefined): Promise<void> {
    this.#forget(toHex(cid))
    const batch = new WriteBatch()
    if (record === undefined) batch.del(Bucket.blobIndex, cid)
    else batch.put(Bucket.blobIndex, cid, encodeRecord(record))
    await this.#store.write(batch)
  }

  // ---- uploads

  /** Opens an upload for `client` (an RPC caller's remote address; the node's own uploads have none and only the global limits apply). */
  async beginUpload(size: number, client?: string): Promise<{ uploadId: string; chunkBytes: number; chunks: number }> {
    if (!Number.isSafeInteger(size) || size < 1) throw new BlobError('EMPTY_BLOB', 'a blob holds at least one byte')
    if (size > this.maxBlobBytes) throw new BlobError('BLOB_TOO_LARGE', `blob of ${size} bytes exceeds the limit of ${this.maxBlobBytes}`, { details: { limit: this.maxBlobBytes } })
    this.#dropExpiredUploads()
    if (this.#uploads.size >= this.#maxUploads) throw new BlobError('TOO_MANY_UPLOADS', `${this.#maxUploads} uploads are already open`)
    let mine = 0
    let openBytes = 0
    for (const upload of this.#uploads.values()) {
      if (upload.client === client) mine++
      openBytes += upload.size
    }
    if (client !== undefined && mine >= this.#maxUploadsPerClient) throw new BlobError('TOO_MANY_UPLOADS', `this client already has ${mine} uploads open (limit ${this.#maxUploadsPerClient})`, { details: { limit: this.#maxUploadsPerClient } })
    // what is not yet referenced (finished blobs and open uploads) is what a stranger can make us keep
    if (this.#unreferencedBytes + openBytes + size > this.#maxUnreferencedBytes) {
      throw new BlobError('BLOB_QUOTA_EXCEEDED', `unreferenced blobs and open uploads would pass ${this.#maxUnreferencedBytes} bytes: reference (contribute) what was uploaded, or retry after garbage collection`, { details: { limit: this.#maxUnreferencedBytes } })
    }
    const id = randomBytes(16).toString('hex')
    const path = join(this.#tmpDir, id)
    const file = await this.#fileWrite(path, () => open(path, 'w+'))
    this.#uploads.set(id, { id, size, path, file, leaves: new Array<Uint8Array | undefined>(chunkCount(size)).fill(undefined), writing: new Set(), received: 0, begun: this.#now(), client })
    return { uploadId: id, chunkBytes: CHUNK_BYTES, chunks: chunkCount(size) }
  }

  #upload(id: string): Upload {
    const upload = this.#uploads.get(id)
    if (upload === undefined) throw new BlobError('UNKNOWN_UPLOAD', 'no such upload (finished, aborted or expired)')
    return upload
  }

  /** Writes chunk `index` (any order; all but the last are exactly CHUNK_BYTES). */
  async uploadChunk(id: string, index: number, chunk: Uint8Array): Promise<{ received: number }> {
    const upload = this.#upload(id)
    if (this.#expired(upload)) {
      await this.abortUpload(id)
      throw new BlobError('UNKNOWN_UPLOAD', 'no such upload (finished, aborted or expired)')
    }
    const count = upload.leaves.length
    if (!Number.isSafeInteger(index) || index < 0 || index >= count) throw new BlobError('CHUNK_OUT_OF_RANGE', `the blob has ${count} chunks`)
    if (upload.leaves[index] !== undefined || upload.writing.has(index)) throw new BlobError('DUPLICATE_CHUNK', `chunk ${index} was already sent`)
    const length = chunkLength(upload.size, index)
    if (chunk.length !== length) throw new BlobError('BAD_CHUNK_LENGTH', `chunk ${index} must be ${length} bytes, got ${chunk.length}`)
    upload.writing.add(index)
    try {
      await this.#fileWrite(upload.path, () => upload.file.write(chunk, 0, chunk.length, index * CHUNK_BYTES))
      upload.leaves[index] = chunkLeaf(chunk)
      upload.received += chunk.length
    } catch (error) {
      await this.abortUpload(id)
      throw error
    } finally {
      upload.writing.delete(index)
    }
    return { received: upload.received }
  }

  /**
   * Completes an upload; with `expectedCid`, a different content id is CID_MISMATCH and nothing is
   * kept. `check` sees the bytes before they are kept and may refuse them by throwing.
   */
  async finishUpload(id: string, expectedCid?: Uint8Array, check?: (bytes: Uint8Array) => void): Promise<{ cid: Uint8Array; size: number }> {
    const upload = this.#upload(id)
    if (upload.writing.size > 0) throw new BlobError('UPLOAD_BUSY', 'chunks are still being written')
    const leaves = upload.leaves.filter((leaf) => leaf !== undefined)
    if (leaves.length !== upload.leaves.length) throw new BlobError('UPLOAD_INCOMPLETE', `received ${upload.received} of ${upload.size} bytes`)
    this.#uploads.delete(id)
    const cid = contentIdFromLeaves(upload.size, leaves)
    try {
      if (expectedCid !== undefined && !bytesEqual(cid, expectedCid)) {
        throw new BlobError('CID_MISMATCH', `the bytes have content id ${toHex(cid)}, not ${toHex(expectedCid)}`, { details: { cid: toHex(cid) } })
      }
      if (check !== undefined) {
        const bytes = new Uint8Array(upload.size)
        await upload.file.read(bytes, 0, upload.size, 0)
        check(bytes)
      }
      await this.#fileWrite(upload.path, async () => {
        await upload.file.datasync()
        await upload.file.close()
      })
      await this.#withIndexLock(async () => {
        if ((await this.#record(cid)) !== undefined) return
        await this.#fileWrite(this.#pathOf(cid), async () => {
          await mkdir(join(this.#pathOf(cid), '..'), { recursive: true })
          await rename(upload.path, this.#pathOf(cid))
        })
        await this.#writeRecord(cid, { size: upload.size, chunks: leaves.length, leaves, refs: 0, unreferencedSince: this.#now() })
        this.#unreferencedBytes += upload.size
      })
      return { cid, size: upload.size }
    } finally {
      await upload.file.close().catch(() => undefined)
      await rm(upload.path, { force: true })
    }
  }

  async abortUpload(id: string): Promise<void> {
    const upload = this.#uploads.get(id)
    if (upload === undefined) return
    this.#uploads.delete(id)
    await upload.file.close().catch(() => undefined)
    await rm(upload.path, { force: true })
  }

  /** Past begin + uploadIdleMs + what its received bytes earn at the minimum rate. */
  #expired(upload: Upload): boolean {
    return this.#now() > upload.begun + this.#uploadIdleMs + (upload.received / this.#minUploadRate) * 1000
  }

  #dropExpiredUploads(): void {
    for (const upload of this.#uploads.values()) if (upload.writing.size === 0 && this.#expired(upload)) void this.abortUpload(upload.id)
  }

  /** Stores a whole blob held in memory (small blobs, fetched blobs, tests). */
  async put(bytes: Uint8Array, expectedCid?: Uint8Array): Promise<Uint8Array> {
    const { uploadId } = await this.beginUpload(bytes.length)
    try {
      for (let index = 0, offset = 0; offset < bytes.length; index++, offset += CHUNK_BYTES) await this.uploadChunk(uploadId, index, bytes.subarray(offset, offset + CHUNK_BYTES))
    } catch (error) {
      await this.abortUpload(uploadId)
      throw error
    }
    return (await this.finishUpload(uploadId, expectedCid)).cid
  }

  // ---- reads

  async info(cid: Uint8Array): Promise<BlobInfo | undefined> {
    const record = await this.#record(cid)
    return record === undefined ? undefined : { size: record.size, chunks: record.chunks, refs: record.refs, unreferencedSince: record.unreferencedSince }
  }

  async has(cid: Uint8Array): Promise<boolean> {
    return (await this.#record(cid)) !== undefined
  }

  async #known(cid: Uint8Array): Promise<BlobRecord> {
    const record = await this.#record(cid)
    if (record === undefined) throw new BlobError('UNKNOWN_BLOB', `no blob ${toHex(cid)} in this node's store`)
    return record
  }

  async #forReading(cid: Uint8Array): Promise<ReadEntry> {
    const key = toHex(cid)
    const cached = this.#readCache.get(key)
    if (cached !== undefined) return cached
    const record = await this.#known(cid)
    const entry: ReadEntry = { record, levels: chunkTreeLevels(record.leaves), file: open(this.#pathOf(cid), 'r') }
    entry.file.catch(() => this.#readCache.delete(key))
    this.#readCache.set(key, entry)
    if (this.#readCache.size > READ_CACHE_SIZE) this.#forget(this.#readCache.keys().next().value as string)
    return entry
  }

  /** Chunk `index` with what a peer needs to verify it on its own: the size and the sibling path. */
  async readChunk(cid: Uint8Array, index: number): Promise<{ size: number; chunk: Uint8Array; siblings: Uint8Array[] }> {
    const { record, levels, file } = await this.#forReading(cid)
    if (!Number.isSafeInteger(index) || index < 0 || index >= record.chunks) throw new BlobError('CHUNK_OUT_OF_RANGE', `the blob has ${record.chunks} chunks`)
    const length = chunkLength(record.size, index)
    const chunk = new Uint8Array(length)
    const { bytesRead } = await (await file).read(chunk, 0, length, index * CHUNK_BYTES)
    if (bytesRead !== length) throw new Error(`blob file ${toHex(cid)} is truncated`)
    return { size: record.size, chunk, siblings: chunkProof(levels, index) }
  }

  /** The whole blob (at most maxBlobBytes). */
  async read(cid: Uint8Array): Promise<Uint8Array> {
    const record = await this.#known(cid)
    const out = new Uint8Array(record.size)
    const file = await open(this.#pathOf(cid), 'r')
    try {
      const { bytesRead } = await file.read(out, 0, record.size, 0)
      if (bytesRead !== record.size) throw new Error(`blob file ${toHex(cid)} is truncated`)
    } finally {
      await file.close()
    }
    return out
  }

  // ---- references and garbage collection

  /** References the blob on behalf of `owner` (idempotent); returns false if the blob is not here. */
  pin(cid: Uint8Array, owner: string): Promise<boolean> {
    return this.#withIndexLock(async () => {
      const record = await this.#record(cid)
      if (record === undefined) return false
      const key = concatBytes(cid, utf8(owner))
      if ((await this.#store.get(Bucket.blobPin, key)) !== undefined) return true
      this.#forget(toHex(cid))
      const batch = new WriteBatch().put(Bucket.blobPin, key, new Uint8Array(0)).put(Bucket.blobIndex, cid, encodeRecord({ ...record, refs: record.refs + 1, unreferencedSince: 0 }))
      await this.#store.write(batch)
      if (record.refs === 0) this.#unreferencedBytes -= record.size
      return true
    })
  }

  /** Drops `owner`'s reference, if it holds one. */
  unpin(cid: Uint8Array, owner: string): Promise<void> {
    return this.#withIndexLock(async () => {
      const key = concatBytes(cid, utf8(owner))
      const record = await this.#record(cid)
      if (record === undefined || (await this.#store.get(Bucket.blobPin, key)) === undefined) return
      const refs = Math.max(0, record.refs - 1)
      this.#forget(toHex(cid))
      const batch = new WriteBatch().del(Bucket.blobPin, key).put(Bucket.blobIndex, cid, encodeRecord({ ...record, refs, unreferencedSince: refs === 0 ? this.#now() : 0 }))
      await this.#store.write(batch)
      if (refs === 0 && record.refs > 0) this.#unreferencedBytes += record.size
    })
  }

  /** Deletes blobs unreferenced for longer than the grace period; returns how many. */
  collectGarbage(): Promise<number> {
    return this.#withIndexLock(async () => {
      const now = this.#now()
      const doomed: Array<{ cid: Uint8Array; size: number }> = []
      for await (const [cid, bytes] of this.#store.entries(Bucket.blobIndex)) {
        const record = decodeRecord(bytes)
        if (record.refs === 0 && now - record.unreferencedSince > this.#gcGraceMs) doomed.push({ cid: cid.slice(), size: record.size })
      }
      for (const { cid, size } of doomed) {
        await this.#writeRecord(cid, undefined)
        this.#unreferencedBytes -= size
        await rm(this.#pathOf(cid), { force: true })
      }
      if (doomed.length > 0) this.#log.info('collected unreferenced blobs', { count: doomed.length })
      return doomed.length
    })
  }

  /** Bytes of blob files on disk (for metrics and tests). */
  async diskBytes(): Promise<number> {
    let total = 0
    for (const shard of await readdir(this.dir).catch(() => [] as string[])) {
      if (shard === 'tmp') continue
      for (const name of await readdir(join(this.dir, shard)).catch(() => [] as string[])) total += (await stat(join(this.dir, shard, name))).size
    }
    return total
  }
}
