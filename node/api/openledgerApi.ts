// openledger_*: module queries for wallets and explorers — balances, accounts, transactions,
// receipts, block events, supply, fee estimates and the randomness beacon's mix — and the dry run
// of a signed transaction on the head state (what a block would record, nothing written: the CLI
// checks before it charges).
import { toHex } from '../../runtime/crypto/hash.ts'
import { recoverAddress } from '../../runtime/crypto/secp256k1.ts'
import { CodecError } from '../../runtime/codec/canonical.ts'
import { accountInfo, MIX_HISTORY, mixAt, putAccountInfo, RANDOMNESS_LOOKAHEAD } from '../../runtime/modules/system/index.ts'
import { balanceOf, lockedAt, totalIssuance, vesting } from '../../runtime/modules/balances/index.ts'
import { baseFeePerGas, intrinsicGas } from '../../runtime/modules/fees/index.ts'
import { TOTAL_SUPPLY } from '../../genesis/tokenomics.ts'
import { decodeTransactionInput } from '../../runtime/stateTransition.ts'
import { BlockExecution, InvalidTransactionCode, InvalidTransactionError } from '../../runtime/stateTransition.ts'
import { decodeTransaction, MAX_TX_BYTES, type Transaction } from '../../runtime/transaction.ts'
import type { Chain } from '../chain/chain.ts'
import type { DryRunView } from '../rpc/contract.ts'
import { defineMethod, param, type RpcMethod } from '../rpc/registry.ts'
import { ApiError, type ApiComponents } from './context.ts'
import { eventToJson, receiptToJson, transactionToJson } from './views.ts'

/** A tip that gets a transaction into the next block on a quiet chain: 1 gwei-equivalent per gas. */
export const SUGGESTED_TIP = 1_000_000_000n

/**
 * Applies a signed transaction to an overlay of the head state as the next block would (its
 * beginBlock hooks run first), and throws the overlay away. A nonce ahead of the account's — the
 * sender's earlier transactions still in the pool — is simulated as if it were the next one.
 */
export async function dryRun(chain: Chain, bytes: Uint8Array): Promise<DryRunView> {
  const invalid = (error: string, message: string): DryRunView => ({ status: 'invalid', error, message, gasUsed: 0, fee: '0', events: [] })
  let tx: Transaction
  try {
    tx = decodeTransaction(bytes)
  } catch (error) {
    if (error instanceof CodecError) return invalid(InvalidTransactionCode.invalidEncoding, error.message)
    throw error
  }
  const sender = recoverAddress(tx.digest, tx.signature)
  if (sender === undefined) return invalid(InvalidTransactionCode.invalidSignature, 'the signature does not recover a key')
  const head = chain.head
  const execution = await BlockExecution.begin(chain.runtime, chain.state, {
    chainId: chain.spec.chainId,
    height: head.header.height + 1,
    timestamp: Math.max(Date.now(), head.header.timestamp + 1),
    author: head.header.author,
    parentHash: head.hash,
  })
  const account = await accountInfo(execution.state, sender)
  if (tx.nonce > account.nonce) putAccountInfo(execution.state, sender, { ...account, nonce: tx.nonce })
  const receipt = await execution.tryApply(tx, sender)
  if (receipt instanceof InvalidTransactionError) return invalid(receipt.code, receipt.message)
  return {
    status: receipt.status === 0 ? 'success' : 'failed',
    error: receipt.error === undefined ? null : chain.runtime.errorCode(receipt.error),
    message: null,
    gasUsed: receipt.gasUsed,
    fee: receipt.fee.toString(),
    events: receipt.events.map((event) => eventToJson(chain.runtime, event)),
  }
}

export function openledgerMethods({ chain, mempool, submission: _submission }: ApiComponents): RpcMethod[] {
  const state = () => chain.state
  return [
    defineMethod({
      // the randomness beacon (ARCHITECTURE.md "Randomness"): the mix after block `height` (the
      // head's by default; kept in state for MIX_HISTORY heights), to check a draw with drawSeed
      name: 'openledger_getRandomness',
      params: [param.optional(param.uint()).named('height')],
      async handler([height]) {
        const head = chain.head
        const at = height ?? head.header.height
        if (at > head.header.height || at <= head.header.height - MIX_HISTORY) {
          throw new ApiError('STATE_UNAVAILABLE', `height ${at}: the mix is kept for heights ${Math.max(0, head.header.height - MIX_HISTORY + 1)} to ${head.header.height}`)
        }
        return {
          height: at, mix: toHex(await mixAt(state(), at)), lookahead: RANDOMNESS_LOOKAHEAD, history: MIX_HISTORY,
          ...(at === head.header.height ? { proposer: toHex(head.header.proposer), randomnessReveal: toHex(head.header.randomnessReveal) } : {}),
        }
      },
    }),
    defineMethod({
      name: 'openledger_getBalance',
      params: [param.address().named('address')],
      handler: async ([address]) => (await balanceOf(state(), address)).toString(),
    }),
    defineMethod({
      name: 'openledger_getAccount',
      params: [param.address().named('address')],
      async handler([address]) {
        const [{ free, nonce }, schedule] = await Promise.all([accountInfo(state(), address), vesting.get(state(), address)])
        const now = chain.head.header.timestamp
        const locked = schedule === undefined ? 0n : lockedAt(schedule, now)
        return {
          address: toHex(address),
          nonce,
          nextNonce: await mempool.nextNonce(address),
          free: free.toString(),
          locked: locked.toString(),
          spendable: (free > locked ? free - locked : 0n).toString(),
          vesting: schedule === undefined ? null : { total: schedule.total.toString(), cliffEnd: schedule.cliffEnd, end: schedule.end },
        }
      },
    }),
    defineMethod({
      name: 'openledger_getTransaction',
      params: [param.hash().named('hash')],
      async handler([hash]) {
        const pooled = mempool.get(hash)
        if (pooled !== undefined) return { ...transactionToJson(chain.runtime, pooled.tx, pooled.sender), status: 'pending' as const, blockHash: null, blockNumber: null, index: null }
        const location = await chain.chainStore.getTxLocation(hash)
        if (location === undefined) return null
        const block = await chain.chainStore.getBlock(location.blockHash)
        const bytes = block?.body.transactions[location.index]
        if (bytes === undefined) throw new ApiError('UNKNOWN_TRANSACTION', 'transaction index is inconsistent with its block')
        const tx = decodeTransaction(bytes)
        return { ...transactionToJson(chain.runtime, tx, recoverAddress(tx.digest, tx.signature)), status: 'included' as const, blockHash: toHex(location.blockHash), blockNumber: location.height, index: location.index }
      },
    }),
    defineMethod({
      name: 'openledger_getReceipt',
      params: [param.hash().named('hash')],
      async handler([hash]) {
        const location = await chain.chainStore.getTxLocation(hash)
        if (location === undefined) return null
        const stored = await chain.chainStore.getReceipts(location.blockHash)
        const receipt = stored?.receipts[location.index]
        if (receipt === undefined) throw new ApiError('UNKNOWN_TRANSACTION', 'receipt index is inconsistent with its block')
        const finalized = location.height <= chain.finalized.header.height
        return { ...receiptToJson(chain.runtime, receipt, { txHash: hash, blockHash: location.blockHash, height: location.height, index: location.index }), finalized }
      },
    }),
    /**
     * The events a block's hooks emitted (end-of-block work such as job deadlines, rewards,
     * slashing, epoch changes), in emission order, by block hash or canonical height; null for an
     * unknown block. Transactions' events are left out: they are in each transaction's receipt
     * (openledger_getReceipt), where they stay tied to the call that emitted them.
     */
    defineMethod({
      name: 'openledger_getBlockEvents',
      params: [param.oneOf(param.hash(), param.uint()).named('block')],
      async handler([block]) {
        const hash = typeof block === 'number' ? await chain.chainStore.getHash(block) : block
        if (hash === undefined) return null
        const [header, stored] = await Promise.all([chain.chainStore.getHeader(hash), chain.chainStore.getReceipts(hash)])
        if (header === undefined || stored === undefined) return null
        return {
          blockHash: toHex(hash),
          number: header.height,
          finalized: header.height <= chain.finalized.header.height,
          events: stored.blockEvents.map((event) => eventToJson(chain.runtime, event)),
        }
      },
    }),
    defineMethod({
      name: 'openledger_getSupply',
      params: [],
      async handler() {
        const issuance = await totalIssuance.get(state())
        return { totalSupply: TOTAL_SUPPLY.toString(), totalIssuance: issuance.toString(), burned: (TOTAL_SUPPLY - issuance).toString() }
      },
    }),
    defineMethod({
      name: 'openledger_dryRun',
      params: [param.hex({ maxBytes: MAX_TX_BYTES }).named('extrinsic')],
      handler: ([bytes]) => dryRun(chain, bytes),
    }),
    defineMethod({
      name: 'openledger_estimateFee',
      params: [param.optional(param.hex({ maxBytes: MAX_TX_BYTES })).named('extrinsic')],
      async handler([bytes]) {
        const baseFee = await baseFeePerGas.get(state())
        const suggestedMaxFeePerGas = baseFee * 2n + SUGGESTED_TIP
        let gas: number | null = null
        if (bytes !== undefined) {
          const tx = decodeTransactionInput(bytes)
          gas = chain.runtime.checkStatic({ ...tx, gasLimit: Number.MAX_SAFE_INTEGER }, chain.spec.chainId).gas
        }
        return {
          baseFeePerGas: baseFee.toString(),
          suggestedMaxPriorityFeePerGas: SUGGESTED_TIP.toString(),
          suggestedMaxFeePerGas: suggestedMaxFeePerGas.toString(),
          gas,
          estimatedFee: gas === null ? null : (BigInt(gas) * (baseFee + SUGGESTED_TIP)).toString(),
          intrinsicGasPerTx: intrinsicGas(0),
        }
      },
    }),
  ]
}
