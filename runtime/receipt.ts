// Receipts: what happened to each transaction in a block.
//   receipt = [status, gasUsed, fee, events, error]   status 0 = success, 1 = failed
//   event   = [module, index, data]                   error = [] | [module, index]
import { decode, encode, type Encodable } from './codec/canonical.ts'
import { readAmount, readArray, readUint } from './codec/read.ts'
import type { RuntimeEvent } from './module.ts'

export const ReceiptStatus = { success: 0, failed: 1 } as const
export type ReceiptStatus = (typeof ReceiptStatus)[keyof typeof ReceiptStatus]

export interface Receipt {
  readonly status: ReceiptStatus
  readonly gasUsed: number
  readonly fee: bigint
  readonly events: readonly RuntimeEvent[]
  readonly error: { readonly module: number; readonly index: number } | undefined
}

export function eventsToEncodable(events: readonly RuntimeEvent[]): Encodable {
  return events.map((e) => [e.module, e.index, e.data])
}

export function receiptToEncodable(r: Receipt): Encodable {
  return [r.status, r.gasUsed, r.fee, eventsToEncodable(r.events), r.error === undefined ? [] : [r.error.module, r.error.index]]
}

export function encodeReceipts(receipts: readonly Receipt[], blockEvents: readonly RuntimeEvent[]): Uint8Array {
  return encode([receipts.map(receiptToEncodable), eventsToEncodable(blockEvents)])
}

function readEvents(value: unknown, field: string): RuntimeEvent[] {
  return readArray(value as never, field).map((item, i) => {
    const [module, index, data] = readArray(item, `${field}[${i}]`, 3)
    return { module: readUint(module ?? null, 'event.module', 255), index: readUint(index ?? null, 'event.index', 255), data: (data ?? null) as Encodable }
  })
}

export function decodeReceipts(bytes: Uint8Array): { receipts: Receipt[]; blockEvents: RuntimeEvent[] } {
  const [list, blockEvents] = readArray(decode(bytes, 256 * 1024 * 1024), 'receipts', 2)
  const receipts = readArray(list ?? null, 'receipts.list').map((item, i): Receipt => {
    const [status, gasUsed, fee, events, error] = readArray(item, `receipts[${i}]`, 5)
    const errorFields = readArray(error ?? null, 'receipt.error')
    return {
      status: readUint(status ?? null, 'receipt.status', 1) as ReceiptStatus,
      gasUsed: readUint(gasUsed ?? null, 'receipt.gasUsed'),
      fee: readAmount(fee ?? null, 'receipt.fee'),
      events: readEvents(events, 'receipt.events'),
      error: errorFields.length === 2 ? { module: readUint(errorFields[0] ?? null, 'error.module', 255), index: readUint(errorFields[1] ?? null, 'error.index', 255) } : undefined,
    }
  })
  return { receipts, blockEvents: readEvents(blockEvents, 'blockEvents') }
}

/**
 * encodeReceipts() from the receipts-root leaves (each receipt's encoding, then the block events'):
 * a msgpack array is its header followed by its items' encodings, so the block's receipts record
 * is assembled from bytes already made for the root instead of encoding every receipt twice.
 */
export function encodeReceiptsFromLeaves(leaves: readonly Uint8Array[]): Uint8Array {
  const count = leaves.length - 1
  if (count < 0) throw new RangeError('receipt leaves end with the block events')
  const header = count < 16 ? [0x90 | count] : count < 0x10000 ? [0xdc, count >> 8, count & 0xff] : [0xdd, count >>> 24, (count >>> 16) & 0xff, (count >>> 8) & 0xff, count & 0xff]
  let length = 1 + header.length
  for (const leaf of leaves) length += leaf.length
  const out = new Uint8Array(length)
  out[0] = 0x92
  out.set(header, 1)
  let offset = 1 + header.length
  for (const leaf of leaves) {
    out.set(leaf, offset)
    offset += leaf.length
  }
  return out
}

/** Leaves of the receipts root: each receipt's encoding, then the block events. */
export function receiptLeaves(receipts: readonly Receipt[], blockEvents: readonly RuntimeEvent[]): Uint8Array[] {
  return [...receipts.map((r) => encode(receiptToEncodable(r))), encode(eventsToEncodable(blockEvents))]
}
