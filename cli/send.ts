// Signing and sending one module call from the CLI (`tx …`), and the options every sending
// subcommand shares.
import type { Encodable } from '../runtime/codec/canonical.ts'
import { CodecError } from '../runtime/codec/canonical.ts'
import { toHex } from '../runtime/crypto/hash.ts'
import { createRuntime } from '../runtime/index.ts'
import { InvalidTransactionCode } from '../runtime/stateTransition.ts'
import { signTransaction, type UnsignedTransaction } from '../runtime/transaction.ts'
import { formatOpen } from '../genesis/tokenomics.ts'
import { RpcClient, RpcClientError } from '../node/rpc/client.ts'
import type { RpcResult } from '../node/rpc/contract.ts'
import { resolveHome } from './home.ts'
import { CliError, type CliIo } from './io.ts'
import { parsePositiveInt, parseRpcUrl } from './parse.ts'
import { resolveAccountSigner } from './signer.ts'
import { refuseFailing } from './dryRun.ts'

const runtime = createRuntime()

/** gas added to the estimate, covering the few bytes the final gas limit may add */
const GAS_MARGIN = 64

export interface SendOptions {
  from: string
  rpc: string
  home: string
  wait: boolean
  json: boolean
  tip: bigint | undefined
  nonce: number | undefined
  /** send even when the node's dry run says the call would fail */
  force: boolean
}

/** A transaction's receipt as the node shows it (openledger_getReceipt). */
export type Receipt = NonNullable<RpcResult<'openledger_getReceipt'>>

/**
 * Signs and sends one module call. `argsJson` is the call's arguments as JSON, or a function of
 * the signer's address giving them, or a promise of them (for arguments that default to the sender,
 * e.g. its own validator, or to what the chain holds for it).
 */
export async function sendCall(io: CliIo, options: SendOptions, moduleName: string, callName: string, argsJson: unknown): Promise<number> {
  const { receipt } = await sendCallForReceipt(io, options, moduleName, callName, argsJson)
  return receipt === null || receipt.status === 'success' ? 0 : 1
}

/** sendCall, giving back the receipt (null with --no-wait) for commands that read its events. */
export async function sendCallForReceipt(io: CliIo, options: SendOptions, moduleName: string, callName: string, argsJson: unknown): Promise<{ hash: string; receipt: Receipt | null }> {
  const module = runtime.moduleByName(moduleName)
  if (module === undefined) throw new CliError('BAD_ARGUMENT', `no module '${moduleName}'; modules: ${runtime.modules.filter((m) => m.calls.length > 0).map((m) => m.name).join(', ')}`)
  const call = module.calls.find((c) => c.name === callName)
  if (call === undefined) throw new CliError('BAD_ARGUMENT', `module ${moduleName} has no call '${callName}'; calls: ${module.calls.map((c) => c.name).join(', ')}`)
  const encodeArgs = (json: unknown): Encodable => {
    try {
      return call.args.encode(call.args.fromJson(json, 'args')) as Encodable
    } catch (error) {
      if (error instanceof CodecError) throw new CliError('BAD_ARGUMENT', error.message)
      throw error
    }
  }
  // fixed arguments are checked before any passphrase is asked for
  const fixed = typeof argsJson === 'function' ? undefined : encodeArgs(argsJson)
  const signer = await resolveAccountSigner(options.from, options.home, io)
  const args = fixed ?? encodeArgs(await (argsJson as (sender: string) => unknown)(toHex(signer.address)))
  const client = new RpcClient(options.rpc)
  const properties = await client.call('system_properties')
  const nonce = options.nonce ?? (await client.call('system_accountNextIndex', [toHex(signer.address)]))
  const fees = await client.call('openledger_estimateFee')
  const draftWithTip = (tip: bigint): UnsignedTransaction => ({
    chainId: properties.chainId, nonce, gasLimit: 10_000_000, maxFeePerGas: BigInt(fees.suggestedMaxFeePerGas) - BigInt(fees.suggestedMaxPriorityFeePerGas) + tip,
    maxPriorityFeePerGas: tip, call: { module: module.index, call: call.index, args },
  })
  const draft = draftWithTip(options.tip ?? BigInt(fees.suggestedMaxPriorityFeePerGas))
  const estimate = await client.call('openledger_estimateFee', [toHex(signTransaction(draft, signer.privateKey).bytes)])
  const gas = estimate.gas
  if (gas === null) throw new CliError('FAILED', 'the node gave no gas estimate for the call')
  const submit = async (unsigned: UnsignedTransaction) => {
    const bytes = toHex(signTransaction({ ...unsigned, gasLimit: gas + GAS_MARGIN }, signer.privateKey).bytes)
    if (!options.force) await refuseFailing(client, bytes, `${moduleName}.${callName}`)
    return client.call('author_submitExtrinsic', [bytes])
  }
  const hash = await submit(draft).catch(async (error: unknown) => {
    // a vesting lock pays the base fee but never a tip: the suggested tip, not one the user
    // asked for, gives way to none (geth's and Substrate's wallets also default the tip)
    if (options.tip !== undefined || !isTipRefusal(error)) throw error
    io.err('no tip offered: the unlocked balance cannot pay one (a vesting lock pays only the base fee)')
    return submit(draftWithTip(0n))
  })
  if (!options.wait) {
    io.out(options.json ? JSON.stringify({ hash }) : `submitted ${hash}`)
    return { hash, receipt: null }
  }
  const deadline = Date.now() + 120_000
  let receipt: RpcResult<'openledger_getReceipt'> = null
  while (receipt === null) {
    if (Date.now() > deadline) throw new CliError('FAILED', `transaction ${hash} was not included within 120 s`)
    await new Promise((resolve) => setTimeout(resolve, 200))
    receipt = await client.call('openledger_getReceipt', [hash])
  }
  if (options.json) io.out(JSON.stringify({ hash, ...receipt }))
  else {
    io.out(`transaction ${hash}`)
    io.out(`  from     ${toHex(signer.address)} (${signer.label})`)
    io.out(`  block    #${receipt.blockNumber} ${receipt.blockHash}`)
    io.out(`  status   ${receipt.status}${receipt.error === null ? '' : ` (${receipt.error})`}`)
    io.out(`  fee      ${formatOpen(BigInt(receipt.fee))} OPEN (${receipt.gasUsed} gas)`)
  }
  return { hash, receipt }
}

/** The node refused a transaction because the sender's unlocked balance cannot pay its tip. */
export function isTipRefusal(error: unknown): boolean {
  const code = error instanceof RpcClientError ? error.code : error instanceof CliError && error.code === 'REFUSED' ? error.details?.['error'] : undefined
  return code === InvalidTransactionCode.tipExceedsUnlockedBalance
}

export const common = {
  from: { type: 'string' },
  rpc: { type: 'string' },
  home: { type: 'string' },
  'no-wait': { type: 'boolean' },
  json: { type: 'boolean' },
  tip: { type: 'string' },
  nonce: { type: 'string' },
  force: { type: 'boolean' },
} as const

export function sendOptions(values: { from?: string | undefined; rpc?: string | undefined; home?: string | undefined; 'no-wait'?: boolean | undefined; json?: boolean | undefined; tip?: string | undefined; nonce?: string | undefined; force?: boolean | undefined }): SendOptions {
  if (values.from === undefined) throw new CliError('USAGE', '--from is required (a dev account such as alice, or a keystore key name)')
  return {
    from: values.from,
    rpc: parseRpcUrl(values.rpc),
    home: resolveHome(values.home),
    wait: values['no-wait'] !== true,
    json: values.json === true,
    tip: values.tip === undefined ? undefined : BigInt(parsePositiveInt(values.tip, '--tip', 0)),
    nonce: values.nonce === undefined ? undefined : parsePositiveInt(values.nonce, '--nonce', 0),
    force: values.force === true,
  }
}
