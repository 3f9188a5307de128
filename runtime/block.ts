// Blocks: a header committing to everything, and a body of transactions.
//
//   header = [version, chainId, height, parentHash, timestamp, author, proposer, txRoot,
//             stateRoot, receiptsRoot, validatorsHash, nextValidatorsHash, lastCommitHash,
//             evidenceHash, gasUsed, baseFeePerGas, randomnessReveal]
//   hash   = sha256(encode(header))
//
// stateRoot is the root after executing this block; receiptsRoot covers every transaction's
// receipt and the block's own events (from begin/end-block hooks).
import { decode, decodeTrusted, encode, type Encodable } from './codec/canonical.ts'
import { readAmount, readArray, readBytes, readUint } from './codec/read.ts'
import { sha256 } from './crypto/hash.ts'
import { CodecError, CodecErrorCode } from './codec/canonical.ts'

/** 2: the header carries the proposer's randomness reveal (ARCHITECTURE.md "Randomness") */
export const BLOCK_VERSION = 2
/** bytes: the largest block body a node produces or accepts */
export const MAX_BLOCK_BYTES = 16 * 1024 * 1024
/** the most transactions in one block */
export const MAX_BLOCK_TXS = 50_000

export interface BlockHeader {
  readonly chainId: number
  readonly height: number
  readonly parentHash: Uint8Array
  /** ms since the Unix epoch */
  readonly timestamp: number
  /** account (20 bytes) credited with the block's tips */
  readonly author: Uint8Array
  /** validator consensus key (32 bytes) that proposed the block; zero in dev mode */
  readonly proposer: Uint8Array
  readonly txRoot: Uint8Array
  readonly stateRoot: Uint8Array
  readonly receiptsRoot: Uint8Array
  readonly validatorsHash: Uint8Array
  readonly nextValidatorsHash: Uint8Array
  readonly lastCommitHash: Uint8Array
  readonly evidenceHash: Uint8Array
  readonly gasUsed: number
  /** the base fee this block's transactions paid */
  readonly baseFeePerGas: bigint
  /**
   * the proposer's beacon reveal: the preimage of its hash-chain tip registered in staking, or
   * zero for a proposer without a chain, a dev block and the genesis (ARCHITECTURE.md "Randomness")
   */
  readonly randomnessReveal: Uint8Array
}

export const ZERO_HASH = new Uint8Array(32)

export function headerToEncodable(h: BlockHeader): Encodable {
  return [
    BLOCK_VERSION, h.chainId, h.height, h.parentHash, h.timestamp, h.author, h.proposer, h.txRoot, h.stateRoot, h.receiptsRoot,
    h.validatorsHash, h.nextValidatorsHash, h.lastCommitHash, h.evidenceHash, h.gasUsed, h.baseFeePerGas, h.randomnessReveal,
  ]
}

export function encodeHeader(header: BlockHeader): Uint8Array {
  return encode(headerToEncodable(header))
}

export function hashHeader(header: BlockHeader): Uint8Array {
  return sha256(encodeHeader(header))
}

export function decodeHeader(bytes: Uint8Array): BlockHeader {
  const f = readArray(decode(bytes, 4096), 'header', 17)
  if (f[0] !== BLOCK_VERSION) throw new CodecError(CodecErrorCode.wrongType, `header.version: expected ${BLOCK_VERSION}`)
  const hash = (i: number, name: string): Uint8Array => readBytes(f[i] ?? null, `header.${name}`, 32)
  return Object.freeze({
    chainId: readUint(f[1] ?? null, 'header.chainId', 0xffffffff),
    height: readUint(f[2] ?? null, 'header.height'),
    parentHash: hash(3, 'parentHash'),
    timestamp: readUint(f[4] ?? null, 'header.timestamp'),
    author: readBytes(f[5] ?? null, 'header.author', 20),
    proposer: hash(6, 'proposer'),
    txRoot: hash(7, 'txRoot'),
    stateRoot: hash(8, 'stateRoot'),
    receiptsRoot: hash(9, 'receiptsRoot'),
    validatorsHash: hash(10, 'validatorsHash'),
    nextValidatorsHash: hash(11, 'nextValidatorsHash'),
    lastCommitHash: hash(12, 'lastCommitHash'),
    evidenceHash: hash(13, 'evidenceHash'),
    gasUsed: readUint(f[14] ?? null, 'header.gasUsed'),
    baseFeePerGas: readAmount(f[15] ?? null, 'header.baseFeePerGas'),
    randomnessReveal: hash(16, 'randomnessReveal'),
  })
}

/**
 * A block body on the wire and on disk: the encoded transactions in order, the commit certificate
 * of the parent (consensus encoding, empty in dev mode and at height 1) and evidence of
 * misbehaviour (consensus encodings). The header commits to each: txRoot, lastCommitHash
 * (sha256 of the certificate, zero when empty) and evidenceHash (list root, zero when empty).
 */
export interface BlockBody {
  readonly transactions: readonly Uint8Array[]
  readonly lastCommit: Uint8Array
  readonly evidence: readonly Uint8Array[]
}

/** evidence items per block at most */
export const MAX_BLOCK_EVIDENCE = 64

export function encodeBody(body: BlockBody): Uint8Array {
  return encode([body.transactions as Uint8Array[], body.lastCommit, body.evidence as Uint8Array[]])
}

/**
 * `trusted`: bytes this node wrote itself (its block store), checked for shape but not re-encoded
 * for the canonical rule, which only untrusted input needs (a whole block is megabytes).
 */
export function decodeBody(bytes: Uint8Array, options: { trusted?: boolean } = {}): BlockBody {
  const value = options.trusted === true ? decodeTrusted(bytes) : decode(bytes, MAX_BLOCK_BYTES)
  const [txs, lastCommit, evidence] = readArray(value, 'body', 3)
  const items = readArray(txs ?? null, 'body.transactions')
  if (items.length > MAX_BLOCK_TXS) throw new CodecError(CodecErrorCode.tooLarge, `body: more than ${MAX_BLOCK_TXS} transactions`)
  const evidenceItems = readArray(evidence ?? null, 'body.evidence')
  if (evidenceItems.length > MAX_BLOCK_EVIDENCE) throw new CodecError(CodecErrorCode.tooLarge, `body: more than ${MAX_BLOCK_EVIDENCE} evidence items`)
  return {
    transactions: items.map((item, i) => readBytes(item, `body.transactions[${i}]`)),
    lastCommit: readBytes(lastCommit ?? null, 'body.lastCommit'),
    evidence: evidenceItems.map((item, i) => readBytes(item, `body.evidence[${i}]`)),
  }
}

export const EMPTY_BODY: BlockBody = { transactions: [], lastCommit: new Uint8Array(0), evidence: [] }
