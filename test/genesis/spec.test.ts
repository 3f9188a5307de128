import t from 'tap'
import fc from 'fast-check'
import { toHex } from '../../runtime/crypto/hash.ts'
import { ECOSYSTEM_POOL_ACCOUNT, TREASURY_ACCOUNT } from '../../runtime/modules/accounts.ts'
import { lockedAt } from '../../runtime/modules/balances/ledger.ts'
import { DEFAULT_FEE_PARAMS } from '../../runtime/modules/fees/state.ts'
import { devAccounts, devKey } from '../../genesis/devAccounts.ts'
import { DEV_ACCOUNT_BALANCE, DEV_CHAIN_ID, DEV_GENESIS_TIME, DEV_VALIDATOR_SELF_BOND, devChainSpec } from '../../genesis/devSpec.ts'
import { blockTimeMsOf, chainSpecToJson, GenesisError, parseChainSpec, validateChainSpec, type Allocation, type ChainSpec, type GenesisErrorCode } from '../../genesis/spec.ts'
import { allocationAmount, formatOpen, ONE_OPEN, parseOpen, TOTAL_SUPPLY, VESTING_CLIFF_MS, VESTING_LINEAR_MS, YEAR_MS } from '../../genesis/tokenomics.ts'
import { buildGenesisState } from '../../genesis/build.ts'
import { genesisBlock } from '../../node/chain/chain.ts'
import { DEFAULT_BLOCK_TIME_MS, DEFAULT_TIMELINESS, MAX_BLOCK_TIME_MS } from '../../runtime/consensusParams.ts'

const spec = devChainSpec()

function sumOf(allocations: readonly Allocation[], category?: Allocation['category']): bigint {
  return allocations.filter((a) => category === undefined || a.category === category).reduce((sum, a) => sum + a.amount, 0n)
}

/** The GenesisError code `fn` throws, or 'none'. */
function genesisErrorOf(fn: () => unknown): GenesisErrorCode | 'none' {
  try {
    fn()
    return 'none'
  } catch (error) {
    if (error instanceof GenesisError) return error.code
    throw error
  }
}

/** A copy of the dev spec with its allocations changed by `edit`. */
function edited(edit: (allocations: Allocation[]) => Allocation[]): ChainSpec {
  return { ...spec, allocations: edit(spec.allocations.map((a) => ({ ...a }))) }
}

const liquidityRest = (a: Allocation): boolean => toHex(a.address) === toHex(devKey('liquidity').address)

t.test('the dev spec validates and prefunds the dev accounts', async (t) => {
  t.doesNotThrow(() => validateChainSpec(spec))
  t.equal(spec.chainId, DEV_CHAIN_ID)
  t.equal(spec.genesisTime, DEV_GENESIS_TIME)
  t.equal(spec.genesisTime, Date.UTC(2026, 0, 1))
  for (const account of devAccounts()) {
    const allocation = spec.allocations.find((a) => toHex(a.address) === toHex(account.address))
    // alice's allocation also carries her validator's genesis self-bond
    t.equal(allocation?.amount, account.name === 'alice' ? DEV_ACCOUNT_BALANCE + DEV_VALIDATOR_SELF_BOND : DEV_ACCOUNT_BALANCE, account.name)
    t.equal(allocation?.category, 'liquidity')
  }
  t.doesNotThrow(() => validateChainSpec(devChainSpec({ genesisTime: DEV_GENESIS_TIME + 12345, chainId: 7, id: 'other-chain', name: 'Other' })))
})

t.test('allocations are exactly 61.71 / 18.29 / 15 / 5 % of 1e27 base units', async (t) => {
  t.equal(TOTAL_SUPPLY, 10n ** 27n)
  t.equal(TOTAL_SUPPLY, 1_000_000_000n * ONE_OPEN)
  t.equal(allocationAmount('community'), 617_100_000n * ONE_OPEN)
  t.equal(allocationAmount('investors'), 182_900_000n * ONE_OPEN)
  t.equal(allocationAmount('team'), 150_000_000n * ONE_OPEN)
  t.equal(allocationAmount('liquidity'), 50_000_000n * ONE_OPEN)
  t.equal(sumOf(spec.allocations), TOTAL_SUPPLY)
  t.equal(sumOf(spec.allocations, 'community'), (TOTAL_SUPPLY * 6171n) / 10_000n)
  t.equal(sumOf(spec.allocations, 'investors'), (TOTAL_SUPPLY * 1829n) / 10_000n)
  t.equal(sumOf(spec.allocations, 'team'), (TOTAL_SUPPLY * 15n) / 100n)
  t.equal(sumOf(spec.allocations, 'liquidity'), (TOTAL_SUPPLY * 5n) / 100n)
  const community = spec.allocations.filter((a) => a.category === 'community')
  t.equal(community.length, 1)
  t.equal(toHex(community[0]?.address ?? new Uint8Array(0)), toHex(ECOSYSTEM_POOL_ACCOUNT))
  t.not(toHex(ECOSYSTEM_POOL_ACCOUNT), toHex(TREASURY_ACCOUNT))
})

t.test('team and investors vest: 12-month cliff, then 36 months linear', async (t) => {
  t.equal(VESTING_CLIFF_MS, YEAR_MS)
  t.equal(VESTING_LINEAR_MS, 3 * YEAR_MS)
  const vested = spec.allocations.filter((a) => a.vesting !== undefined)
  t.same(vested.map((a) => a.category).sort(), ['investors', 'team'])
  for (const allocation of vested) {
    const schedule = { total: allocation.amount, cliffEnd: allocation.vesting?.cliffEnd ?? 0, end: allocation.vesting?.end ?? 0 }
    t.equal(schedule.cliffEnd, spec.genesisTime + YEAR_MS)
    t.equal(schedule.end, spec.genesisTime + 4 * YEAR_MS)
    const total = schedule.total
    t.equal(lockedAt(schedule, spec.genesisTime), total, `${allocation.category}: all locked at genesis`)
    t.equal(lockedAt(schedule, schedule.cliffEnd - 1), total, 'all locked 1 ms before the cliff')
    t.equal(lockedAt(schedule, schedule.cliffEnd), total, 'linear release starts at the cliff')
    t.equal(lockedAt(schedule, schedule.cliffEnd + 1), total - total / BigInt(VESTING_LINEAR_MS), '1 ms after the cliff: rounded up, nothing early')
    t.equal(lockedAt(schedule, schedule.cliffEnd + VESTING_LINEAR_MS / 2), total / 2n, 'half locked halfway')
    t.equal(lockedAt(schedule, schedule.end - 1), (total + BigInt(VESTING_LINEAR_MS) - 1n) / BigInt(VESTING_LINEAR_MS), 'a sliver left 1 ms before the end')
    t.equal(lockedAt(schedule, schedule.end), 0n, 'nothing locked at the end')
    t.equal(lockedAt(schedule, schedule.end + YEAR_MS), 0n)
  }
  const others = spec.allocations.filter((a) => a.category === 'community' || a.category === 'liquidity')
  t.ok(others.every((a) => a.vesting === undefined), 'community and liquidity do not vest')
})

t.test('lockedAt never increases with time, never exceeds the total and never releases before the cliff', async (t) => {
  fc.assert(fc.property(
    fc.bigInt({ min: 0n, max: 10n ** 27n }),
    fc.integer({ min: 0, max: 2 ** 40 }),
    fc.integer({ min: 1, max: 2 ** 40 }),
    fc.integer({ min: 0, max: 2 ** 41 }),
    fc.integer({ min: 0, max: 2 ** 41 }),
    (total, cliffEnd, span, a, b) => {
      const schedule = { total, cliffEnd, end: cliffEnd + span }
      const [early, late] = a <= b ? [a, b] : [b, a]
      const lockedEarly = lockedAt(schedule, early)
      const lockedLate = lockedAt(schedule, late)
      if (lockedLate > lockedEarly || lockedEarly > total || lockedLate < 0n) return false
      if (early < cliffEnd && lockedEarly !== total) return false
      // rounded up: never below the exact linear remainder
      if (early >= cliffEnd && early < schedule.end && lockedEarly * BigInt(span) < total * BigInt(schedule.end - early)) return false
      return true
    },
  ), { seed: 31, numRuns: 1000 })
  t.pass('monotone and bounded')
})

t.test('JSON round trip gives the same spec and the same genesis hash', async (t) => {
  const json = chainSpecToJson(spec)
  const parsed = parseChainSpec(json)
  t.equal(chainSpecToJson(parsed), json, 'JSON is stable')
  t.same(parsed, spec)
  const [a, b] = await Promise.all([genesisBlock(spec), genesisBlock(parsed)])
  t.equal(toHex(b.hash), toHex(a.hash))
  t.equal(toHex(b.header.stateRoot), toHex(a.header.stateRoot))
  t.equal(a.header.height, 0)
  t.equal(a.header.timestamp, spec.genesisTime)
  t.equal(a.header.baseFeePerGas, DEFAULT_FEE_PARAMS.minBaseFeePerGas)
  t.equal(toHex((await genesisBlock(devChainSpec())).hash), toHex(a.hash), 'deterministic')
  const raw = JSON.parse(json) as { allocations: Array<{ amount: unknown }>; fees: unknown }
  t.type(raw.allocations[0]?.amount, 'string', 'amounts are decimal strings in JSON')
  // fees are optional: without them the defaults apply, and the genesis is the same
  const withoutFees = parseChainSpec(JSON.stringify({ ...JSON.parse(json), fees: undefined }))
  t.equal(withoutFees.fees, undefined)
  t.equal(toHex((await genesisBlock(withoutFees)).hash), toHex(a.hash))
})

t.test('a different chain id, genesis time, allocation or fee parameter gives a different genesis hash', async (t) => {
  const base = toHex((await genesisBlock(spec)).hash)
  const variants: Array<[string, ChainSpec]> = [
    ['chainId', devChainSpec({ chainId: DEV_CHAIN_ID + 1 })],
    ['genesisTime', devChainSpec({ genesisTime: DEV_GENESIS_TIME + 1 })],
    ['fees', { ...spec, fees: { ...DEFAULT_FEE_PARAMS, burnShareBps: 4_000 } }],
    ['allocation', edited((list) => list.map((a) => (a.category === 'liquidity' && liquidityRest(a) ? { ...a, address: devKey('someone').address } : a)))],
  ]
  const seen = new Set([base])
  for (const [name, variant] of variants) {
    validateChainSpec(variant)
    const hash = toHex((await genesisBlock(variant)).hash)
    t.notOk(seen.has(hash), `${name} changes the genesis hash`)
    seen.add(hash)
  }
  // name and id are labels: the same chain under another name has the same genesis
  t.equal(toHex((await genesisBlock(devChainSpec({ name: 'Renamed', id: 'renamed' }))).hash), base)
})

t.test('the target block time: in the spec, round-tripped, defaulted, bounded, and outside the genesis hash', async (t) => {
  const base = toHex((await genesisBlock(spec)).hash)
  t.equal(blockTimeMsOf(spec), DEFAULT_BLOCK_TIME_MS, 'a spec without it: the default')
  const timed: ChainSpec = { ...spec, consensus: { timeliness: DEFAULT_TIMELINESS, blockTimeMs: 500 } }
  const parsed = parseChainSpec(chainSpecToJson(timed))
  t.equal(blockTimeMsOf(parsed), 500, 'read back from JSON')
  t.match(chainSpecToJson(timed), /"blockTimeMs": 500/)
  // a pace, not a validity rule: the same chain (an older spec file without it keeps its genesis)
  t.equal(toHex((await genesisBlock(parsed)).hash), base, 'the genesis hash does not depend on it')
  const old = JSON.parse(chainSpecToJson(timed)) as { consensus: Record<string, unknown> }
  delete old.consensus['blockTimeMs']
  t.equal(blockTimeMsOf(parseChainSpec(JSON.stringify(old))), DEFAULT_BLOCK_TIME_MS, 'a consensus section written before it existed parses')
  for (const bad of [0, MAX_BLOCK_TIME_MS + 1]) {
    t.equal(genesisErrorOf(() => parseChainSpec(chainSpecToJson({ ...spec, consensus: { timeliness: DEFAULT_TIMELINESS, blockTimeMs: bad } }))), 'INVALID_SPEC', `${bad} ms refused`)
  }
})

t.test('broken specs throw GenesisError with the right code', async (t) => {
  const cases: Array<[string, GenesisErrorCode, ChainSpec]> = [
    ['sum short by one base unit', 'SUPPLY_MISMATCH', edited((list) => list.map((a) => (liquidityRest(a) ? { ...a, amount: a.amount - 1n } : a)))],
    ['sum over by one base unit', 'SUPPLY_MISMATCH', edited((list) => list.map((a) => (a.category === 'community' ? { ...a, amount: a.amount + 1n } : a)))],
    ['one base unit moved from liquidity to community', 'ALLOCATION_MISMATCH', edited((list) => list.map((a) => (liquidityRest(a) ? { ...a, amount: a.amount - 1n } : a.category === 'community' ? { ...a, amount: a.amount + 1n } : a)))],
    ['team relabelled as investors', 'ALLOCATION_MISMATCH', edited((list) => list.map((a) => (a.category === 'team' ? { ...a, category: 'investors' } : a)))],
    ['community outside the ecosystem pool', 'ALLOCATION_MISMATCH', edited((list) => list.map((a) => (a.category === 'community' ? { ...a, address: TREASURY_ACCOUNT } : a)))],
    ['team without vesting', 'VESTING_MISMATCH', edited((list) => list.map((a) => (a.category === 'team' ? { ...a, vesting: undefined } : a)))],
    ['investors with a short cliff', 'VESTING_MISMATCH', edited((list) => list.map((a) => (a.category === 'investors' && a.vesting !== undefined ? { ...a, vesting: { ...a.vesting, cliffEnd: a.vesting.cliffEnd - 1 } } : a)))],
    ['investors with a short linear period', 'VESTING_MISMATCH', edited((list) => list.map((a) => (a.category === 'investors' && a.vesting !== undefined ? { ...a, vesting: { ...a.vesting, end: a.vesting.end - 1 } } : a)))],
    ['liquidity with vesting', 'VESTING_MISMATCH', edited((list) => list.map((a) => (liquidityRest(a) ? { ...a, vesting: { cliffEnd: spec.genesisTime + VESTING_CLIFF_MS, end: spec.genesisTime + VESTING_CLIFF_MS + VESTING_LINEAR_MS } } : a)))],
    ['duplicate address', 'INVALID_SPEC', edited((list) => {
      const rest = list.find(liquidityRest) as Allocation
      const alice = devAccounts()[0]?.address as Uint8Array
      return [...list.filter((a) => !liquidityRest(a)), { ...rest, address: alice, amount: rest.amount }]
    })],
    ['zero allocation', 'INVALID_SPEC', edited((list) => [...list, { category: 'liquidity', address: devKey('zero').address, amount: 0n, vesting: undefined }])],
    ['chain id 0', 'INVALID_SPEC', { ...spec, chainId: 0 }],
    ['bad id', 'INVALID_SPEC', { ...spec, id: 'Not OK' }],
    ['target above max gas', 'INVALID_SPEC', { ...spec, fees: { ...DEFAULT_FEE_PARAMS, targetBlockGas: DEFAULT_FEE_PARAMS.maxBlockGas + 1 } }],
    ['burn share above 100%', 'INVALID_SPEC', { ...spec, fees: { ...DEFAULT_FEE_PARAMS, burnShareBps: 10_001 } }],
    ['zero minimum base fee', 'INVALID_SPEC', { ...spec, fees: { ...DEFAULT_FEE_PARAMS, minBaseFeePerGas: 0n } }],
    ['zero change denominator', 'INVALID_SPEC', { ...spec, fees: { ...DEFAULT_FEE_PARAMS, baseFeeChangeDenominator: 0 } }],
  ]
  for (const [name, code, broken] of cases) {
    t.equal(genesisErrorOf(() => validateChainSpec(broken)), code, `validate: ${name}`)
    // the same through JSON, as a user's spec file arrives
    t.equal(genesisErrorOf(() => parseChainSpec(chainSpecToJson(broken))), code, `parse: ${name}`)
    await t.rejects(buildGenesisState(broken), { name: 'GenesisError', code }, `build: ${name}`)
  }
})

t.test('malformed JSON specs throw INVALID_SPEC', async (t) => {
  const good = JSON.parse(chainSpecToJson(spec)) as Record<string, unknown> & { allocations: Array<Record<string, unknown>> }
  const mutate = (edit: (copy: typeof good) => void): string => {
    const copy = JSON.parse(JSON.stringify(good)) as typeof good
    edit(copy)
    return JSON.stringify(copy)
  }
  const cases: Array<[string, string]> = [
    ['not JSON', '{ "name": '],
    ['empty', ''],
    ['an array', '[]'],
    ['null', 'null'],
    ['unknown top-level field', mutate((c) => void (c.extra = 1))],
    ['unknown allocation field', mutate((c) => void ((c.allocations[0] as Record<string, unknown>).note = 'x'))],
    ['unknown fee field', mutate((c) => void ((c.fees as Record<string, unknown>).tipShare = 1))],
    ['missing chainId', mutate((c) => void delete c.chainId)],
    ['chainId as float', mutate((c) => void (c.chainId = 1.5))],
    ['amount with decimals', mutate((c) => void ((c.allocations[0] as Record<string, unknown>).amount = '1.5'))],
    ['negative amount', mutate((c) => void ((c.allocations[0] as Record<string, unknown>).amount = '-1'))],
    ['address too short', mutate((c) => void ((c.allocations[0] as Record<string, unknown>).address = '0x1234'))],
    ['unknown category', mutate((c) => void ((c.allocations[0] as Record<string, unknown>).category = 'founders'))],
    ['inherited property as category', mutate((c) => void ((c.allocations[0] as Record<string, unknown>).category = 'toString'))],
    ['allocations not a list', mutate((c) => void (c.allocations = {} as never))],
  ]
  for (const [name, json] of cases) {
    t.equal(genesisErrorOf(() => parseChainSpec(json)), 'INVALID_SPEC', name)
  }
  const error = (() => {
    try {
      parseChainSpec(mutate((c) => void (c.extra = 1)))
    } catch (caught) {
      return caught
    }
    return undefined
  })()
  t.match(error, { message: /extra/ }, 'the message names the field')
})

t.test('OPEN amounts parse and format exactly', async (t) => {
  t.equal(parseOpen('1'), ONE_OPEN)
  t.equal(parseOpen('0.000000000000000001'), 1n)
  t.equal(parseOpen('1.5'), 3n * ONE_OPEN / 2n)
  t.equal(parseOpen('1.0000000000000000001'), undefined, '19 decimals')
  t.equal(parseOpen('-1'), undefined)
  t.equal(parseOpen('01'), undefined)
  fc.assert(fc.property(fc.bigInt({ min: 0n, max: TOTAL_SUPPLY }), (amount) => parseOpen(formatOpen(amount)) === amount), { seed: 4, numRuns: 500 })
})
