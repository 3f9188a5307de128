import t from 'tap'
import { toHex } from '../../runtime/crypto/hash.ts'
import { ECOSYSTEM_POOL_ACCOUNT } from '../../runtime/modules/accounts.ts'
import { balanceOf } from '../../runtime/modules/balances/ledger.ts'
import { totalIssuance } from '../../runtime/modules/balances/state.ts'
import { DEFAULT_STAKING_PARAMS, STAKING_ACCOUNT, validatorInfo, validatorSetAt, type StakingParams } from '../../runtime/modules/staking/index.ts'
import { params as stakingParams } from '../../runtime/modules/staking/state.ts'
import { StateOverlay } from '../../runtime/state/overlay.ts'
import { devAccount, devKey, devValidatorKey } from '../../genesis/devAccounts.ts'
import { DEV_STAKING_PARAMS, DEV_VALIDATOR_SELF_BOND, devChainSpec } from '../../genesis/devSpec.ts'
import { buildGenesisState } from '../../genesis/build.ts'
import { chainSpecToJson, GenesisError, parseChainSpec, validateChainSpec, type ChainSpec, type GenesisErrorCode } from '../../genesis/spec.ts'
import { TESTNET_OPERATOR_BALANCE, TESTNET_VALIDATOR_SELF_BOND, testnetChainSpec } from '../../genesis/testnetSpec.ts'
import { ONE_OPEN, TOTAL_SUPPLY } from '../../genesis/tokenomics.ts'
import { genesisBlock } from '../../node/chain/chain.ts'
import { genesisState } from '../runtime/chainFixtures.ts'

const spec = devChainSpec()
const alice = devAccount('alice').address
const staking = spec.staking ?? { params: undefined, validators: [] }
const [devValidator] = staking.validators
if (devValidator === undefined) throw new Error('the dev spec has a validator')

function genesisErrorOf(fn: () => unknown): GenesisErrorCode | 'none' {
  try {
    fn()
    return 'none'
  } catch (error) {
    if (error instanceof GenesisError) return error.code
    throw error
  }
}

const withParams = (changes: Partial<StakingParams>): ChainSpec => ({ ...spec, staking: { ...staking, params: { ...DEV_STAKING_PARAMS, ...changes } } })
const withValidators = (validators: NonNullable<ChainSpec['staking']>['validators']): ChainSpec => ({ ...spec, staking: { ...staking, validators } })

t.test('the dev spec: one validator, alice, with the well-known dev consensus key', async (t) => {
  t.equal(staking.validators.length, 1)
  t.equal(toHex(devValidator.operator), toHex(alice))
  t.equal(toHex(devValidator.consensusKey), toHex(devValidatorKey('alice').publicKey))
  t.equal(devValidator.selfBond, DEV_VALIDATOR_SELF_BOND)
  t.same(staking.params, DEV_STAKING_PARAMS)
  const state = await genesisState(spec)
  t.same(await stakingParams.get(state), DEV_STAKING_PARAMS)
  t.equal(await totalIssuance.get(state), TOTAL_SUPPLY, 'bonding mints nothing')
  t.equal(await balanceOf(state, STAKING_ACCOUNT), DEV_VALIDATOR_SELF_BOND)
})

t.test('staking survives the JSON round trip and is part of the genesis', async (t) => {
  const json = chainSpecToJson(spec)
  const parsed = parseChainSpec(json)
  t.same(parsed.staking, spec.staking)
  const raw = JSON.parse(json) as { staking: { validators: Array<{ consensusKey: unknown; selfBond: unknown }> } }
  t.equal(raw.staking.validators[0]?.consensusKey, toHex(devValidatorKey('alice').publicKey))
  t.equal(raw.staking.validators[0]?.selfBond, DEV_VALIDATOR_SELF_BOND.toString())
  const base = toHex((await genesisBlock(spec)).hash)
  t.equal(toHex((await genesisBlock(parsed)).hash), base)
  t.not(toHex((await genesisBlock(withParams({ epochLength: 61 }))).hash), base, 'a staking parameter changes the genesis')
  t.not(toHex((await genesisBlock({ ...spec, staking: undefined })).hash), base, 'so does having validators')
  // without params, the defaults apply
  const defaults = parseChainSpec(JSON.stringify({ ...JSON.parse(json), staking: { ...raw.staking, params: null } }))
  t.equal(defaults.staking?.params, undefined)
  const overlay = new StateOverlay({ get: async () => undefined })
  for (const { key, value } of await buildGenesisState(defaults)) if (value !== undefined) overlay.set(key, value)
  t.same(await stakingParams.get(overlay), DEFAULT_STAKING_PARAMS)
})

t.test('broken staking sections throw GenesisError with the right code', async (t) => {
  const other = devValidatorKey('other').publicKey
  const bob = devAccount('bob').address
  const cases: Array<[string, GenesisErrorCode, ChainSpec]> = [
    ['no validators', 'INVALID_STAKING', withValidators([])],
    ['maxValidators 0', 'INVALID_STAKING', withParams({ maxValidators: 0 })],
    ['epochLength 0', 'INVALID_STAKING', withParams({ epochLength: 0 })],
    ['unbondingPeriod 0', 'INVALID_STAKING', withParams({ unbondingPeriod: 0, evidenceMaxAgeBlocks: 0 })],
    ['maxUnbondingEntries 0', 'INVALID_STAKING', withParams({ maxUnbondingEntries: 0 })],
    ['minSelfBond below one unit of power', 'INVALID_STAKING', withParams({ minSelfBond: ONE_OPEN - 1n })],
    ['slash above 100 %', 'INVALID_STAKING', withParams({ doubleSignSlashBps: 10_001 })],
    ['downtime slash above 100 %', 'INVALID_STAKING', withParams({ downtimeSlashBps: 10_001 })],
    ['commission step above 100 %', 'INVALID_STAKING', withParams({ maxCommissionChangeBps: 10_001 })],
    ['max missed = window', 'INVALID_STAKING', withParams({ downtimeMaxMissed: DEV_STAKING_PARAMS.downtimeWindow })],
    ['zero window', 'INVALID_STAKING', withParams({ downtimeWindow: 0, downtimeMaxMissed: 0 })],
    ['evidence outliving the unbonding period', 'INVALID_STAKING', withParams({ evidenceMaxAgeBlocks: DEV_STAKING_PARAMS.unbondingPeriod + 1 })],
    ['duplicate operator', 'INVALID_STAKING', withValidators([devValidator, { ...devValidator, consensusKey: other }])],
    ['duplicate consensus key', 'INVALID_STAKING', withValidators([devValidator, { ...devValidator, operator: bob, selfBond: 10_000n * ONE_OPEN }])],
    ['small-order consensus key', 'INVALID_STAKING', withValidators([{ ...devValidator, consensusKey: new Uint8Array(32) }])],
    ['commission above 100 %', 'INVALID_STAKING', withValidators([{ ...devValidator, commissionBps: 10_001 }])],
    ['self-bond below the minimum', 'INVALID_STAKING', withValidators([{ ...devValidator, selfBond: DEV_STAKING_PARAMS.minSelfBond - 1n }])],
    ['operator without an allocation', 'STAKE_NOT_COVERED', withValidators([{ ...devValidator, operator: devKey('nobody').address }])],
    ['self-bond above the allocation', 'STAKE_NOT_COVERED', withValidators([{ ...devValidator, selfBond: 10n ** 30n }])],
    ['vesting operator', 'STAKE_NOT_COVERED', withValidators([{ ...devValidator, operator: devKey('team').address }])],
    ['the ecosystem pool as operator', 'STAKE_NOT_COVERED', withValidators([{ ...devValidator, operator: ECOSYSTEM_POOL_ACCOUNT }])],
  ]
  for (const [name, code, broken] of cases) {
    t.equal(genesisErrorOf(() => validateChainSpec(broken)), code, `validate: ${name}`)
    t.equal(genesisErrorOf(() => parseChainSpec(chainSpecToJson(broken))), code, `parse: ${name}`)
    await t.rejects(buildGenesisState(broken), { name: 'GenesisError', code }, `build: ${name}`)
  }
  // an operator's whole allocation may be bonded
  const whole = spec.allocations.find((a) => toHex(a.address) === toHex(bob))?.amount ?? 0n
  t.equal(genesisErrorOf(() => validateChainSpec(withValidators([devValidator, { operator: bob, consensusKey: other, selfBond: whole, commissionBps: 0, beacon: undefined }]))), 'none')
})

t.test('malformed staking JSON is INVALID_SPEC', async (t) => {
  const good = JSON.parse(chainSpecToJson(spec)) as { staking: { validators: Array<Record<string, unknown>>; params: Record<string, unknown> } }
  const mutate = (edit: (copy: typeof good) => void): string => {
    const copy = JSON.parse(JSON.stringify(good)) as typeof good
    edit(copy)
    return JSON.stringify(copy)
  }
  const cases: Array<[string, string]> = [
    ['short consensus key', mutate((c) => void ((c.staking.validators[0] as Record<string, unknown>).consensusKey = '0x1234'))],
    ['unknown validator field', mutate((c) => void ((c.staking.validators[0] as Record<string, unknown>).moniker = 'x'))],
    ['unknown parameter', mutate((c) => void (c.staking.params.inflation = 1))],
    ['negative self-bond', mutate((c) => void ((c.staking.validators[0] as Record<string, unknown>).selfBond = '-1'))],
  ]
  for (const [name, json] of cases) t.equal(genesisErrorOf(() => parseChainSpec(json)), 'INVALID_SPEC', name)
})

t.test('more genesis validators than maxValidators: the top ones by self-bond form the set', async (t) => {
  const names = ['bob', 'charlie', 'dave'] as const
  const spec2 = withValidators([
    devValidator,
    ...names.map((name, i) => ({ operator: devAccount(name).address, consensusKey: devValidatorKey(name).publicKey, selfBond: BigInt(200_000 + i) * ONE_OPEN, commissionBps: 0, beacon: undefined })),
  ])
  const limited: ChainSpec = { ...spec2, staking: { validators: spec2.staking?.validators ?? [], params: { ...DEV_STAKING_PARAMS, maxValidators: 2 } } }
  const state = await genesisState(limited)
  t.same((await validatorSetAt(state, 0)).map((m) => toHex(m.operator)), [toHex(devAccount('dave').address), toHex(devAccount('charlie').address)])
  t.equal((await validatorInfo(state, alice))?.selfBond, DEV_VALIDATOR_SELF_BOND, 'outside the set, still bonded')
})

t.test('testnetChainSpec: equal self-bonds from the liquidity share, all in the first set', async (t) => {
  const validators = ['v0', 'v1', 'v2', 'v3'].map((name) => ({ operator: devKey(`testnet ${name}`).address, consensusKey: devValidatorKey(name).publicKey }))
  const testnet = testnetChainSpec({ validators, genesisTime: Date.UTC(2026, 1, 1), chainId: 4242 })
  t.doesNotThrow(() => validateChainSpec(testnet))
  t.equal(testnet.chainId, 4242)
  t.equal(testnet.staking?.validators.length, 4)
  const state = await genesisState(testnet)
  const set = await validatorSetAt(state, 0)
  t.equal(set.length, 4)
  t.same(set.map((m) => m.power), Array(4).fill(TESTNET_VALIDATOR_SELF_BOND / ONE_OPEN))
  const keys = set.map((m) => toHex(m.consensusKey))
  t.same(keys, [...keys].sort(), 'equal powers: ordered by key')
  for (const { operator } of validators) {
    t.equal(await balanceOf(state, operator), TESTNET_OPERATOR_BALANCE)
    t.equal((await validatorInfo(state, operator))?.selfBond, TESTNET_VALIDATOR_SELF_BOND)
  }
  t.equal(await validatorInfo(state, alice), undefined, 'the dev validator is not part of a testnet')
  t.equal(await balanceOf(state, alice), (await balanceOf(await genesisState(spec), alice)), 'dev accounts keep their balances')
  t.equal(await totalIssuance.get(state), TOTAL_SUPPLY)
  t.same(parseChainSpec(chainSpecToJson(testnet)), testnet)

  // an operator that is also a dev account gets its funding on top
  const mixed = testnetChainSpec({ validators: [{ operator: alice, consensusKey: devValidatorKey('alice').publicKey }], genesisTime: Date.UTC(2026, 1, 1), chainId: 4242 })
  const mixedState = await genesisState(mixed)
  t.equal(await balanceOf(mixedState, alice), (await balanceOf(await genesisState(spec), alice)) + TESTNET_OPERATOR_BALANCE)

  t.equal(genesisErrorOf(() => testnetChainSpec({ validators: [], genesisTime: 0, chainId: 1 })), 'INVALID_STAKING')
  const many = Array.from({ length: 450 }, (_, i) => ({ operator: devKey(`many ${i}`).address, consensusKey: devValidatorKey(`many ${i}`).publicKey }))
  t.equal(genesisErrorOf(() => testnetChainSpec({ validators: many, genesisTime: 0, chainId: 1 })), 'INVALID_STAKING', 'more than the liquidity share can fund')
  t.equal(genesisErrorOf(() => testnetChainSpec({ validators: [{ operator: devKey('team').address, consensusKey: devValidatorKey('t').publicKey }], genesisTime: 0, chainId: 1 })), 'INVALID_STAKING', 'a vesting holder cannot be funded')
})
