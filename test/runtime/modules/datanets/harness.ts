// A driver for the datanets module over a genesis state with three staking validators (alice,
// bob, charlie: 10k, 8k and 6k power). Each call runs in its own block the way the state
// transition runs it (in a checkpoint, reverted with its events on failure), without fees, so
// tests can assert exact balances.
import { decode, encode, type Decoded } from '../../../../runtime/codec/canonical.ts'
import type { Address } from '../../../../runtime/crypto/secp256k1.ts'
import type { ModuleError, RuntimeEvent } from '../../../../runtime/module.ts'
import { balanceOf } from '../../../../runtime/modules/balances/ledger.ts'
import { totalIssuance } from '../../../../runtime/modules/balances/state.ts'
import { accounts } from '../../../../runtime/modules/system/state.ts'
import { datanetsModule } from '../../../../runtime/modules/datanets/index.ts'
import { contributions, datanets, DATANETS_ACCOUNT, versions, type Contribution } from '../../../../runtime/modules/datanets/state.ts'
import { ModuleIndex } from '../../../../runtime/modules/indices.ts'
import { StateOverlay } from '../../../../runtime/state/overlay.ts'
import type { DevAccountName } from '../../../../genesis/devAccounts.ts'
import type { ChainSpec } from '../../../../genesis/spec.ts'
import { genesisState, type MapState } from '../../chainFixtures.ts'
import { addressOf, stakingSpec } from '../staking/harness.ts'

export { addressOf, OPEN } from '../staking/harness.ts'

export interface CallOutcome {
  error: ModuleError | undefined
  events: RuntimeEvent[]
}

export class DatanetsHarness {
  readonly committed: MapState
  readonly spec: ChainSpec
  height = 0

  private constructor(committed: MapState, spec: ChainSpec) {
    this.committed = committed
    this.spec = spec
  }

  static async create(spec: ChainSpec = stakingSpec()): Promise<DatanetsHarness> {
    return new DatanetsHarness(await genesisState(spec), spec)
  }

  /** An independent copy at the same height (property tests start each sequence from one set-up). */
  fork(): DatanetsHarness {
    const copy = new DatanetsHarness(this.committed.clone(), this.spec)
    copy.height = this.height
    return copy
  }

  async call(sender: Address | DevAccountName, name: string, args: unknown): Promise<CallOutcome> {
    const definition = datanetsModule.calls.find((c) => c.name === name)
    if (definition === undefined) throw new Error(`no call ${name}`)
    const decoded = definition.args.decode(decode(encode(definition.args.encode(args))) as Decoded, 'args')
    this.height++
    const overlay = new StateOverlay(this.committed)
    const events: RuntimeEvent[] = []
    const block = { chainId: this.spec.chainId, height: this.height, timestamp: this.spec.genesisTime + this.height * 1000, author: new Uint8Array(20), parentHash: new Uint8Array(32) }
    overlay.checkpoint()
    const error = await definition.execute({ state: overlay, block, sender: typeof sender === 'string' ? addressOf(sender) : sender, emit: (e) => void events.push(e) }, decoded)
    if (error === undefined) overlay.discardCheckpoint()
    else {
      overlay.revert()
      events.length = 0
    }
    this.committed.apply(overlay.changes())
    return { error, events }
  }

  balance(account: Address | DevAccountName): Promise<bigint> {
    return balanceOf(this.committed, typeof account === 'string' ? addressOf(account) : account)
  }

  datanet(id: number) {
    return datanets.get(this.committed, id)
  }

  contribution(datanet: number, index: number) {
    return contributions.get(this.committed, { datanet, index })
  }

  version(datanet: number, version: number) {
    return versions.get(this.committed, { datanet, version })
  }

  allContributions(): Contribution[] {
    return [...this.committed.withPrefix(contributions.prefix)].map(({ value }) => contributions.decodeValue(value))
  }

  /** A copy of every state entry, to show a failed call changed nothing. */
  snapshot(): string {
    return [...this.committed.entries.entries()].map(([id, { value }]) => `${id}=${Buffer.from(value).toString('hex')}`).sort().join('\n')
  }
}

export function eventNames(events: readonly RuntimeEvent[]): string[] {
  return events.map((e) => {
    const module = e.module === ModuleIndex.datanets ? datanetsModule : undefined
    return module === undefined ? `${e.module}.${e.index}` : `datanets.${module.events.find((d) => d.index === e.index)?.name ?? e.index}`
  })
}

/** Supply and escrow: balances sum to the issuance; the escrow holds exactly the live deposits. */
export async function invariantProblems(harness: DatanetsHarness): Promise<string[]> {
  const problems: string[] = []
  let sum = 0n
  for (const { value } of harness.committed.withPrefix(accounts.prefix)) sum += accounts.decodeValue(value).free
  const issuance = await totalIssuance.get(harness.committed)
  if (sum !== issuance) problems.push(`balances ${sum} != issuance ${issuance}`)
  let escrowed = 0n
  for (const c of harness.allContributions()) if (c.status <= 2) escrowed += c.deposit
  const held = await balanceOf(harness.committed, DATANETS_ACCOUNT)
  if (held !== escrowed) problems.push(`escrow holds ${held}, live deposits are ${escrowed}`)
  return problems
}
