import t from 'tap'
import fc from 'fast-check'
import { encode } from '../../../runtime/codec/canonical.ts'
import { MAX_TX_BYTES } from '../../../runtime/transaction.ts'
import { MempoolError } from '../../../node/mempool/mempool.ts'
import { decodeTxBatch, encodeTxBatch, MAX_GOSSIP_BATCH_TXS, TxGossip } from '../../../node/mempool/txGossip.ts'
import { InvalidTransactionCode, InvalidTransactionError } from '../../../runtime/stateTransition.ts'

const LIMIT = 512 * 1024

t.test('a batch round-trips and its decoding refuses everything else', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 50 }), (txs) => {
      t.same(decodeTxBatch(encodeTxBatch(txs), LIMIT), txs)
    }),
  )
  const refused = (bytes: Uint8Array, message: RegExp, what: string) => t.throws(() => decodeTxBatch(bytes, LIMIT), { code: 'INVALID_BATCH', message }, what)
  refused(encode([]), /1 to 1024 transactions, not 0/, 'empty')
  refused(encodeTxBatch(Array.from({ length: MAX_GOSSIP_BATCH_TXS + 1 }, () => new Uint8Array([1]))), /not 1025/, 'too many')
  refused(encode(new Uint8Array(4)), /expected an array|malformed/, 'not an array')
  refused(encode(['a string']), /batch\[0\]: expected bytes/, 'an item that is not bytes')
  refused(encodeTxBatch([new Uint8Array(MAX_TX_BYTES + 1)]), /at most 131072 bytes/, 'an oversized transaction')
  refused(new Uint8Array([0x91, 0xc4]), /malformed/, 'truncated')
  refused(new Uint8Array([0xdc, 0x00, 0x01, 0xc4, 0x01, 0x07]), /malformed/, 'non-canonical array header')
  t.throws(() => decodeTxBatch(encodeTxBatch([new Uint8Array(1000)]), 500), { code: 'INVALID_BATCH' }, 'a message over the limit')
})

t.test('local transactions admitted in one tick leave as one message, split at the size limit', async (t) => {
  const sent: Uint8Array[][] = []
  const gossip = new TxGossip({ maxMessageBytes: MAX_TX_BYTES + 10 + 50, flushMs: 5 }, { publish: async (bytes) => void sent.push(decodeTxBatch(bytes, LIMIT)), submit: async () => undefined })
  t.teardown(() => gossip.stop())
  const small = Array.from({ length: 10 }, (_, i) => new Uint8Array(100).fill(i))
  for (const tx of small) gossip.enqueue(tx)
  t.equal(sent.length, 0, 'nothing sent before the flush delay')
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.same(sent, [small], 'one message with all ten')

  const big = new Uint8Array(MAX_TX_BYTES).fill(9)
  gossip.enqueue(small[0] as Uint8Array)
  gossip.enqueue(big)
  gossip.enqueue(small[1] as Uint8Array)
  gossip.flush()
  t.same(sent.slice(1), [[small[0]], [big], [small[1]]], 'a transaction that would overflow the message starts a new one')
  for (const batch of sent) t.ok(encodeTxBatch(batch).length <= MAX_TX_BYTES + 10 + 50)

  const many = Array.from({ length: MAX_GOSSIP_BATCH_TXS + 1 }, () => new Uint8Array([1]))
  for (const tx of many) gossip.enqueue(tx)
  gossip.flush()
  t.same(sent.slice(4).map((batch) => batch.length), [MAX_GOSSIP_BATCH_TXS, 1], 'at most MAX_GOSSIP_BATCH_TXS per message')
  t.throws(() => new TxGossip({ maxMessageBytes: MAX_TX_BYTES }, { publish: async () => {}, submit: async () => undefined }), RangeError)
})

t.test("a peer's batch: accepted if anything was admitted, ignored if nothing was, rejected on a peer fault", async (t) => {
  const outcomes = new Map<number, unknown>([
    [1, undefined],
    [2, new MempoolError('ALREADY_KNOWN', 'known')],
    [3, new InvalidTransactionError(InvalidTransactionCode.invalidSignature, 'bad signature')],
    [4, new MempoolError('POOL_FULL', 'full')],
  ])
  const submitted: number[] = []
  const gossip = new TxGossip(
    { maxMessageBytes: LIMIT },
    {
      publish: async () => {},
      async submit(bytes, source) {
        t.equal(source, 'gossip')
        const id = bytes[0] as number
        submitted.push(id)
        const outcome = outcomes.get(id)
        if (outcome !== undefined) throw outcome
      },
    },
  )
  const batch = (...ids: number[]) => encodeTxBatch(ids.map((id) => new Uint8Array([id])))
  t.equal(await gossip.receive(batch(2, 1, 4)), 'accept')
  t.equal(await gossip.receive(batch(2, 4)), 'ignore')
  t.equal(await gossip.receive(batch(1, 3)), 'reject', 'one transaction no honest peer would relay')
  t.equal(await gossip.receive(new Uint8Array([0xc1])), 'reject', 'malformed')
  t.equal(await gossip.receive(encode([])), 'reject', 'empty')
  t.same(submitted, [2, 1, 4, 2, 4, 1, 3], 'every transaction of a well-formed batch is offered to the pool')
})
