// JSON views of chain objects for the RPC (their types are the contract's, node/rpc/contract.ts):
// hashes and bytes as 0x-hex, amounts as decimal strings, heights as numbers, events and call
// arguments decoded by their module's schemas.
import { decodeTrusted, encode, type Decoded } from '../../runtime/codec/canonical.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import type { BlockHeader } from '../../runtime/block.ts'
import type { RuntimeEvent } from '../../runtime/module.ts'
import type { Receipt } from '../../runtime/receipt.ts'
import type { Runtime } from '../../runtime/stateTransition.ts'
import type { Transaction } from '../../runtime/transaction.ts'
import type { CallView, EventView, HeaderView, ReceiptView, TransactionView } from '../rpc/contract.ts'

export function headerToJson(hash: Uint8Array, h: BlockHeader): HeaderView {
  return {
    hash: toHex(hash),
    number: h.height,
    parentHash: toHex(h.parentHash),
    timestamp: h.timestamp,
    chainId: h.chainId,
    author: toHex(h.author),
    proposer: toHex(h.proposer),
    txRoot: toHex(h.txRoot),
    stateRoot: toHex(h.stateRoot),
    receiptsRoot: toHex(h.receiptsRoot),
    validatorsHash: toHex(h.validatorsHash),
    nextValidatorsHash: toHex(h.nextValidatorsHash),
    lastCommitHash: toHex(h.lastCommitHash),
    evidenceHash: toHex(h.evidenceHash),
    gasUsed: h.gasUsed,
    baseFeePerGas: h.baseFeePerGas.toString(),
    randomnessReveal: toHex(h.randomnessReveal),
  }
}

export function eventToJson(runtime: Runtime, event: RuntimeEvent): EventView {
  const module = runtime.module(event.module)
  const definition = module?.events.find((e) => e.index === event.index)
  if (module === undefined || definition === undefined) return { module: event.module, event: event.index }
  let data: Record<string, unknown> | null
  try {
    data = definition.data.toJson(definition.data.decode(event.data as Decoded, 'event')) as Record<string, unknown>
  } catch {
    // an event read back from the store holds its decoded canonical form; one just emitted holds
    // its schema's encode() form (bigints where the store has amount bytes): once through the codec
    try {
      data = definition.data.toJson(definition.data.decode(decodeTrusted(encode(event.data as Decoded)), 'event')) as Record<string, unknown>
    } catch {
      data = null
    }
  }
  return { module: module.name, event: definition.name, data }
}

export function callToJson(runtime: Runtime, tx: Transaction): CallView {
  const module = runtime.module(tx.call.module)
  const call = module?.calls.find((c) => c.index === tx.call.call)
  if (module === undefined || call === undefined) return { module: tx.call.module, call: tx.call.call }
  let args: unknown
  try {
    args = call.args.toJson(call.args.decode(tx.call.args, 'args'))
  } catch {
    args = null
  }
  return { module: module.name, call: call.name, args }
}

export function transactionToJson(runtime: Runtime, tx: Transaction, from: Uint8Array | undefined): TransactionView {
  return {
    hash: toHex(tx.hash),
    from: from === undefined ? null : toHex(from),
    chainId: tx.chainId,
    nonce: tx.nonce,
    gasLimit: tx.gasLimit,
    maxFeePerGas: tx.maxFeePerGas.toString(),
    maxPriorityFeePerGas: tx.maxPriorityFeePerGas.toString(),
    call: callToJson(runtime, tx),
    signature: toHex(tx.signature),
  }
}

export function receiptToJson(runtime: Runtime, receipt: Receipt, where: { txHash: Uint8Array; blockHash: Uint8Array; height: number; index: number }): ReceiptView {
  return {
    transactionHash: toHex(where.txHash),
    blockHash: toHex(where.blockHash),
    blockNumber: where.height,
    index: where.index,
    status: receipt.status === 0 ? 'success' : 'failed',
    gasUsed: receipt.gasUsed,
    fee: receipt.fee.toString(),
    error: receipt.error === undefined ? null : runtime.errorCode(receipt.error),
    events: receipt.events.map((event) => eventToJson(runtime, event)),
  }
}
