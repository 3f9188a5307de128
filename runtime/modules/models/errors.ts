import { defineErrors } from '../../module.ts'
import { ModuleIndex } from '../indices.ts'

export const ModelsError = defineErrors(ModuleIndex.models, 'models', {
  UnknownBaseModel: { index: 0, message: 'no such base model' },
  InvalidName: { index: 1, message: 'the name must hold at least one non-space character' },
  InvalidArchitecture: { index: 2, message: 'the architecture must be the canonical JSON of a valid model config of the given kind' },
  InvalidTokenizer: { index: 3, message: 'the tokenizer name must not be empty' },
  InvalidEngineVersion: { index: 4, message: 'the engine version must not be empty' },
  DuplicateBaseModel: { index: 5, message: 'a base model with these weights is already registered' },
  UnknownDatanetVersion: { index: 6, message: 'no such published datanet version' },
  InvalidDatanetList: { index: 7, message: 'a job trains on 1 to 8 distinct datanet versions' },
  InvalidHyperparameters: { index: 8, message: 'hyperparameters out of range (rank 1..64, alpha 1..256, steps 1..maxSteps, batchSize 1..64, length 8..context, learningRateMicro 1..1000000, checkpointEvery 1..steps)' },
  InsufficientEscrow: { index: 9, message: 'the fee is below minFeePerStep × steps × batchSize' },
  NotEnoughValidators: { index: 10, message: 'the active validator set cannot provide a trainer and minVerifiers verifiers' },
  UnknownJob: { index: 11, message: 'no such training job' },
  WrongJobStatus: { index: 12, message: 'the job is not in the status this call needs' },
  NotAssigned: { index: 13, message: 'the sender is not assigned to this job for this step' },
  DeadlinePassed: { index: 14, message: 'the deadline of this step has passed' },
  AlreadyAttested: { index: 15, message: 'this worker already attested this job\'s result' },
  InvalidMetrics: { index: 16, message: 'accuracies are basis points: at most 10000' },
  DataFormatMismatch: { index: 17, message: 'the base model\'s kind cannot train on these datanets\' formats (a classifier needs datanets that accept labelled rows only)' },
  AlreadyCommitted: { index: 19, message: 'this worker already committed to a result in this round' },
  NotCommitted: { index: 20, message: 'this worker has no commitment to reveal in this round' },
  WrongPhase: { index: 21, message: 'the round is not in the phase this call needs (commit, then reveal)' },
  CommitmentMismatch: { index: 22, message: 'the salt and result do not open this worker\'s commitment' },
  TrainerNotRevealed: { index: 23, message: 'verifiers reveal after the trainer has revealed its result' },
  InsufficientData: { index: 18, message: 'the datanet versions hold too little data for the job (a classifier needs at least 10 rows, a language model at least 10 x (length + 1) bytes)' },
})
