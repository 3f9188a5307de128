import * as k from '../../codec/schema.ts'
import type { Address } from '../../crypto/secp256k1.ts'
import type { ExecutionContext } from '../../module.ts'
import type { StateOverlay } from '../../state/overlay.ts'
import { newValidator, registerValidator } from './calls.ts'
import { addStake } from './stake.ts'
import { beaconChainKind, beaconChains, epoch, params as stakingParams, stakingParamsKind, DEFAULT_STAKING_PARAMS } from './state.ts'
import { scheduleValidatorSet } from './validatorSet.ts'

export const genesisValidatorKind = k.struct({
  operator: k.address,
  /** ed25519 public key */
  consensusKey: k.hash,
  /** base units bonded from the operator's genesis balance */
  selfBond: k.amount,
  commissionBps: k.uint,
  /** the tip of its randomness beacon hash chain and the values below it (staking/beacon.ts); absent: none */
  beacon: k.optional(beaconChainKind),
})
export type GenesisValidator = k.Infer<typeof genesisValidatorKind>

export const stakingGenesisKind = k.struct({
  params: k.optional(stakingParamsKind),
  validators: k.list(genesisValidatorKind, 1_000),
})
export type StakingGenesis = k.Infer<typeof stakingGenesisKind>

/**
 * Bonds each genesis validator's self-stake from its operator's balance (already minted by the
 * balances genesis) and puts the active set in force from height 0, so heights 0, 1 and 2 have
 * it. The spec was validated before; an inconsistency here is a bug.
 */
export async function applyStakingGenesis(state: StateOverlay, config: StakingGenesis, genesisTime: number, chainId: number): Promise<void> {
  const params = config.params ?? DEFAULT_STAKING_PARAMS
  stakingParams.set(state, params)
  epoch.set(state, { index: 0, startHeight: 0 })
  const context: ExecutionContext = {
    state,
    block: { chainId, height: 0, timestamp: genesisTime, author: new Uint8Array(20) as Address, parentHash: new Uint8Array(32) },
    emit: () => undefined,
  }
  for (const { operator, consensusKey, selfBond, commissionBps, beacon } of config.validators) {
    const validator = newValidator(operator, consensusKey, commissionBps, 0, 0)
    const bonded = await addStake(context, validator, operator, selfBond)
    if ('module' in bonded) throw new Error(`genesis: cannot bond ${selfBond} for validator ${Buffer.from(operator).toString('hex')}: ${bonded.code}`)
    await registerValidator(state, validator)
    if (beacon !== undefined) beaconChains.set(state, operator, beacon)
  }
  await scheduleValidatorSet(context, params, 0, 0)
}
