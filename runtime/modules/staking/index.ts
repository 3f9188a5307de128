// staking: validators and their consensus keys, delegation, unbonding, the active set and its
// epochs, block rewards from the ecosystem pool, slashing (double signs, downtime) and jailing.
// See stake.ts for the accounting, validatorSet.ts for the set, hooks.ts for the end-of-block work.
import { stakingParams } from './state.ts'
import type { RuntimeModule } from '../../module.ts'
import { ModuleIndex } from '../indices.ts'
import { createCalls } from './calls.ts'
import { StakingError } from './errors.ts'
import { events } from './events.ts'
import { rejectAllEvidence, type EvidenceVerifier } from './evidence.ts'
import { advanceBeacon } from './beacon.ts'
import { punishBlockEvidence, stakingEndBlock } from './hooks.ts'
import { applyStakingGenesis, type StakingGenesis } from './genesis.ts'

export interface StakingModuleOptions {
  /** the consensus layer's equivocation check (default: no evidence is accepted) */
  readonly verifyEvidence?: EvidenceVerifier
}

export function createStakingModule(options: StakingModuleOptions = {}): RuntimeModule {
  const verify = options.verifyEvidence ?? rejectAllEvidence
  return {
    index: ModuleIndex.staking,
    name: 'staking',
    calls: createCalls(verify),
    events,
    errors: StakingError.list,
    async beginBlock(context) {
      await advanceBeacon(context)
      await punishBlockEvidence(context, verify)
    },
    endBlock: stakingEndBlock,
    genesis: { apply: (state, config: StakingGenesis | undefined, { genesisTime, chainId }) => (config === undefined ? undefined : applyStakingGenesis(state, config, genesisTime, chainId)) },
    params: stakingParams,
  }
}

export { rejectAllEvidence, infractionId, punishEquivocation, type Equivocation, type EvidenceContext, type EvidenceVerifier } from './evidence.ts'
export { delegation, validatorInfo, type DelegationInfo, type ValidatorInfo } from './stake.ts'
export { StakingQueryError, validatorSetAt, type ValidatorSetMember } from './validatorSet.ts'
export { DEFAULT_STAKING_PARAMS, POWER_UNIT, STAKING_ACCOUNT, stakingParamsProblem, type StakingParams } from './state.ts'
export { BEACON_CHAIN_LENGTH, BEACON_ROTATION_DELAY, beaconSeed, beaconTip, hashChain, MAX_BEACON_CHAIN_LENGTH, revealProblem, RevealProblemCode, type BeaconChain } from './beacon.ts'
export { setBeaconChain } from './calls.ts'
export { SlashReason } from './events.ts'
export { stakingGenesisKind } from './genesis.ts'
export { slash } from './stake.ts'
export {
  beaconChains, beaconGenerations, beaconRotations, epoch, params, type ScheduledSet, stakingParams, stakingParamsKind, totals, unbondings, validatorByKey, validatorCount,
  validatorIds, validators, validatorSets,
} from './state.ts'
export { countedSetAt } from './validatorSet.ts'
export { drawValidators, slashForWork } from './work.ts'
