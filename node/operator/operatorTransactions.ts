// The transactions a node signs with its operator key (availability attestations, training
// results and attestations; inference and attribution next): one place for the nonce, the fee
// policy, the gas and the submission, so every service that signs does it the same way.
//
//   nonce  the pool's next nonce for the operator (it counts what is pending), taken and used
//          under one lock: two services submitting at once never sign the same nonce
//   gas    exactly what the runtime charges: intrinsic gas of the signed length + the call's weight
//          (the gas limit is the gas: nothing is refunded, so nothing more is asked)
//   fees   tip OPERATOR_TIP; max fee = 4 × the next block's base fee + tip, room for the base fee
//          to rise for about a dozen full blocks (1/8 each) before the transaction is included
import { decode, encode } from '../../runtime/codec/canonical.ts'
import type { CallDefinition } from '../../runtime/module.ts'
import { intrinsicGas } from '../../runtime/modules/fees/index.ts'
import { concatBytes, keccak256, utf8 } from '../../runtime/crypto/hash.ts'
import type { Address } from '../../runtime/crypto/secp256k1.ts'
import { signedLength, signTransaction, MAX_TX_GAS, type Transaction, type UnsignedTransaction } from '../../runtime/transaction.ts'
import type { Chain } from '../chain/chain.ts'
import type { TxStatus } from '../mempool/txWatcher.ts'

/** base units per gas: the tip an operator transaction offers the block author */
export const OPERATOR_TIP = 1_000_000_000n
/** the max fee covers this many times the next block's base fee (plus the tip) */
export const OPERATOR_BASE_FEE_HEADROOM = 4n

/** The fee policy of operator transactions, for a next-block base fee. */
export function operatorFees(baseFeePerGas: bigint): { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint } {
  return { maxFeePerGas: baseFeePerGas * OPERATOR_BASE_FEE_HEADROOM + OPERATOR_TIP, maxPriorityFeePerGas: OPERATOR_TIP }
}

export interface OperatorKey {
  readonly address: Address
  readonly privateKey: Uint8Array
}

export interface OperatorTransactionsComponents {
  /** chain id, runtime calls and the next block's base fee */
  chain: Chain
  operator: OperatorKey
  /** the account's next nonce, counting what the pool holds */
  nextNonce(account: Address): Promise<number>
  /** admits a signed transaction (the node's TxSubmission); rejects when it is refused */
  submit(bytes: Uint8Array): Promise<unknown>
  /** status updates of a submitted transaction (the node's TxWatcher), for submitAndWatch */
  watch?(hash: Uint8Array, listener: (status: TxStatus) => void): () => void
}

export class OperatorTransactions {
  readonly #c: OperatorTransactionsComponents
  #lock: Promise<unknown> = Promise.resolve()

  constructor(components: OperatorTransactionsComponents) {
    this.#c = components
  }

  get address(): Address {
    return this.#c.operator.address
  }

  /**
   * A secret only this operator can derive, one per `label`, the same after a restart: the salts
   * of its commit–reveal commitments (runtime/commitReveal.ts). keccak256(domain ‖ key ‖ label):
   * the key itself never leaves this component.
   */
  secret(label: Uint8Array): Uint8Array {
    return keccak256(concatBytes(utf8('openledger/operator-secret/v1'), this.#c.operator.privateKey, label))
  }

  /**
   * The signed transaction calling `call` of `module` with `args`, with the next nonce, the gas the
   * runtime will charge and the fee policy. Not submitted: `submit` does both under the nonce lock.
   */
  async sign<Args>(module: number, call: CallDefinition<Args>, args: Args): Promise<Transaction> {
    const { chain, operator } = this.#c
    const encodedArgs = call.args.encode(args)
    const unsigned: UnsignedTransaction = {
      chainId: chain.spec.chainId,
      nonce: await this.#c.nextNonce(operator.address),
      gasLimit: MAX_TX_GAS,
      ...operatorFees(chain.baseFeePerGas),
      call: { module, call: call.index, args: encodedArgs },
    }
    // the weight of the arguments as the runtime decodes them. The intrinsic gas depends on the
    // length, which depends on the gas limit's encoding: start from the widest limit and shrink
    // to the fixed point (each step is no larger than the last), so the limit is exactly the gas
    const weight = call.weight(call.args.decode(decode(encode(encodedArgs)), 'args'))
    let gas = intrinsicGas(signedLength(unsigned)) + weight
    for (let next = intrinsicGas(signedLength({ ...unsigned, gasLimit: gas })) + weight; next !== gas; next = intrinsicGas(signedLength({ ...unsigned, gasLimit: gas })) + weight) gas = next
    return signTransaction({ ...unsigned, gasLimit: gas }, operator.privateKey)
  }

  /** Signs and submits one call; resolves with the transaction once the pool admitted it. */
  submit<Args>(module: number, call: CallDefinition<Args>, args: Args): Promise<Transaction> {
    return this.#submit(module, call, args, () => {})
  }

  /**
   * Submits and waits for the transaction's final status: `finalized` (with the block hash), or
   * `dropped` / `invalid` with the reason. Needs the `watch` component.
   */
  async submitAndWatch<Args>(module: number, call: CallDefinition<Args>, args: Args, options: { signal?: AbortSignal } = {}): Promise<{ tx: Transaction; status: TxStatus }> {
    const watch = this.#c.watch
    if (watch === undefined) throw new TypeError('OperatorTransactions: submitAndWatch needs the watch component')
    const signal = options.signal
    signal?.throwIfAborted()
    let stop = (): void => {}
    let forget = (): void => {}
    let settle: (status: TxStatus) => void = () => {}
    const final = new Promise<TxStatus>((resolve) => (settle = resolve))
    const aborted = new Promise<never>((_, reject) => {
      if (signal === undefined) return
      const onAbort = (): void => reject(signal.reason as Error)
      signal.addEventListener('abort', onAbort, { once: true })
      forget = () => signal.removeEventListener('abort', onAbort)
    })
    try {
      // watched before it is submitted: no status can pass unseen
      const tx = await this.#submit(module, call, args, (signed) => {
        stop = watch(signed.hash, (status) => {
          if (typeof status === 'object' && ('finalized' in status || 'dropped' in status || 'invalid' in status)) settle(status)
        })
      })
      return { tx, status: await Promise.race([final, aborted]) }
    } finally {
      stop()
      forget()
    }
  }

  #submit<Args>(module: number, call: CallDefinition<Args>, args: Args, beforeSubmit: (tx: Transaction) => void): Promise<Transaction> {
    const run = this.#lock.then(async () => {
      const tx = await this.sign(module, call, args)
      beforeSubmit(tx)
      await this.#c.submit(tx.bytes)
      return tx
    })
    this.#lock = run.catch(() => undefined)
    return run
  }
}
