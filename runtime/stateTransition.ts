// The state transition: executing a block's transactions against the state.
//
// For each transaction: static checks (chain id, known call, decodable arguments, enough gas),
// then stateful checks (exact nonce, fee at least the base fee, funds for gasLimit x maxFee, and
// the most tip it can pay from the part of the balance no vesting schedule locks).
// A transaction failing any check is INVALID: it changes nothing and never enters a block.
// A valid one bumps the nonce, pays gasUsed x effective price, then runs its call inside a
// checkpoint; if the call fails, its writes and events are reverted and the receipt records the
// error, but the nonce and fee stay. The fees' shares (treasury, author's tips, burn) are credited
// once when the block ends. The same code runs when building and when importing a block.
import { ParamRegistry } from './params.ts'
import { CodecError } from './codec/canonical.ts'
import type { Address } from './crypto/secp256k1.ts'
import { OpenLedgerError } from './errors.ts'
import type { BlockInfo, CallDefinition, ExecutionContext, ModuleError, RuntimeEvent, RuntimeModule } from './module.ts'
import { accountInfo, accounts, putAccountInfo } from './modules/system/index.ts'
import { lockedOf, vesting } from './modules/balances/index.ts'
import { baseFeePerGas, BlockFees, computeFee, feePaidEvent, feeParams, type FeeParams, intrinsicGas, maxTip, settleFees, tipPayable } from './modules/fees/index.ts'
import { ReceiptStatus, type Receipt } from './receipt.ts'
import { StateOverlay, type StateReader } from './state/overlay.ts'
import { decodeTransaction, MAX_TX_BYTES, maxCost, type Transaction } from './transaction.ts'

export const InvalidTransactionCode = {
  invalidEncoding: 'INVALID_ENCODING',
  invalidSignature: 'INVALID_SIGNATURE',
  wrongChainId: 'WRONG_CHAIN_ID',
  unknownCall: 'UNKNOWN_CALL',
  invalidArguments: 'INVALID_ARGUMENTS',
  gasLimitTooLow: 'GAS_LIMIT_TOO_LOW',
  exceedsBlockGas: 'EXCEEDS_BLOCK_GAS',
  feeBelowBaseFee: 'FEE_BELOW_BASE_FEE',
  tipAboveMaxFee: 'TIP_ABOVE_MAX_FEE',
  nonceTooLow: 'NONCE_TOO_LOW',
  nonceTooHigh: 'NONCE_TOO_HIGH',
  insufficientFunds: 'INSUFFICIENT_FUNDS',
  tipExceedsUnlockedBalance: 'TIP_EXCEEDS_UNLOCKED_BALANCE',
} as const
export type InvalidTransactionCode = (typeof InvalidTransactionCode)[keyof typeof InvalidTransactionCode]

export class InvalidTransactionError extends OpenLedgerError<InvalidTransactionCode> {}

/** Decodes transaction bytes from outside (RPC, gossip): any codec failure is INVALID_ENCODING. */
export function decodeTransactionInput(bytes: Uint8Array): Transaction {
  if (bytes.length > MAX_TX_BYTES) throw new InvalidTransactionError(InvalidTransactionCode.invalidEncoding, `transaction is ${bytes.length} bytes, limit ${MAX_TX_BYTES}`)
  try {
    return decodeTransaction(bytes)
  } catch (cause) {
    if (cause instanceof CodecError) throw new InvalidTransactionError(InvalidTransactionCode.invalidEncoding, `malformed transaction: ${cause.message}`, { cause })
    throw cause
  }
}

export interface ResolvedCall {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly definition: CallDefinition<any>
  readonly args: unknown
  /** intrinsic gas plus the call's weight: exactly what the transaction will be charged for */
  readonly gas: number
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type ResolvedCallOf = { readonly definition: CallDefinition<any>; readonly args: unknown }

/** Freezes `value` and the objects and arrays it holds (byte arrays cannot be frozen). */
function freezeArgs<T>(value: T): T {
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return value
  for (const item of Object.values(value)) freezeArgs(item)
  return Object.freeze(value)
}

export class Runtime {
  readonly modules: readonly RuntimeModule[]
  /** every module's governable parameters, by module name */
  readonly params: ParamRegistry
  readonly #byIndex = new Map<number, RuntimeModule>()
  /**
   * Each transaction's call resolved once (its definition and decoded, frozen arguments): the
   * prefetch hints, mempool admission and the block builder all ask for it.
   */
  readonly #calls = new WeakMap<Transaction, ResolvedCallOf>()

  constructor(modules: readonly RuntimeModule[]) {
    this.modules = modules
    this.params = new ParamRegistry(modules)
    for (const module of modules) {
      if (this.#byIndex.has(module.index)) throw new Error(`duplicate module index ${module.index}`)
      this.#byIndex.set(module.index, module)
    }
  }

  module(index: number): RuntimeModule | undefined {
    return this.#byIndex.get(index)
  }

  moduleByName(name: string): RuntimeModule | undefined {
    return this.modules.find((m) => m.name === name)
  }

  errorCode(error: { module: number; index: number }): string {
    const module = this.#byIndex.get(error.module)
    const definition = module?.errors.find((e) => e.index === error.index)
    return module === undefined || definition === undefined ? `unknown.${error.module}.${error.index}` : `${module.name}.${definition.name}`
  }

  /**
   * The state keys applying `tx` will read (the sender's account record and, if it tips, its
   * vesting lock, and the call's own hint),
   * for a node to load in one batch beforehand. Arguments that do not decode give the sender's
   * keys only (checkStatic refuses such a transaction).
   */
  accessHints(tx: Transaction, sender: Address): Uint8Array[] {
    const keys = [accounts.key(sender)]
    // a tip is paid only from the unlocked balance: the sender's vesting lock is read
    if (tx.maxPriorityFeePerGas > 0n) keys.push(vesting.key(sender))
    let call: ResolvedCallOf | undefined
    try {
      call = this.#resolveCall(tx)
    } catch (error) {
      if (!(error instanceof CodecError)) throw error
    }
    if (call?.definition.touches === undefined) return keys
    for (const key of call.definition.touches(call.args, sender)) keys.push(key)
    return keys
  }

  /** The call's definition and decoded arguments (undefined: no such call); throws CodecError for bad arguments. */
  #resolveCall(tx: Transaction): ResolvedCallOf | undefined {
    const known = this.#calls.get(tx)
    if (known !== undefined) return known
    const definition = this.#byIndex.get(tx.call.module)?.calls.find((c) => c.index === tx.call.call)
    if (definition === undefined) return undefined
    const call = { definition, args: freezeArgs(definition.args.decode(tx.call.args, 'args')) }
    this.#calls.set(tx, call)
    return call
  }

  /** Checks that need no state: the same answer in the mempool and in every block. */
  checkStatic(tx: Transaction, chainId: number): ResolvedCall {
    if (tx.chainId !== chainId) throw new InvalidTransactionError(InvalidTransactionCode.wrongChainId, `transaction is for chain ${tx.chainId}, this is chain ${chainId}`)
    if (tx.maxPriorityFeePerGas > tx.maxFeePerGas) throw new InvalidTransactionError(InvalidTransactionCode.tipAboveMaxFee, 'maxPriorityFeePerGas exceeds maxFeePerGas')
    let call: ResolvedCallOf | undefined
    try {
      call = this.#resolveCall(tx)
    } catch (cause) {
      if (!(cause instanceof CodecError)) throw cause
      throw new InvalidTransactionError(InvalidTransactionCode.invalidArguments, `invalid arguments: ${cause.message}`, { cause })
    }
    if (call === undefined) throw new InvalidTransactionError(InvalidTransactionCode.unknownCall, `no call ${tx.call.module}.${tx.call.call}`)
    const { definition, args } = call
    const gas = intrinsicGas(tx.bytes.length) + definition.weight(args)
    if (tx.gasLimit < gas) throw new InvalidTransactionError(InvalidTransactionCode.gasLimitTooLow, `gas limit ${tx.gasLimit} is below the ${gas} this transaction uses`, { details: { required: gas } })
    return { definition, args, gas }
  }
}

export interface BlockExecutionResult {
  readonly changes: Array<{ key: Uint8Array; value: Uint8Array | undefined }>
  readonly receipts: Receipt[]
  readonly blockEvents: RuntimeEvent[]
  readonly gasUsed: number
  readonly baseFeePerGas: bigint
}

export class BlockExecution {
  readonly runtime: Runtime
  readonly block: BlockInfo
  readonly state: StateOverlay
  readonly baseFeePerGas: bigint
  readonly #params: FeeParams
  readonly receipts: Receipt[] = []
  readonly #blockEvents: RuntimeEvent[] = []
  readonly #fees = new BlockFees()
  #gasUsed = 0
  #finished = false

  private constructor(runtime: Runtime, state: StateOverlay, block: BlockInfo, baseFee: bigint, params: FeeParams) {
    this.runtime = runtime
    this.state = state
    this.block = block
    this.baseFeePerGas = baseFee
    this.#params = params
  }

  static async begin(runtime: Runtime, committed: StateReader, block: BlockInfo): Promise<BlockExecution> {
    const state = new StateOverlay(committed)
    const execution = new BlockExecution(runtime, state, block, await baseFeePerGas.get(state), await feeParams.get(state))
    for (const module of runtime.modules) await module.beginBlock?.(execution.#hookContext())
    return execution
  }

  get gasUsed(): number {
    return this.#gasUsed
  }

  get gasRemaining(): number {
    return this.#params.maxBlockGas - this.#gasUsed
  }

  #hookContext(): ExecutionContext {
    return { state: this.state, block: this.block, emit: (event) => void this.#blockEvents.push(event) }
  }

  /**
   * Applies one transaction whose signature recovered `sender`. Throws InvalidTransactionError
   * (and changes nothing) if the transaction cannot be included; otherwise returns its receipt.
   */
  async apply(tx: Transaction, sender: Address): Promise<Receipt> {
    if (this.#finished) throw new Error('block execution already finished')
    const resolved = this.runtime.checkStatic(tx, this.block.chainId)
    if (resolved.gas > this.gasRemaining) throw new InvalidTransactionError(InvalidTransactionCode.exceedsBlockGas, 'not enough gas left in the block')
    if (tx.maxFeePerGas < this.baseFeePerGas) {
      throw new InvalidTransactionError(InvalidTransactionCode.feeBelowBaseFee, `maxFeePerGas ${tx.maxFeePerGas} is below the base fee ${this.baseFeePerGas}`, { details: { baseFeePerGas: this.baseFeePerGas.toString() } })
    }
    const { state } = this
    const account = await accountInfo(state, sender)
    const expected = account.nonce
    if (tx.nonce < expected) throw new InvalidTransactionError(InvalidTransactionCode.nonceTooLow, `nonce ${tx.nonce} already used; next is ${expected}`, { details: { expected } })
    if (tx.nonce > expected) throw new InvalidTransactionError(InvalidTransactionCode.nonceTooHigh, `nonce ${tx.nonce} is ahead of the next nonce ${expected}`, { details: { expected } })
    if (account.free < maxCost(tx)) throw new InvalidTransactionError(InvalidTransactionCode.insufficientFunds, 'balance cannot pay gasLimit x maxFeePerGas')
    const tip = maxTip(tx, this.baseFeePerGas)
    if (tip > 0n && !tipPayable(account.free, await lockedOf(state, sender, this.block.timestamp), tip)) {
      throw new InvalidTransactionError(InvalidTransactionCode.tipExceedsUnlockedBalance, 'the unlocked balance cannot pay gasLimit x the tip (a vesting lock pays only the base fee)', { details: { maxTip: tip.toString() } })
    }

    // the nonce and the fee in one write of the record just read (gasUsed x price <= the checked
    // gasLimit x maxFeePerGas; vesting locks do not stop the base fee, as with Substrate's vesting,
    // and the tip was checked against the unlocked part)
    const fee = computeFee(resolved.gas, this.baseFeePerGas, tx.maxFeePerGas, tx.maxPriorityFeePerGas, this.#params)
    account.nonce = expected + 1
    account.free -= fee.total
    putAccountInfo(state, sender, account)
    const events: RuntimeEvent[] = [feePaidEvent(sender, resolved.gas, fee)]
    const context = { state, block: this.block, sender, emit: (event: RuntimeEvent) => void events.push(event) }
    const feeEvents = events.length

    state.checkpoint()
    let error: ModuleError | undefined
    try {
      error = await resolved.definition.execute(context, resolved.args)
    } catch (cause) {
      state.revert()
      throw cause // a bug in a module: never a receipt
    }
    if (error === undefined) state.discardCheckpoint()
    else {
      state.revert()
      events.length = feeEvents
    }
    this.#gasUsed += resolved.gas
    this.#fees.add(fee)
    const receipt: Receipt = {
      status: error === undefined ? ReceiptStatus.success : ReceiptStatus.failed,
      gasUsed: resolved.gas,
      fee: fee.total,
      events,
      error: error === undefined ? undefined : { module: error.module, index: error.index },
    }
    this.receipts.push(receipt)
    return receipt
  }

  /**
   * Like apply(), but an invalid transaction leaves the block as it was: the block builder uses
   * this, so a transaction that became invalid since it entered the mempool is skipped.
   */
  async tryApply(tx: Transaction, sender: Address): Promise<Receipt | InvalidTransactionError> {
    this.state.checkpoint()
    try {
      const receipt = await this.apply(tx, sender)
      this.state.discardCheckpoint()
      return receipt
    } catch (error) {
      this.state.revert()
      if (error instanceof InvalidTransactionError) return error
      throw error
    }
  }

  async finish(): Promise<BlockExecutionResult> {
    this.#finished = true
    const context = { ...this.#hookContext(), gasUsed: this.#gasUsed }
    await settleFees(context, this.#fees)
    for (const module of this.runtime.modules) await module.endBlock?.(context)
    return { changes: this.state.changes(), receipts: this.receipts, blockEvents: this.#blockEvents, gasUsed: this.#gasUsed, baseFeePerGas: this.baseFeePerGas }
  }
}
