// What the explorer (node/explorer/public) reads besides the general methods: block summaries in
// one call (heights, times in ms, transaction counts, gas), so a chart of the last hour is a few
// requests instead of two per block.
import { toHex } from '../../runtime/crypto/hash.ts'
import { decodeTransaction, recoverSender } from '../../runtime/transaction.ts'
import { defineMethod, param, type RpcMethod } from '../rpc/registry.ts'
import { checkAborted } from './pagination.ts'
import type { ApiComponents } from './context.ts'
import type { BlockSummaryView } from '../rpc/contract.ts'
import { callToJson } from './views.ts'

/** summaries one call answers at most */
export const MAX_BLOCK_SUMMARIES = 256
const DEFAULT_BLOCK_SUMMARIES = 20

export function explorerMethods({ chain }: ApiComponents): RpcMethod[] {
  return [
    /**
     * Up to `count` (20) canonical blocks from height `from` (default: the head) downwards, newest
     * first: number, hash, timestamp (ms), author, gas used, base fee, transaction count and, with
     * `transactions`, each transaction's hash, sender and call.
     */
    defineMethod({
      name: 'openledger_getBlockSummaries',
      params: [param.optional(param.uint()).named('from'), param.optional(param.uint({ max: MAX_BLOCK_SUMMARIES })).named('count'), param.optional(param.boolean()).named('transactions')],
      async handler([from, count, withTransactions], { signal }) {
        const out: BlockSummaryView[] = []
        const top = Math.min(from ?? chain.head.header.height, chain.head.header.height)
        for (let height = top; height >= 0 && out.length < (count ?? DEFAULT_BLOCK_SUMMARIES); height--) {
          checkAborted(signal)
          const hash = await chain.chainStore.getHash(height)
          const block = hash === undefined ? undefined : await chain.chainStore.getBlock(hash)
          if (block === undefined) break
          const { header, body } = block
          const summary: BlockSummaryView = {
            number: header.height,
            hash: toHex(block.hash),
            timestamp: header.timestamp,
            author: toHex(header.author),
            gasUsed: header.gasUsed,
            baseFeePerGas: header.baseFeePerGas.toString(),
            txCount: body.transactions.length,
          }
          if (withTransactions === true) {
            summary.transactions = body.transactions.map((bytes) => {
              const tx = decodeTransaction(bytes)
              const sender = recoverSender(tx)
              return { hash: toHex(tx.hash), from: sender === undefined ? null : toHex(sender), call: callToJson(chain.runtime, tx) }
            })
          }
          out.push(summary)
        }
        return out
      },
    }),
  ]
}
