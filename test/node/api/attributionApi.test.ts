// Proof of Attribution's RPC views against an in-process dev chain (real Chain, MemoryStore, one
// validator: alice): a datanet of two contributors, an adapter trained on it, a paid inference,
// alice's receipt made final; the attribution, rewards, penalties and a payout proof verified
// against the finalized header's state root.
import t from 'tap'
import { commitmentOf } from '../../../runtime/commitReveal.ts'
import { fromHex, keccak256, sha256, toHex, utf8 } from '../../../runtime/crypto/hash.ts'
import { createRuntime } from '../../../runtime/index.ts'
import { signTransaction } from '../../../runtime/transaction.ts'
import { Format } from '../../../runtime/modules/datanets/formats.ts'
import { receiptHash } from '../../../runtime/modules/attribution/lifecycle.ts'
import { attributions, Method, type Receipt } from '../../../runtime/modules/attribution/state.ts'
import { jobs } from '../../../runtime/modules/models/state.ts'
import { commitScope, RESULT_COMMIT_DOMAIN, resultPayload } from '../../../runtime/modules/models/lifecycle.ts'
import { decodeStateProof, verifyStateProof } from '../../../runtime/state/proof.ts'
import { devAccount, devKey, type DevAccountName } from '../../../genesis/devAccounts.ts'
import { devChainSpec } from '../../../genesis/devSpec.ts'
import type { ChainSpec } from '../../../genesis/spec.ts'
import { attributionMethods } from '../../../node/api/attributionApi.ts'
import type { ApiComponents } from '../../../node/api/context.ts'
import { Chain, type BlockCandidate } from '../../../node/chain/chain.ts'
import { MemoryStore } from '../../../node/db/memoryStore.ts'
import { silentLogger } from '../../../lib/logger.ts'
import { parseParams, type RpcMethod } from '../../../node/rpc/registry.ts'
import { baseModelArgs, hashes, HYPER, resultArgs } from '../../runtime/modules/models/harness.ts'

const runtime = createRuntime()
const spec: ChainSpec = { ...devChainSpec(), models: { ...devChainSpec().models!, baseModels: [baseModelArgs()] } }
const nonces = new Map<DevAccountName, number>()
const OPEN = 10n ** 18n
const hexToBytes = (hex: string): Uint8Array => fromHex(hex) ?? new Uint8Array(0)

function tx(from: DevAccountName, moduleName: string, callName: string, args: unknown): BlockCandidate {
  const module = runtime.moduleByName(moduleName)
  const call = module?.calls.find((c) => c.name === callName)
  if (module === undefined || call === undefined) throw new Error(callName)
  const nonce = nonces.get(from) ?? 0
  nonces.set(from, nonce + 1)
  const signed = signTransaction({ chainId: spec.chainId, nonce, gasLimit: 2_000_000, maxFeePerGas: 10_000_000_000n, maxPriorityFeePerGas: 0n, call: { module: module.index, call: call.index, args: call.args.encode(args) as never } }, devAccount(from).privateKey)
  return { tx: signed, sender: devAccount(from).address }
}

async function commit(chain: Chain, list: BlockCandidate[]): Promise<void> {
  const executed = await chain.buildBlock({ timestamp: chain.head.header.timestamp + 1000, author: devKey('author').address }, (function* () {
    yield* list
  })())
  const imported = await chain.commit(executed, { finalized: true })
  for (const receipt of imported.receipts) if (receipt.error !== undefined) throw new Error(runtime.errorCode(receipt.error))
}

t.test('attributions, rewards and a payout proof over openledger_*', async (t) => {
  const chain = new Chain({ store: new MemoryStore(), runtime, logger: silentLogger })
  await chain.open(spec)
  const methods = attributionMethods({ chain } as unknown as ApiComponents)
  const call = async (name: string, params: unknown): Promise<unknown> => {
    const method = methods.find((m) => m.name === name) as RpcMethod
    return method.handler(parseParams(method.params, params), { signal: new AbortController().signal, transport: 'http' })
  }
  const alice = devAccount('alice').address
  const format = Format.documents
  await commit(chain, [tx('ferdie', 'datanets', 'create', { name: 'corpus', description: '', tags: [], licence: 'CC0-1.0', visibility: 0, rules: { deposit: OPEN, feePerByte: 0n, formats: [format], maxBytes: 10_000 }, curators: [] })])
  const contributors: DevAccountName[] = ['dave', 'eve']
  await commit(chain, contributors.map((who, i) => tx(who, 'datanets', 'contribute', { datanet: 1, cid: sha256(utf8(`c${i}`)), size: 1_000, rows: 1, format, metadata: '' })))
  await commit(chain, contributors.map((_, i) => tx('alice', 'datanets', 'attestAvailability', { datanet: 1, contribution: i })))
  await commit(chain, contributors.map((_, i) => tx('ferdie', 'datanets', 'accept', { datanet: 1, contribution: i })))
  await commit(chain, [tx('ferdie', 'datanets', 'publishVersion', { datanet: 1, note: 'v1' })])
  await commit(chain, [tx('eve', 'models', 'createJob', { base: 1, datanets: [{ datanet: 1, version: 1 }], hyper: HYPER, fee: 10n * OPEN })])
  // the trainer is drawn RANDOMNESS_LOOKAHEAD (2) blocks after the job
  await commit(chain, [])
  await commit(chain, [])
  const salt = sha256(utf8('salt'))
  const job = await jobs.get(chain.state, 1)
  await commit(chain, [tx('alice', 'models', 'commit', { job: 1, commitment: commitmentOf(RESULT_COMMIT_DOMAIN, commitScope(job!), alice, salt, resultPayload(hashes('honest'))) })])
  await commit(chain, [tx('alice', 'models', 'revealResult', { ...resultArgs(1), salt })])
  const offer = { endpoint: 'http://127.0.0.1:9000', priceIn: OPEN / 1000n, priceOut: 2n * OPEN / 1000n, models: [1], capacity: 8 }
  await commit(chain, [tx('charlie', 'inference', 'registerProvider', { bond: 2_000n * OPEN, ...offer })])
  const sampling = { temperatureMilli: 0, topK: 0, topPMilli: 1000, seed: 0 }
  await commit(chain, [tx('bob', 'inference', 'request', { provider: devAccount('charlie').address, base: 1, adapters: [{ id: 1, weightMilli: 1000 }], prompt: 'hello', promptTokens: 2, maxTokens: 8, sampling, escrow: OPEN })])
  const outputHash = keccak256(utf8('world'))
  await commit(chain, [tx('charlie', 'inference', 'fulfil', { request: 1, outputHash, outputCid: sha256(utf8('cid')), inputTokens: 2, outputTokens: 5 })])
  await commit(chain, [])
  t.equal(await call('openledger_getAttribution', [1]), null, 'not picked up before the lookahead')
  await commit(chain, [])
  t.match(await call('openledger_getAttribution', [1]), { record: 1, status: 'assigned', attributor: toHex(alice), attempt: 1, receipt: null })

  const receipt: Receipt = {
    chainId: spec.chainId, record: 1, method: Method.spans, datanets: [{ datanet: 1, version: 1 }], outputHash,
    contributions: [{ datanet: 1, index: 1, score: 700_000 }, { datanet: 1, index: 0, score: 300_000 }], harmful: [],
  }
  await commit(chain, [tx('alice', 'attribution', 'submitReceipt', receipt)])
  await t.rejects(call('openledger_getPayoutProof', [1, toHex(devAccount('eve').address)]), { code: 'NOT_FINAL' })
  await commit(chain, [])
  await commit(chain, [])
  const final = await call('openledger_getAttribution', [1]) as { status: string; paid: string; receiptHash: string; receipt: { method: string }; payouts: Array<{ contributor: string; amount: string }> }
  t.equal(final.status, 'final')
  t.equal(final.receipt.method, 'spans')
  t.equal(final.receiptHash, toHex(receiptHash(receipt)))
  t.same((await call('openledger_listAttributions', []) as Array<{ record: number }>).map((a) => a.record), [1])
  const eve = toHex(devAccount('eve').address)
  const eveShare = final.payouts.find((p) => p.contributor === eve)?.amount
  t.ok(eveShare !== undefined && BigInt(eveShare) > 0n)
  t.same(await call('openledger_getRewards', [eve]), { address: eve, accrued: eveShare, claimed: '0' })
  t.same(await call('openledger_getRewards', [toHex(devAccount('bob').address)]), { address: toHex(devAccount('bob').address), accrued: '0', claimed: '0' })
  t.same(await call('openledger_getPenalties', [1]), [])

  const proof = await call('openledger_getPayoutProof', [1, eve]) as { amount: string; stateRoot: string; key: string; value: string; proof: string; number: number }
  t.equal(proof.amount, eveShare)
  t.equal(proof.stateRoot, toHex(chain.finalized.header.stateRoot))
  t.ok(verifyStateProof(hexToBytes(proof.stateRoot), hexToBytes(proof.key), hexToBytes(proof.value), decodeStateProof(hexToBytes(proof.proof))), 'the proof verifies against the finalized state root')
  const proven = attributions.decodeValue(hexToBytes(proof.value))
  t.equal(proven.payouts.find((p) => toHex(p.contributor) === eve)?.amount.toString(), eveShare, 'the proven value says what eve was paid')
  await t.rejects(call('openledger_getPayoutProof', [1, toHex(devAccount('bob').address)]), { code: 'NOT_PAID' })
  await t.rejects(call('openledger_getPayoutProof', [2, eve]), { code: 'NOT_FINAL' })
})
