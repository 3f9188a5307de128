// Invariants of the market: the fee split always sums to the fee (each part within one base unit
// of its exact quota), and over random sequences of calls the module account holds exactly what it
// owes (bonds, escrows, unredeemed deposits, API keys' unspent caps, contributors' pools) while
// supply is conserved; API keys created, charged (past the cap too), revoked and expired among them.
import fc from 'fast-check'
import t from 'tap'
import { inferenceCost, splitByWeight, splitFee } from '../../../../runtime/modules/inference/pricing.ts'
import type { DevAccountName } from '../../../../genesis/devAccounts.ts'
import { keccak256, utf8 } from '../../../../runtime/crypto/hash.ts'
import { apiKeys } from '../../../../runtime/modules/inference/state.ts'
import { invariantProblems, GREEDY, market, OPEN, output, PROVIDER, requestArgs, Session, TEST_INFERENCE_PARAMS, addressOfDev } from './harness.ts'

const shares = fc.tuple(fc.nat(10_000), fc.nat(10_000), fc.nat(10_000)).map(([a, b, c]) => {
  const [x, y, z] = [a, b, c].sort((p, q) => p - q) as [number, number, number]
  return { providerShareBps: x, modelOwnerShareBps: y - x, contributorsShareBps: z - y, treasuryShareBps: 10_000 - z }
})

t.test('the split always sums to the fee, each part within one unit of its quota', async (t) => {
  fc.assert(fc.property(fc.bigInt({ min: 0n, max: 10n ** 30n }), shares, (fee, bps) => {
    const params = { ...TEST_INFERENCE_PARAMS, ...bps }
    const split = splitFee(fee, params)
    const parts = [split.provider, split.modelOwner, split.contributors, split.treasury]
    const weights = [bps.providerShareBps, bps.modelOwnerShareBps, bps.contributorsShareBps, bps.treasuryShareBps]
    if (parts.reduce((a, b) => a + b, 0n) !== fee) return false
    return parts.every((part, i) => {
      const exact = fee * BigInt(weights[i] ?? 0)
      return part * 10_000n <= exact + 10_000n && part * 10_000n + 10_000n >= exact && part >= 0n
    })
  }), { numRuns: 2_000 })
  fc.assert(fc.property(fc.bigInt({ min: 0n, max: 10n ** 24n }), fc.array(fc.integer({ min: 1, max: 1_000 }), { minLength: 1, maxLength: 8 }), (amount, weights) => {
    return splitByWeight(amount, weights).reduce((a, b) => a + b, 0n) === amount
  }), { numRuns: 1_000 })
  t.equal(inferenceCost({ priceIn: 1n, priceOut: 1n }, 1, 0), 1n, 'a started thousand tokens is paid')
})

type Op =
  | { kind: 'request'; user: DevAccountName; maxTokens: number }
  | { kind: 'fulfil'; request: number; outputTokens: number }
  | { kind: 'open'; user: DevAccountName; deposit: bigint }
  | { kind: 'pay'; channel: number; price: bigint }
  | { kind: 'redeem'; channel: number }
  | { kind: 'close'; channel: number; byProvider: boolean }
  | { kind: 'wait'; blocks: number }
  | { kind: 'unbond'; amount: bigint }
  | { kind: 'key'; user: DevAccountName; cap: bigint; expiresIn: number }
  | { kind: 'charge'; key: number; count: number; outputTokens: number }
  | { kind: 'revoke'; key: number }

const users: DevAccountName[] = ['bob', 'dave', 'ferdie']
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('request' as const), user: fc.constantFrom(...users), maxTokens: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant('fulfil' as const), request: fc.integer({ min: 1, max: 6 }), outputTokens: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant('open' as const), user: fc.constantFrom(...users), deposit: fc.bigInt({ min: 1n, max: 5n * OPEN }) }),
  fc.record({ kind: fc.constant('pay' as const), channel: fc.integer({ min: 1, max: 3 }), price: fc.bigInt({ min: 1n, max: OPEN }) }),
  fc.record({ kind: fc.constant('redeem' as const), channel: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant('close' as const), channel: fc.integer({ min: 1, max: 3 }), byProvider: fc.boolean() }),
  fc.record({ kind: fc.constant('wait' as const), blocks: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ kind: fc.constant('unbond' as const), amount: fc.bigInt({ min: 1n, max: 2_000n * OPEN }) }),
  fc.record({ kind: fc.constant('key' as const), user: fc.constantFrom(...users), cap: fc.bigInt({ min: 1n, max: OPEN / 10n }), expiresIn: fc.integer({ min: 0, max: 8 }) }),
  fc.record({ kind: fc.constant('charge' as const), key: fc.integer({ min: 1, max: 3 }), count: fc.integer({ min: 1, max: 4 }), outputTokens: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant('revoke' as const), key: fc.integer({ min: 1, max: 3 }) }),
)

t.test('random sequences: supply conserved, the module account holds exactly what it owes, failed calls change nothing', async (t) => {
  const start = await market()
  await fc.assert(fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
    const h = start.clone()
    const sessions = new Map<number, Session>()
    let channelCount = 0
    let [keyCount, keysMade] = [0, 0]
    const keyUsers = new Map<number, DevAccountName>()
    for (const o of ops) {
      let outcome: { error: unknown } | undefined
      const twin = h.clone()
      if (o.kind === 'request') outcome = await h.call(o.user, 'request', requestArgs({ maxTokens: o.maxTokens }), 'inference')
      else if (o.kind === 'fulfil') outcome = await h.call(PROVIDER, 'fulfil', { request: o.request, ...output(`${o.request}`), inputTokens: 6, outputTokens: o.outputTokens }, 'inference')
      else if (o.kind === 'open') {
        outcome = await h.call(o.user, 'openChannel', { provider: addressOfDev(PROVIDER), deposit: o.deposit }, 'inference')
        if (outcome.error === undefined) sessions.set(++channelCount, new Session(h.spec.chainId, channelCount, o.user))
      } else if (o.kind === 'pay') sessions.get(o.channel)?.pay(o.price)
      else if (o.kind === 'redeem') {
        const session = sessions.get(o.channel)
        if (session !== undefined && session.pending.length > 0) outcome = await h.call(PROVIDER, 'redeem', { vouchers: [session.take()] }, 'inference')
      } else if (o.kind === 'close') {
        const session = sessions.get(o.channel)
        if (session !== undefined) outcome = await h.call(o.byProvider ? PROVIDER : session.user, 'closeChannel', { channel: o.channel }, 'inference')
      } else if (o.kind === 'key') {
        outcome = await h.call(o.user, 'createApiKey', { provider: addressOfDev(PROVIDER), keyHash: keccak256(utf8(`key ${++keyCount}`)), cap: o.cap, expiresAt: o.expiresIn === 0 ? 0 : h.height + 1 + o.expiresIn }, 'inference')
        if (outcome.error === undefined) keyUsers.set(++keysMade, o.user)
      } else if (o.kind === 'charge') {
        const first = ((await apiKeys.get(h.state, o.key))?.inferences ?? 0) + 1
        const inferences = Array.from({ length: o.count }, (_, i) => ({
          terms: { base: 1, adapters: [], promptHash: keccak256(utf8(`p${i}`)), promptTokens: 5, maxTokens: 40, sampling: GREEDY }, ...output(`k${o.key}/${first + i}`), inputTokens: 5, outputTokens: o.outputTokens,
        }))
        outcome = await h.call(PROVIDER, 'chargeApiKey', { key: o.key, first, inferences }, 'inference')
      } else if (o.kind === 'revoke') {
        outcome = await h.call(keyUsers.get(o.key) ?? 'dave', 'revokeApiKey', { key: o.key }, 'inference')
      } else if (o.kind === 'wait') await h.advanceTo(h.height + o.blocks)
      else outcome = await h.call(PROVIDER, 'unbondProvider', { amount: o.amount }, 'inference')
      // a failed call leaves the state as an empty block would have
      if (outcome !== undefined && outcome.error !== undefined) {
        await twin.block([])
        if (h.snapshot() !== twin.snapshot()) return false
      }
      const problems = await invariantProblems(h)
      if (problems.length > 0) throw new Error(problems.join('; '))
    }
    return true
  }), { numRuns: Number(process.env.PROP_RUNS ?? 40), seed: Number(process.env.PROP_SEED ?? 17), endOnFailure: true })
  t.pass('held for every sequence')
})
