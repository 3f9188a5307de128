// author_*: submitting signed transactions, and watching one until it is final.
import { toHex } from '../../runtime/crypto/hash.ts'
import { decodeTransaction, MAX_TX_BYTES } from '../../runtime/transaction.ts'
import { defineMethod, defineSubscription, param, type RpcMethod, type RpcSubscriptionMethod } from '../rpc/registry.ts'
import type { ApiComponents } from './context.ts'

const extrinsic = () => param.hex({ maxBytes: MAX_TX_BYTES }).named('extrinsic')

export function authorMethods({ submission, mempool }: ApiComponents): RpcMethod[] {
  return [
    defineMethod({
      name: 'author_submitExtrinsic',
      params: [extrinsic()],
      async handler([bytes]) {
        const { hash } = await submission.submit(bytes)
        return toHex(hash)
      },
    }),
    defineMethod({
      name: 'author_pendingExtrinsics',
      params: [],
      handler: () => {
        const out: string[] = []
        for (const entry of mempool.selectForBlock()) {
          out.push(toHex(entry.tx.bytes))
          if (out.length >= 1000) break
        }
        return out
      },
    }),
  ]
}

export function authorSubscriptions({ submission, watcher }: ApiComponents): RpcSubscriptionMethod[] {
  return [
    defineSubscription({
      subscribe: 'author_submitAndWatchExtrinsic',
      unsubscribe: 'author_unwatchExtrinsic',
      notification: 'author_extrinsicUpdate',
      params: [extrinsic()],
      async start([bytes], emit) {
        // Watch before submitting so no status is missed; a refused submission ends the call with its error.
        let stop: () => void = () => {}
        try {
          stop = watcher.watch(decodeTransaction(bytes).hash, emit)
        } catch {
          // malformed: submit() below reports it with its code
        }
        try {
          await submission.submit(bytes)
        } catch (error) {
          stop()
          throw error
        }
        return stop
      },
    }),
  ]
}
