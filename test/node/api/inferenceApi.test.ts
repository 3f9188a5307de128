// The inference market's RPC views against an in-process dev chain (real Chain, MemoryStore): a
// provider, an on-chain request fulfilled into a record, a channel; lists page and stay bounded.
import t from 'tap'
import { keccak256, sha256, toHex, utf8 } from '../../../runtime/crypto/hash.ts'
import { createRuntime } from '../../../runtime/index.ts'
import { signTransaction } from '../../../runtime/transaction.ts'
import { balanceOf } from '../../../runtime/modules/balances/ledger.ts'
import { INFERENCE_ACCOUNT } from '../../../runtime/modules/inference/index.ts'
import { devAccount, devKey, type DevAccountName } from '../../../genesis/devAccounts.ts'
import { devChainSpec } from '../../../genesis/devSpec.ts'
import type { ChainSpec } from '../../../genesis/spec.ts'
import { inferenceMethods } from '../../../node/api/inferenceApi.ts'
import type { ApiComponents } from '../../../node/api/context.ts'
import { Chain, type BlockCandidate } from '../../../node/chain/chain.ts'
import { MemoryStore } from '../../../node/db/memoryStore.ts'
import { silentLogger } from '../../../lib/logger.ts'
import { parseParams, type RpcMethod } from '../../../node/rpc/registry.ts'
import { baseModelArgs } from '../../runtime/modules/models/harness.ts'

const runtime = createRuntime()
const spec: ChainSpec = { ...devChainSpec(), models: { ...devChainSpec().models!, baseModels: [baseModelArgs()] } }
const nonces = new Map<DevAccountName, number>()
const OPEN = 10n ** 18n

function tx(from: DevAccountName, callName: string, args: unknown): BlockCandidate {
  const module = runtime.moduleByName('inference')
  const call = module?.calls.find((c) => c.name === callName)
  if (module === undefined || call === undefined) throw new Error(callName)
  const nonce = nonces.get(from) ?? 0
  nonces.set(from, nonce + 1)
  const signed = signTransaction({ chainId: spec.chainId, nonce, gasLimit: 1_000_000, maxFeePerGas: 10_000_000_000n, maxPriorityFeePerGas: 0n, call: { module: module.index, call: call.index, args: call.args.encode(call.args.fromJson(args, 'args')) as never } }, devAccount(from).privateKey)
  return { tx: signed, sender: devAccount(from).address }
}

async function commit(chain: Chain, list: BlockCandidate[]): Promise<void> {
  const executed = await chain.buildBlock({ timestamp: chain.head.header.timestamp + 1000, author: devKey('author').address }, (function* () {
    yield* list
  })())
  const imported = await chain.commit(executed, { finalized: true })
  for (const receipt of imported.receipts) if (receipt.error !== undefined) throw new Error(runtime.errorCode(receipt.error))
}

t.test('providers, requests, records and channels over openledger_*', async (t) => {
  const chain = new Chain({ store: new MemoryStore(), runtime, logger: silentLogger })
  await chain.open(spec)
  const methods = inferenceMethods({ chain } as unknown as ApiComponents)
  const call = async (name: string, params: unknown): Promise<unknown> => {
    const method = methods.find((m) => m.name === name) as RpcMethod
    return method.handler(parseParams(method.params, params), { signal: new AbortController().signal, transport: 'http' })
  }
  const offer = { endpoint: 'http://127.0.0.1:9000', priceIn: (OPEN / 1000n).toString(), priceOut: (2n * OPEN / 1000n).toString(), models: [1], capacity: 8 }
  await commit(chain, [tx('charlie', 'registerProvider', { bond: (2_000n * OPEN).toString(), ...offer }), tx('dave', 'registerProvider', { bond: (1_000n * OPEN).toString(), ...offer })])
  const charlie = toHex(devAccount('charlie').address)
  t.match(await call('openledger_getProvider', [charlie]), { operator: charlie, bond: (2_000n * OPEN).toString(), status: 'active', models: [1], capacity: 8 })
  t.equal(await call('openledger_getProvider', [toHex(devAccount('eve').address)]), null)
  const all = await call('openledger_listProviders', []) as Array<{ operator: string }>
  t.same(all.map((p) => p.operator), [charlie, toHex(devAccount('dave').address)].sort())
  const first = all[0]?.operator
  const next = await call('openledger_listProviders', [1, first]) as Array<{ operator: string }>
  t.same(next.map((p) => p.operator), [all[1]?.operator], 'paged after the first address')
  t.same(await call('openledger_listProviders', [5, all[1]?.operator]), [], 'nothing after the last')

  const sampling = { temperatureMilli: 0, topK: 0, topPMilli: 1000, seed: 0 }
  await commit(chain, [tx('bob', 'request', { provider: charlie, base: 1, adapters: [], prompt: 'hello', promptTokens: 2, maxTokens: 8, sampling, escrow: OPEN.toString() })])
  t.match(await call('openledger_getInferenceRequest', [1]), { id: 1, status: 'open', prompt: 'hello', promptHash: toHex(keccak256(utf8('hello'))), record: null })
  const outputHash = toHex(keccak256(utf8('world')))
  await commit(chain, [tx('charlie', 'fulfil', { request: 1, outputHash, outputCid: toHex(sha256(utf8('cid'))), inputTokens: 2, outputTokens: 5 })])
  t.match(await call('openledger_getInferenceRequest', [1]), { status: 'fulfilled', record: 1 })
  const record = await call('openledger_getInferenceRecord', [1]) as { price: string; split: Record<string, string> }
  t.match(record, { id: 1, source: 'request', sourceId: 1, provider: charlie, outputHash, inputTokens: 2, outputTokens: 5 })
  const parts = Object.values(record.split).reduce((a, b) => a + BigInt(b), 0n)
  t.equal(parts, BigInt(record.price), 'the split sums to the price')
  t.equal(BigInt(record.price), (2n * OPEN / 1000n + 5n * 2n * OPEN / 1000n + 999n) / 1000n)
  t.same((await call('openledger_listInferenceRecords', []) as Array<{ id: number }>).map((r) => r.id), [1])
  t.equal(await balanceOf(chain.state, INFERENCE_ACCOUNT), 3_000n * OPEN + BigInt(record.split['contributors'] ?? 0), 'the module holds the bonds and the record\'s contributors\' pool')
  t.equal(await call('openledger_getInferenceRecord', [2]), null)

  await commit(chain, [tx('bob', 'openChannel', { provider: charlie, deposit: (5n * OPEN).toString() })])
  t.match(await call('openledger_getChannel', [1]), { id: 1, status: 'open', deposit: (5n * OPEN).toString(), redeemed: '0', balance: (5n * OPEN).toString() })
  t.equal(await call('openledger_getChannel', [2]), null)
  t.match(await call('openledger_getInferenceParams', []), { providerShareBps: 7000, requestBlocks: 60 })
  const bad = await call('openledger_getChannel', [-1]).then(() => 'no error', (error: { code?: string }) => error.code)
  t.equal(bad, 'INVALID_PARAMS')
})
