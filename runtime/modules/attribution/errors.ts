import { defineErrors } from '../../module.ts'
import { ModuleIndex } from '../indices.ts'

export const AttributionError = defineErrors(ModuleIndex.attribution, 'attribution', {
  UnknownRecord: { index: 0, message: 'no attribution is open for this record (unknown, or not yet assigned)' },
  AlreadyAttributed: { index: 1, message: 'this record already has a receipt' },
  WrongSender: { index: 2, message: 'the sender is not the attributor (or a verifier) of this record' },
  DeadlinePassed: { index: 3, message: 'the deadline of this phase has passed' },
  WrongChain: { index: 4, message: 'the receipt names another chain' },
  OutputMismatch: { index: 5, message: "the receipt's output hash is not the record's" },
  WrongMethod: { index: 6, message: 'the method does not fit the base model (spans for a language model, knnShapley for a classifier)' },
  WrongLineage: { index: 7, message: "the datanet versions are not the lineage of the record's adapters" },
  ScoresDoNotSum: { index: 8, message: 'the credited scores must be positive and sum to 1000000' },
  UnsortedScores: { index: 9, message: 'scores must be sorted by score descending, then datanet and index, without duplicates' },
  UnknownContribution: { index: 10, message: 'a contribution is not in the datanet versions of the lineage' },
  NotCommitPhase: { index: 11, message: 'the re-check is not taking commitments' },
  AlreadyCommitted: { index: 12, message: 'this verifier already committed' },
  NotRevealPhase: { index: 13, message: 'the re-check is not taking reveals' },
  BadReveal: { index: 14, message: 'the salt and receipt hash do not open this verifier\'s commitment (or it already revealed)' },
  NothingToClaim: { index: 15, message: 'no accrued reward to claim' },
})
