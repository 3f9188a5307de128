// Proof of Attribution's RPC views against an in-process dev chain (real Chain, MemoryStore, one
// validator: alice): a datanet of two contributors, an adapter trained on it, a paid inference,
// alice's receipt made final; the attribution, rewards, penalties and a payout proof verified
// against the finalized header's state root.
import t from 'tap'
import { commitmentOf } from '../../../runtime/commitReveal.ts'
import { fromHex, keccak256, sha256, toHex, utf8 } from '../../../runtime/crypto/hash.ts'
import { Format } from '../../../runtime/modules/datanets/formats.ts'
import { receiptHash } from '../../../runtime/modules/attribution/lifecycle.ts'
import { attributions, Method, type Receipt } from '../../../runtime/modules/attribution/state.ts'
import { jobs } from '../../../runtime/modules/models/state.ts'
import { commitScope, RESULT_COMMIT_DOMAIN, resultPayload } from '../../../runtime/modules/models/lifecycle.ts'
import { decodeStateProof, verifyStateProof } from '../../../runtime/state/proof.ts'
import { devAccount, type DevAccountName } from '../../../genesis/devAccounts.ts'
import { devChainSpec } from '../../../genesis/devSpec.ts'
import type { ChainSpec } from '../../../genesis/spec.ts'
import { attributionMethods } from '../../../node/api/attributionApi.ts'
import { found } from '../../e2e/harness.ts'
import { openApiFixture } from './fixture.ts'
import { baseModelArgs, hashes, HYPER, resultArgs } from '../../runtime/modules/models/harness.ts'

const spec: ChainSpec = { ...devChainSpec(), models: { ...devChainSpec().models!, baseModels: [baseModelArgs()] } }
const OPEN = 10n ** 18n
const hexToBytes = (hex: string): Uint8Array => fromHex(hex) ?? new Uint8Array(0)

t.test('attributions, rewards and a payout proof over openledger_*', async (t) => {
  const { chain, tx, commit, rpc } = await openApiFixture(spec)
  const call = rpc(attributionMethods)
  const alice = devAccount('alice').address
  const format = Format.documents
  await commit([tx('ferdie', 'datanets', 'create', { name: 'corpus', description: '', tags: [], licence: 'CC0-1.0', visibility: 0, rules: { deposit: OPEN, feePerByte: 0n, formats: [format], maxBytes: 10_000 }, curators: [] })])
  const contributors: DevAccountName[] = ['dave', 'eve']
  await commit(contributors.map((who, i) => tx(who, 'datanets', 'contribute', { datanet: 1, cid: sha256(utf8(`c${i}`)), size: 1_000, rows: 1, format, metadata: '' })))
  await commit(contributors.map((_, i) => tx('alice', 'datanets', 'attestAvailability', { datanet: 1, contribution: i })))
  await commit(contributors.map((_, i) => tx('ferdie', 'datanets', 'accept', { datanet: 1, contribution: i })))
  await commit([tx('ferdie', 'datanets', 'publishVersion', { datanet: 1, note: 'v1' })])
  await commit([tx('eve', 'models', 'createJob', { base: 1, datanets: [{ datanet: 1, version: 1 }], hyper: HYPER, fee: 10n * OPEN })])
  // the trainer is drawn RANDOMNESS_LOOKAHEAD (2) blocks after the job
  await commit([])
  await commit([])
  const salt = sha256(utf8('salt'))
  const job = await jobs.get(chain.state, 1)
  await commit([tx('alice', 'models', 'commit', { job: 1, commitment: commitmentOf(RESULT_COMMIT_DOMAIN, commitScope(job!), alice, salt, resultPayload(hashes('honest'))) })])
  await commit([tx('alice', 'models', 'revealResult', { ...resultArgs(1), salt })])
  const offer = { endpoint: 'http://127.0.0.1:9000', priceIn: OPEN / 1000n, priceOut: 2n * OPEN / 1000n, models: [1], capacity: 8 }
  await commit([tx('charlie', 'inference', 'registerProvider', { bond: 2_000n * OPEN, ...offer })])
  const sampling = { temperatureMilli: 0, topK: 0, topPMilli: 1000, seed: 0 }
  await commit([tx('bob', 'inference', 'request', { provider: devAccount('charlie').address, base: 1, adapters: [{ id: 1, weightMilli: 1000 }], prompt: 'hello', promptTokens: 2, maxTokens: 8, sampling, escrow: OPEN })])
  const outputHash = keccak256(utf8('world'))
  await commit([tx('charlie', 'inference', 'fulfil', { request: 1, outputHash, outputCid: sha256(utf8('cid')), inputTokens: 2, outputTokens: 5 })])
  await commit([])
  t.equal(await call('openledger_getAttribution', [1]), null, 'not picked up before the lookahead')
  await commit([])
  t.match(await call('openledger_getAttribution', [1]), { record: 1, status: 'assigned', attributor: toHex(alice), attempt: 1, receipt: null })

  const receipt: Receipt = {
    chainId: spec.chainId, record: 1, method: Method.spans, datanets: [{ datanet: 1, version: 1 }], outputHash,
    contributions: [{ datanet: 1, index: 1, score: 700_000 }, { datanet: 1, index: 0, score: 300_000 }], harmful: [],
  }
  await commit([tx('alice', 'attribution', 'submitReceipt', receipt)])
  await t.rejects(call('openledger_getPayoutProof', [1, toHex(devAccount('eve').address)]), { code: 'NOT_FINAL' })
  await commit([])
  await commit([])
  const final = found(await call('openledger_getAttribution', [1]), 'the attribution of record 1')
  t.equal(final.status, 'final')
  t.equal(final.receipt?.method, 'spans')
  t.equal(final.receiptHash, toHex(receiptHash(receipt)))
  t.same((await call('openledger_listAttributions', [])).map((a) => a.record), [1])
  const eve = toHex(devAccount('eve').address)
  const eveShare = final.payouts.find((p) => p.contributor === eve)?.amount
  t.ok(eveShare !== undefined && BigInt(eveShare) > 0n)
  t.same(await call('openledger_getRewards', [eve]), { address: eve, accrued: eveShare, claimed: '0' })
  t.same(await call('openledger_getRewards', [toHex(devAccount('bob').address)]), { address: toHex(devAccount('bob').address), accrued: '0', claimed: '0' })
  t.same(await call('openledger_getPenalties', [1]), [])
  t.same(await call('openledger_listRewards', [eve]), [{ record: 1, amount: eveShare, contributions: [{ datanet: 1, index: 1, score: 700_000, amount: eveShare }] }], 'the per-contributor index: the record, its credited contribution, score and amount')
  t.same(await call('openledger_listRewards', [eve, null, 1]), [], 'nothing after record 1')
  t.same(await call('openledger_listRewards', [toHex(devAccount('bob').address)]), [])

  const proof = await call('openledger_getPayoutProof', [1, eve])
  t.equal(proof.amount, eveShare)
  t.equal(proof.stateRoot, toHex(chain.finalized.header.stateRoot))
  t.ok(verifyStateProof(hexToBytes(proof.stateRoot), hexToBytes(proof.key), hexToBytes(proof.value), decodeStateProof(hexToBytes(proof.proof))), 'the proof verifies against the finalized state root')
  const proven = attributions.decodeValue(hexToBytes(proof.value))
  t.equal(proven.payouts.find((p) => toHex(p.contributor) === eve)?.amount.toString(), eveShare, 'the proven value says what eve was paid')
  await t.rejects(call('openledger_getPayoutProof', [1, toHex(devAccount('bob').address)]), { code: 'NOT_PAID' })
  await t.rejects(call('openledger_getPayoutProof', [2, eve]), { code: 'NOT_FINAL' })
})
