import { defineErrors } from '../../module.ts'
import { ModuleIndex } from '../indices.ts'

export const StakingError = defineErrors(ModuleIndex.staking, 'staking', {
  ValidatorExists: { index: 0, message: 'the sender already operates a validator' },
  ConsensusKeyInUse: { index: 1, message: 'the consensus key belongs to another validator' },
  InvalidConsensusKey: { index: 2, message: 'the consensus key is not an acceptable ed25519 public key' },
  InvalidCommission: { index: 3, message: 'commission must be at most 10000 basis points' },
  SelfBondBelowMinimum: { index: 4, message: 'the operator\'s self-bond would be below the minimum' },
  UnknownValidator: { index: 5, message: 'no such validator' },
  ZeroAmount: { index: 6, message: 'the amount must be positive' },
  InsufficientStake: { index: 7, message: 'the amount exceeds the delegation' },
  NoDelegation: { index: 8, message: 'the sender has no delegation to this validator' },
  TooManyUnbondingEntries: { index: 9, message: 'too many unbonding entries with this validator' },
  CommissionChangeTooLarge: { index: 10, message: 'the commission change exceeds maxCommissionChangeBps' },
  CommissionChangeTooSoon: { index: 11, message: 'the commission was already changed this epoch' },
  NotJailed: { index: 12, message: 'the validator is not jailed' },
  JailPeriodNotOver: { index: 13, message: 'the jail period is not over' },
  InvalidEvidence: { index: 14, message: 'the evidence does not prove an equivocation' },
  EvidenceTooOld: { index: 15, message: 'the evidence is older than evidenceMaxAgeBlocks' },
  DuplicateEvidence: { index: 16, message: 'this infraction was already punished' },
  NothingToClaim: { index: 17, message: 'no rewards to claim' },
  ValidatorDepleted: { index: 18, message: 'the validator has shares but no tokens left: it takes no new stake' },
  AmountTooSmall: { index: 19, message: 'the amount buys no share of the validator' },
  AlreadySlashed: { index: 20, message: 'the validator was already slashed and jailed for double signing up to this height' },
  LastValidator: { index: 21, message: 'no other validator is eligible for the set: the last one cannot take its self-bond below the minimum' },
  InvalidBeaconChain: { index: 22, message: 'a beacon chain needs a non-zero tip not in use, 1 to 2^24 values and a generation above the one in force' },
  BeaconRotationPending: { index: 23, message: 'a beacon chain registered earlier has not come into force yet' },
})
