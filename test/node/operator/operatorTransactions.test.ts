// OperatorTransactions: the gas is exactly what the runtime charges, the fees follow the policy from
// the next block's base fee, concurrent submissions take consecutive nonces, and submitAndWatch
// follows the transaction to its finalized block.
import t from 'tap'
import { devKey } from '../../../genesis/devAccounts.ts'
import { TxSubmission } from '../../../node/mempool/txSubmission.ts'
import { TxWatcher } from '../../../node/mempool/txWatcher.ts'
import { OPERATOR_TIP, OperatorTransactions, operatorFees } from '../../../node/operator/operatorTransactions.ts'
import { InlineVerifier } from '../../../node/workers/signatureVerifier.ts'
import { transfer } from '../../../runtime/modules/balances/calls.ts'
import { attestAvailability } from '../../../runtime/modules/datanets/calls.ts'
import { ModuleIndex } from '../../../runtime/modules/indices.ts'
import { toHex } from '../../../runtime/crypto/hash.ts'
import { consensusParts, produce } from '../consensus/fixtures.ts'

async function setup() {
  const parts = await consensusParts()
  const verifier = new InlineVerifier()
  verifier.start()
  const submission = new TxSubmission({ mempool: parts.mempool, verifier })
  const watcher = new TxWatcher({ chain: parts.chain, mempool: parts.mempool })
  const operator = devKey('alice')
  const transactions = new OperatorTransactions({
    chain: parts.chain,
    operator,
    nextNonce: (account) => parts.mempool.nextNonce(account),
    submit: (bytes) => submission.submit(bytes),
    watch: (hash, listener) => watcher.watch(hash, listener),
  })
  return { parts, transactions, operator, verifier, watcher }
}

t.test('gas is the runtime\'s intrinsic gas plus the call\'s weight; fees follow the policy', async (t) => {
  const { parts, transactions, verifier, watcher } = await setup()
  t.teardown(async () => {
    watcher.stop()
    await verifier.stop()
  })
  for (const [module, call, args] of [
    [ModuleIndex.balances, transfer, { to: devKey('bob').address, amount: 10n ** 18n }],
    [ModuleIndex.datanets, attestAvailability, { datanet: 1, contribution: 2 }],
  ] as const) {
    const tx = await transactions.sign(module, call as never, args as never)
    const resolved = parts.chain.runtime.checkStatic(tx, parts.chain.spec.chainId)
    t.equal(tx.gasLimit, resolved.gas, `${call.name}: the gas limit is exactly the gas charged`)
    t.equal(tx.maxPriorityFeePerGas, OPERATOR_TIP)
    t.equal(tx.maxFeePerGas, operatorFees(parts.chain.baseFeePerGas).maxFeePerGas, 'max fee from the next block\'s base fee')
    t.ok(tx.maxFeePerGas > parts.chain.baseFeePerGas * 3n)
  }
})

t.test('concurrent submissions take consecutive nonces; submitAndWatch resolves at finalization', async (t) => {
  const { parts, transactions, operator, verifier, watcher } = await setup()
  t.teardown(async () => {
    watcher.stop()
    await verifier.stop()
  })
  const to = devKey('bob').address
  const submitted = await Promise.all([1n, 2n, 3n].map((amount) => transactions.submit(ModuleIndex.balances, transfer, { to, amount })))
  t.same(submitted.map((tx) => tx.nonce), [0, 1, 2], 'no two share a nonce')
  t.equal(await parts.mempool.nextNonce(operator.address), 3, 'all three are in the pool')
  const watched = transactions.submitAndWatch(ModuleIndex.balances, transfer, { to, amount: 4n })
  // the watched transaction is admitted before a block is built from the pool
  while (parts.mempool.size < 4) await new Promise((resolve) => setImmediate(resolve))
  await produce(parts, 1)
  const { tx, status } = await watched
  t.equal(tx.nonce, 3)
  t.same(status, { finalized: toHex(parts.chain.head.hash) }, 'finalized in the block just produced')
  t.equal(parts.mempool.size, 0)
})
