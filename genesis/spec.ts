// The JSON chain-spec format and its validation. A spec fully determines the genesis block:
// same spec, same genesis hash, on every machine.
//
// {
//   "name": "OpenLedger Dev", "id": "openledger-dev", "chainId": 1337,
//   "genesisTime": 1767225600000,                       // ms since epoch
//   "allocations": [ { "category": "community", "address": "0x…", "amount": "617100000…" ,
//                      "vesting": { "cliffEnd": ms, "end": ms } }, … ],
//   "fees": { "minBaseFeePerGas": "1000000000", "maxBlockGas": 150000000, … },  // optional
//   "staking": { "params": { "maxValidators": 100, … },                           // optional
//                "validators": [ { "operator": "0x…", "consensusKey": "0x…32 bytes",
//                                  "selfBond": "…", "commissionBps": 500 }, … ] },
//   "datanets": { "params": { … } },                                           // optional
//   "consensus": { "timeliness": { "precisionMs": 500, "messageDelayMs": 3000 },   // optional
//                  "blockTimeMs": 1000 },                                          // optional
//   "governance": { "params": { "votingPeriod": 100800, "quorumBps": 3340, … } },   // optional
//   "attribution": { "params": { "receiptBlocks": 100, "sampleRateBps": 500, … } },  // optional
//   "models": { "params": { "verifiers": 2, … },                               // optional
//               "baseModels": [ { "name": "…", "kind": 0, "architecture": "{…canonical JSON…}",
//                                 "artifact": "0x…", "weightsHash": "0x…", "onnx": "0x…",
//                                 "tokenizer": "gpt2", "tokenizerHash": "0x…", "engineVersion": "…" } ] }
// }
import * as k from '../runtime/codec/schema.ts'
import { CodecError } from '../runtime/codec/canonical.ts'
import { toHex } from '../runtime/crypto/hash.ts'
import { OpenLedgerError } from '../runtime/errors.ts'
import type { ParamProblem } from '../runtime/params.ts'
import { isAcceptablePublicKey } from '../runtime/crypto/ed25519.ts'
import { ECOSYSTEM_POOL_ACCOUNT } from '../runtime/modules/accounts.ts'
import { DEFAULT_FEE_PARAMS, type FeeParams, feeParamsKind, feesParams } from '../runtime/modules/fees/index.ts'
import { datanetsGenesisKind, datanetsParams } from '../runtime/modules/datanets/index.ts'
import { baseModelProblem, modelsGenesisKind, modelsParams } from '../runtime/modules/models/index.ts'
import { attributionGenesisKind, attributionParams } from '../runtime/modules/attribution/index.ts'
import { inferenceGenesisKind, inferenceParams } from '../runtime/modules/inference/index.ts'
import { governanceGenesisKind, governanceParams } from '../runtime/modules/governance/index.ts'
import { DEFAULT_STAKING_PARAMS, stakingGenesisKind, stakingParams, type StakingParams } from '../runtime/modules/staking/index.ts'
import { DEFAULT_BLOCK_TIME_MS, DEFAULT_TIMELINESS, MAX_BLOCK_TIME_MS, timelinessParamsKind, timelinessParamsProblem, type TimelinessParams } from '../runtime/consensusParams.ts'
import { allocationAmount, AllocationCategory, TOTAL_SUPPLY, VESTED_CATEGORIES, VESTING_CLIFF_MS, VESTING_LINEAR_MS } from './tokenomics.ts'

export type GenesisErrorCode = 'INVALID_SPEC' | 'SUPPLY_MISMATCH' | 'ALLOCATION_MISMATCH' | 'VESTING_MISMATCH' | 'INVALID_STAKING' | 'STAKE_NOT_COVERED'
export class GenesisError extends OpenLedgerError<GenesisErrorCode> {}

const categoryKind: k.Kind<AllocationCategory> = {
  ...k.string(16),
  name: 'category',
  decode: () => {
    throw new Error('categories are JSON-only')
  },
  fromJson(value, field) {
    if (typeof value === 'string' && Object.hasOwn(AllocationCategory, value)) return value as AllocationCategory
    throw new CodecError('WRONG_TYPE', `${field}: expected one of ${Object.keys(AllocationCategory).join(', ')}`)
  },
} as k.Kind<AllocationCategory>

const allocationKind = k.struct({
  category: categoryKind,
  address: k.address,
  amount: k.amount,
  vesting: k.optional(k.struct({ cliffEnd: k.uint, end: k.uint })),
})

export const chainSpecKind = k.struct({
  name: k.string(64),
  id: k.string(64),
  chainId: k.uint,
  genesisTime: k.uint,
  allocations: k.list(allocationKind, 1_000_000),
  fees: k.optional(feeParamsKind),
  staking: k.optional(stakingGenesisKind),
  datanets: k.optional(datanetsGenesisKind),
  models: k.optional(modelsGenesisKind),
  inference: k.optional(inferenceGenesisKind),
  attribution: k.optional(attributionGenesisKind),
  /** governance parameters (deposit and voting periods, quorum, threshold, veto, timelock) */
  governance: k.optional(governanceGenesisKind),
  /**
   * BFT consensus parameters (governance will own them): the proposer-based timestamps' bounds and
   * the target block time. Neither is in the genesis state, so neither changes the genesis hash: no
   * block's validity depends on them, and a spec written before blockTimeMs existed keeps its chain.
   */
  consensus: k.optional(k.struct({ timeliness: timelinessParamsKind, blockTimeMs: k.optional(k.uint) })),
})

export type ChainSpec = k.Infer<typeof chainSpecKind>
export type Allocation = k.Infer<typeof allocationKind>

export type StakingSpec = k.Infer<typeof stakingGenesisKind>

export function feeParamsOf(spec: ChainSpec): FeeParams {
  return spec.fees ?? DEFAULT_FEE_PARAMS
}

export function stakingParamsOf(spec: ChainSpec): StakingParams {
  return spec.staking?.params ?? DEFAULT_STAKING_PARAMS
}

/** The timeliness rule's parameters (consensus/timeliness.ts); the defaults when the spec has none. */
export function timelinessParamsOf(spec: ChainSpec): TimelinessParams {
  return spec.consensus?.timeliness ?? DEFAULT_TIMELINESS
}

/**
 * ms per block the chain targets (`consensus.blockTimeMs`, DEFAULT_BLOCK_TIME_MS when absent): the
 * nodes' default pace, and the light client's clock for the unbonding period's blocks.
 */
export function blockTimeMsOf(spec: ChainSpec): number {
  return spec.consensus?.blockTimeMs ?? DEFAULT_BLOCK_TIME_MS
}

/** Parses a spec from JSON text and checks every rule; throws GenesisError naming the problem. */
export function parseChainSpec(json: string): ChainSpec {
  let raw: unknown
  try {
    raw = JSON.parse(json)
  } catch (cause) {
    throw new GenesisError('INVALID_SPEC', 'chain spec is not valid JSON', { cause })
  }
  let spec: ChainSpec
  try {
    spec = chainSpecKind.fromJson(raw, '')
  } catch (cause) {
    if (cause instanceof CodecError) throw new GenesisError('INVALID_SPEC', `chain spec: ${cause.message}`, { cause })
    throw cause
  }
  validateChainSpec(spec)
  return spec
}

export function chainSpecToJson(spec: ChainSpec): string {
  return JSON.stringify(chainSpecKind.toJson(spec), null, 2) + '\n'
}

/** The tokenomics rules: exact supply, exact category shares, community in the pool, vesting. */
export function validateChainSpec(spec: ChainSpec): void {
  if (spec.chainId < 1 || spec.chainId > 0xffffffff) throw new GenesisError('INVALID_SPEC', 'chainId must be in [1, 2^32 - 1]')
  if (!/^[a-z0-9-]{1,64}$/.test(spec.id)) throw new GenesisError('INVALID_SPEC', 'id must be lowercase letters, digits and dashes')
  const fees = feesParams.problem(feeParamsOf(spec))
  if (fees !== undefined) throw paramsError('INVALID_SPEC', 'fees', fees)
  const timeliness = timelinessParamsProblem(timelinessParamsOf(spec))
  if (timeliness !== undefined) throw new GenesisError('INVALID_SPEC', `consensus.timeliness.${timeliness}`)
  const blockTime = blockTimeMsOf(spec)
  if (!Number.isSafeInteger(blockTime) || blockTime < 1 || blockTime > MAX_BLOCK_TIME_MS) throw new GenesisError('INVALID_SPEC', `consensus.blockTimeMs: expected an integer number of ms in [1, ${MAX_BLOCK_TIME_MS}]`)

  const sums = new Map<AllocationCategory, bigint>()
  const seen = new Set<string>()
  let total = 0n
  for (const allocation of spec.allocations) {
    const address = toHex(allocation.address)
    if (seen.has(address)) throw new GenesisError('INVALID_SPEC', `address ${address} is allocated twice`)
    seen.add(address)
    if (allocation.amount === 0n) throw new GenesisError('INVALID_SPEC', `allocation to ${address} is zero`)
    sums.set(allocation.category, (sums.get(allocation.category) ?? 0n) + allocation.amount)
    total += allocation.amount
    if (allocation.category === 'community' && toHex(allocation.address) !== toHex(ECOSYSTEM_POOL_ACCOUNT)) {
      throw new GenesisError('ALLOCATION_MISMATCH', `community allocation must go to the ecosystem pool ${toHex(ECOSYSTEM_POOL_ACCOUNT)}`)
    }
    const vested = VESTED_CATEGORIES.includes(allocation.category)
    const expected = { cliffEnd: spec.genesisTime + VESTING_CLIFF_MS, end: spec.genesisTime + VESTING_CLIFF_MS + VESTING_LINEAR_MS }
    if (vested && (allocation.vesting?.cliffEnd !== expected.cliffEnd || allocation.vesting.end !== expected.end)) {
      throw new GenesisError('VESTING_MISMATCH', `${allocation.category} allocation to ${address} must vest with a 12-month cliff and 36 months linear: cliffEnd ${expected.cliffEnd}, end ${expected.end}`)
    }
    if (!vested && allocation.vesting !== undefined) throw new GenesisError('VESTING_MISMATCH', `${allocation.category} allocations do not vest`)
  }
  if (total !== TOTAL_SUPPLY) throw new GenesisError('SUPPLY_MISMATCH', `allocations sum to ${total} base units, the supply is exactly ${TOTAL_SUPPLY}`)
  for (const category of Object.values(AllocationCategory)) {
    const sum = sums.get(category) ?? 0n
    if (sum !== allocationAmount(category)) throw new GenesisError('ALLOCATION_MISMATCH', `${category} allocations sum to ${sum}, expected ${allocationAmount(category)}`)
  }
  validateStaking(spec)
  const datanetsProblem = spec.datanets?.params === undefined ? undefined : datanetsParams.problem(spec.datanets.params)
  if (datanetsProblem !== undefined) throw paramsError('INVALID_SPEC', 'datanets.params', datanetsProblem)
  validateModels(spec)
  const inferenceProblem = spec.inference?.params === undefined ? undefined : inferenceParams.problem(spec.inference.params)
  if (inferenceProblem !== undefined) throw paramsError('INVALID_SPEC', 'inference.params', inferenceProblem)
  const attributionProblem = spec.attribution?.params === undefined ? undefined : attributionParams.problem(spec.attribution.params)
  if (attributionProblem !== undefined) throw paramsError('INVALID_SPEC', 'attribution.params', attributionProblem)
  const governanceProblem = spec.governance?.params === undefined ? undefined : governanceParams.problem(spec.governance.params)
  if (governanceProblem !== undefined) throw paramsError('INVALID_SPEC', 'governance.params', governanceProblem)
}

/** A section's parameters refused by the registry (runtime/params.ts): its code under `details.problem`. */
function paramsError(code: GenesisErrorCode, section: string, problem: ParamProblem): GenesisError {
  return new GenesisError(code, `${section}: ${problem.message}`, { details: { parameter: problem.parameter, problem: problem.code } })
}

/** Models: usable parameters; base models that registerBaseModel would accept, with distinct weights. */
function validateModels(spec: ChainSpec): void {
  if (spec.models === undefined) return
  const paramsProblem = spec.models.params === undefined ? undefined : modelsParams.problem(spec.models.params)
  if (paramsProblem !== undefined) throw paramsError('INVALID_SPEC', 'models.params', paramsProblem)
  const weights = new Set<string>()
  for (const [i, model] of spec.models.baseModels.entries()) {
    const problem = baseModelProblem(model)
    if (problem !== undefined) throw new GenesisError('INVALID_SPEC', `models.baseModels[${i}]: ${problem.detail}`)
    const hash = toHex(model.weightsHash)
    if (weights.has(hash)) throw new GenesisError('INVALID_SPEC', `models.baseModels[${i}]: weightsHash ${hash} is listed twice`)
    weights.add(hash)
  }
}

/** Staking: usable parameters, valid and unique keys and operators, self-bonds the operators' free allocations cover. */
function validateStaking(spec: ChainSpec): void {
  if (spec.staking === undefined) return
  const params = stakingParamsOf(spec)
  const problem = stakingParams.problem(params)
  if (problem !== undefined) throw paramsError('INVALID_STAKING', 'staking.params', problem)
  const { validators } = spec.staking
  if (validators.length === 0) throw new GenesisError('INVALID_STAKING', 'staking.validators must name at least one validator')
  const operators = new Set<string>()
  const keys = new Set<string>()
  for (const [i, validator] of validators.entries()) {
    const field = `staking.validators[${i}]`
    const operator = toHex(validator.operator)
    const key = toHex(validator.consensusKey)
    if (operators.has(operator)) throw new GenesisError('INVALID_STAKING', `${field}: operator ${operator} is listed twice`)
    if (keys.has(key)) throw new GenesisError('INVALID_STAKING', `${field}: consensus key ${key} is listed twice`)
    operators.add(operator)
    keys.add(key)
    if (!isAcceptablePublicKey(validator.consensusKey)) throw new GenesisError('INVALID_STAKING', `${field}: consensus key ${key} is not an acceptable ed25519 public key`)
    if (validator.commissionBps > 10_000) throw new GenesisError('INVALID_STAKING', `${field}: commissionBps must be at most 10000`)
    if (validator.selfBond < params.minSelfBond) throw new GenesisError('INVALID_STAKING', `${field}: selfBond ${validator.selfBond} is below minSelfBond ${params.minSelfBond}`)
    const allocation = spec.allocations.find((a) => toHex(a.address) === operator)
    if (allocation === undefined) throw new GenesisError('STAKE_NOT_COVERED', `${field}: operator ${operator} has no allocation to bond from`)
    if (allocation.vesting !== undefined || allocation.category === 'community') {
      throw new GenesisError('STAKE_NOT_COVERED', `${field}: operator ${operator} holds a ${allocation.category} allocation, which cannot be bonded at genesis`)
    }
    if (allocation.amount < validator.selfBond) throw new GenesisError('STAKE_NOT_COVERED', `${field}: selfBond ${validator.selfBond} exceeds the operator's allocation ${allocation.amount}`)
  }
}
