// attribution (Proof of Attribution on chain): every inference record gets an attributor drawn by
// stake; its receipt (method, lineage, output hash, top contributions with fixed-point scores)
// is bound to the record and the chain, re-checked by drawn verifiers at a sampled rate
// (commit–reveal, majority, the wrong side slashed), and once final the record's contributors'
// pool is divided pro rata to the scores into contributors' accrued rewards, pulled with `claim`.
// Harmful scores accumulate into penalties that cut a contribution off and slash its deposit.
// See lifecycle.ts for an attribution's life.
import type { RuntimeModule } from '../../module.ts'
import { ModuleIndex } from '../indices.ts'
import { calls } from './calls.ts'
import { AttributionError } from './errors.ts'
import { events } from './events.ts'
import { applyAttributionGenesis, type AttributionGenesis } from './genesis.ts'
import { attributionEndBlock } from './hooks.ts'
import { attributionParams } from './state.ts'

export const attributionModule: RuntimeModule = {
  index: ModuleIndex.attribution,
  name: 'attribution',
  calls,
  events,
  errors: AttributionError.list,
  endBlock: attributionEndBlock,
  params: attributionParams,
  genesis: { apply: (state, config: AttributionGenesis | undefined) => (config === undefined ? undefined : applyAttributionGenesis(state, config)) },
}

export { receiptArgsKind } from './calls.ts'
export { AttributionSlashReason, ReassignReason, UnattributedReason } from './events.ts'
export { applyAttributionGenesis, attributionGenesisKind, type AttributionGenesis } from './genesis.ts'
export { CHECK_COMMIT_DOMAIN, checkScope, lineageOf, receiptHash } from './lifecycle.ts'
export {
  ATTRIBUTION_ACCOUNT, ATTRIBUTION_STATUS_NAMES, attributionParams, attributionParamsProblem, attributions, AttributionStatus, cursor as attributionCursor,
  DEFAULT_ATTRIBUTION_PARAMS, MAX_RECEIPT_CONTRIBUTIONS, MAX_RECEIPT_HARMFUL, METHOD_NAMES, Method, penalties, rewards, SCORE_TOTAL,
  type Attribution, type AttributionParams, type LineageEntry, type Payout, type Penalty, type Receipt, type Reward, type Scored,
} from './state.ts'
export { attributionKind, contributorPayouts, creditKind, penaltyKind, type Credit } from './state.ts'
export { commitCheck, revealCheck, submitReceipt } from './calls.ts'
export { AttributionFinal, RecordUnattributed } from './events.ts'
export { deadlines } from './state.ts'
