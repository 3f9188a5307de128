// The KeyValueStore contract, run against both implementations: LevelStore (the node's LevelDB)
// and MemoryStore (tests and benchmarks).
import t, { type Test } from 'tap'
import fc from 'fast-check'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Bucket } from '../../../node/db/buckets.ts'
import { LevelStore } from '../../../node/db/levelStore.ts'
import { MemoryStore } from '../../../node/db/memoryStore.ts'
import { WriteBatch, type KeyValueStore } from '../../../node/db/store.ts'

const kinds: Array<{ name: string; open(t: Test): Promise<KeyValueStore> }> = [
  { name: 'MemoryStore', open: async () => new MemoryStore() },
  {
    name: 'LevelStore',
    async open(t) {
      const dir = await mkdtemp(join(tmpdir(), 'openledger-store-'))
      const store = await LevelStore.open(dir)
      t.teardown(async () => {
        await store.close()
        await rm(dir, { recursive: true, force: true })
      })
      return store
    },
  },
]

/** a copy of `bytes` that does not start at offset 0 of its buffer (a subarray, as callers pass) */
const offset = (bytes: Uint8Array): Uint8Array => {
  const holder = new Uint8Array(bytes.length + 3).fill(0xaa)
  holder.set(bytes, 3)
  return holder.subarray(3)
}
const hex = (bytes: Uint8Array | undefined): string | undefined => (bytes === undefined ? undefined : Buffer.from(bytes).toString('hex'))

async function collect(store: KeyValueStore, bucket: Bucket, range: Parameters<KeyValueStore['entries']>[1] = {}): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = []
  for await (const [key, value] of store.entries(bucket, range)) out.push([hex(key)!, hex(value)!])
  return out
}

for (const kind of kinds) {
  t.test(`${kind.name}: puts, deletes and reads by bucket`, async (t) => {
    const store = await kind.open(t)
    const key = offset(Uint8Array.of(1, 2, 3))
    const value = offset(Uint8Array.of(9, 8, 7, 6))
    await store.write(new WriteBatch().put(Bucket.stateValue, key, value).put(Bucket.stateNode, key, Uint8Array.of(5)).put(Bucket.stateValue, Uint8Array.of(), Uint8Array.of()))
    value.fill(0) // the caller's memory may change after the write
    t.equal(hex(await store.get(Bucket.stateValue, Uint8Array.of(1, 2, 3))), '09080706')
    t.equal(hex(await store.get(Bucket.stateNode, key)), '05', 'same key, another bucket')
    t.equal(hex(await store.get(Bucket.stateValue, Uint8Array.of())), '', 'empty key, empty value')
    t.equal(await store.get(Bucket.stateRoot, key), undefined)
    const read = await store.get(Bucket.stateValue, key)
    t.ok(read instanceof Uint8Array)
    t.same((await store.getMany(Bucket.stateValue, [key, Uint8Array.of(4), Uint8Array.of()])).map(hex), ['09080706', undefined, ''])
    await store.write(new WriteBatch().del(Bucket.stateValue, key).put(Bucket.stateRoot, key, Uint8Array.of(1)))
    t.equal(await store.get(Bucket.stateValue, key), undefined, 'deleted')
    t.equal(hex(await store.get(Bucket.stateNode, key)), '05', 'the other bucket kept it')
    t.same(await store.getMany(Bucket.stateValue, []), [])
  })

  t.test(`${kind.name}: entries in byte order, within the bucket, by range, reversed and limited`, async (t) => {
    const store = await kind.open(t)
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.uint8Array({ maxLength: 4 }), { selector: (key) => hex(key), maxLength: 20 }), fc.uint8Array({ maxLength: 2 }), fc.uint8Array({ maxLength: 2 }), fc.boolean(), fc.integer({ min: -1, max: 6 }), async (keys, gte, lt, reverse, limit) => {
        const bucket = Bucket.statePreimage
        const batch = new WriteBatch()
        for (const key of keys) batch.put(bucket, offset(key), Uint8Array.of(key.length))
        // neighbours on both sides that no listing of the bucket may show
        batch.put(Bucket.stateRoot, Uint8Array.of(0xff, 0xff), Uint8Array.of(1)).put(Bucket.blobIndex, Uint8Array.of(), Uint8Array.of(2))
        await store.write(batch)
        const expected = keys
          .map((key) => [hex(key)!, hex(Uint8Array.of(key.length))!] as [string, string])
          .filter(([key]) => key >= hex(gte)! && key < hex(lt)!)
          .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
        if (reverse) expected.reverse()
        const listed = await collect(store, bucket, { gte, lt, reverse, limit })
        const wanted = limit < 0 ? expected : expected.slice(0, limit)
        const cleanup = new WriteBatch()
        for (const key of keys) cleanup.del(bucket, key)
        await store.write(cleanup)
        return JSON.stringify(listed) === JSON.stringify(wanted)
      }),
      { numRuns: 60 },
    )
    await store.write(new WriteBatch().put(Bucket.statePreimage, Uint8Array.of(1), Uint8Array.of(1)).put(Bucket.statePreimage, Uint8Array.of(0xff), Uint8Array.of(2)))
    t.same(await collect(store, Bucket.statePreimage), [['01', '01'], ['ff', '02']], 'the whole bucket, nothing of its neighbours')
  })
}
