// The chain on disk: headers, bodies, receipts, the canonical height index, transaction locations
// and the head pointers. Writes go into the caller's WriteBatch so a block, its receipts, its
// state and the new head land in one atomic write.
import { decode, encode } from '../../runtime/codec/canonical.ts'
import { readArray, readUint } from '../../runtime/codec/read.ts'
import { utf8 } from '../../runtime/crypto/hash.ts'
import { decodeBody, decodeHeader, EMPTY_BODY, encodeBody, encodeHeader, hashHeader, type BlockBody, type BlockHeader } from '../../runtime/block.ts'
import { decodeReceipts, encodeReceipts, type Receipt } from '../../runtime/receipt.ts'
import type { RuntimeEvent } from '../../runtime/module.ts'
import { Bucket, heightKey } from '../db/buckets.ts'
import type { KeyValueStore, WriteBatch } from '../db/store.ts'

const META_HEAD = utf8('head')
const META_FINALIZED = utf8('finalized')
const META_GENESIS = utf8('genesis')
const META_CHAIN_SPEC = utf8('chainSpec')

export interface StoredBlock {
  readonly hash: Uint8Array
  readonly header: BlockHeader
  readonly body: BlockBody
}

export interface TxLocation {
  readonly height: number
  readonly index: number
  readonly blockHash: Uint8Array
}

export class ChainStore {
  readonly #db: KeyValueStore
  #head: { hash: Uint8Array; header: BlockHeader } | undefined
  #finalized: { hash: Uint8Array; header: BlockHeader } | undefined

  constructor(db: KeyValueStore) {
    this.#db = db
  }

  /** Loads the head pointers; false when the database holds no chain yet. */
  async load(): Promise<boolean> {
    const head = await this.#db.get(Bucket.meta, META_HEAD)
    if (head === undefined) return false
    const header = await this.getHeader(head)
    if (header === undefined) throw new Error('database corrupt: head block missing')
    this.#head = { hash: head, header }
    const finalized = (await this.#db.get(Bucket.meta, META_FINALIZED)) ?? head
    const finalizedHeader = await this.getHeader(finalized)
    if (finalizedHeader === undefined) throw new Error('database corrupt: finalized block missing')
    this.#finalized = { hash: finalized, header: finalizedHeader }
    return true
  }

  get head(): { hash: Uint8Array; header: BlockHeader } {
    if (this.#head === undefined) throw new Error('chain not initialized')
    return this.#head
  }

  get finalized(): { hash: Uint8Array; header: BlockHeader } {
    if (this.#finalized === undefined) throw new Error('chain not initialized')
    return this.#finalized
  }

  async genesisHash(): Promise<Uint8Array | undefined> {
    return this.#db.get(Bucket.meta, META_GENESIS)
  }

  async chainSpecJson(): Promise<string | undefined> {
    const bytes = await this.#db.get(Bucket.meta, META_CHAIN_SPEC)
    return bytes === undefined ? undefined : new TextDecoder().decode(bytes)
  }

  writeGenesis(batch: WriteBatch, header: BlockHeader, chainSpecJson: string): Uint8Array {
    const hash = this.writeBlock(batch, header, EMPTY_BODY, [], [])
    batch.put(Bucket.meta, META_GENESIS, hash)
    batch.put(Bucket.meta, META_CHAIN_SPEC, utf8(chainSpecJson))
    this.writeFinalized(batch, hash)
    return hash
  }

  /** Adds a canonical block (and makes it the head) to `batch`; call `applied` after writing. */
  /** `encodedReceipts`: encodeReceipts(receipts, blockEvents) when the caller has it already. */
  writeBlock(batch: WriteBatch, header: BlockHeader, body: BlockBody, txHashes: readonly Uint8Array[], receipts: readonly Receipt[], blockEvents: readonly RuntimeEvent[] = [], encodedReceipts?: Uint8Array): Uint8Array {
    const hash = hashHeader(header)
    batch.put(Bucket.blockHeader, hash, encodeHeader(header))
    batch.put(Bucket.blockBody, hash, encodeBody(body))
    batch.put(Bucket.blockReceipts, hash, encodedReceipts ?? encodeReceipts(receipts, blockEvents))
    batch.put(Bucket.canonicalHash, heightKey(header.height), hash)
    txHashes.forEach((txHash, index) => batch.put(Bucket.txLocation, txHash, encode([header.height, index])))
    batch.put(Bucket.meta, META_HEAD, hash)
    return hash
  }

  /** The commit certificate that finalized a block (consensus encoding). */
  writeCommit(batch: WriteBatch, hash: Uint8Array, certificate: Uint8Array): void {
    batch.put(Bucket.blockCommit, hash, certificate)
  }

  async getCommit(hash: Uint8Array): Promise<Uint8Array | undefined> {
    return this.#db.get(Bucket.blockCommit, hash)
  }

  writeFinalized(batch: WriteBatch, hash: Uint8Array): void {
    batch.put(Bucket.meta, META_FINALIZED, hash)
  }

  /** Updates the in-memory pointers after the batch holding the block was written. */
  applied(head: { hash: Uint8Array; header: BlockHeader }, finalized?: { hash: Uint8Array; header: BlockHeader }): void {
    this.#head = head
    if (finalized !== undefined) this.#finalized = finalized
  }

  async getHeader(hash: Uint8Array): Promise<BlockHeader | undefined> {
    const bytes = await this.#db.get(Bucket.blockHeader, hash)
    return bytes === undefined ? undefined : decodeHeader(bytes)
  }

  async getHash(height: number): Promise<Uint8Array | undefined> {
    if (!Number.isSafeInteger(height) || height < 0) return undefined
    return this.#db.get(Bucket.canonicalHash, heightKey(height))
  }

  async getBlock(hash: Uint8Array): Promise<StoredBlock | undefined> {
    const [header, body] = await Promise.all([this.getHeader(hash), this.#db.get(Bucket.blockBody, hash)])
    if (header === undefined || body === undefined) return undefined
    return { hash, header, body: decodeBody(body, { trusted: true }) }
  }

  async getReceipts(hash: Uint8Array): Promise<{ receipts: Receipt[]; blockEvents: RuntimeEvent[] } | undefined> {
    const bytes = await this.#db.get(Bucket.blockReceipts, hash)
    return bytes === undefined ? undefined : decodeReceipts(bytes)
  }

  async getTxLocation(txHash: Uint8Array): Promise<TxLocation | undefined> {
    const bytes = await this.#db.get(Bucket.txLocation, txHash)
    if (bytes === undefined) return undefined
    const [height, index] = readArray(decode(bytes), 'txLocation', 2)
    const location = { height: readUint(height ?? null, 'height'), index: readUint(index ?? null, 'index') }
    const blockHash = await this.getHash(location.height)
    return blockHash === undefined ? undefined : { ...location, blockHash }
  }
}
