import { defineErrors } from '../../module.ts'
import { ModuleIndex } from '../indices.ts'

export const GovernanceError = defineErrors(ModuleIndex.governance, 'governance', {
  UnknownProposal: { index: 0, message: 'no such proposal' },
  InvalidKind: { index: 1, message: 'kind must be 0 (text), 1 (parameter change), 2 (treasury spend) or 3 (software upgrade)' },
  InvalidContent: { index: 2, message: 'the proposal sets fields its kind does not use, or lacks a title' },
  UnknownModule: { index: 3, message: 'no module of that name declares parameters' },
  UnknownParameter: { index: 4, message: 'the module has no parameter of that name' },
  WrongParameterType: { index: 5, message: 'the value is not of the parameter\'s type' },
  ParameterOutOfBounds: { index: 6, message: 'the value is outside the parameter\'s bounds' },
  InconsistentParameters: { index: 7, message: 'the changed parameters break their module\'s rule' },
  NoChanges: { index: 8, message: 'a parameter change must change at least one parameter' },
  SpendExceedsTreasury: { index: 9, message: 'the treasury holds less than the spend' },
  ZeroSpend: { index: 10, message: 'a treasury spend must move at least one base unit' },
  UpgradeHeightPassed: { index: 11, message: 'the upgrade height is not after the current height' },
  InvalidVersion: { index: 12, message: 'the version must be MAJOR.MINOR.PATCH' },
  NotInDepositPeriod: { index: 13, message: 'the proposal is not in its deposit period' },
  ZeroDeposit: { index: 14, message: 'a deposit must be at least one base unit' },
  TooManyDepositors: { index: 15, message: 'the proposal has the most depositors it may have' },
  NotInVotingPeriod: { index: 16, message: 'the proposal is not in its voting period' },
  InvalidOption: { index: 17, message: 'option must be 0 (yes), 1 (no), 2 (abstain) or 3 (veto)' },
  NoStake: { index: 18, message: 'the voter is neither a validator operator nor a delegator of the listed validators' },
  NoDelegation: { index: 19, message: 'the voter has no delegation to a listed validator' },
  DuplicateValidator: { index: 20, message: 'a validator is listed twice' },
  TooManyVoters: { index: 21, message: 'the proposal has the most voters it may have' },
})
