// The runtime of the chain: its modules, in dispatch order.
import { attributionModule } from './modules/attribution/index.ts'
import { balancesModule } from './modules/balances/index.ts'
import { datanetsModule } from './modules/datanets/index.ts'
import { feesModule } from './modules/fees/index.ts'
import { inferenceModule } from './modules/inference/index.ts'
import { createGovernanceModule } from './modules/governance/index.ts'
import { modelsModule } from './modules/models/index.ts'
import { createStakingModule, type EvidenceVerifier } from './modules/staking/index.ts'
import { systemModule } from './modules/system/index.ts'
import { treasuryModule } from './modules/treasury/index.ts'
import { Runtime } from './stateTransition.ts'

export interface RuntimeOptions {
  /** the consensus layer's equivocation check for staking evidence (default: rejects all) */
  readonly verifyEvidence?: EvidenceVerifier
}

export function createRuntime(options: RuntimeOptions = {}): Runtime {
  // governance changes parameters through the runtime's registry, which lists governance itself
  // (read lazily: the runtime is built after the module)
  const governance = createGovernanceModule(() => runtime.params)
  const runtime: Runtime = new Runtime([
    systemModule, balancesModule, feesModule, createStakingModule(options), datanetsModule, modelsModule, inferenceModule, attributionModule, governance, treasuryModule,
  ])
  return runtime
}
