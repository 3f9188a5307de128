// The errors of the eth_* methods in geth's words, because wallets and libraries read the message:
// viem, ethers and MetaMask match "nonce too low", "max fee per gas less than block base fee",
// "insufficient funds", "intrinsic gas too low", "already known" … to tell a user what to fix.
// Transaction refusals are -32000 as in geth; `data.code` keeps our stable code for scripts.
// A call that fails in a dry run (eth_call, eth_estimateGas) is geth's revert: code 3,
// "execution reverted: <module.Error>", data = the ABI encoding of Error(string) as Solidity's
// revert reason, which viem decodes.
import { CodecError } from '../../runtime/codec/canonical.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import { OpenLedgerError } from '../../runtime/errors.ts'
import type { Transaction } from '../../runtime/transaction.ts'
import { RpcError } from '../rpc/errors.ts'

export const ETH_TX_ERROR_RPC_CODE = -32000
export const ETH_REVERT_RPC_CODE = 3
/** Error(string)'s selector: keccak256("Error(string)")[0..4]. */
const ERROR_SELECTOR = '08c379a0'

function hexOf(address: Uint8Array | undefined): string {
  return address === undefined ? 'unknown' : toHex(address)
}

/** geth's message for each refusal, by our stable code; undefined keeps our own message. */
function gethMessage(code: string, error: OpenLedgerError<string>, tx: Transaction | undefined, sender: Uint8Array | undefined, chainId: number): string | undefined {
  const expected = (error.details as { expected?: number } | undefined)?.expected
  const baseFee = (error.details as { baseFeePerGas?: string } | undefined)?.baseFeePerGas
  switch (code) {
    case 'INVALID_SIGNATURE': return 'invalid sender'
    case 'WRONG_CHAIN_ID': return `invalid chain id for signer: have ${tx?.chainId ?? 'unknown'} want ${chainId}`
    case 'NONCE_TOO_LOW': return `nonce too low: next nonce ${expected ?? 'unknown'}, tx nonce ${tx?.nonce ?? 'unknown'}`
    case 'NONCE_TOO_HIGH': return `nonce too high: next nonce ${expected ?? 'unknown'}, tx nonce ${tx?.nonce ?? 'unknown'}`
    case 'FEE_BELOW_BASE_FEE': return `max fee per gas less than block base fee: address ${hexOf(sender)}, maxFeePerGas: ${tx?.maxFeePerGas ?? 'unknown'}, baseFee: ${baseFee ?? 'unknown'}`
    case 'TIP_ABOVE_MAX_FEE': return `max priority fee per gas higher than max fee per gas: address ${hexOf(sender)}, maxPriorityFeePerGas: ${tx?.maxPriorityFeePerGas ?? 'unknown'}, maxFeePerGas: ${tx?.maxFeePerGas ?? 'unknown'}`
    case 'INSUFFICIENT_FUNDS': return `insufficient funds for gas * price + value: address ${hexOf(sender)}`
    case 'TIP_EXCEEDS_UNLOCKED_BALANCE': return `insufficient funds for gas * price + value: address ${hexOf(sender)} (the tip is paid from the unlocked, vested balance only)`
    case 'GAS_LIMIT_TOO_LOW': return `intrinsic gas too low: have ${tx?.gasLimit ?? 'unknown'}, want ${(error.details as { required?: number } | undefined)?.required ?? 'unknown'}`
    case 'EXCEEDS_BLOCK_GAS': return 'exceeds block gas limit'
    case 'ALREADY_KNOWN': return 'already known'
    case 'REPLACEMENT_UNDERPRICED': return 'replacement transaction underpriced'
    case 'POOL_FULL': return 'transaction underpriced' // geth's answer when a full pool holds only better-paying transactions
    case 'ACCOUNT_LIMIT': return 'account limit exceeded'
    case 'INVALID_ENCODING': return error.message.replace(/^malformed transaction: /, '')
    default: return undefined
  }
}

/** A refused eth_sendRawTransaction as geth would answer it. */
export function ethTxError(error: unknown, tx: Transaction | undefined, sender: Uint8Array | undefined, chainId: number): unknown {
  if (error instanceof CodecError) return new RpcError('INVALID_ENCODING', error.message, { rpcCode: ETH_TX_ERROR_RPC_CODE, cause: error })
  if (!(error instanceof OpenLedgerError) || error instanceof RpcError) return error
  const message = gethMessage(error.code, error, tx, sender, chainId) ?? error.message
  return new RpcError(error.code, message, { rpcCode: ETH_TX_ERROR_RPC_CODE, cause: error, ...(error.details === undefined ? {} : { details: { ...error.details } }) })
}

/** geth's oversized-data refusal. */
export function oversizedError(size: number, limit: number): RpcError {
  return new RpcError('OVERSIZED', `oversized data: transaction size ${size}, limit ${limit}`, { rpcCode: ETH_TX_ERROR_RPC_CODE })
}

/** A dry run whose call failed, as a Solidity revert with a reason string. */
export function revertError(reason: string): RpcError {
  const text = Buffer.from(reason, 'utf8')
  const words = Math.ceil(text.length / 32)
  const padded = Buffer.alloc(words * 32)
  text.copy(padded)
  const data = `0x${ERROR_SELECTOR}${(32).toString(16).padStart(64, '0')}${text.length.toString(16).padStart(64, '0')}${padded.toString('hex')}`
  return new RpcError('EXECUTION_REVERTED', `execution reverted: ${reason}`, { rpcCode: ETH_REVERT_RPC_CODE, details: { data } })
}

/** A query at a block this node does not have (beyond its head, or pruned), as geth says it. */
export function headerNotFound(): RpcError {
  return new RpcError('UNKNOWN_BLOCK', 'header not found', { rpcCode: ETH_TX_ERROR_RPC_CODE })
}
