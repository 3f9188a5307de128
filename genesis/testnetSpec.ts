// A local testnet spec (`openledger testnet init`): the dev spec's tokenomics and prefunded dev
// accounts, with the given validators instead of alice's. Each operator is funded from the
// liquidity share with TESTNET_VALIDATOR_SELF_BOND, bonded at genesis (all equal, so the first
// active set has equal powers), plus TESTNET_OPERATOR_BALANCE to pay fees.
import { toHex } from '../runtime/crypto/hash.ts'
import type { Address } from '../runtime/crypto/secp256k1.ts'
import type { GenesisBaseModel, ModelsParams } from '../runtime/modules/models/index.ts'
import type { InferenceParams } from '../runtime/modules/inference/index.ts'
import type { StakingParams } from '../runtime/modules/staking/index.ts'
import type { AttributionParams } from '../runtime/modules/attribution/index.ts'
import { DEFAULT_TIMELINESS, type TimelinessParams } from '../runtime/consensusParams.ts'
import type { GovernanceParams } from '../runtime/modules/governance/index.ts'
import { devKey } from './devAccounts.ts'
import { DEV_MODELS_PARAMS, DEV_STAKING_PARAMS, devChainSpec } from './devSpec.ts'
import { GenesisError, validateChainSpec, type Allocation, type ChainSpec } from './spec.ts'
import { ONE_OPEN } from './tokenomics.ts'

/** base units each testnet validator bonds at genesis */
export const TESTNET_VALIDATOR_SELF_BOND = 100_000n * ONE_OPEN
/** base units each testnet operator keeps free, for fees */
export const TESTNET_OPERATOR_BALANCE = 10_000n * ONE_OPEN
/** commission of the genesis validators, in basis points */
export const TESTNET_COMMISSION_BPS = 1_000

export interface TestnetValidator {
  readonly operator: Address
  /** ed25519 public key */
  readonly consensusKey: Uint8Array
  /** its randomness beacon hash chain (runtime/modules/staking/beacon.ts); absent: it reveals nothing */
  readonly beacon?: { readonly tip: Uint8Array; readonly remaining: number } | undefined
}

export interface TestnetSpecOptions {
  readonly validators: readonly TestnetValidator[]
  /** ms since the Unix epoch */
  readonly genesisTime: number
  readonly chainId: number
  readonly name?: string
  readonly id?: string
  readonly stakingParams?: StakingParams
  /** base models registered at genesis (the node passes the project's shipped ones) */
  readonly baseModels?: readonly GenesisBaseModel[]
  /** default: the dev parameters, except that every job needs at least one verifier */
  readonly modelsParams?: ModelsParams
  /** default: the dev parameters (DEV_INFERENCE_PARAMS) */
  readonly inferenceParams?: InferenceParams
  readonly attributionParams?: AttributionParams
  /** the proposer-based timestamps' bounds (default DEFAULT_TIMELINESS) */
  readonly timeliness?: TimelinessParams
  /** governance's periods and shares (default: the runtime's, a week's vote) */
  readonly governanceParams?: GovernanceParams
  /** ms per block the chain targets (absent: DEFAULT_BLOCK_TIME_MS) */
  readonly blockTimeMs?: number
}

export const TESTNET_MODELS_PARAMS: ModelsParams = { ...DEV_MODELS_PARAMS, minVerifiers: 1 }

export function testnetChainSpec(options: TestnetSpecOptions): ChainSpec {
  if (options.validators.length === 0) throw new GenesisError('INVALID_STAKING', 'a testnet needs at least one validator')
  const base = devChainSpec({
    genesisTime: options.genesisTime, chainId: options.chainId, name: options.name ?? 'OpenLedger Local Testnet', id: options.id ?? 'openledger-local-testnet',
    ...(options.baseModels === undefined ? {} : { baseModels: options.baseModels }),
    ...(options.governanceParams === undefined ? {} : { governanceParams: options.governanceParams }),
  })
  const poolAddress = toHex(devKey('liquidity').address)
  // the dev spec's alice carries its validator's self-bond: give it back to the liquidity rest
  const allocations: Allocation[] = base.allocations.map((a) => ({ ...a }))
  const rest = allocations.find((a) => toHex(a.address) === poolAddress)
  if (rest === undefined) throw new Error('dev spec without its liquidity holder')
  for (const validator of base.staking?.validators ?? []) {
    const holder = allocations.find((a) => toHex(a.address) === toHex(validator.operator))
    if (holder !== undefined) {
      holder.amount -= validator.selfBond
      rest.amount += validator.selfBond
    }
  }
  const perOperator = TESTNET_VALIDATOR_SELF_BOND + TESTNET_OPERATOR_BALANCE
  for (const { operator } of options.validators) {
    if (rest.amount <= perOperator) throw new GenesisError('INVALID_STAKING', `the liquidity share cannot fund ${options.validators.length} validators`)
    rest.amount -= perOperator
    const holder = allocations.find((a) => toHex(a.address) === toHex(operator))
    if (holder === undefined) allocations.push({ category: 'liquidity', address: operator, amount: perOperator, vesting: undefined })
    else if (holder.category === 'liquidity') holder.amount += perOperator
    else throw new GenesisError('INVALID_STAKING', `operator ${toHex(operator)} already holds a ${holder.category} allocation`)
  }
  const spec: ChainSpec = {
    ...base,
    allocations,
    models: { params: options.modelsParams ?? TESTNET_MODELS_PARAMS, baseModels: [...(options.baseModels ?? [])] },
    consensus: { timeliness: { ...(options.timeliness ?? DEFAULT_TIMELINESS) }, blockTimeMs: options.blockTimeMs },
    ...(options.inferenceParams === undefined ? {} : { inference: { params: options.inferenceParams } }),
    ...(options.attributionParams === undefined ? {} : { attribution: { params: options.attributionParams } }),
    staking: {
      params: options.stakingParams ?? DEV_STAKING_PARAMS,
      validators: options.validators.map(({ operator, consensusKey, beacon }) => ({ operator, consensusKey, selfBond: TESTNET_VALIDATOR_SELF_BOND, commissionBps: TESTNET_COMMISSION_BPS, beacon })),
    },
  }
  validateChainSpec(spec)
  return spec
}
