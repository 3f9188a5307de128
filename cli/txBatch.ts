// Many transactions at once (scripts such as `datanet seed`): signs with explicit nonces, submits
// without waiting, then waits for every receipt. One signer's nonces are tracked locally, so do
// not send from the same account elsewhere meanwhile.
import type { Encodable } from '../runtime/codec/canonical.ts'
import { toHex } from '../runtime/crypto/hash.ts'
import type { Address } from '../runtime/crypto/secp256k1.ts'
import type { Runtime } from '../runtime/stateTransition.ts'
import { signTransaction } from '../runtime/transaction.ts'
import type { RpcClient } from '../node/rpc/client.ts'
import { CliError } from './io.ts'
import { isTipRefusal } from './send.ts'

export interface BatchReceipt {
  status: string
  error: string | null
  events: Array<{ module: string; event: string; data: Record<string, unknown> }>
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
    this.#chainId = (await this.#client.call<{ chainId: number }>('system_properties')).chainId
    const fees = await this.#client.call<{ suggestedMaxFeePerGas: string; suggestedMaxPriorityFeePerGas: string }>('openledger_estimateFee')
    this.#maxFee = BigInt(fees.suggestedMaxFeePerGas) * 2n
    this.#tip = BigInt(fees.suggestedMaxPriorityFeePerGas)
  }

  /** Signs and submits; returns the transaction hash. */
  async submit(signer: { address: Address; privateKey: Uint8Array }, moduleName: string, callName: string, argsJson: unknown): Promise<string> {
    await this.#prepare()
    const module = this.#runtime.moduleByName(moduleName)
    const call = module?.calls.find((c) => c.name === callName)
    if (module === undefined || call === undefined) throw new CliError('BAD_ARGUMENT', `no call ${moduleName}.${callName}`)
    const key = toHex(signer.address)
    const nonce = this.#nonces.get(key) ?? (await this.#client.call<number>('system_accountNextIndex', [key]))
    this.#nonces.set(key, nonce + 1)
    const args = call.args.encode(call.args.fromJson(argsJson, 'args')) as Encodable
    const submit = (tip: bigint) => {
      const tx = signTransaction({ chainId: this.#chainId ?? 0, nonce, gasLimit: BATCH_GAS_LIMIT, maxFeePerGas: this.#maxFee, maxPriorityFeePerGas: tip, call: { module: module.index, call: call.index, args } }, signer.privateKey)
      return this.#client.call<string>('author_submitExtrinsic', [toHex(tx.bytes)])
    }
    // a vesting-locked sender pays the base fee but no tip (cli/send.ts)
    return submit(this.#tip).catch((error: unknown) => {
      if (this.#tip === 0n || !isTipRefusal(error)) throw error
      return submit(0n)
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
        receipt = await this.#client.call<BatchReceipt | null>('openledger_getReceipt', [hash])
        if (receipt === null) await new Promise((resolve) => setTimeout(resolve, 100))
      }
      if (receipt.status !== 'success' && options.allowFailures !== true) throw new CliError('FAILED', `transaction ${hash} failed: ${receipt.error ?? 'unknown'}`)
      receipts.push(receipt)
    }
    return receipts
  }
}
