import t from 'tap'
import fc from 'fast-check'
import { decodeReceipts, encodeReceipts, encodeReceiptsFromLeaves, receiptLeaves, ReceiptStatus, type Receipt } from '../../runtime/receipt.ts'
import type { RuntimeEvent } from '../../runtime/module.ts'

const event: fc.Arbitrary<RuntimeEvent> = fc.record({
  module: fc.integer({ min: 0, max: 255 }),
  index: fc.integer({ min: 0, max: 255 }),
  data: fc.array(fc.oneof(fc.maxSafeNat(), fc.uint8Array({ maxLength: 40 }), fc.bigInt({ min: 0n, max: 10n ** 27n })), { maxLength: 4 }),
})
const receipt: fc.Arbitrary<Receipt> = fc.record({
  status: fc.constantFrom(ReceiptStatus.success, ReceiptStatus.failed),
  gasUsed: fc.maxSafeNat(),
  fee: fc.bigInt({ min: 0n, max: 10n ** 27n }),
  events: fc.array(event, { maxLength: 3 }),
  error: fc.option(fc.record({ module: fc.integer({ min: 0, max: 255 }), index: fc.integer({ min: 0, max: 255 }) }), { nil: undefined }),
})

t.test('the receipts record assembled from the root leaves is exactly encodeReceipts()', async (t) => {
  fc.assert(fc.property(fc.array(receipt, { maxLength: 40 }), fc.array(event, { maxLength: 3 }), (receipts, blockEvents) => {
    const bytes = encodeReceiptsFromLeaves(receiptLeaves(receipts, blockEvents))
    t.same(Buffer.from(bytes), Buffer.from(encodeReceipts(receipts, blockEvents)))
  }), { seed: 5, numRuns: 200 })
})

t.test('array header sizes: 15, 16, 65535 and 65536 receipts', async (t) => {
  const one: Receipt = { status: ReceiptStatus.success, gasUsed: 1232, fee: 10n ** 18n, events: [], error: undefined }
  for (const count of [0, 15, 16, 65_535, 65_536]) {
    const receipts = Array.from({ length: count }, () => one)
    const bytes = encodeReceiptsFromLeaves(receiptLeaves(receipts, []))
    t.same(Buffer.from(bytes), Buffer.from(encodeReceipts(receipts, [])), `${count} receipts`)
    t.equal(decodeReceipts(bytes).receipts.length, count)
  }
})

t.test('leaves must end with the block events', async (t) => {
  t.throws(() => encodeReceiptsFromLeaves([]), RangeError)
})
