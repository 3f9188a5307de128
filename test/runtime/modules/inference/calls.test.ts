// Every inference call's happy path, exact balances and error codes (each bad input changes
// nothing), over the models harness' seven-validator testnet.
import t from 'tap'
import type { DevAccountName } from '../../../../genesis/devAccounts.ts'
import { keccak256, utf8 } from '../../../../runtime/crypto/hash.ts'
import {
  ChannelClosed, InferenceRecorded, ProviderSlashed, RequestCreated, RequestExpired, RequestFulfilled, VoucherRedeemed,
} from '../../../../runtime/modules/inference/events.ts'
import { inferenceCost, splitFee } from '../../../../runtime/modules/inference/pricing.ts'
import { INFERENCE_ACCOUNT, ProviderStatus, providers, records, requests, RequestStatus } from '../../../../runtime/modules/inference/state.ts'
import { ModuleIndex } from '../../../../runtime/modules/indices.ts'
import { eventsNamed } from '../models/harness.ts'
import {
  addressOfDev, BOND, GREEDY, invariantProblems, refuses, market, offer, OPEN, output, PRICE_IN, PRICE_OUT, PROVIDER, requestArgs, Session, TEST_INFERENCE_PARAMS, treasury,
} from './harness.ts'

const I = ModuleIndex.inference
const inf = 'inference'

t.test('providers: register, update, unbond, withdraw after the delay; bad offers refused and change nothing', async (t) => {
  const h = await market()
  const p = await providers.get(h.state, addressOfDev(PROVIDER))
  t.equal(p?.bond, BOND)
  t.equal(p?.status, ProviderStatus.active)
  t.equal(await h.balance(INFERENCE_ACCOUNT), BOND, 'the bond is held by the module account')
  const cases: Array<[DevAccountName, string, Record<string, unknown>, string]> = [
    ['dave', 'registerProvider', { bond: 10n * OPEN, ...offer() }, 'inference.BondTooLow'],
    ['dave', 'registerProvider', { bond: BOND, ...offer({ endpoint: 'ftp://x' }) }, 'inference.InvalidOffer'],
    ['dave', 'registerProvider', { bond: BOND, ...offer({ models: [] }) }, 'inference.InvalidOffer'],
    ['dave', 'registerProvider', { bond: BOND, ...offer({ models: [1, 1] }) }, 'inference.InvalidOffer'],
    ['dave', 'registerProvider', { bond: BOND, ...offer({ capacity: 0 }) }, 'inference.InvalidOffer'],
    ['dave', 'registerProvider', { bond: BOND, ...offer({ models: [9] }) }, 'inference.UnknownModel'],
    [PROVIDER, 'registerProvider', { bond: BOND, ...offer() }, 'inference.AlreadyRegistered'],
    ['dave', 'updateProvider', { addBond: 0n, ...offer() }, 'inference.UnknownProvider'],
    [PROVIDER, 'unbondProvider', { amount: BOND + 1n }, 'inference.NothingToUnbond'],
    [PROVIDER, 'withdrawUnbonded', {}, 'inference.NothingToWithdraw'],
  ]
  for (const [sender, call, args, code] of cases) t.same(await refuses(h, sender, call, args), { code, unchanged: true }, `${call} ${code}`)

  await h.ok(PROVIDER, 'updateProvider', { addBond: OPEN, ...offer({ capacity: 9, priceOut: 1n }) }, inf)
  t.equal((await providers.get(h.state, addressOfDev(PROVIDER)))?.capacity, 9)
  const free = await h.balance(PROVIDER)
  await h.ok(PROVIDER, 'unbondProvider', { amount: BOND - 500n * OPEN }, inf)
  const unbonding = await providers.get(h.state, addressOfDev(PROVIDER))
  t.equal(unbonding?.status, ProviderStatus.inactive, 'below the minimum bond: inactive')
  t.equal((await h.call('dave', 'openChannel', { provider: addressOfDev(PROVIDER), deposit: OPEN }, inf)).error?.code, 'inference.ProviderInactive')
  t.equal((await h.call(PROVIDER, 'withdrawUnbonded', {}, inf)).error?.code, 'inference.NothingToWithdraw', 'not before the delay')
  await h.advanceTo((unbonding?.unbondingUntil ?? 0) - 1)
  await h.ok(PROVIDER, 'withdrawUnbonded', {}, inf)
  t.equal(await h.balance(PROVIDER), free + BOND - 500n * OPEN)
  t.same(await invariantProblems(h), [])
})

t.test('on-chain request: escrow, fulfilment by the provider, exact split to provider, adapter owner, contributors, treasury; rest refunded', async (t) => {
  const h = await market({ adapter: true })
  const adapters = [{ id: 1, weightMilli: 1_000 }]
  const [user, provider, owner] = [await h.balance('bob'), await h.balance(PROVIDER), await h.balance('eve')]
  const treasuryBefore = await treasury(h)
  const created = await h.ok('bob', 'request', requestArgs({ adapters }), inf)
  const [event] = eventsNamed(RequestCreated, created.events, I)
  t.equal(event?.request, 1)
  t.equal(event?.deadline, h.height + TEST_INFERENCE_PARAMS.requestBlocks)
  t.equal(await h.balance('bob'), user - OPEN)
  const stored = await requests.get(h.state, 1)
  t.same(stored?.promptHash, keccak256(utf8('The state of the union is')))
  t.same(await invariantProblems(h), [])

  const fulfilled = await h.ok(PROVIDER, 'fulfil', { request: 1, ...output('a'), inputTokens: 6, outputTokens: 13 }, inf)
  const fee = inferenceCost({ priceIn: PRICE_IN, priceOut: PRICE_OUT }, 6, 13)
  t.equal(fee, (6n * PRICE_IN + 13n * PRICE_OUT + 999n) / 1000n)
  const split = splitFee(fee, TEST_INFERENCE_PARAMS)
  t.equal(split.provider + split.modelOwner + split.contributors + split.treasury, fee)
  t.same(eventsNamed(RequestFulfilled, fulfilled.events, I), [{ request: 1, record: 1, price: fee, refunded: OPEN - fee }])
  t.same(eventsNamed(InferenceRecorded, fulfilled.events, I)[0]?.split, split)
  t.equal(await h.balance('bob'), user - fee, 'the user paid exactly the fee')
  t.equal(await h.balance(PROVIDER), provider + split.provider)
  t.equal(await h.balance('eve'), owner + split.modelOwner, 'the adapter publisher earns the model share')
  t.equal(await treasury(h), treasuryBefore + split.treasury)
  const record = await records.get(h.state, 1)
  t.equal(record?.contributorsPending, split.contributors, 'the contributors\' pool is held per record')
  t.same(record?.adapters, adapters)
  t.equal(record?.outputTokens, 13)
  t.equal((await requests.get(h.state, 1))?.status, RequestStatus.fulfilled)
  t.equal((await providers.get(h.state, addressOfDev(PROVIDER)))?.openRequests, 0)
  t.same(await invariantProblems(h), [])
})

t.test('request and fulfil bad inputs: stable codes, nothing changed', async (t) => {
  const h = await market({ adapter: true, params: { ...TEST_INFERENCE_PARAMS, requestBlocks: 100 } })
  await h.ok('bob', 'request', requestArgs(), inf)
  const requestCases: Array<[Record<string, unknown>, string]> = [
    [{ provider: addressOfDev('dave') }, 'inference.UnknownProvider'],
    [{ base: 2 }, 'inference.ModelNotServed'],
    [{ adapters: [{ id: 7, weightMilli: 1_000 }] }, 'inference.UnknownAdapter'],
    [{ adapters: [{ id: 1, weightMilli: 0 }] }, 'inference.UnknownAdapter'],
    [{ adapters: [{ id: 1, weightMilli: 500 }, { id: 1, weightMilli: 500 }] }, 'inference.UnknownAdapter'],
    [{ promptTokens: 50, maxTokens: 15 }, 'inference.PromptTooLong'],
    [{ prompt: '' }, 'inference.InvalidRequest'],
    [{ maxTokens: 0 }, 'inference.InvalidRequest'],
    [{ sampling: { ...GREEDY, topPMilli: 0 } }, 'inference.InvalidRequest'],
    [{ escrow: 1n }, 'inference.InsufficientEscrow'],
    [{ escrow: 10n ** 30n }, 'balances.InsufficientBalance'],
  ]
  for (const [overrides, code] of requestCases) t.same(await refuses(h, 'bob', 'request', requestArgs(overrides)), { code, unchanged: true }, code)
  const fulfilCases: Array<[DevAccountName, Record<string, unknown>, string]> = [
    [PROVIDER, { request: 9 }, 'inference.UnknownRequest'],
    ['dave', { request: 1 }, 'inference.WrongProvider'],
    [PROVIDER, { request: 1, inputTokens: 0 }, 'inference.InvalidFulfilment'],
    [PROVIDER, { request: 1, outputTokens: 21 }, 'inference.InvalidFulfilment'],
    [PROVIDER, { request: 1, outputTokens: 0 }, 'inference.InvalidFulfilment'],
  ]
  for (const [sender, overrides, code] of fulfilCases) {
    t.same(await refuses(h, sender, 'fulfil', { request: 1, ...output('x'), inputTokens: 6, outputTokens: 3, ...overrides }), { code, unchanged: true }, code)
  }
  await h.ok(PROVIDER, 'fulfil', { request: 1, ...output('x'), inputTokens: 6, outputTokens: 3 }, inf)
  t.equal((await h.call(PROVIDER, 'fulfil', { request: 1, ...output('y'), inputTokens: 6, outputTokens: 3 }, inf)).error?.code, 'inference.AlreadyFulfilled', 'a second fulfilment')
  // capacity: 4 open requests at most
  for (let i = 0; i < 4; i++) await h.ok('bob', 'request', requestArgs(), inf)
  t.equal((await h.call('bob', 'request', requestArgs(), inf)).error?.code, 'inference.ProviderAtCapacity')
  t.same(await invariantProblems(h), [])
})

t.test('missed deadline: the escrow goes back, the provider loses missedDeadlineSlashBps of its bond to the treasury; late fulfilment refused', async (t) => {
  const h = await market()
  const user = await h.balance('bob')
  await h.ok('bob', 'request', requestArgs(), inf)
  const deadline = (await requests.get(h.state, 1))?.deadline ?? 0
  await h.advanceTo(deadline - 1)
  const treasuryBefore = await treasury(h)
  const late = await h.call(PROVIDER, 'fulfil', { request: 1, ...output('late'), inputTokens: 6, outputTokens: 3 }, inf)
  t.equal(late.error, undefined, 'at the deadline height itself it may still fulfil')
  const h2 = await market()
  await h2.ok('bob', 'request', requestArgs(), inf)
  const hook = await h2.advanceTo(((await requests.get(h2.state, 1))?.deadline ?? 0))
  const slash = (BOND * 100n) / 10_000n
  t.same(eventsNamed(RequestExpired, hook, I), [{ request: 1, user: addressOfDev('bob'), refunded: OPEN, slashed: slash }])
  t.same(eventsNamed(ProviderSlashed, hook, I), [{ provider: addressOfDev(PROVIDER), amount: slash, reason: 0, subject: 1 }])
  t.equal(await h2.balance('bob'), user, 'the user is whole again')
  t.equal((await providers.get(h2.state, addressOfDev(PROVIDER)))?.bond, BOND - slash)
  t.equal((await h2.call(PROVIDER, 'fulfil', { request: 1, ...output('late'), inputTokens: 6, outputTokens: 3 }, inf)).error?.code, 'inference.AlreadyFulfilled')
  t.ok((await treasury(h2)) >= treasuryBefore)
  t.same(await invariantProblems(h2), [])
})

t.test('channel: open, a session of vouchers redeemed in one batch with one signature, exact payouts; close with a challenge period', async (t) => {
  const h = await market({ adapter: true })
  await h.ok('bob', 'openChannel', { provider: addressOfDev(PROVIDER), deposit: 10n * OPEN }, inf)
  await h.ok('bob', 'topUpChannel', { channel: 1, amount: 2n * OPEN }, inf)
  const session = new Session(h.spec.chainId, 1, 'bob')
  const prices = [OPEN / 7n, OPEN / 3n, 12_345n, OPEN]
  for (const [i, price] of prices.entries()) session.pay(price, i % 2 === 0 ? {} : { adapters: [{ id: 1, weightMilli: 600 }] })
  const [provider, owner, treasuryBefore] = [await h.balance(PROVIDER), await h.balance('eve'), await treasury(h)]
  const batch = session.take()
  const redeemed = await h.ok(PROVIDER, 'redeem', { vouchers: [batch] }, inf)
  const total = prices.reduce((a, b) => a + b, 0n)
  t.same(eventsNamed(VoucherRedeemed, redeemed.events, I), [{ channel: 1, cumulative: total, amount: total, firstRecord: 1, inferences: 4 }])
  let expectProvider = 0n, expectOwner = 0n, expectTreasury = 0n
  for (const [i, price] of prices.entries()) {
    const split = splitFee(price, TEST_INFERENCE_PARAMS)
    expectProvider += split.provider
    expectTreasury += split.treasury
    // base-model inferences: the genesis model's share goes to the treasury
    if (i % 2 === 0) expectTreasury += split.modelOwner
    else expectOwner += split.modelOwner
  }
  t.equal(await h.balance(PROVIDER), provider + expectProvider)
  t.equal(await h.balance('eve'), owner + expectOwner)
  t.equal(await treasury(h), treasuryBefore + expectTreasury)
  t.same(await invariantProblems(h), [])

  const replay = { ...batch }
  t.same(await refuses(h, PROVIDER, 'redeem', { vouchers: [replay] }), { code: 'inference.StaleVoucher', unchanged: true }, 'a replayed voucher')
  session.pay(OPEN)
  const entry = session.take()
  const lower = { ...entry, cumulative: total - 1n }
  t.same(await refuses(h, PROVIDER, 'redeem', { vouchers: [lower] }), { code: 'inference.StaleVoucher', unchanged: true }, 'a lower cumulative amount')
  const forged = { ...entry, signature: session.voucher('dave').signature }
  t.same(await refuses(h, PROVIDER, 'redeem', { vouchers: [forged] }), { code: 'inference.BadVoucherSignature', unchanged: true }, 'signed by someone else')
  const otherChannel = { ...entry, signature: session.voucher('bob', { channel: 2 }).signature }
  t.same(await refuses(h, PROVIDER, 'redeem', { vouchers: [otherChannel] }), { code: 'inference.BadVoucherSignature', unchanged: true }, 'signed for another channel')
  const otherChain = { ...entry, signature: session.voucher('bob', { chainId: 1 }).signature }
  t.same(await refuses(h, PROVIDER, 'redeem', { vouchers: [otherChain] }), { code: 'inference.BadVoucherSignature', unchanged: true }, 'signed for another chain')
  const repriced = { ...entry, inferences: [{ ...entry.inferences[0]!, terms: { ...entry.inferences[0]!.terms, price: OPEN - 1n } }] }
  t.same(await refuses(h, PROVIDER, 'redeem', { vouchers: [repriced] }), { code: 'inference.RequestChainMismatch', unchanged: true }, 'terms the user did not sign')
  t.same(await refuses(h, 'dave', 'redeem', { vouchers: [entry] }), { code: 'inference.WrongProvider', unchanged: true })
  t.same(await refuses(h, PROVIDER, 'redeem', { vouchers: [{ ...entry, channel: 5 }] }), { code: 'inference.UnknownChannel', unchanged: true })
  t.same(await refuses(h, PROVIDER, 'redeem', { vouchers: [] }), { code: 'inference.EmptyBatch', unchanged: true })

  const big = new Session(h.spec.chainId, 1, 'bob', session.head)
  big.cumulative = session.cumulative
  const tooMuch = { ...big.pay(100n * OPEN), inferences: [] }
  t.same(await refuses(h, PROVIDER, 'redeem', { vouchers: [{ ...tooMuch, inferences: big.take().inferences }] }), { code: 'inference.InsufficientChannelBalance', unchanged: true })

  await h.ok(PROVIDER, 'redeem', { vouchers: [entry] }, inf)
  const userBefore = await h.balance('bob')
  const closing = await h.ok('bob', 'closeChannel', { channel: 1 }, inf)
  t.equal((await h.call('bob', 'closeChannel', { channel: 1 }, inf)).error?.code, 'inference.ChannelClosing')
  t.equal((await h.call('dave', 'closeChannel', { channel: 1 }, inf)).error?.code, 'inference.NotChannelParty')
  const closesAt = h.height + TEST_INFERENCE_PARAMS.challengeBlocks - 1
  t.ok(closing.events.length > 0)
  const hook = await h.advanceTo(closesAt)
  const deposit = 12n * OPEN
  const spent = total + OPEN
  t.same(eventsNamed(ChannelClosed, hook, I), [{ channel: 1, user: addressOfDev('bob'), refunded: deposit - spent, redeemed: spent }])
  t.equal(await h.balance('bob'), userBefore + deposit - spent)
  session.pay(1n)
  t.same(await refuses(h, PROVIDER, 'redeem', { vouchers: [session.take()] }), { code: 'inference.ChannelExpired', unchanged: true }, 'an expired channel')
  t.same(await invariantProblems(h), [])
  t.equal((await h.call('bob', 'topUpChannel', { channel: 1, amount: 1n }, inf)).error?.code, 'inference.ChannelExpired')
})

t.test('the provider closing a channel gives up its claim: the rest is refunded at once', async (t) => {
  const h = await market()
  await h.ok('bob', 'openChannel', { provider: addressOfDev(PROVIDER), deposit: 3n * OPEN }, inf)
  const before = await h.balance('bob')
  await h.ok(PROVIDER, 'closeChannel', { channel: 1 }, inf)
  t.equal(await h.balance('bob'), before + 3n * OPEN)
  t.same(await invariantProblems(h), [])
})
