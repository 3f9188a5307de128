// Prefetching state: the runtime's access hints name what a transaction reads, the overlay forwards
// what it has not seen, and the state database loads the misses in one batch into its value cache.
import t from 'tap'
import { Bucket } from '../../../node/db/buckets.ts'
import { MemoryStore } from '../../../node/db/memoryStore.ts'
import { WriteBatch } from '../../../node/db/store.ts'
import { StateDb } from '../../../node/state/stateDb.ts'
import { devKey } from '../../../genesis/devAccounts.ts'
import { createRuntime } from '../../../runtime/index.ts'
import { vesting } from '../../../runtime/modules/balances/state.ts'
import { ModuleIndex } from '../../../runtime/modules/indices.ts'
import { accounts } from '../../../runtime/modules/system/state.ts'
import { StateOverlay, type StateReader } from '../../../runtime/state/overlay.ts'
import { signTransaction } from '../../../runtime/transaction.ts'
import { transferTx } from '../../runtime/chainFixtures.ts'

/** A MemoryStore that counts the reads that reach it. */
class CountingStore extends MemoryStore {
  gets = 0
  getManyCalls = 0
  override async get(bucket: Bucket, key: Uint8Array): Promise<Uint8Array | undefined> {
    this.gets++
    return super.get(bucket, key)
  }
  override async getMany(bucket: Bucket, keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    this.getManyCalls++
    return super.getMany(bucket, keys)
  }
}

const key = (i: number): Uint8Array => Uint8Array.of(9, 9, i)

async function stateWith(store: CountingStore, count: number): Promise<StateDb> {
  const db = await StateDb.open(store)
  const prepared = await db.prepare(Array.from({ length: count }, (_, i) => ({ key: key(i), value: Uint8Array.of(i) })), 0)
  const batch = new WriteBatch()
  db.commit(prepared, batch)
  await store.write(batch)
  db.applied(prepared)
  return StateDb.open(store) // a fresh instance: nothing cached
}

t.test('StateDb.prefetch loads the misses in one batch; later reads reach no store', async (t) => {
  const store = new CountingStore()
  const db = await stateWith(store, 10)
  store.gets = 0
  await db.prefetch([key(1), key(2), key(2), key(42)])
  t.equal(store.getManyCalls, 1)
  t.same(await db.get(key(1)), Uint8Array.of(1))
  t.same(await db.get(key(2)), Uint8Array.of(2))
  t.equal(await db.get(key(42)), undefined, 'an absent key is remembered as absent')
  t.equal(store.gets, 0)
  const before = store.getManyCalls
  await db.prefetch([key(1), key(42)])
  t.equal(store.getManyCalls, before, 'cached keys are not read again')
  t.same(await db.get(key(3)), Uint8Array.of(3))
  t.equal(store.gets, 1, 'a key that was not prefetched is read as before')
})

t.test('a prefetch that a block overtakes leaves no stale value in the cache, and reads the rest again', async (t) => {
  const store = new CountingStore()
  const db = await stateWith(store, 4)
  // hold the prefetch's first read until the block below has been applied
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => (release = resolve))
  let held = false
  const getMany = store.getMany.bind(store)
  store.getMany = async (bucket, keys) => {
    const values = await getMany(bucket, keys)
    if (bucket === Bucket.stateValue && !held) {
      held = true // the tree's own reads (prepare) and the prefetch's second read pass
      await gate
    }
    return values
  }
  const prefetching = db.prefetch([key(1), key(2), key(3)])
  // a block changes key 1 while the prefetch is reading
  const prepared = await db.prepare([{ key: key(1), value: Uint8Array.of(77) }])
  const batch = new WriteBatch()
  db.commit(prepared, batch)
  await store.write(batch)
  db.applied(prepared)
  const readsBefore = store.getManyCalls
  release()
  await prefetching
  t.equal(store.getManyCalls, readsBefore + 1, 'the keys the block did not change were read again, in one batch')
  store.gets = 0
  t.same(await db.get(key(1)), Uint8Array.of(77), "the block's value, not the overtaken read's")
  t.same(await db.get(key(2)), Uint8Array.of(2))
  t.same(await db.get(key(3)), Uint8Array.of(3))
  t.equal(store.gets, 0, 'all three served from the cache')
})

t.test('StateOverlay.prefetch forwards only keys it has neither written nor read', async (t) => {
  const asked: string[] = []
  const base: StateReader = {
    get: async () => undefined,
    prefetch: async (keys) => void asked.push(...keys.map((k) => Buffer.from(k).toString('hex'))),
  }
  const overlay = new StateOverlay(base)
  overlay.set(key(1), Uint8Array.of(1))
  await overlay.get(key(2))
  await overlay.prefetch([key(1), key(2), key(3)])
  t.same(asked, [Buffer.from(key(3)).toString('hex')])
  await new StateOverlay({ get: async () => undefined }).prefetch([key(1)]) // a base without prefetch: nothing to do
})

t.test('the runtime hints a transfer: sender nonce, balance and vesting, recipient balance', async (t) => {
  const runtime = createRuntime()
  const alice = devKey('alice')
  const bob = devKey('bob')
  const hex = (keys: Uint8Array[]) => keys.map((k) => Buffer.from(k).toString('hex')).sort()
  const tx = transferTx(alice.privateKey, { to: bob.address, amount: 5n, nonce: 0 })
  t.same(hex(runtime.accessHints(tx, alice.address)), hex([accounts.key(alice.address), vesting.key(alice.address), accounts.key(bob.address)]))
  const undecodable = signTransaction({ chainId: tx.chainId, nonce: 0, gasLimit: 10_000, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 0n, call: { module: ModuleIndex.balances, call: 0, args: ['not an address'] } }, alice.privateKey)
  t.same(hex(runtime.accessHints(undecodable, alice.address)), hex([accounts.key(alice.address)]), 'arguments that do not decode: the sender\'s record only')
})
