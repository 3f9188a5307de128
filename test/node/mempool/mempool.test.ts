import t from 'tap'
import fc from 'fast-check'
import { toHex } from '../../../runtime/crypto/hash.ts'
import type { Address } from '../../../runtime/crypto/secp256k1.ts'
import { createRuntime } from '../../../runtime/index.ts'
import { InvalidTransactionError } from '../../../runtime/stateTransition.ts'
import { maxCost, type Transaction } from '../../../runtime/transaction.ts'
import { devAccounts } from '../../../genesis/devAccounts.ts'
import { DEV_CHAIN_ID } from '../../../genesis/devSpec.ts'
import { Mempool, MempoolError, type AccountView, type MempoolErrorCode, type MempoolEvent, type MempoolOptions, type PooledTransaction } from '../../../node/mempool/mempool.ts'
import { GWEI, transferTx } from '../../runtime/chainFixtures.ts'

const runtime = createRuntime()
const dev = devAccounts()
type Dev = (typeof dev)[number]
const [alice, bob, charlie, dave] = dev as [Dev, Dev, Dev, Dev]
const hex = toHex

/** The latest state as the pool sees it: plain maps the test edits. */
class FakeAccounts implements AccountView {
  readonly nonces = new Map<string, number>()
  readonly balances = new Map<string, bigint>()
  readonly locks = new Map<string, bigint>()
  baseFee = GWEI
  async account(account: Address): Promise<{ nonce: number; free: bigint }> {
    return { nonce: this.nonces.get(hex(account)) ?? 0, free: this.balances.get(hex(account)) ?? 10n ** 24n }
  }
  async locked(account: Address): Promise<bigint> {
    return this.locks.get(hex(account)) ?? 0n
  }
  baseFeePerGas(): bigint {
    return this.baseFee
  }
  chainId(): number {
    return DEV_CHAIN_ID
  }
}

function setup(options: MempoolOptions = {}): { pool: Mempool; accounts: FakeAccounts; events: Array<[MempoolEvent['type'], string, number, string?]> } {
  const accounts = new FakeAccounts()
  const pool = new Mempool(options, { runtime, accounts })
  const events: Array<[MempoolEvent['type'], string, number, string?]> = []
  pool.subscribe((event) => {
    const who = dev.find((d) => hex(d.address) === hex(event.entry.sender))?.name ?? '?'
    events.push(event.type === 'dropped' ? [event.type, who, event.entry.tx.nonce, event.reason] : [event.type, who, event.entry.tx.nonce])
  })
  return { pool, accounts, events }
}

/** A transfer from `from` with the given tip; maxFee defaults to 10 gwei + tip. */
function tx(from: Dev, nonce: number, tip = 0n, maxFee?: bigint): Transaction {
  return transferTx(from.privateKey, { to: charlie.address, amount: 1n, nonce, tip, ...(maxFee === undefined ? {} : { maxFee }) })
}

/** A block as the pool sees it: each sender's last included transaction has nonce `next` - 1 (0: none). */
function included(...senders: Array<[Dev, number]>): { transactions: Transaction[]; senders: Address[] } {
  const block = { transactions: [] as Transaction[], senders: [] as Address[] }
  for (const [from, next] of senders) {
    if (next === 0) continue
    block.transactions.push(tx(from, next - 1))
    block.senders.push(from.address)
  }
  return block
}

async function add(pool: Mempool, from: Dev, transaction: Transaction): Promise<'ready' | 'future'> {
  return (await pool.add(transaction, from.address)).status
}

/** The whole selection in order, as [name, nonce, tip]. */
function selection(pool: Mempool, skip: (entry: PooledTransaction) => boolean = () => false): Array<[string, number, bigint]> {
  const out: Array<[string, number, bigint]> = []
  const generator = pool.selectForBlock()
  let step = generator.next()
  while (step.done !== true) {
    const entry = step.value
    out.push([dev.find((d) => hex(d.address) === hex(entry.sender))?.name ?? '?', entry.tx.nonce, entry.tx.maxPriorityFeePerGas])
    step = generator.next(skip(entry) ? { skipSender: true } : undefined)
  }
  return out
}

async function rejection(promise: Promise<unknown>): Promise<string> {
  try {
    await promise
    return 'accepted'
  } catch (error) {
    if (error instanceof MempoolError || error instanceof InvalidTransactionError) return `${error.name}:${error.code}`
    throw error
  }
}
const mempoolCode = (code: MempoolErrorCode): string => `MempoolError:${code}`

t.test('ready vs future, and promotion when the gap fills', async (t) => {
  const { pool, events } = setup()
  t.equal(await add(pool, alice, tx(alice, 0)), 'ready')
  t.equal(await add(pool, alice, tx(alice, 2)), 'future')
  t.equal(await add(pool, alice, tx(alice, 3)), 'future')
  t.equal(pool.size, 3)
  t.equal(pool.readyCount, 1)
  t.same(selection(pool), [['alice', 0, 0n]])
  t.equal(await add(pool, alice, tx(alice, 1)), 'ready')
  t.equal(pool.readyCount, 4)
  t.same(selection(pool).map(([, nonce]) => nonce), [0, 1, 2, 3])
  t.same(events, [['ready', 'alice', 0], ['future', 'alice', 2], ['future', 'alice', 3], ['ready', 'alice', 1], ['ready', 'alice', 2], ['ready', 'alice', 3]])
})

t.test('a sender whose account nonce is ahead starts there', async (t) => {
  const { pool, accounts } = setup()
  accounts.nonces.set(hex(bob.address), 7)
  t.equal(await add(pool, bob, tx(bob, 8)), 'future')
  t.equal(await add(pool, bob, tx(bob, 7)), 'ready')
  t.equal(pool.readyCount, 2)
  t.equal(await pool.nextNonce(bob.address), 9)
})

t.test('selectForBlock: highest tip first across senders, nonce order within one', async (t) => {
  const { pool } = setup()
  await add(pool, alice, tx(alice, 0, 1n))
  await add(pool, alice, tx(alice, 1, 50n))
  await add(pool, alice, tx(alice, 2, 1n))
  await add(pool, bob, tx(bob, 0, 3n))
  await add(pool, bob, tx(bob, 1, 2n))
  await add(pool, charlie, tx(charlie, 0, 2n))
  await add(pool, dave, tx(dave, 1, 100n)) // future: never selected
  t.same(selection(pool), [
    ['bob', 0, 3n],
    ['bob', 1, 2n], // ties broken by arrival: bob's nonce 1 came before charlie's
    ['charlie', 0, 2n],
    ['alice', 0, 1n],
    ['alice', 1, 50n],
    ['alice', 2, 1n],
  ])
  t.equal(pool.readyCount, 6)
  t.equal(pool.size, 7)
})

t.test('selectForBlock: skipSender drops the rest of that sender only', async (t) => {
  const { pool } = setup()
  for (let nonce = 0; nonce < 3; nonce++) await add(pool, alice, tx(alice, nonce, 10n))
  for (let nonce = 0; nonce < 2; nonce++) await add(pool, bob, tx(bob, nonce, 5n))
  t.same(selection(pool, (entry) => entry.tx.nonce === 0 && entry.sender === alice.address), [['alice', 0, 10n], ['bob', 0, 5n], ['bob', 1, 5n]])
  t.same(selection(pool, (entry) => entry.sender === bob.address), [['alice', 0, 10n], ['alice', 1, 10n], ['alice', 2, 10n], ['bob', 0, 5n]])
  t.equal(pool.size, 5, 'selection removes nothing')
})

t.test('property: selection order is a valid priority merge of every sender\'s ready run', async (t) => {
  await fc.assert(fc.asyncProperty(
    fc.array(fc.record({ who: fc.integer({ min: 0, max: 3 }), tip: fc.bigInt({ min: 0n, max: 5n }), shuffle: fc.nat() }), { maxLength: 30 }),
    async (items) => {
      const { pool } = setup()
      const next = [0, 0, 0, 0]
      for (const item of items) {
        const from = dev[item.who] as Dev
        const nonce = next[item.who] as number
        next[item.who] = nonce + 1
        await add(pool, from, tx(from, nonce, item.tip))
      }
      const selected = selection(pool)
      if (selected.length !== items.length || pool.readyCount !== items.length) return false
      // replay: each pick must be the best head (highest tip) among the senders still in play
      const heads = new Map<string, number>(dev.slice(0, 4).map((d) => [d.name, 0]))
      const tipOf = new Map<string, bigint>()
      for (const [i, item] of items.entries()) tipOf.set(`${dev[item.who]?.name}:${items.slice(0, i).filter((o) => o.who === item.who).length}`, item.tip)
      for (const [name, nonce, tip] of selected) {
        if (heads.get(name) !== nonce) return false
        for (const [other, otherNonce] of heads) {
          const otherTip = tipOf.get(`${other}:${otherNonce}`)
          if (otherTip !== undefined && otherTip > tip) return false
        }
        heads.set(name, nonce + 1)
      }
      return true
    },
  ), { seed: 77, numRuns: 60 })
  t.pass('order holds')
})

t.test('replacement needs both fee caps raised by 10%', async (t) => {
  const { pool, events } = setup()
  const original = tx(alice, 0, 100n, 1000n * GWEI)
  await add(pool, alice, original)
  t.equal(await rejection(add(pool, alice, tx(alice, 0, 110n, 1000n * GWEI))), mempoolCode('REPLACEMENT_UNDERPRICED'), 'only the tip raised')
  t.equal(await rejection(add(pool, alice, tx(alice, 0, 100n, 1100n * GWEI))), mempoolCode('REPLACEMENT_UNDERPRICED'), 'only the max fee raised')
  t.equal(await rejection(add(pool, alice, tx(alice, 0, 109n, 1100n * GWEI))), mempoolCode('REPLACEMENT_UNDERPRICED'), 'tip raised by 9%')
  t.equal(await rejection(add(pool, alice, tx(alice, 0, 110n, 1100n * GWEI - 1n))), mempoolCode('REPLACEMENT_UNDERPRICED'), 'max fee raised by just under 10%')
  t.ok(pool.has(original.hash), 'the original stays')
  const replacement = tx(alice, 0, 110n, 1100n * GWEI)
  t.equal(await add(pool, alice, replacement), 'ready', 'exactly +10% on both replaces')
  t.notOk(pool.has(original.hash))
  t.ok(pool.has(replacement.hash))
  t.equal(pool.size, 1)
  t.same(selection(pool), [['alice', 0, 110n]], 'the replacement is selectable')
  t.equal(await pool.nextNonce(alice.address), 1)
  t.same(events, [['ready', 'alice', 0], ['dropped', 'alice', 0, 'replaced'], ['ready', 'alice', 0]])
  // a future transaction can be replaced too, and stays future
  await add(pool, alice, tx(alice, 5, 1n))
  t.equal(await add(pool, alice, tx(alice, 5, 2n, 20n * GWEI)), 'future')
  t.equal(pool.size, 2)
  // after the replacement, the sender's queue still works: included, then gone
  pool.onBlock(included([alice, 6]))
  t.equal(pool.size, 0, 'everything of the sender included')
})

t.test('refusals have stable codes and leave the pool as it was', async (t) => {
  const { pool, accounts } = setup({ maxNonceGap: 4 })
  const first = tx(alice, 0)
  await add(pool, alice, first)
  t.equal(await rejection(add(pool, alice, first)), mempoolCode('ALREADY_KNOWN'))

  accounts.nonces.set(hex(bob.address), 3)
  t.equal(await rejection(add(pool, bob, tx(bob, 2))), mempoolCode('NONCE_TOO_LOW'))
  t.equal(await add(pool, bob, tx(bob, 7)), 'future', 'exactly maxNonceGap ahead is accepted')
  t.equal(await rejection(add(pool, bob, tx(bob, 8))), mempoolCode('NONCE_TOO_HIGH'), 'beyond maxNonceGap')

  const cost = maxCost(tx(charlie, 0))
  accounts.balances.set(hex(charlie.address), cost - 1n)
  t.equal(await rejection(add(pool, charlie, tx(charlie, 0))), mempoolCode('INSUFFICIENT_FUNDS'))
  accounts.balances.set(hex(charlie.address), cost)
  t.equal(await add(pool, charlie, tx(charlie, 0)), 'ready', 'exactly gasLimit x maxFee is enough')
  // nonce 0 is included: its cost leaves the sender's queue (the check is cumulative over it)
  accounts.nonces.set(hex(charlie.address), 1)
  pool.onBlock(included([charlie, 1]))

  // issue 27 (1): a vesting-locked balance pays the base fee, never the tip
  const locked = maxCost(tx(charlie, 1, 3n * GWEI))
  accounts.balances.set(hex(charlie.address), locked)
  accounts.locks.set(hex(charlie.address), locked)
  t.equal(await rejection(add(pool, charlie, tx(charlie, 1, 3n * GWEI))), mempoolCode('TIP_EXCEEDS_UNLOCKED_BALANCE'), 'a tip from a locked balance')
  t.equal(await add(pool, charlie, tx(charlie, 1, 0n)), 'ready', 'no tip: the lock may pay the base fee')
  // nonce 1 stays pooled: the balance pays it and nonce 2 together, the unlocked part nonce 2's tip
  const balance = locked + maxCost(tx(charlie, 1, 0n))
  accounts.balances.set(hex(charlie.address), balance)
  accounts.locks.set(hex(charlie.address), balance - 3n * GWEI * BigInt(tx(charlie, 2, 3n * GWEI).gasLimit))
  t.equal(await add(pool, charlie, tx(charlie, 2, 3n * GWEI)), 'ready', 'a tip the unlocked part covers')

  accounts.baseFee = 5n * GWEI
  t.equal(await rejection(add(pool, dave, tx(dave, 0, 0n, 5n * GWEI - 1n))), mempoolCode('FEE_BELOW_BASE_FEE'))
  t.equal(await add(pool, dave, tx(dave, 0, 0n, 5n * GWEI)), 'ready')

  const wrongChain = transferTx(dave.privateKey, { to: alice.address, amount: 1n, nonce: 1, chainId: DEV_CHAIN_ID + 1 })
  t.equal(await rejection(pool.add(wrongChain, dave.address)), 'InvalidTransactionError:WRONG_CHAIN_ID')
  const lowGas = transferTx(dave.privateKey, { to: alice.address, amount: 1n, nonce: 1, gasLimit: 600 })
  t.equal(await rejection(pool.add(lowGas, dave.address)), 'InvalidTransactionError:GAS_LIMIT_TOO_LOW')
  const tipAbove = transferTx(dave.privateKey, { to: alice.address, amount: 1n, nonce: 1, tip: 10n * GWEI, maxFee: 6n * GWEI })
  t.equal(await rejection(pool.add(tipAbove, dave.address)), 'InvalidTransactionError:TIP_ABOVE_MAX_FEE')
  t.equal(pool.size, 5, "charlie's nonce 0 left with its block")
  t.same(selection(pool).map(([name, nonce]) => `${name}:${nonce}`).sort(), ['alice:0', 'charlie:1', 'charlie:2', 'dave:0'])
})

t.test('ACCOUNT_LIMIT caps one sender; replacing within the limit is still allowed', async (t) => {
  const { pool } = setup({ maxPerAccount: 2 })
  await add(pool, alice, tx(alice, 0))
  await add(pool, alice, tx(alice, 1))
  t.equal(await rejection(add(pool, alice, tx(alice, 2))), mempoolCode('ACCOUNT_LIMIT'))
  t.equal(await add(pool, alice, tx(alice, 1, 5n, 20n * GWEI)), 'ready', 'replacement does not count against the limit')
  t.equal(await add(pool, bob, tx(bob, 0)), 'ready', 'other senders are unaffected')
  t.equal(pool.size, 3)
})

t.test('POOL_FULL, and eviction of the cheapest last-in-line transaction for a better-paying one', async (t) => {
  const { pool, events } = setup({ maxTransactions: 3 })
  await add(pool, alice, tx(alice, 0, 1n))
  await add(pool, alice, tx(alice, 1, 10n))
  await add(pool, bob, tx(bob, 0, 3n))
  events.length = 0
  t.equal(await rejection(add(pool, charlie, tx(charlie, 0, 3n))), mempoolCode('POOL_FULL'), 'paying no more than the cheapest tail')
  t.equal(await pool.nextNonce(charlie.address), 0, 'a refused sender leaves no trace')
  // alice's nonce 0 pays least, but it is not last in line (evicting it would strand nonce 1): bob's tail goes
  t.equal(await add(pool, charlie, tx(charlie, 0, 4n)), 'ready')
  t.same(events, [['dropped', 'bob', 0, 'evicted'], ['ready', 'charlie', 0]])
  t.equal(pool.size, 3)
  t.same(selection(pool).map(([name, nonce]) => `${name}:${nonce}`), ['charlie:0', 'alice:0', 'alice:1'])
  // now alice's tail (tip 10) is dearer than charlie's (tip 4): charlie is evicted next
  await add(pool, dave, tx(dave, 0, 5n))
  t.same(events.at(-2), ['dropped', 'charlie', 0, 'evicted'])
  t.equal(pool.size, 3)
})

t.test('eviction never takes the newcomer\'s own earlier transaction', async (t) => {
  const { pool, events } = setup({ maxTransactions: 2 })
  await add(pool, alice, tx(alice, 0, 1n))
  await add(pool, bob, tx(bob, 0, 5n))
  // alice's nonce 0 is the cheapest tail, but evicting it would leave her nonce 1 behind a gap
  t.equal(await add(pool, alice, tx(alice, 1, 9n)), 'ready')
  t.same(events.at(-2), ['dropped', 'bob', 0, 'evicted'])
  t.same(selection(pool).map(([name, nonce]) => `${name}:${nonce}`), ['alice:0', 'alice:1'])
  pool.onBlock(included([alice, 2]))
  t.equal(pool.size, 0, 'nothing orphaned')
})

t.test('onBlock removes what was included and promotes what became ready', async (t) => {
  const { pool, events } = setup()
  await add(pool, alice, tx(alice, 0))
  await add(pool, alice, tx(alice, 1))
  await add(pool, alice, tx(alice, 3))
  await add(pool, bob, tx(bob, 0))
  events.length = 0
  // the block included alice 0..2 (2 came from elsewhere) and nothing of bob
  pool.onBlock(included([alice, 3], [bob, 0], [charlie, 4]))
  t.equal(pool.size, 2)
  t.same(events, [['ready', 'alice', 3]], 'nonce 3 promoted')
  t.same(selection(pool).map(([name, nonce]) => `${name}:${nonce}`).sort(), ['alice:3', 'bob:0'])
  pool.onBlock(included([alice, 4], [bob, 1]))
  t.equal(pool.size, 0)
  t.equal(pool.readyCount, 0)
  t.same(selection(pool), [])
})

t.test('nextNonce counts the ready pooled transactions only', async (t) => {
  const { pool, accounts } = setup()
  t.equal(await pool.nextNonce(alice.address), 0)
  await add(pool, alice, tx(alice, 0))
  await add(pool, alice, tx(alice, 1))
  await add(pool, alice, tx(alice, 3))
  t.equal(await pool.nextNonce(alice.address), 2, 'stops at the gap')
  accounts.nonces.set(hex(bob.address), 5)
  t.equal(await pool.nextNonce(bob.address), 5, 'the account nonce when nothing is pooled')
  accounts.nonces.set(hex(alice.address), 1)
  t.equal(await pool.nextNonce(alice.address), 2)
})

t.test('dropInvalid removes the transaction and everything of its sender after it', async (t) => {
  const { pool, events } = setup()
  for (let nonce = 0; nonce < 4; nonce++) await add(pool, alice, tx(alice, nonce))
  await add(pool, bob, tx(bob, 0))
  events.length = 0
  const entry = pool.get(tx(alice, 2).hash)
  if (entry === undefined) throw new Error('missing entry')
  pool.dropInvalid(entry, new MempoolError('INSUFFICIENT_FUNDS', 'gone'))
  t.same(events, [['dropped', 'alice', 2, 'invalid'], ['dropped', 'alice', 3, 'invalid']])
  t.equal(pool.size, 3)
  t.equal(await pool.nextNonce(alice.address), 2)
})

t.test('unsubscribe stops the events', async (t) => {
  const accounts = new FakeAccounts()
  const pool = new Mempool({}, { runtime, accounts })
  const seen: string[] = []
  const stop = pool.subscribe((event) => void seen.push(event.type))
  await pool.add(tx(alice, 0), alice.address)
  stop()
  await pool.add(tx(alice, 1), alice.address)
  t.same(seen, ['ready'])
})

t.test('property: every pooled transaction stays reachable, and a block past every nonce empties the pool', async (t) => {
  const op = fc.record({
    who: fc.integer({ min: 0, max: 2 }),
    nonce: fc.integer({ min: 0, max: 5 }),
    tip: fc.bigInt({ min: 0n, max: 20n }),
    maxFee: fc.bigInt({ min: 10n, max: 40n }),
    block: fc.boolean(),
  })
  await fc.assert(fc.asyncProperty(fc.array(op, { maxLength: 40 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 4 }), async (ops, maxTransactions, maxPerAccount) => {
    const { pool, accounts } = setup({ maxTransactions, maxPerAccount, maxNonceGap: 3 })
    const hashes = new Set<string>()
    const pooled = new Map<string, Transaction>()
    pool.subscribe((event) => {
      if (event.type === 'dropped') pooled.delete(event.entry.hashId)
      else pooled.set(event.entry.hashId, event.entry.tx)
    })
    for (const item of ops) {
      const from = dev[item.who] as Dev
      if (item.block) {
        // a block that includes the sender's ready run
        const next = await pool.nextNonce(from.address)
        accounts.nonces.set(hex(from.address), next)
        pool.onBlock(included([from, next]))
        for (const [id, pooledTx] of pooled) if (pool.get(pooledTx.hash) === undefined) pooled.delete(id)
        continue
      }
      const transaction = tx(from, (await accounts.account(from.address)).nonce + item.nonce, item.tip, item.maxFee * GWEI)
      hashes.add(hex(transaction.hash))
      try {
        await pool.add(transaction, from.address)
      } catch (error) {
        if (!(error instanceof MempoolError || error instanceof InvalidTransactionError)) throw error
      }
      if (pool.size > maxTransactions) return false
      // the events describe the pool exactly
      if (pooled.size !== pool.size) return false
      for (const pooledTx of pooled.values()) if (!pool.has(pooledTx.hash)) return false
      // everything ready is selectable, once
      const selected = selection(pool)
      if (selected.length !== pool.readyCount) return false
    }
    // include everything: the pool must empty (a transaction no sender queue knows would stay forever)
    for (const from of dev.slice(0, 3)) {
      const far = (await accounts.account(from.address)).nonce + 100
      pool.onBlock(included([from, far]))
    }
    return pool.size === 0 && pool.readyCount === 0
  }), { seed: 99, numRuns: 150 })
  t.pass('reachable')
})
