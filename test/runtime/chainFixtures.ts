// Shared fixtures for the runtime, mempool and chain tests: signed transfers from dev accounts, a
// Map-backed committed state built from a chain spec, and decoding of runtime events.
import { decode, encode, type Decoded } from '../../runtime/codec/canonical.ts'
import type { EventDefinition, RuntimeEvent } from '../../runtime/module.ts'
import type { Address } from '../../runtime/crypto/secp256k1.ts'
import { ModuleIndex } from '../../runtime/modules/indices.ts'
import type { StateReader } from '../../runtime/state/overlay.ts'
import { signTransaction, type Transaction } from '../../runtime/transaction.ts'
import { buildGenesisState } from '../../genesis/build.ts'
import { DEV_CHAIN_ID } from '../../genesis/devSpec.ts'
import type { ChainSpec } from '../../genesis/spec.ts'

/** base units per gas: the dev chain's minimum base fee (1 gwei) */
export const GWEI = 1_000_000_000n
/** gas: comfortably above what a transfer is charged */
export const TRANSFER_GAS_LIMIT = 10_000

export interface TransferOptions {
  to: Address
  amount: bigint
  nonce: number
  /** base units per gas (default 0) */
  tip?: bigint
  /** base units per gas (default 10 gwei + tip) */
  maxFee?: bigint
  gasLimit?: number
  chainId?: number
}

export function transferTx(privateKey: Uint8Array, options: TransferOptions): Transaction {
  const tip = options.tip ?? 0n
  return signTransaction({
    chainId: options.chainId ?? DEV_CHAIN_ID,
    nonce: options.nonce,
    gasLimit: options.gasLimit ?? TRANSFER_GAS_LIMIT,
    maxFeePerGas: options.maxFee ?? 10n * GWEI + tip,
    maxPriorityFeePerGas: tip,
    call: { module: ModuleIndex.balances, call: 0, args: [options.to, options.amount] },
  }, privateKey)
}

export type StateChanges = ReadonlyArray<{ key: Uint8Array; value: Uint8Array | undefined }>

const idOf = (key: Uint8Array): string => Buffer.from(key).toString('hex')

/** A committed state in memory: what BlockExecution reads through its overlay. */
export class MapState implements StateReader {
  readonly entries = new Map<string, { key: Uint8Array; value: Uint8Array }>()

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.entries.get(idOf(key))?.value
  }

  apply(changes: StateChanges): void {
    for (const { key, value } of changes) {
      if (value === undefined) this.entries.delete(idOf(key))
      else this.entries.set(idOf(key), { key: key.slice(), value: value.slice() })
    }
  }

  clone(): MapState {
    const copy = new MapState()
    for (const [id, entry] of this.entries) copy.entries.set(id, entry)
    return copy
  }

  /** Entries whose key starts with `prefix`. */
  *withPrefix(prefix: Uint8Array): Generator<{ key: Uint8Array; value: Uint8Array }> {
    for (const entry of this.entries.values()) {
      if (entry.key.length >= prefix.length && prefix.every((byte, i) => entry.key[i] === byte)) yield entry
    }
  }
}

export async function genesisState(spec: ChainSpec): Promise<MapState> {
  const state = new MapState()
  state.apply(await buildGenesisState(spec))
  return state
}

/** An event's data through its schema, as a client decoding a receipt would see it. */
export function eventData<Data>(definition: EventDefinition<Data>, event: RuntimeEvent): Data {
  return definition.data.decode(decode(encode(event.data)) as Decoded, 'event')
}

export function eventsOf<Data>(module: number, definition: EventDefinition<Data>, events: readonly RuntimeEvent[]): Data[] {
  return events.filter((e) => e.module === module && e.index === definition.index).map((e) => eventData(definition, e))
}
