// Issue 21, defect 6 (first two points): a sender's pooled transactions must be payable together,
// and transactions stuck behind a nonce gap expire (geth's queued lifetime).
import t from 'tap'
import { toHex } from '../../../runtime/crypto/hash.ts'
import type { Address } from '../../../runtime/crypto/secp256k1.ts'
import { createRuntime } from '../../../runtime/index.ts'
import { maxCost, type Transaction } from '../../../runtime/transaction.ts'
import { devAccounts } from '../../../genesis/devAccounts.ts'
import { DEV_CHAIN_ID } from '../../../genesis/devSpec.ts'
import { Mempool, type AccountView, type MempoolEvent } from '../../../node/mempool/mempool.ts'
import { GWEI, transferTx } from '../../runtime/chainFixtures.ts'

const runtime = createRuntime()
const [alice, , charlie] = devAccounts() as [ReturnType<typeof devAccounts>[number], ReturnType<typeof devAccounts>[number], ReturnType<typeof devAccounts>[number]]

class Accounts implements AccountView {
  balance = 10n ** 24n
  nonce = 0
  async account(_account: Address) {
    return { nonce: this.nonce, free: this.balance }
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

const tx = (nonce: number, tip = 0n): Transaction => transferTx(alice.privateKey, { to: charlie.address, amount: 1n, nonce, tip })

t.test('the balance check is cumulative over the sender’s queue', async (t) => {
  const accounts = new Accounts()
  const pool = new Mempool({}, { runtime, accounts })
  accounts.balance = maxCost(tx(0)) * 2n + maxCost(tx(0)) / 2n // two and a half transactions' worth
  await pool.add(tx(0), alice.address)
  await pool.add(tx(1), alice.address)
  await t.rejects(pool.add(tx(2), alice.address), { code: 'INSUFFICIENT_FUNDS' }, 'the third is refused: the first two take what pays it')
  // a replacement at a pooled nonce counts once, not on top of the one it replaces
  const bumped = tx(1, 5n * GWEI)
  t.ok(maxCost(bumped) + maxCost(tx(0)) <= accounts.balance, 'the bumped replacement alone fits')
  t.same(await pool.add(bumped, alice.address), { status: 'ready' })
  t.equal(pool.size, 2)
})

t.test('transactions behind a nonce gap expire; ready ones stay', async (t) => {
  const accounts = new Accounts()
  const clock = { now: 1_000_000 }
  const pool = new Mempool({ futureLifetimeMs: 60_000 }, { runtime, accounts, now: () => clock.now })
  const dropped: Array<[number, string]> = []
  pool.subscribe((event: MempoolEvent) => {
    if (event.type === 'dropped') dropped.push([event.entry.tx.nonce, event.reason])
  })
  await pool.add(tx(0), alice.address)
  await pool.add(tx(5), alice.address) // behind a gap (1–4 missing)
  clock.now += 59_000
  t.equal(pool.dropExpired(), 0, 'not before its lifetime')
  clock.now += 2_000
  pool.onBlock({ transactions: [], senders: [] })
  t.same(dropped, [[5, 'stale']], 'the future one is dropped at the next block')
  t.ok(pool.has(tx(0).hash), 'the ready one stays, however old')
  t.notOk(pool.has(tx(5).hash))
  t.equal(toHex(tx(5).hash).length, 66)
})
