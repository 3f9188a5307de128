// Blocks that run balances, staking and governance (the real runtime's modules, its parameter
// registry included) without fees, so tests can assert exact balances and issuance.
import type { RuntimeEvent, RuntimeModule } from '../../../../runtime/module.ts'
import { createRuntime } from '../../../../runtime/index.ts'
import type { EventDefinition } from '../../../../runtime/module.ts'
import { ModuleIndex } from '../../../../runtime/modules/indices.ts'
import type { GovernanceParams, ProposalContent } from '../../../../runtime/modules/governance/index.ts'
import type { ChainSpec } from '../../../../genesis/spec.ts'
import { eventData } from '../../chainFixtures.ts'
import { fakeVerifier, OPEN, StakingHarness, stakingSpec, type GenesisValidatorSpec } from '../staking/harness.ts'

export const GOV_PARAMS: GovernanceParams = {
  minDeposit: 100n * OPEN,
  depositPeriod: 5,
  votingPeriod: 10,
  quorumBps: 3_340,
  thresholdBps: 5_000,
  vetoBps: 3_340,
  timelockBlocks: 3,
}

export function governanceSpec(options: { validators?: GenesisValidatorSpec[]; params?: GovernanceParams } = {}): ChainSpec {
  const spec = stakingSpec(options.validators === undefined ? {} : { validators: options.validators })
  return { ...spec, governance: { params: options.params ?? GOV_PARAMS } }
}

export async function governanceHarness(spec: ChainSpec = governanceSpec()): Promise<StakingHarness> {
  const runtime = createRuntime({ verifyEvidence: fakeVerifier })
  const modules = ['balances', 'staking', 'governance'].map((name) => runtime.moduleByName(name) as RuntimeModule)
  const combined: RuntimeModule = {
    index: 255,
    name: 'combined',
    calls: modules.flatMap((m) => m.calls),
    events: [],
    errors: [],
    async beginBlock(context) {
      for (const m of modules) await m.beginBlock?.(context)
    },
    async endBlock(context) {
      for (const m of modules) await m.endBlock?.(context)
    },
  }
  return StakingHarness.create(spec, fakeVerifier, combined)
}

export function content(fields: Partial<ProposalContent>): ProposalContent {
  return { kind: 0, title: 'a proposal', description: '', changes: [], recipient: undefined, amount: 0n, upgradeHeight: 0, upgradeVersion: '', ...fields }
}

export function governanceEvents<Data>(definition: EventDefinition<Data>, events: readonly RuntimeEvent[]): Data[] {
  return events.filter((e) => e.module === ModuleIndex.governance && e.index === definition.index).map((e) => eventData(definition, e))
}
