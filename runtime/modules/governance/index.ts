// governance: proposals with deposits (text, parameter change, treasury spend, software upgrade),
// stake-weighted votes with validators voting for delegators who do not vote themselves, the
// tally at the end of the voting period (tally.ts), the timelock and enactment in the
// end-of-block hook (hooks.ts). Parameters are changed through the runtime's registry
// (runtime/params.ts), so any module that declares parameters is governable.
import type { RuntimeModule } from '../../module.ts'
import type { ParamRegistry } from '../../params.ts'
import { ModuleIndex } from '../indices.ts'
import { createCalls } from './calls.ts'
import { GovernanceError } from './errors.ts'
import { events } from './events.ts'
import { applyGovernanceGenesis, type GovernanceGenesis } from './genesis.ts'
import { governanceEndBlock } from './hooks.ts'
import { governanceParams } from './state.ts'

/** `registry`: the runtime's parameter registry, read when a proposal is checked or enacted. */
export function createGovernanceModule(registry: () => ParamRegistry): RuntimeModule {
  return {
    index: ModuleIndex.governance,
    name: 'governance',
    calls: createCalls(registry),
    events,
    errors: GovernanceError.list,
    genesis: { apply: (state, config: GovernanceGenesis | undefined) => (config === undefined ? undefined : applyGovernanceGenesis(state, config)) },
    params: governanceParams,
    endBlock: (context) => governanceEndBlock(context, registry()),
  }
}

export { computeTally, outcomeOf, readTallyInput, type TallyValidator, type TallyVote } from './tally.ts'
export { governanceGenesisKind, type GovernanceGenesis } from './genesis.ts'
export {
  DEFAULT_GOVERNANCE_PARAMS, GOVERNANCE_ACCOUNT, PROPOSAL_KIND_NAMES, PROPOSAL_STATUS_NAMES, ProposalKind, ProposalStatus, VOTE_OPTION_NAMES, VoteOption,
  depositors, deposits, proposalContentKind, proposalCount, proposals, scheduledUpgrade, voters, votes,
  type GovernanceParams, type Proposal, type ProposalContent, type ScheduledUpgrade, type Tally, type Vote,
} from './state.ts'
export { GovernanceError } from './errors.ts'
export { DepositOutcome } from './events.ts'
export { governanceParams } from './state.ts'
