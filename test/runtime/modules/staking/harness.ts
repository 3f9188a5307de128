// A block-by-block driver for the staking module: calls run the way the state transition runs
// them (inside a checkpoint, reverted with their events on failure) but without fees, so tests
// can assert exact balances; end() runs the module's end-of-block hook and commits.
import { decode, encode, type Decoded } from '../../../../runtime/codec/canonical.ts'
import { readArray, readBytes, readUint } from '../../../../runtime/codec/read.ts'
import type { Address } from '../../../../runtime/crypto/secp256k1.ts'
import { toHex } from '../../../../runtime/crypto/hash.ts'
import type { BlockInfo, EventDefinition, ModuleError, RuntimeEvent, RuntimeModule } from '../../../../runtime/module.ts'
import { ECOSYSTEM_POOL_ACCOUNT } from '../../../../runtime/modules/accounts.ts'
import { balanceOf } from '../../../../runtime/modules/balances/ledger.ts'
import { totalIssuance } from '../../../../runtime/modules/balances/state.ts'
import { accounts } from '../../../../runtime/modules/system/state.ts'
import { ModuleIndex } from '../../../../runtime/modules/indices.ts'
import { createStakingModule } from '../../../../runtime/modules/staking/index.ts'
import type { EvidenceVerifier } from '../../../../runtime/modules/staking/evidence.ts'
import { sharesValue, pendingRewards } from '../../../../runtime/modules/staking/stake.ts'
import {
  delegations, STAKING_ACCOUNT, totals, unbondings, validatorKind, validators, type StakingParams, type Validator,
} from '../../../../runtime/modules/staking/state.ts'
import { StateOverlay, type StateReader } from '../../../../runtime/state/overlay.ts'
import { devAccount, devValidatorKey, type DevAccountName } from '../../../../genesis/devAccounts.ts'
import { devChainSpec } from '../../../../genesis/devSpec.ts'
import type { ChainSpec } from '../../../../genesis/spec.ts'
import { ONE_OPEN } from '../../../../genesis/tokenomics.ts'
import { eventData, genesisState, MapState } from '../../chainFixtures.ts'

export const OPEN = ONE_OPEN

/** small numbers so epochs, unbonding and jail terms pass in a few blocks */
export const TEST_PARAMS: StakingParams = {
  maxValidators: 3,
  epochLength: 10,
  unbondingPeriod: 20,
  maxUnbondingEntries: 3,
  minSelfBond: 1_000n * OPEN,
  maxCommissionChangeBps: 100,
  blockRewardPerBlock: 10n * OPEN,
  doubleSignSlashBps: 500,
  doubleSignJailBlocks: 30,
  downtimeWindow: 10,
  downtimeMaxMissed: 5,
  downtimeSlashBps: 100,
  downtimeJailBlocks: 5,
  evidenceMaxAgeBlocks: 15,
}

export interface GenesisValidatorSpec {
  name: DevAccountName
  selfBond: bigint
  commissionBps?: number
}

export const GENESIS_VALIDATORS: GenesisValidatorSpec[] = [
  { name: 'alice', selfBond: 10_000n * OPEN, commissionBps: 1_000 },
  { name: 'bob', selfBond: 8_000n * OPEN, commissionBps: 500 },
  { name: 'charlie', selfBond: 6_000n * OPEN, commissionBps: 0 },
]

const addresses = new Map<DevAccountName, Address>()
/** A dev account's address, derived once (a key derivation is ~1 ms of curve arithmetic: property tests call this per call). */
export function addressOf(name: DevAccountName): Address {
  let address = addresses.get(name)
  if (address === undefined) addresses.set(name, (address = devAccount(name).address))
  return address
}
export const keyOf = (name: string): Uint8Array => devValidatorKey(name).publicKey

/** The dev spec with the given staking section (the dev spec's alice self-bond folded back into her balance). */
export function stakingSpec(options: { params?: StakingParams; validators?: GenesisValidatorSpec[] } = {}): ChainSpec {
  const spec = devChainSpec()
  return {
    ...spec,
    staking: {
      params: options.params ?? TEST_PARAMS,
      validators: (options.validators ?? GENESIS_VALIDATORS).map(({ name, selfBond, commissionBps }) => ({
        operator: addressOf(name), consensusKey: keyOf(name), selfBond, commissionBps: commissionBps ?? 0, beacon: undefined,
      })),
    },
  }
}

/** Test evidence: the canonical encoding of [consensusKey, height]; anything else is rejected. */
export function fakeEvidence(consensusKey: Uint8Array, height: number): Uint8Array {
  return encode([consensusKey, height])
}

export const fakeVerifier: EvidenceVerifier = (bytes) => {
  const items = readArray(decode(bytes), 'evidence', 2)
  return { consensusKey: readBytes(items[0] ?? null, 'key', 32), height: readUint(items[1] ?? null, 'height') }
}

export interface CallOutcome {
  error: ModuleError | undefined
  events: RuntimeEvent[]
}

export class StakingHarness {
  readonly committed: MapState
  readonly module: RuntimeModule
  /** the last finished block */
  height = 0
  #overlay: StateOverlay | undefined
  #block: BlockInfo | undefined
  #blockEvents: RuntimeEvent[] = []
  readonly #genesisTime: number
  readonly #chainId: number

  private constructor(committed: MapState, module: RuntimeModule, spec: ChainSpec) {
    this.committed = committed
    this.module = module
    this.#genesisTime = spec.genesisTime
    this.#chainId = spec.chainId
  }

  /** `module`: what the blocks run instead of staking alone (e.g. several modules' calls and hooks) */
  static async create(spec: ChainSpec = stakingSpec(), verify: EvidenceVerifier = fakeVerifier, module?: RuntimeModule): Promise<StakingHarness> {
    return new StakingHarness(await genesisState(spec), module ?? createStakingModule({ verifyEvidence: verify }), spec)
  }

  clone(): StakingHarness {
    if (this.#overlay !== undefined) throw new Error('clone between blocks only')
    const copy = new StakingHarness(this.committed.clone(), this.module, { genesisTime: this.#genesisTime, chainId: this.#chainId } as ChainSpec)
    copy.height = this.height
    return copy
  }

  /** The state calls see: the open block's overlay, or the committed state between blocks. */
  get state(): StateReader {
    return this.#overlay ?? this.committed
  }

  get block(): BlockInfo {
    if (this.#block === undefined) throw new Error('no open block')
    return this.#block
  }

  get isOpen(): boolean {
    return this.#overlay !== undefined
  }

  /** Opens the next block and runs the module's start-of-block hook. */
  async begin(info: Partial<BlockInfo> = {}): Promise<RuntimeEvent[]> {
    if (this.#overlay !== undefined) throw new Error('block already open')
    const height = this.height + 1
    this.#block = {
      chainId: this.#chainId,
      height,
      timestamp: this.#genesisTime + height * 1000,
      author: new Uint8Array(20).fill(0xaa),
      parentHash: new Uint8Array(32),
      ...info,
    }
    this.#overlay = new StateOverlay(this.committed)
    this.#blockEvents = []
    await this.module.beginBlock?.({ state: this.#overlay, block: this.block, emit: (e) => void this.#blockEvents.push(e) })
    return [...this.#blockEvents]
  }

  async call(sender: Address | DevAccountName, name: string, args: unknown): Promise<CallOutcome> {
    const autoBlock = this.#overlay === undefined
    if (autoBlock) await this.begin()
    const overlay = this.#overlay as StateOverlay
    const definition = this.module.calls.find((c) => c.name === name)
    if (definition === undefined) throw new Error(`no call ${name}`)
    // through the wire format, as a transaction's arguments arrive
    const decoded = definition.args.decode(decode(encode(definition.args.encode(args))) as Decoded, 'args')
    const events: RuntimeEvent[] = []
    const from = typeof sender === 'string' ? addressOf(sender) : sender
    overlay.checkpoint()
    const error = await definition.execute({ state: overlay, block: this.block, sender: from, emit: (e) => void events.push(e) }, decoded)
    if (error === undefined) overlay.discardCheckpoint()
    else {
      overlay.revert()
      events.length = 0
    }
    if (autoBlock) await this.end()
    return { error, events }
  }

  /** Runs the end-of-block hook and commits the block; returns both hooks' events. */
  async end(): Promise<RuntimeEvent[]> {
    const overlay = this.#overlay
    if (overlay === undefined) throw new Error('no open block')
    await this.module.endBlock?.({ state: overlay, block: this.block, emit: (e) => void this.#blockEvents.push(e), gasUsed: 0 })
    this.committed.apply(overlay.changes())
    this.height = this.block.height
    this.#overlay = undefined
    this.#block = undefined
    return this.#blockEvents
  }

  /** An empty block. */
  async step(info: Partial<BlockInfo> = {}): Promise<RuntimeEvent[]> {
    await this.begin(info)
    return this.end()
  }

  /** Empty blocks until `height` is the last finished one; returns all their hook events. */
  async advanceTo(height: number, info: (height: number) => Partial<BlockInfo> = () => ({})): Promise<RuntimeEvent[]> {
    const events: RuntimeEvent[] = []
    while (this.height < height) events.push(...(await this.step(info(this.height + 1))))
    return events
  }

  balance(account: Address | DevAccountName): Promise<bigint> {
    return balanceOf(this.state, typeof account === 'string' ? addressOf(account) : account)
  }
}

export function eventsNamed<Data>(definition: EventDefinition<Data>, events: readonly RuntimeEvent[]): Data[] {
  return events.filter((e) => e.module === ModuleIndex.staking && e.index === definition.index).map((e) => eventData(definition, e))
}

/**
 * The accounting invariants, checked over the whole committed state: supply, the staking
 * account's backing, the running totals, shares, and that what is owed never exceeds what is held.
 */
export async function invariantProblems(state: MapState): Promise<string[]> {
  const problems: string[] = []
  let balances = 0n
  for (const { value } of state.withPrefix(accounts.prefix)) {
    const free = accounts.decodeValue(value).free
    if (free <= 0n) problems.push('a stored balance is not positive')
    balances += free
  }
  const issuance = await totalIssuance.get(state)
  if (balances !== issuance) problems.push(`balances ${balances} != issuance ${issuance}`)
  const sums = { bonded: 0n, unbonding: 0n, rewards: 0n }
  const shares = new Map<string, bigint>()
  const owed = new Map<string, bigint>()
  const value = new Map<string, bigint>()
  const records = new Map<string, ReturnType<typeof validators.decodeValue>>()
  for (const { value: bytes } of state.withPrefix(validators.prefix)) {
    const validator = validators.decodeValue(bytes)
    records.set(toHex(validator.operator), validator)
    sums.bonded += validator.tokens
    sums.rewards += validator.outstanding
    owed.set(toHex(validator.operator), validator.commission)
  }
  for (const { key, value: bytes } of state.withPrefix(delegations.prefix)) {
    const record = delegations.decodeValue(bytes)
    const operator = toHex(key.subarray(22, 42))
    const validator = records.get(operator)
    if (validator === undefined) {
      problems.push(`delegation to unknown validator ${operator}`)
      continue
    }
    if (record.shares === 0n) problems.push('an empty delegation is stored')
    shares.set(operator, (shares.get(operator) ?? 0n) + record.shares)
    owed.set(operator, (owed.get(operator) ?? 0n) + pendingRewards(validator, record))
    value.set(operator, (value.get(operator) ?? 0n) + sharesValue(validator, record.shares))
  }
  for (const [operator, validator] of records) {
    if ((shares.get(operator) ?? 0n) !== validator.shares) problems.push(`${operator}: delegation shares ${shares.get(operator)} != validator shares ${validator.shares}`)
    if ((value.get(operator) ?? 0n) > validator.tokens) problems.push(`${operator}: delegations worth more than its tokens`)
    if ((owed.get(operator) ?? 0n) > validator.outstanding) problems.push(`${operator}: owes ${owed.get(operator)} rewards, holds ${validator.outstanding}`)
  }
  for (const { value: bytes } of state.withPrefix(unbondings.prefix)) {
    for (const entry of unbondings.decodeValue(bytes)) {
      if (entry.amount === 0n || entry.amount > entry.initialAmount) problems.push('an unbonding entry has a bad amount')
      sums.unbonding += entry.amount
    }
  }
  const recorded = await totals.get(state)
  if (recorded.bonded !== sums.bonded) problems.push(`totals.bonded ${recorded.bonded} != sum ${sums.bonded}`)
  if (recorded.unbonding !== sums.unbonding) problems.push(`totals.unbonding ${recorded.unbonding} != sum ${sums.unbonding}`)
  if (recorded.rewards !== sums.rewards) problems.push(`totals.rewards ${recorded.rewards} != sum ${sums.rewards}`)
  const held = await balanceOf(state, STAKING_ACCOUNT)
  if (held !== sums.bonded + sums.unbonding + sums.rewards) problems.push(`staking account holds ${held}, owes ${sums.bonded + sums.unbonding + sums.rewards}`)
  return problems
}

/** Overwrites fields of a committed validator record (to set up states calls alone reach slowly). */
export async function patchValidator(h: StakingHarness, operator: Address, changes: Partial<Validator>): Promise<void> {
  const record = await validators.get(h.committed, operator)
  if (record === undefined) throw new Error('no such validator')
  h.committed.apply([{ key: validators.key(operator), value: encode(validatorKind.encode({ ...record, ...changes })) }])
}

export const poolBalance = (state: StateReader): Promise<bigint> => balanceOf(state, ECOSYSTEM_POOL_ACCOUNT)
