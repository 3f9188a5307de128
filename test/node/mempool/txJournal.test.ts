// Issue 21, defect 6 (third point): local transactions survive a restart of the node's pool.
// The restart here is a new pool, admission and journal over the same store; the kill -9 of a real
// node process is in test/e2e/crashRecovery.test.ts.
import t from 'tap'
import type { Address } from '../../../runtime/crypto/secp256k1.ts'
import { createRuntime } from '../../../runtime/index.ts'
import type { Transaction } from '../../../runtime/transaction.ts'
import { devAccounts } from '../../../genesis/devAccounts.ts'
import { DEV_CHAIN_ID } from '../../../genesis/devSpec.ts'
import { createLogger } from '../../../lib/logger.ts'
import { Bucket } from '../../../node/db/buckets.ts'
import { MemoryStore } from '../../../node/db/memoryStore.ts'
import { Mempool, type AccountView } from '../../../node/mempool/mempool.ts'
import { TxJournal } from '../../../node/mempool/txJournal.ts'
import { TxSubmission } from '../../../node/mempool/txSubmission.ts'
import { InlineVerifier } from '../../../node/workers/signatureVerifier.ts'
import { GWEI, transferTx } from '../../runtime/chainFixtures.ts'

const runtime = createRuntime()
const [alice, bob, charlie] = devAccounts() as [ReturnType<typeof devAccounts>[number], ReturnType<typeof devAccounts>[number], ReturnType<typeof devAccounts>[number]]

class Accounts implements AccountView {
  readonly nonces = new Map<string, number>()
  async account(account: Address) {
    return { nonce: this.nonces.get(Buffer.from(account).toString('hex')) ?? 0, free: 10n ** 24n }
  }
  async locked() {
    return 0n
  }
  baseFeePerGas() {
    return GWEI
  }
  chainId() {
    return DEV_CHAIN_ID
  }
}

type BlockListener = (block: { transactions: readonly Transaction[] }) => void

/** One "process": a pool, its admission and its journal over a store that outlives it. */
async function boot(store: MemoryStore, accounts: Accounts) {
  const listeners = new Set<BlockListener>()
  const chain = {
    onBlock(listener: BlockListener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
  }
  const mempool = new Mempool({}, { runtime, accounts })
  const journal = new TxJournal({ store, mempool, chain, logger: createLogger({ level: 'error' }) })
  const verifier = new InlineVerifier()
  verifier.start()
  const submission = new TxSubmission({ mempool, verifier, journal })
  const replay = await journal.start((bytes, source) => submission.submit(bytes, source))
  const include = (txs: Transaction[], senders: Address[]) => {
    for (const tx of txs) {
      const key = Buffer.from(senders[txs.indexOf(tx)] as Address).toString('hex')
      accounts.nonces.set(key, Math.max(accounts.nonces.get(key) ?? 0, tx.nonce + 1))
    }
    mempool.onBlock({ transactions: txs, senders })
    for (const listener of listeners) listener({ transactions: txs })
  }
  return { mempool, journal, submission, replay, include }
}

async function records(store: MemoryStore): Promise<number> {
  let count = 0
  for await (const _ of store.entries(Bucket.txJournal)) count++
  return count
}

const tx = (nonce: number, from = alice): Transaction => transferTx(from.privateKey, { to: charlie.address, amount: 1n, nonce })

t.test('a local transaction is journaled before it is acknowledged and replayed at start', async (t) => {
  const store = new MemoryStore()
  const accounts = new Accounts()
  const first = await boot(store, accounts)
  t.same(first.replay, { replayed: 0, dropped: 0 })
  // nonce 1 waits behind a gap: no block could have taken it, only the journal keeps it
  await first.submission.submit(tx(1).bytes)
  await first.submission.submit(tx(2).bytes)
  t.equal(await records(store), 2, 'both on the store when submit resolved')
  // relayed by a peer: its own node journals it, this one does not
  await first.submission.submit(tx(0, bob).bytes, 'gossip')
  t.equal(await records(store), 2, 'a gossiped transaction is not journaled')

  const second = await boot(store, accounts)
  t.same(second.replay, { replayed: 2, dropped: 0 }, 'both replayed')
  t.ok(second.mempool.has(tx(1).hash) && second.mempool.has(tx(2).hash), 'back in the pool')
  t.notOk(second.mempool.has(tx(0, bob).hash))
  t.equal(await records(store), 2, 'a replay does not write them twice')

  // the gap fills; the block that includes them takes them out of the journal
  await second.submission.submit(tx(0).bytes)
  t.equal(second.journal.size, 3)
  second.include([tx(0), tx(1), tx(2)], [alice.address, alice.address, alice.address])
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(second.journal.size, 0)
  t.equal(await records(store), 0, 'included transactions leave the journal')
})

t.test('entries the pool refuses at replay are deleted; dropped transactions leave the journal', async (t) => {
  const store = new MemoryStore()
  const accounts = new Accounts()
  const first = await boot(store, accounts)
  await first.submission.submit(tx(0).bytes)
  await first.submission.submit(tx(1).bytes)
  await first.submission.submit(tx(3).bytes)
  // the block that included nonces 0 and 1 was committed, but its deletions never reached the
  // disk (the process died first): the next replay finds them included (NONCE_TOO_LOW)
  accounts.nonces.set(Buffer.from(alice.address).toString('hex'), 2)
  const second = await boot(store, accounts)
  t.same(second.replay, { replayed: 1, dropped: 2 })
  t.equal(await records(store), 1)
  // a replacement drops the pooled one: only the replacement is kept
  const bumped = transferTx(alice.privateKey, { to: charlie.address, amount: 2n, nonce: 3, tip: 10n * GWEI })
  await second.submission.submit(bumped.bytes)
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(second.journal.size, 1)
  const third = await boot(store, accounts)
  t.same(third.replay, { replayed: 1, dropped: 0 })
  t.ok(third.mempool.has(bumped.hash), 'the replacement came back, not the transaction it replaced')
})
