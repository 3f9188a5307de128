// The Ethereum JSON shapes of our blocks, transactions, receipts and runtime events (logs), as
// eth_* methods answer them: quantities as 0x-hex without leading zeros, data as 0x-hex.
//
// Runtime events are logs: address = the module's address (0x0000…08MM), topics[0] =
// keccak256("<module>.<Event>"), topics[1..3] = the event's first three fields that are an
// address (left-padded to 32 bytes), a hash or an integer (32-byte big-endian), in field order;
// data = the canonical msgpack of the event's fields (decode with the module's event schema).
// Block events (end-of-block hooks) come after the block's transactions' logs, with a null
// transaction hash and index: no transaction emitted them.
import { decodeTrusted, encode, type Decoded } from '../../runtime/codec/canonical.ts'
import { encodeBody, encodeHeader, type BlockBody, type BlockHeader } from '../../runtime/block.ts'
import { concatBytes, keccak256, toHex, utf8 } from '../../runtime/crypto/hash.ts'
import { moduleAddress, TRANSFER_CALL } from '../../runtime/ethereumTransaction.ts'
import type { RuntimeEvent } from '../../runtime/module.ts'
import { ReceiptStatus, type Receipt } from '../../runtime/receipt.ts'
import type { Runtime } from '../../runtime/stateTransition.ts'
import type { Transaction } from '../../runtime/transaction.ts'
import type { EthBlockView, EthLogView, EthReceiptView, EthTransactionView } from '../rpc/contract.ts'

/** How native (msgpack-signed) transactions are typed in eth views: 0x4f, "O". Not an Ethereum type. */
export const NATIVE_TX_TYPE = '0x4f'
const ZERO_HASH = toHex(new Uint8Array(32))
const EMPTY_UNCLES_HASH = '0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347' // keccak256(rlp([]))
const BLOOM_BYTES = 256
const MAX_INDEXED = 3

export function quantity(value: number | bigint): string {
  return `0x${value.toString(16)}`
}

export type EthLog = EthLogView

/** The topics and data of one event (see the header). */
export function eventLogFields(runtime: Runtime, event: RuntimeEvent): { address: Uint8Array; topics: Uint8Array[]; data: Uint8Array } {
  const data = encode(event.data)
  const module = runtime.module(event.module)
  const definition = module?.events.find((e) => e.index === event.index)
  const name = module === undefined || definition === undefined ? `${event.module}.${event.index}` : `${module.name}.${definition.name}`
  const topics = [keccak256(utf8(name))]
  const fields = (definition?.data as { fields?: Record<string, { name: string }> } | undefined)?.fields
  if (fields !== undefined) {
    const values = decodeTrusted(data)
    if (Array.isArray(values)) {
      Object.values(fields).forEach((kind, i) => {
        if (topics.length > MAX_INDEXED) return
        const topic = topicOf(kind.name, values[i] ?? null)
        if (topic !== undefined) topics.push(topic)
      })
    }
  }
  return { address: moduleAddress(event.module), topics, data }
}

function topicOf(kind: string, value: Decoded): Uint8Array | undefined {
  const word = new Uint8Array(32)
  if (kind === 'address' && value instanceof Uint8Array && value.length === 20) word.set(value, 12)
  else if (kind === 'hash' && value instanceof Uint8Array && value.length === 32) word.set(value)
  else if (kind === 'uint' && typeof value === 'number') {
    let rest = BigInt(value)
    for (let i = 31; rest > 0n; i--, rest >>= 8n) word[i] = Number(rest & 0xffn)
  } else return undefined
  return word
}

/** Adds `item` to a 2048-bit Ethereum bloom: three bits from its keccak hash. */
function addToBloom(bloom: Uint8Array, item: Uint8Array): void {
  const hash = keccak256(item)
  for (let i = 0; i < 6; i += 2) {
    const bit = (((hash[i] as number) << 8) | (hash[i + 1] as number)) & 2047
    bloom[BLOOM_BYTES - 1 - (bit >> 3)] = (bloom[BLOOM_BYTES - 1 - (bit >> 3)] as number) | (1 << (bit & 7))
  }
}

export function bloomOf(logs: ReadonlyArray<{ address: Uint8Array; topics: readonly Uint8Array[] }>): Uint8Array {
  const bloom = new Uint8Array(BLOOM_BYTES)
  for (const log of logs) {
    addToBloom(bloom, log.address)
    for (const topic of log.topics) addToBloom(bloom, topic)
  }
  return bloom
}

export interface BlockData {
  readonly hash: Uint8Array
  readonly header: BlockHeader
  readonly transactions: readonly Transaction[]
  readonly receipts: readonly Receipt[]
  readonly blockEvents: readonly RuntimeEvent[]
}

export interface BlockLog {
  readonly fields: { address: Uint8Array; topics: Uint8Array[]; data: Uint8Array }
  /** the transaction's index, or undefined for a block event */
  readonly txIndex: number | undefined
  readonly json: EthLog
}

/** Every log of a block in order: its transactions' events, then its block events. */
export function blockLogs(runtime: Runtime, block: BlockData): BlockLog[] {
  const out: BlockLog[] = []
  const where = { blockNumber: quantity(block.header.height), blockHash: toHex(block.hash) }
  const push = (event: RuntimeEvent, txIndex: number | undefined): void => {
    const fields = eventLogFields(runtime, event)
    const tx = txIndex === undefined ? undefined : block.transactions[txIndex]
    out.push({
      fields,
      txIndex,
      json: {
        address: toHex(fields.address),
        topics: fields.topics.map(toHex),
        data: toHex(fields.data),
        ...where,
        transactionHash: tx === undefined ? null : toHex(tx.hash),
        transactionIndex: txIndex === undefined ? null : quantity(txIndex),
        logIndex: quantity(out.length),
        removed: false,
      },
    })
  }
  block.receipts.forEach((receipt, i) => {
    for (const event of receipt.events) push(event, i)
  })
  for (const event of block.blockEvents) push(event, undefined)
  return out
}

/** `to`, `value` and `input` as Ethereum sees a transaction: what was signed, or for a native one the documented mapping. */
function ethereumFields(tx: Transaction): { to: Uint8Array; value: bigint; input: Uint8Array } {
  if (tx.ethereum !== undefined) return { to: tx.ethereum.to, value: tx.ethereum.value, input: tx.ethereum.data }
  const args = tx.call.args
  if (tx.call.module === TRANSFER_CALL.module && tx.call.call === TRANSFER_CALL.call && Array.isArray(args) && args[0] instanceof Uint8Array && args[1] instanceof Uint8Array) {
    return { to: args[0], value: BigInt(args[1].length === 0 ? 0 : toHex(args[1])), input: new Uint8Array(0) }
  }
  return { to: moduleAddress(tx.call.module), value: 0n, input: concatBytes(Uint8Array.of(tx.call.call), encode(args)) }
}

export interface TxLocation {
  readonly blockHash: Uint8Array
  readonly height: number
  readonly index: number
  readonly baseFeePerGas: bigint
}

export function ethTransaction(tx: Transaction, from: Uint8Array | undefined, location: TxLocation | undefined): EthTransactionView {
  const { to, value, input } = ethereumFields(tx)
  const envelope = tx.ethereum
  const type = envelope === undefined ? NATIVE_TX_TYPE : quantity(envelope.type)
  const gasPrice = location === undefined ? tx.maxFeePerGas : effectivePrice(tx, location.baseFeePerGas)
  const parity = tx.signature[64] ?? 0
  const view: EthTransactionView = {
    type,
    hash: toHex(tx.hash),
    blockHash: location === undefined ? null : toHex(location.blockHash),
    blockNumber: location === undefined ? null : quantity(location.height),
    transactionIndex: location === undefined ? null : quantity(location.index),
    from: from === undefined ? null : toHex(from),
    to: toHex(to),
    value: quantity(value),
    input: toHex(input),
    nonce: quantity(tx.nonce),
    gas: quantity(tx.gasLimit),
    gasPrice: quantity(gasPrice),
    chainId: quantity(tx.chainId),
    v: quantity(envelope?.v ?? BigInt(parity)),
    r: quantity(BigInt(toHex(tx.signature.subarray(0, 32)))),
    s: quantity(BigInt(toHex(tx.signature.subarray(32, 64)))),
  }
  if (envelope?.type !== 0) {
    view.maxFeePerGas = quantity(tx.maxFeePerGas)
    view.maxPriorityFeePerGas = quantity(tx.maxPriorityFeePerGas)
    view.accessList = []
    view.yParity = quantity(parity)
  }
  return view
}

function effectivePrice(tx: Transaction, baseFee: bigint): bigint {
  const withTip = baseFee + tx.maxPriorityFeePerGas
  return withTip < tx.maxFeePerGas ? withTip : tx.maxFeePerGas
}

export function ethReceipt(block: BlockData, index: number, from: Uint8Array | undefined, logs: readonly BlockLog[]): EthReceiptView | undefined {
  const tx = block.transactions[index]
  const receipt = block.receipts[index]
  if (tx === undefined || receipt === undefined) return undefined
  let cumulative = 0
  for (let i = 0; i <= index; i++) cumulative += block.receipts[i]?.gasUsed ?? 0
  const own = logs.filter((log) => log.txIndex === index)
  return {
    type: tx.ethereum === undefined ? NATIVE_TX_TYPE : quantity(tx.ethereum.type),
    transactionHash: toHex(tx.hash),
    transactionIndex: quantity(index),
    blockHash: toHex(block.hash),
    blockNumber: quantity(block.header.height),
    from: from === undefined ? null : toHex(from),
    to: toHex(ethereumFields(tx).to),
    cumulativeGasUsed: quantity(cumulative),
    gasUsed: quantity(receipt.gasUsed),
    effectiveGasPrice: quantity(receipt.gasUsed === 0 ? 0n : receipt.fee / BigInt(receipt.gasUsed)),
    contractAddress: null,
    logs: own.map((log) => log.json),
    logsBloom: toHex(bloomOf(own.map((log) => log.fields))),
    status: receipt.status === ReceiptStatus.success ? '0x1' : '0x0',
  }
}

export function ethBlock(block: BlockData & { body?: BlockBody }, options: { gasLimit: number; full: boolean; senders?: ReadonlyArray<Uint8Array | undefined>; logs: readonly BlockLog[] }): EthBlockView {
  const { header } = block
  const size = block.body === undefined ? undefined : encodeHeader(header).length + encodeBody(block.body).length
  return {
    number: quantity(header.height),
    hash: toHex(block.hash),
    parentHash: toHex(header.parentHash),
    nonce: '0x0000000000000000',
    sha3Uncles: EMPTY_UNCLES_HASH,
    logsBloom: toHex(bloomOf(options.logs.map((log) => log.fields))),
    transactionsRoot: toHex(header.txRoot),
    stateRoot: toHex(header.stateRoot),
    receiptsRoot: toHex(header.receiptsRoot),
    miner: toHex(header.author),
    difficulty: '0x0',
    totalDifficulty: '0x0',
    extraData: '0x',
    size: size === undefined ? undefined : quantity(size),
    gasLimit: quantity(options.gasLimit),
    gasUsed: quantity(header.gasUsed),
    timestamp: quantity(Math.floor(header.timestamp / 1000)),
    baseFeePerGas: quantity(header.baseFeePerGas),
    mixHash: ZERO_HASH,
    uncles: [],
    transactions: options.full
      ? block.transactions.map((tx, index) => ethTransaction(tx, options.senders?.[index], { blockHash: block.hash, height: header.height, index, baseFeePerGas: header.baseFeePerGas }))
      : block.transactions.map((tx) => toHex(tx.hash)),
  }
}
