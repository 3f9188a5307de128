// The JSON views of runtime values that RPC answers are made of.
import t from 'tap'
import { decodeTrusted, encode } from '../../../runtime/codec/canonical.ts'
import { createRuntime } from '../../../runtime/index.ts'
import { FeePaid } from '../../../runtime/modules/fees/events.ts'
import { eventToJson } from '../../../node/api/views.ts'

t.test('an event reads the same whether just emitted or read back from the store', async (t) => {
  const runtime = createRuntime()
  const emitted = FeePaid.create({ account: new Uint8Array(20).fill(1), gasUsed: 21_000, baseFee: 10n ** 24n, burned: 5n, tip: 1n })
  const stored = { ...emitted, data: decodeTrusted(encode(emitted.data)) }
  const expected = { module: 'fees', event: 'FeePaid', data: { account: '0x' + '01'.repeat(20), gasUsed: 21_000, baseFee: (10n ** 24n).toString(), burned: '5', tip: '1' } }
  t.same(eventToJson(runtime, emitted), expected)
  t.same(eventToJson(runtime, stored), expected)
  t.same(eventToJson(runtime, { module: 250, index: 0, data: [] }), { module: 250, event: 0 }, 'an unknown module: its indices')
  t.same(eventToJson(runtime, { ...emitted, data: ['not', 'a fee'] }), { module: 'fees', event: 'FeePaid', data: null }, 'data not of the schema: null')
})
