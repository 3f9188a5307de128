// The dev chain spec: the real tokenomics, with the liquidity share partly prefunding the
// well-known dev accounts (alice, bob, …) so a fresh dev chain can be used at once. Alice also
// operates the one validator, with its self-bond on top of her spending balance.
import { DEFAULT_INFERENCE_PARAMS, type InferenceParams } from '../runtime/modules/inference/index.ts'
import { ECOSYSTEM_POOL_ACCOUNT } from '../runtime/modules/accounts.ts'
import { DEFAULT_FEE_PARAMS } from '../runtime/modules/fees/index.ts'
import type { GovernanceParams } from '../runtime/modules/governance/index.ts'
import { DEFAULT_MODELS_PARAMS, type GenesisBaseModel, type ModelsParams } from '../runtime/modules/models/index.ts'
import { DEFAULT_STAKING_PARAMS, type StakingParams } from '../runtime/modules/staking/index.ts'
import { devAccount, devAccounts, devKey, devValidatorKey } from './devAccounts.ts'
import type { Allocation, ChainSpec } from './spec.ts'
import { allocationAmount, ONE_OPEN, VESTING_CLIFF_MS, VESTING_LINEAR_MS } from './tokenomics.ts'

/** base units each dev account starts with (free to spend) */
export const DEV_ACCOUNT_BALANCE = 1_000_000n * ONE_OPEN
/** base units alice bonds to the dev validator at genesis, allocated on top of her balance */
export const DEV_VALIDATOR_SELF_BOND = 100_000n * ONE_OPEN
export const DEV_CHAIN_ID = 1337
/** 2026-01-01T00:00:00Z: fixed, so the dev genesis hash is the same everywhere */
export const DEV_GENESIS_TIME = Date.UTC(2026, 0, 1)
/** short periods so a developer sees epochs, unbonding and jail terms end within minutes */
export const DEV_STAKING_PARAMS: StakingParams = {
  ...DEFAULT_STAKING_PARAMS,
  epochLength: 60,
  unbondingPeriod: 600,
  evidenceMaxAgeBlocks: 600,
  doubleSignJailBlocks: 600,
  downtimeJailBlocks: 60,
}

/**
 * Short deadlines, and training on the one dev validator alone: with no other validator to
 * verify, minVerifiers 0 lets its result publish unverified (never the case with two or more).
 */
/** 1 s dev blocks: deadlines and delays of tens of seconds, so a session sees them pass */
export const DEV_INFERENCE_PARAMS: InferenceParams = {
  ...DEFAULT_INFERENCE_PARAMS,
  minProviderBond: 1_000n * ONE_OPEN,
  unbondingBlocks: 60,
  requestBlocks: 60,
  challengeBlocks: 30,
}

export const DEV_MODELS_PARAMS: ModelsParams = {
  ...DEFAULT_MODELS_PARAMS,
  registrationDeposit: 10n * ONE_OPEN,
  minVerifiers: 0,
  trainBlocks: 200,
  verifyBlocks: 100,
}

export interface DevSpecOptions {
  genesisTime?: number
  chainId?: number
  name?: string
  id?: string
  /** base models registered at genesis (the node passes the project's shipped ones) */
  baseModels?: readonly GenesisBaseModel[]
  /** governance periods and shares (default: the runtime's, a week's vote); tests use short ones */
  governanceParams?: GovernanceParams
}

export function devChainSpec(options: DevSpecOptions = {}): ChainSpec {
  const genesisTime = options.genesisTime ?? DEV_GENESIS_TIME
  const vesting = { cliffEnd: genesisTime + VESTING_CLIFF_MS, end: genesisTime + VESTING_CLIFF_MS + VESTING_LINEAR_MS }
  const dev = devAccounts()
  const alice = devAccount('alice')
  const liquidityLeft = allocationAmount('liquidity') - DEV_ACCOUNT_BALANCE * BigInt(dev.length) - DEV_VALIDATOR_SELF_BOND
  const allocations: Allocation[] = [
    { category: 'community', address: ECOSYSTEM_POOL_ACCOUNT, amount: allocationAmount('community'), vesting: undefined },
    { category: 'investors', address: devKey('investors').address, amount: allocationAmount('investors'), vesting },
    { category: 'team', address: devKey('team').address, amount: allocationAmount('team'), vesting },
    ...dev.map((account): Allocation => ({
      category: 'liquidity',
      address: account.address,
      amount: account.name === 'alice' ? DEV_ACCOUNT_BALANCE + DEV_VALIDATOR_SELF_BOND : DEV_ACCOUNT_BALANCE,
      vesting: undefined,
    })),
    { category: 'liquidity', address: devKey('liquidity').address, amount: liquidityLeft, vesting: undefined },
  ]
  return {
    name: options.name ?? 'OpenLedger Dev',
    id: options.id ?? 'openledger-dev',
    chainId: options.chainId ?? DEV_CHAIN_ID,
    genesisTime,
    allocations,
    fees: DEFAULT_FEE_PARAMS,
    staking: {
      params: DEV_STAKING_PARAMS,
      validators: [{ operator: alice.address, consensusKey: devValidatorKey('alice').publicKey, selfBond: DEV_VALIDATOR_SELF_BOND, commissionBps: 1_000, beacon: undefined }],
    },
    datanets: undefined,
    // one validator: its clock is the chain's (no timeliness rule runs on the dev chain)
    consensus: undefined,
    models: { params: DEV_MODELS_PARAMS, baseModels: [...(options.baseModels ?? [])] },
    inference: { params: DEV_INFERENCE_PARAMS },
    attribution: undefined,
    governance: options.governanceParams === undefined ? undefined : { params: options.governanceParams },
  }
}
