// What a runtime module is (as in Substrate FRAME): storage items, calls with weights, events,
// errors, genesis config and block hooks. Module, call, event and error indices are permanent.
import type { Encodable, Decoded } from './codec/canonical.ts'
import type { Kind } from './codec/schema.ts'
import type { Address } from './crypto/secp256k1.ts'
import type { ModuleParams } from './params.ts'
import type { StateOverlay } from './state/overlay.ts'

export interface BlockInfo {
  readonly chainId: number
  readonly height: number
  /** ms since the Unix epoch, from the header: the runtime's only clock */
  readonly timestamp: number
  /** the account that receives the block's tips */
  readonly author: Address
  /** hash of the parent block (never a source of randomness: its proposer can grind it) */
  readonly parentHash: Uint8Array
  /**
   * the proposer's beacon reveal, checked by the importer before execution (runtime/modules/system/randomness.ts
   * folds it into the mix); absent in blocks without one (genesis, test harnesses)
   */
  readonly randomnessReveal?: Uint8Array
  /** the proposer's ed25519 consensus key (consensus blocks); without it the staking module pays `author`'s validator */
  readonly proposerKey?: Uint8Array
  /** consensus keys that signed the previous block's commit (consensus blocks); without it no downtime is recorded */
  readonly lastCommitSigners?: readonly Uint8Array[]
  /** equivocation evidence carried by the block (consensus blocks); the staking module punishes it */
  readonly evidence?: readonly Uint8Array[]
}

export interface RuntimeEvent {
  readonly module: number
  readonly index: number
  readonly data: Encodable
}

export interface ExecutionContext {
  readonly state: StateOverlay
  readonly block: BlockInfo
  emit(event: RuntimeEvent): void
}

export interface CallContext extends ExecutionContext {
  readonly sender: Address
}

/** Why a call failed: recorded in the receipt; `code` is `module.Name`, stable forever. */
export interface ModuleError {
  readonly module: number
  readonly index: number
  readonly code: string
  readonly message: string
}

export type CallResult = ModuleError | undefined

export interface CallDefinition<Args> {
  readonly index: number
  readonly name: string
  readonly args: Kind<Args>
  /** gas charged for the call itself, known before it runs */
  weight(args: Args): number
  execute(context: CallContext, args: Args): Promise<CallResult>
  /**
   * State keys the call will read besides the sender's nonce and balance, so a node can load them
   * in one batch before executing. A hint only: execution never depends on it.
   */
  touches?(args: Args, sender: Address): Uint8Array[]
}

export interface EventDefinition<Data> {
  readonly index: number
  readonly name: string
  readonly data: Kind<Data>
}

export interface ErrorDefinition {
  readonly index: number
  readonly name: string
  readonly message: string
}

/** What a module's genesis may read besides its own config. */
export interface GenesisContext {
  readonly chainId: number
  /** ms since the Unix epoch: the genesis block's timestamp */
  readonly genesisTime: number
}

/**
 * A module's genesis: writes its initial storage from its part of a validated chain spec. Modules
 * apply it in dispatch order (balances mint before staking bonds). `config` undefined: the
 * module's defaults, which are not stored.
 */
export interface ModuleGenesis<Config> {
  apply(state: StateOverlay, config: Config | undefined, context: GenesisContext): Promise<void> | void
}

export interface RuntimeModule {
  readonly index: number
  readonly name: string
  // Calls are heterogeneous in their argument types; dispatch decodes with each call's own schema.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly calls: readonly CallDefinition<any>[]
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly events: readonly EventDefinition<any>[]
  readonly errors: readonly ErrorDefinition[]
  // each module's config has its own type; genesis/build.ts hands each its part of the spec
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly genesis?: ModuleGenesis<any>
  /**
   * The module's governable parameters (runtime/params.ts): declared with type, bounds and
   * default, stored in one storage value of the module; governance changes them by name.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly params?: ModuleParams<any>
  beginBlock?(context: ExecutionContext): Promise<void>
  endBlock?(context: ExecutionContext & { readonly gasUsed: number }): Promise<void>
}

export function defineEvent<Data>(module: number, index: number, name: string, data: Kind<Data>) {
  const definition: EventDefinition<Data> = { index, name, data }
  return Object.assign(definition, {
    create: (value: Data): RuntimeEvent => ({ module, index, data: data.encode(value) }),
  })
}

export function defineErrors<const Names extends string>(module: number, moduleName: string, errors: Record<Names, { index: number; message: string }>) {
  const list: ErrorDefinition[] = []
  const byName = {} as Record<Names, ModuleError>
  for (const [name, { index, message }] of Object.entries(errors) as Array<[Names, { index: number; message: string }]>) {
    list.push({ index, name, message })
    byName[name] = Object.freeze({ module, index, code: `${moduleName}.${name}`, message })
  }
  return { list, ...byName } as { list: ErrorDefinition[] } & Record<Names, ModuleError>
}

export function defineCall<Args>(definition: CallDefinition<Args>): CallDefinition<Args> {
  return definition
}

export type DecodedArgs = Decoded
