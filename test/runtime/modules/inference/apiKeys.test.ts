// Spending-capped API keys (runtime/modules/inference/apiKeys.ts): the cap escrowed at creation,
// charges priced at the provider's registered prices and split like every record, never past the
// cap, revocation stopping nothing on chain but starting the challenge period after which the rest
// is refunded, expiry the same; every bad call refused and changing nothing; the module account's
// invariant throughout.
import t from 'tap'
import { keccak256, utf8 } from '../../../../runtime/crypto/hash.ts'
import { ApiKeyCharged, ApiKeyClosed } from '../../../../runtime/modules/inference/events.ts'
import { inferenceCost } from '../../../../runtime/modules/inference/pricing.ts'
import { apiKeys, ApiKeyStatus, records, RecordSource } from '../../../../runtime/modules/inference/state.ts'
import { ModuleIndex } from '../../../../runtime/modules/indices.ts'
import { eventsNamed } from '../models/harness.ts'
import { addressOfDev, GREEDY, invariantProblems, market, OPEN, output, PRICE_IN, PRICE_OUT, PROVIDER, refuses, TEST_INFERENCE_PARAMS } from './harness.ts'

const inf = 'inference'
const I = ModuleIndex.inference
const KEY_HASH = keccak256(utf8('olk_test key'))
const CAP = OPEN / 100n
const served = (tag: string, outputTokens = 10) => ({
  terms: { base: 1, adapters: [], promptHash: keccak256(utf8(`prompt ${tag}`)), promptTokens: 5, maxTokens: 20, sampling: GREEDY },
  ...output(tag), inputTokens: 5, outputTokens,
})
const price = (outputTokens = 10) => inferenceCost({ priceIn: PRICE_IN, priceOut: PRICE_OUT }, 5, outputTokens)

async function keyed(expiresAt = 0) {
  const h = await market()
  await h.ok('dave', 'createApiKey', { provider: addressOfDev(PROVIDER), keyHash: KEY_HASH, cap: CAP, expiresAt }, inf)
  return h
}

t.test('create escrows the cap; charges record and split each inference at the provider\'s prices, up to the cap', async (t) => {
  const h = await market()
  const dave = await h.balance('dave')
  await h.ok('dave', 'createApiKey', { provider: addressOfDev(PROVIDER), keyHash: KEY_HASH, cap: CAP, expiresAt: 0 }, inf)
  t.equal(await h.balance('dave'), dave - CAP, 'the cap escrowed (fees are not charged by the harness)')
  const provider = await h.balance(PROVIDER)
  const charged = await h.ok(PROVIDER, 'chargeApiKey', { key: 1, first: 1, inferences: [served('a'), served('b', 20)] }, inf)
  const total = price() + price(20)
  t.same(eventsNamed(ApiKeyCharged, charged.events, I), [{ key: 1, amount: total, spent: total, firstRecord: 1, inferences: 2 }])
  const [first, second] = [await records.get(h.state, 1), await records.get(h.state, 2)]
  t.same([first?.source, first?.sourceId, first?.price, second?.price], [RecordSource.apiKey, 1, price(), price(20)], 'records from the key, priced by the runtime')
  t.equal(await h.balance(PROVIDER), provider + (first?.split.provider ?? 0n) + (second?.split.provider ?? 0n), 'the provider paid its share')
  t.equal((await apiKeys.get(h.state, 1))?.spent, total)
  t.equal((await refuses(h, PROVIDER, 'chargeApiKey', { key: 1, first: 1, inferences: [served('a'), served('b', 20)] })).code, 'inference.StaleCharge', 'the same charge sent again is refused')
  t.same(await invariantProblems(h), [])

  // what is left of the cap, and no more
  const left = CAP - total
  const many = Math.floor(Number(left / price()))
  t.equal((await refuses(h, PROVIDER, 'chargeApiKey', { key: 1, first: 3, inferences: Array.from({ length: many + 1 }, (_, i) => served(`m${i}`)) })).code, 'inference.CapExceeded')
  await h.ok(PROVIDER, 'chargeApiKey', { key: 1, first: 3, inferences: Array.from({ length: many }, (_, i) => served(`m${i}`)) }, inf)
  t.ok(((await apiKeys.get(h.state, 1))?.spent ?? 0n) <= CAP, 'never past the cap')
  t.same(await invariantProblems(h), [])
})

t.test('revoked: chargeable for challengeBlocks, then closed with the rest refunded; expiry the same', async (t) => {
  const h = await keyed()
  await h.ok('dave', 'revokeApiKey', { key: 1 }, inf)
  t.equal((await apiKeys.get(h.state, 1))?.status, ApiKeyStatus.closing)
  t.equal((await refuses(h, 'dave', 'revokeApiKey', { key: 1 })).code, 'inference.ApiKeyClosed', 'revoked once')
  await h.ok(PROVIDER, 'chargeApiKey', { key: 1, first: 1, inferences: [served('late')] }, inf)
  const dave = await h.balance('dave')
  const closesAt = (await apiKeys.get(h.state, 1))?.closesAt ?? 0
  const closed = eventsNamed(ApiKeyClosed, await h.advanceTo(closesAt), I)
  t.same(closed, [{ key: 1, user: addressOfDev('dave'), refunded: CAP - price(), spent: price() }])
  t.equal(await h.balance('dave'), dave + CAP - price())
  t.equal((await refuses(h, PROVIDER, 'chargeApiKey', { key: 1, first: 2, inferences: [served('after')] })).code, 'inference.ApiKeyClosed')
  t.same(await invariantProblems(h), [])

  const expiring = await keyed(5)
  const refunded = eventsNamed(ApiKeyClosed, await expiring.advanceTo(5 + TEST_INFERENCE_PARAMS.challengeBlocks), I)
  t.same(refunded.map((e) => [e.key, e.refunded]), [[1, CAP]], 'an expired key closes challengeBlocks after its expiry')
  t.same(await invariantProblems(expiring), [])
})

t.test('bad calls are refused and change nothing', async (t) => {
  const h = await keyed()
  const cases: Array<[string, string, unknown, string]> = [
    ['dave', 'createApiKey', { provider: addressOfDev('eve'), keyHash: keccak256(utf8('x')), cap: CAP, expiresAt: 0 }, 'inference.UnknownProvider'],
    ['dave', 'createApiKey', { provider: addressOfDev(PROVIDER), keyHash: KEY_HASH, cap: CAP, expiresAt: 0 }, 'inference.ApiKeyExists'],
    ['dave', 'createApiKey', { provider: addressOfDev(PROVIDER), keyHash: keccak256(utf8('y')), cap: 0n, expiresAt: 0 }, 'inference.ZeroAmount'],
    ['dave', 'createApiKey', { provider: addressOfDev(PROVIDER), keyHash: keccak256(utf8('z')), cap: CAP, expiresAt: 1 }, 'inference.InvalidExpiry'],
    ['bob', 'revokeApiKey', { key: 1 }, 'inference.NotKeyOwner'],
    ['dave', 'revokeApiKey', { key: 9 }, 'inference.UnknownApiKey'],
    ['eve', 'chargeApiKey', { key: 1, first: 1, inferences: [served('a')] }, 'inference.WrongProvider'],
    [PROVIDER, 'chargeApiKey', { key: 1, first: 1, inferences: [] }, 'inference.EmptyBatch'],
    [PROVIDER, 'chargeApiKey', { key: 1, first: 1, inferences: [{ ...served('a'), outputTokens: 21 }] }, 'inference.InvalidFulfilment'],
    [PROVIDER, 'chargeApiKey', { key: 1, first: 1, inferences: [{ ...served('a'), terms: { ...served('a').terms, base: 9 } }] }, 'inference.ModelNotServed'],
    [PROVIDER, 'chargeApiKey', { key: 1, first: 2, inferences: [served('a')] }, 'inference.StaleCharge'],
  ]
  for (const [sender, call, args, code] of cases) {
    const outcome = await refuses(h, sender as never, call, args)
    t.same(outcome, { code, unchanged: true }, `${call}: ${code}`)
  }
  t.same(await invariantProblems(h), [])
})
