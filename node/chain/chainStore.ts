// The chain on disk: headers, bodies, receipts, the canonical height index, transaction locations
// and the head pointers. Writes go into the caller's WriteBatch so a block, its receipts, its
// state and the new head land in one atomic write.
import { decode, encode } from '../../runtime/codec/canonical.ts'
import { readArray, readUint } from '../../runtime/codec/read.ts'
import { sha256, toHex, utf8 } from '../../runtime/crypto/hash.ts'
import { bytesEqual } from '../../runtime/codec/canonical.ts'
import { decodeBody, decodeHeader, EMPTY_BODY, encodeBody, encodeHeader, hashHeader, type BlockBody, type BlockHeader } from '../../runtime/block.ts'
import { decodeReceipts, encodeReceipts, type Receipt } from '../../runtime/receipt.ts'
import type { RuntimeEvent } from '../../runtime/module.ts'
import { Bucket, heightKey } from '../db/buckets.ts'
import type { KeyValueStore, WriteBatch } from '../db/store.ts'
import { CORRUPT_STORE_WAY_OUT, DatabaseError } from '../db/errors.ts'

/** headers read per getMany while verifying the chain index */
const VERIFY_BATCH = 512

function corrupt(what: string, details: Record<string, unknown> = {}): DatabaseError {
  return new DatabaseError('DB_CORRUPT', `the chain store is damaged: ${what}; ${CORRUPT_STORE_WAY_OUT}`, { details: { cause: 'CORRUPTION', ...details } })
}

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
    if (head === undefined) {
      // no head but blocks: the head record was lost, not never written
      for await (const [key] of this.#db.entries(Bucket.canonicalHash, { limit: 1 })) throw corrupt(`blocks are indexed (from height ${new DataView(key.buffer, key.byteOffset, 8).getBigUint64(0)}) but the head record is missing`)
      return false
    }
    const header = await this.getHeader(head)
    if (header === undefined) throw corrupt(`the head block ${toHex(head)} is missing`)
    this.#head = { hash: head, header }
    const finalized = (await this.#db.get(Bucket.meta, META_FINALIZED)) ?? head
    const finalizedHeader = await this.getHeader(finalized)
    if (finalizedHeader === undefined) throw corrupt(`the finalized block ${toHex(finalized)} is missing`)
    this.#finalized = { hash: finalized, header: finalizedHeader }
    return true
  }

  /**
   * Verifies the canonical index from genesis to the head: every height present, each header's
   * stored bytes hashing to the hash the index names (damage and absence are told apart), each
   * linking to its parent, nothing indexed above the head, and the head's body and receipts
   * present. Throws DB_CORRUPT naming the first problem. Returns the heights checked.
   */
  async verify(): Promise<number> {
    const head = this.head
    let expected = 0
    let parent: Uint8Array | undefined
    let pending: Array<{ height: number; hash: Uint8Array }> = []
    const flush = async (): Promise<void> => {
      const headers = await this.#db.getMany(Bucket.blockHeader, pending.map((entry) => entry.hash))
      pending.forEach(({ height, hash }, i) => {
        const bytes = headers[i]
        if (bytes === undefined) throw corrupt(`the header of block ${height} (${toHex(hash)}) is missing`, { height })
        if (!bytesEqual(sha256(bytes), hash)) throw corrupt(`the header of block ${height} does not hash to ${toHex(hash)} (damaged bytes)`, { height })
        const decoded = decodeHeader(bytes)
        if (decoded.height !== height) throw corrupt(`the block indexed at height ${height} has height ${decoded.height}`, { height })
        if (parent !== undefined && !bytesEqual(decoded.parentHash, parent)) throw corrupt(`block ${height} does not link to the block indexed at height ${height - 1}`, { height })
        parent = hash
      })
      pending = []
    }
    for await (const [key, hash] of this.#db.entries(Bucket.canonicalHash)) {
      const height = key.length === 8 ? Number(new DataView(key.buffer, key.byteOffset, 8).getBigUint64(0)) : -1
      if (height !== expected) throw corrupt(expected > head.header.height ? `a block is indexed at height ${height}, above the head ${head.header.height}` : `the chain index has no block at height ${expected} (the next indexed is ${height})`, { height: expected })
      if (height > head.header.height) throw corrupt(`a block is indexed at height ${height}, above the head ${head.header.height}`, { height })
      pending.push({ height, hash: hash.slice() })
      if (pending.length === VERIFY_BATCH) await flush()
      expected++
    }
    await flush()
    if (expected !== head.header.height + 1) throw corrupt(`the chain index ends at height ${expected - 1} but the head is at ${head.header.height}`, { height: expected })
    if (parent === undefined || !bytesEqual(parent, head.hash)) throw corrupt(`the head ${toHex(head.hash)} is not the block indexed at its height`, { height: head.header.height })
    if ((await this.#db.get(Bucket.blockBody, head.hash)) === undefined) throw corrupt(`the body of the head block ${head.header.height} is missing`, { height: head.header.height })
    if ((await this.#db.get(Bucket.blockReceipts, head.hash)) === undefined) throw corrupt(`the receipts of the head block ${head.header.height} are missing`, { height: head.header.height })
    return expected
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
