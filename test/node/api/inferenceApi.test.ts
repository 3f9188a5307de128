// The inference market's RPC views against an in-process dev chain (real Chain, MemoryStore): a
// provider, an on-chain request fulfilled into a record, a channel; lists page and stay bounded.
import t from 'tap'
import { keccak256, sha256, toHex, utf8 } from '../../../runtime/crypto/hash.ts'
import { balanceOf } from '../../../runtime/modules/balances/ledger.ts'
import { INFERENCE_ACCOUNT } from '../../../runtime/modules/inference/index.ts'
import { devAccount, type DevAccountName } from '../../../genesis/devAccounts.ts'
import { devChainSpec } from '../../../genesis/devSpec.ts'
import type { ChainSpec } from '../../../genesis/spec.ts'
import { inferenceMethods } from '../../../node/api/inferenceApi.ts'
import { found } from '../../e2e/harness.ts'
import { openApiFixture } from './fixture.ts'
import { baseModelArgs } from '../../runtime/modules/models/harness.ts'

const spec: ChainSpec = { ...devChainSpec(), models: { ...devChainSpec().models!, baseModels: [baseModelArgs()] } }
const OPEN = 10n ** 18n

t.test('providers, requests, records and channels over openledger_*', async (t) => {
  const { chain, txFromJson, commit, rpc } = await openApiFixture(spec)
  const tx = (from: DevAccountName, callName: string, args: unknown) => txFromJson(from, 'inference', callName, args)
  const call = rpc(inferenceMethods)
  const offer = { endpoint: 'http://127.0.0.1:9000', priceIn: (OPEN / 1000n).toString(), priceOut: (2n * OPEN / 1000n).toString(), models: [1], capacity: 8 }
  await commit([tx('charlie', 'registerProvider', { bond: (2_000n * OPEN).toString(), ...offer }), tx('dave', 'registerProvider', { bond: (1_000n * OPEN).toString(), ...offer })])
  const charlie = toHex(devAccount('charlie').address)
  t.match(await call('openledger_getProvider', [charlie]), { operator: charlie, bond: (2_000n * OPEN).toString(), status: 'active', models: [1], capacity: 8 })
  t.equal(await call('openledger_getProvider', [toHex(devAccount('eve').address)]), null)
  const all = await call('openledger_listProviders', [])
  t.same(all.map((p) => p.operator), [charlie, toHex(devAccount('dave').address)].sort())
  const first = all[0]?.operator
  const next = await call('openledger_listProviders', [1, first])
  t.same(next.map((p) => p.operator), [all[1]?.operator], 'paged after the first address')
  t.same(await call('openledger_listProviders', [5, all[1]?.operator]), [], 'nothing after the last')

  const sampling = { temperatureMilli: 0, topK: 0, topPMilli: 1000, seed: 0 }
  await commit([tx('bob', 'request', { provider: charlie, base: 1, adapters: [], prompt: 'hello', promptTokens: 2, maxTokens: 8, sampling, escrow: OPEN.toString() })])
  t.match(await call('openledger_getInferenceRequest', [1]), { id: 1, status: 'open', prompt: 'hello', promptHash: toHex(keccak256(utf8('hello'))), record: null })
  const outputHash = toHex(keccak256(utf8('world')))
  await commit([tx('charlie', 'fulfil', { request: 1, outputHash, outputCid: toHex(sha256(utf8('cid'))), inputTokens: 2, outputTokens: 5 })])
  t.match(await call('openledger_getInferenceRequest', [1]), { status: 'fulfilled', record: 1 })
  const record = found(await call('openledger_getInferenceRecord', [1]), 'record 1')
  t.match(record, { id: 1, source: 'request', sourceId: 1, provider: charlie, outputHash, inputTokens: 2, outputTokens: 5 })
  const parts = Object.values(record.split).reduce((a, b) => a + BigInt(b), 0n)
  t.equal(parts, BigInt(record.price), 'the split sums to the price')
  t.equal(BigInt(record.price), (2n * OPEN / 1000n + 5n * 2n * OPEN / 1000n + 999n) / 1000n)
  t.same((await call('openledger_listInferenceRecords', [])).map((r) => r.id), [1])
  t.equal(await balanceOf(chain.state, INFERENCE_ACCOUNT), 3_000n * OPEN + BigInt(record.split.contributors), 'the module holds the bonds and the record\'s contributors\' pool')
  t.equal(await call('openledger_getInferenceRecord', [2]), null)

  await commit([tx('bob', 'openChannel', { provider: charlie, deposit: (5n * OPEN).toString() })])
  t.match(await call('openledger_getChannel', [1]), { id: 1, status: 'open', deposit: (5n * OPEN).toString(), redeemed: '0', balance: (5n * OPEN).toString() })
  t.equal(await call('openledger_getChannel', [2]), null)
  t.match(await call('openledger_getInferenceParams', []), { providerShareBps: 7000, requestBlocks: 60 })
  const bad = await call('openledger_getChannel', [-1]).then(() => 'no error', (error: { code?: string }) => error.code)
  t.equal(bad, 'INVALID_PARAMS')
})
