// Many transactions at once (scripts such as `datanet seed`): signs with explicit nonces, submits
// without waiting, then waits for every receipt. One signer's nonces are tracked locally, so do
// not send from the same account elsewhere meanwhile.
import type { Encodable } from '../runtime/codec/canonical.ts'
import { toHex } from '../runtime/crypto/hash.ts'
import type { Address } from '../runtime/crypto/secp256k1.ts'
import type { Runtime } from '../runtime/stateTransition.ts'
import { signTransaction } from '../runtime/transaction.ts'
import type { RpcClient } from '../node/rpc/client.ts'
import type { ReceiptView } from '../node/rpc/contract.ts'
import { refuseFailing } from './dryRun.ts'
import { CliError } from './io.ts'
import { isTipRefusal } from './send.ts'

export type BatchReceipt = ReceiptView

/** The data of the first event `module.event` in a receipt. */
export function eventData(receipt: ReceiptView, module: string, event: string): Record<string, unknown> | undefined {
  return receipt.events.find((e) => e.module === module && e.event === event)?.data ?? undefined
}


/** gas limit for batch transactions: any datanets or balances call fits (the fee is charged on gas used) */
const BATCH_GAS_LIMIT = 200_000

export class TxBatch {
  readonly #client: RpcClient
  readonly #runtime: Runtime
  readonly #nonces = new Map<string, number>()
  #chainId: number | undefined
  #maxFee = 0n
  #tip = 0n

  constructor(client: RpcClient, runtime: Runtime) {
    this.#client = client
    this.#runtime = runtime
  }

  async #prepare(): Promise<void> {
    if (this.#chainId !== undefined) return
    this.#chainId = (await this.#client.call('system_properties')).chainId
    const fees = await this.#client.call('openledger_estimateFee')
    this.#maxFee = BigInt(fees.suggestedMaxFeePerGas) * 2n
    this.#tip = BigInt(fees.suggestedMaxPriorityFeePerGas)
  }

  /**
   * Signs and submits; returns the transaction hash. With `check`, the node first simulates the
   * call on its head state (openledger_dryRun) and a call that would fail or be refused is not
   * sent (REFUSED, with the module's error): only for a call that does not depend on the batch's
   * earlier, still pending transactions.
   */
  async submit(signer: { address: Address; privateKey: Uint8Array }, moduleName: string, callName: string, argsJson: unknown, options: { check?: boolean } = {}): Promise<string> {
    await this.#prepare()
    const module = this.#runtime.moduleByName(moduleName)
    const call = module?.calls.find((c) => c.name === callName)
    if (module === undefined || call === undefined) throw new CliError('BAD_ARGUMENT', `no call ${moduleName}.${callName}`)
    const key = toHex(signer.address)
    const nonce = this.#nonces.get(key) ?? (await this.#client.call('system_accountNextIndex', [key]))
    this.#nonces.set(key, nonce + 1)
    const args = call.args.encode(call.args.fromJson(argsJson, 'args')) as Encodable
    const submit = async (tip: bigint) => {
      const tx = signTransaction({ chainId: this.#chainId ?? 0, nonce, gasLimit: BATCH_GAS_LIMIT, maxFeePerGas: this.#maxFee, maxPriorityFeePerGas: tip, call: { module: module.index, call: call.index, args } }, signer.privateKey)
      if (options.check === true) await refuseFailing(this.#client, toHex(tx.bytes), `${moduleName}.${callName}`)
      return this.#client.call('author_submitExtrinsic', [toHex(tx.bytes)])
    }
    // a vesting-locked sender pays the base fee but no tip (cli/send.ts)
    return submit(this.#tip).catch((error: unknown) => {
      if (this.#tip !== 0n && isTipRefusal(error)) return submit(0n)
      throw error
    }).catch((error: unknown) => {
      if (error instanceof CliError && error.code === 'REFUSED') this.#nonces.set(key, nonce)
      throw error
    })
  }

  /** Waits for the receipts (in the order given); fails on a failed transaction unless `allowFailures`. */
  async wait(hashes: readonly string[], options: { timeoutMs?: number; allowFailures?: boolean } = {}): Promise<BatchReceipt[]> {
    const deadline = Date.now() + (options.timeoutMs ?? 300_000)
    const receipts: BatchReceipt[] = []
    for (const hash of hashes) {
      let receipt: BatchReceipt | null = null
      while (receipt === null) {
        if (Date.now() > deadline) throw new CliError('FAILED', `transaction ${hash} was not included in time`)
        receipt = await this.#client.call('openledger_getReceipt', [hash])
        if (receipt === null) await new Promise((resolve) => setTimeout(resolve, 100))
      }
      if (receipt.status !== 'success' && options.allowFailures !== true) throw new CliError('FAILED', `transaction ${hash} failed: ${receipt.error ?? 'unknown'}`)
      receipts.push(receipt)
    }
    return receipts
  }
}
