import t, { type Test } from 'tap'
import fc from 'fast-check'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Bucket } from '../../../node/db/buckets.ts'
import { LevelStore } from '../../../node/db/levelStore.ts'
import { MemoryStore } from '../../../node/db/memoryStore.ts'
import { WriteBatch, type KeyValueStore } from '../../../node/db/store.ts'
import { StateDb, type PreparedState, type StateChange } from '../../../node/state/stateDb.ts'
import * as k from '../../../runtime/codec/schema.ts'
import { decode, encode } from '../../../runtime/codec/canonical.ts'
import { StateError } from '../../../runtime/state/errors.ts'
import { decodeRootRef, latin1, type RootRef } from '../../../runtime/state/merkleTree.ts'
import { verifyStateProof } from '../../../runtime/state/proof.ts'
import { EMPTY_HASH } from '../../../runtime/state/treeHash.ts'
import { MemoryTree, hex, reachable, referenceRoot } from '../../runtime/state/treeHelpers.ts'

interface StoreKind {
  name: string
  /** a fresh store; `reopen` closes it and opens the same data again */
  create(): Promise<{ store: KeyValueStore; reopen(): Promise<KeyValueStore>; dispose(): Promise<void> }>
}

const memory: StoreKind = {
  name: 'MemoryStore',
  async create() {
    const store = new MemoryStore()
    return { store, reopen: async () => store, dispose: async () => {} }
  },
}

const level: StoreKind = {
  name: 'LevelStore',
  async create() {
    const dir = await mkdtemp(join(tmpdir(), 'openledger-state-'))
    let store = await LevelStore.open(dir)
    return {
      store,
      async reopen() {
        await store.close()
        store = await LevelStore.open(dir)
        return store
      },
      async dispose() {
        await store.close()
        await rm(dir, { recursive: true, force: true })
      },
    }
  },
}

const bytes = (...values: number[]): Uint8Array => Uint8Array.of(...values)
const text = (value: string): Uint8Array => new TextEncoder().encode(value)

async function commitBlock(db: StateDb, store: KeyValueStore, changes: readonly StateChange[], version?: number): Promise<PreparedState> {
  const prepared = await db.prepare(changes, version)
  const batch = new WriteBatch()
  db.commit(prepared, batch)
  await store.write(batch)
  db.applied(prepared)
  return prepared
}

async function dump(store: KeyValueStore, bucket: Bucket): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>()
  for await (const [key, value] of store.entries(bucket)) out.set(latin1(key), value.slice())
  return out
}

async function dumpAll(store: KeyValueStore): Promise<string> {
  const parts: string[] = []
  for (const bucket of [Bucket.stateValue, Bucket.stateNode, Bucket.stateStale, Bucket.stateRoot]) {
    for (const [key, value] of await dump(store, bucket)) parts.push(`${bucket}:${hex(Buffer.from(key, 'latin1'))}=${hex(value)}`)
  }
  return parts.join('\n')
}

/** Node ids in the store must be exactly those the kept versions reference. */
type Asserts = Pick<Test, 'equal' | 'ok'>

async function checkNodesAreExactlyKeptVersions(t: Asserts, db: StateDb, store: KeyValueStore): Promise<void> {
  const tree = new MemoryTree()
  for (const [id, value] of await dump(store, Bucket.stateNode)) tree.records.set(id, value)
  const roots = new Map<number, RootRef>()
  for (const [key, value] of await dump(store, Bucket.stateRoot)) roots.set(Number(Buffer.from(key, 'latin1').readBigUInt64BE()), decodeRootRef(value))
  const expected = new Set<string>()
  for (let version = db.oldestVersion; version <= db.version; version++) {
    const root = roots.get(version)
    if (root === undefined) continue
    for (const id of reachable(tree, root)) expected.add(id)
  }
  t.equal(tree.records.size, expected.size, `stored nodes = nodes of versions ${db.oldestVersion}..${db.version}`)
  for (const version of roots.keys()) t.ok(version >= db.oldestVersion, `root of version ${version} is kept`)
}

for (const kind of [memory, level]) {
  t.test(kind.name, async (t) => {
    t.test('commit, reopen: same version, root and values', async (t) => {
      const { store, reopen, dispose } = await kind.create()
      t.teardown(dispose)
      let db = await StateDb.open(store)
      t.equal(db.version, -1)
      t.equal(hex(db.root), hex(EMPTY_HASH))
      const model = new Map<string, Uint8Array>()
      const changes: StateChange[] = Array.from({ length: 200 }, (_, i) => ({ key: text(`acct/${i}`), value: text(`balance ${i}`) }))
      await commitBlock(db, store, changes)
      for (const { key, value } of changes) model.set(hex(key), value as Uint8Array)
      await commitBlock(db, store, [{ key: text('acct/3'), value: undefined }, { key: text('meta'), value: bytes(1) }])
      model.delete(hex(text('acct/3')))
      model.set(hex(text('meta')), bytes(1))
      t.equal(db.version, 1)
      t.equal(hex(db.root), hex(referenceRoot(model)))
      const root = db.root
      db = await StateDb.open(await reopen())
      t.equal(db.version, 1)
      t.equal(hex(db.root), hex(root))
      t.same(await db.get(text('acct/7')), text('balance 7'))
      t.equal(await db.get(text('acct/3')), undefined)
      t.same(await db.getAt(text('acct/3'), 0), text('balance 3'))
      t.equal(await db.getAt(text('acct/3'), 1), undefined)
      const listed = []
      for await (const [key, value] of db.entries(text('acct/1'))) listed.push([new TextDecoder().decode(key), new TextDecoder().decode(value)])
      t.same(listed.map(([key]) => key), ['acct/1', 'acct/10', ...Array.from({ length: 10 }, (_, i) => `acct/10${i}`), 'acct/11', ...Array.from({ length: 10 }, (_, i) => `acct/11${i}`), 'acct/12', ...Array.from({ length: 10 }, (_, i) => `acct/12${i}`), 'acct/13', ...Array.from({ length: 10 }, (_, i) => `acct/13${i}`), 'acct/14', ...Array.from({ length: 10 }, (_, i) => `acct/14${i}`), 'acct/15', ...Array.from({ length: 10 }, (_, i) => `acct/15${i}`), 'acct/16', ...Array.from({ length: 10 }, (_, i) => `acct/16${i}`), 'acct/17', ...Array.from({ length: 10 }, (_, i) => `acct/17${i}`), 'acct/18', ...Array.from({ length: 10 }, (_, i) => `acct/18${i}`), 'acct/19', ...Array.from({ length: 10 }, (_, i) => `acct/19${i}`)])
      let all = 0
      for await (const _ of db.entries(new Uint8Array(0))) all++
      t.equal(all, model.size)
      let high = 0
      for await (const _ of db.entries(bytes(0xff, 0xff))) high++
      t.equal(high, 0)
      const proof = await db.prove(text('acct/7'))
      t.ok(verifyStateProof(db.root, text('acct/7'), text('balance 7'), proof))
      const absent = await db.prove(text('acct/3'))
      t.ok(verifyStateProof(db.root, text('acct/3'), undefined, absent))
      const old = await db.prove(text('acct/3'), 0)
      t.ok(verifyStateProof((await db.rootAt(0)) as Uint8Array, text('acct/3'), text('balance 3'), old))
    })

    t.test('a prepared state whose batch is never written leaves nothing behind', async (t) => {
      const { store, reopen, dispose } = await kind.create()
      t.teardown(dispose)
      let db = await StateDb.open(store)
      await commitBlock(db, store, Array.from({ length: 100 }, (_, i) => ({ key: bytes(i), value: bytes(i, i) })))
      const before = await dumpAll(store)
      const root = db.root
      const prepared = await db.prepare([{ key: bytes(1), value: bytes(9) }, { key: bytes(2), value: undefined }, { key: bytes(200), value: bytes(1) }])
      db.commit(prepared, new WriteBatch()) // built, then the process dies before writing it
      t.not(hex(prepared.root), hex(root))
      t.equal(db.version, 0)
      t.equal(hex(db.root), hex(root))
      t.same(await db.get(bytes(1)), bytes(1, 1))
      t.equal(await dumpAll(store), before)
      db = await StateDb.open(await reopen())
      t.equal(db.version, 0)
      t.equal(hex(db.root), hex(root))
      const again = await db.prepare([{ key: bytes(1), value: bytes(9) }, { key: bytes(2), value: undefined }, { key: bytes(200), value: bytes(1) }])
      t.equal(hex(again.root), hex(prepared.root), 'preparing again gives the same root')
    })

    t.test('candidates prepared on one parent: one commits, the others are stale', async (t) => {
      const { store, dispose } = await kind.create()
      t.teardown(dispose)
      const db = await StateDb.open(store, { pruneWindow: 2 })
      await commitBlock(db, store, [{ key: bytes(1), value: bytes(1) }])
      const a = await db.prepare([{ key: bytes(1), value: bytes(2) }])
      const b = await db.prepare([{ key: bytes(1), value: bytes(3) }, { key: bytes(4), value: bytes(4) }])
      t.not(hex(a.root), hex(b.root))
      const batch = new WriteBatch()
      db.commit(b, batch)
      await store.write(batch)
      db.applied(b)
      t.equal(hex(db.root), hex(b.root))
      t.throws(() => db.commit(a, new WriteBatch()), { code: 'STATE_PREPARED_STALE' })
      t.throws(() => db.applied(b), { code: 'STATE_PREPARED_STALE' }, 'applied twice')
      t.same(await db.get(bytes(1)), bytes(3))
      const other = await StateDb.open(new MemoryStore())
      const foreign = await db.prepare([])
      t.throws(() => other.commit(foreign, new WriteBatch()), StateError)
      await t.rejects(db.prepare([], 1), { code: 'STATE_VERSION_INVALID' })
      await t.rejects(db.prepare([], 2.5), { code: 'STATE_VERSION_INVALID' })
      await t.rejects(db.prepare([{ key: new Uint8Array(257), value: bytes(1) }]), { code: 'STATE_KEY_TOO_LARGE' })
      await t.rejects(db.getAt(bytes(1), 5), { code: 'STATE_VERSION_UNKNOWN' })
      const empty = await db.prepare([], 7)
      t.equal(hex(empty.root), hex(db.root), 'a block without changes keeps the root')
    })

    t.test('pruning keeps exactly the nodes of the window; every kept version reads and proves', async (t) => {
      const { store, dispose } = await kind.create()
      t.teardown(dispose)
      const window = 3
      const db = await StateDb.open(store, { pruneWindow: window })
      const models: Map<string, Uint8Array>[] = []
      const model = new Map<string, Uint8Array>()
      const keys = Array.from({ length: 150 }, (_, i) => text(`k${i}`))
      for (let version = 0; version < 12; version++) {
        const changes: StateChange[] = keys
          .filter((_, i) => (i * 7 + version * 13) % 5 === 0)
          .map((key, i) => ({ key, value: (i + version) % 6 === 0 ? undefined : text(`v${version}.${i}`) }))
        const prepared = await commitBlock(db, store, changes)
        for (const { key, value } of changes) {
          if (value === undefined) model.delete(hex(key))
          else model.set(hex(key), value)
        }
        models[version] = new Map(model)
        t.equal(hex(prepared.root), hex(referenceRoot(model)))
      }
      await checkNodesAreExactlyKeptVersions(t, db, store)
      t.equal(db.oldestVersion, 12 - window)
      for (let version = db.oldestVersion; version <= db.version; version++) {
        const root = (await db.rootAt(version)) as Uint8Array
        t.equal(hex(root), hex(referenceRoot(models[version] as Map<string, Uint8Array>)))
        for (const key of keys.slice(0, 40)) {
          const want = models[version]?.get(hex(key))
          t.same(await db.getAt(key, version), want)
          t.ok(verifyStateProof(root, key, want, await db.prove(key, version)))
        }
      }
      for (const version of [0, 5, db.oldestVersion - 1]) {
        await t.rejects(db.getAt(keys[0] as Uint8Array, version), { code: 'STATE_VERSION_PRUNED' })
        await t.rejects(db.prove(keys[0] as Uint8Array, version), { code: 'STATE_VERSION_PRUNED' })
        t.equal(await db.rootAt(version), undefined)
      }
      const staleVersions = [...(await dump(store, Bucket.stateStale)).keys()].map((key) => Number(Buffer.from(key, 'latin1').readBigUInt64BE()))
      t.ok(staleVersions.every((version) => version > db.oldestVersion), `stale lists kept: ${staleVersions.join(',')}`)
    })

    t.test('window 1 keeps only the latest tree; reopening with a smaller window catches up', async (t) => {
      const created = await kind.create()
      const { reopen } = created
      let store = created.store
      t.teardown(created.dispose)
      let db = await StateDb.open(store, { pruneWindow: 40 })
      for (let version = 0; version < 30; version++) {
        // odd versions change nothing, so they have no stale list
        const changes = version % 2 === 1 ? [] : Array.from({ length: 20 }, (_, i) => ({ key: bytes(i, version % 3), value: bytes(version) }))
        await commitBlock(db, store, changes)
      }
      const before = (await dump(store, Bucket.stateNode)).size
      store = await reopen()
      db = await StateDb.open(store, { pruneWindow: 1 })
      await commitBlock(db, store, [{ key: bytes(1), value: bytes(1) }])
      // at most 16 versions are pruned per block, so the old roots go over two blocks
      t.ok((await dump(store, Bucket.stateRoot)).size > 1)
      await t.rejects(db.getAt(bytes(1), 3), { code: 'STATE_VERSION_PRUNED' })
      t.ok(await StateDb.open(store, { pruneWindow: 100 }).then((wide) => wide.rootAt(20)), 'version 20 is still on disk...')
      await t.rejects(db.getAt(bytes(1), 20), { code: 'STATE_VERSION_PRUNED' }, '...but outside the window')
      // roots go before nodes: a root still stored (as a larger window would see it) reads in full
      const wider = await StateDb.open(store, { pruneWindow: 100 })
      t.same(await wider.getAt(bytes(1, 20 % 3), 20), bytes(20))
      t.ok(verifyStateProof((await wider.rootAt(20)) as Uint8Array, bytes(5, 20 % 3), bytes(20), await wider.prove(bytes(5, 20 % 3), 20)))
      await commitBlock(db, store, [{ key: bytes(2), value: bytes(2) }])
      await commitBlock(db, store, [])
      t.equal((await dump(store, Bucket.stateRoot)).size, 1)
      t.equal((await dump(store, Bucket.stateStale)).size, 0)
      await checkNodesAreExactlyKeptVersions(t, db, store)
      t.ok((await dump(store, Bucket.stateNode)).size < before)
      store = await reopen()
      db = await StateDb.open(store, { pruneWindow: 100 })
      await t.rejects(db.getAt(bytes(1), 10), { code: 'STATE_VERSION_PRUNED' }, 'a larger window does not bring pruned versions back')
      t.same(await db.getAt(bytes(2), db.version), bytes(2))
    })

    t.test('flat reads follow applied versions', async (t) => {
      const { store, dispose } = await kind.create()
      t.teardown(dispose)
      const db = await StateDb.open(store)
      t.equal(await db.get(bytes(1)), undefined) // caches the absence
      await commitBlock(db, store, [{ key: bytes(1), value: bytes(5) }, { key: bytes(2), value: bytes(0) }])
      t.same(await db.get(bytes(1)), bytes(5))
      t.same(await db.get(bytes(2)), bytes(0))
      // a read that starts before applied() and ends after it must not cache the old value
      const prepared = await db.prepare([{ key: bytes(2), value: bytes(6) }])
      const batch = new WriteBatch()
      db.commit(prepared, batch)
      let release = (): void => {}
      const gate = new Promise<void>((resolve) => (release = resolve))
      const slow: KeyValueStore = {
        async get(bucket, key) {
          const value = await store.get(bucket, key)
          await gate
          return value
        },
        getMany: (bucket, keys) => store.getMany(bucket, keys),
        write: (batch, options) => store.write(batch, options),
        entries: (bucket, range) => store.entries(bucket, range),
        close: async () => {},
      }
      const racingDb = await StateDb.open(slow)
      const racing = racingDb.get(bytes(3))
      await store.write(batch.put(Bucket.stateValue, bytes(3), bytes(7)))
      const applyTo = await racingDb.prepare([{ key: bytes(3), value: bytes(7) }])
      racingDb.applied(applyTo)
      release()
      t.equal(await racing, undefined, 'the racing read saw the old state')
      t.same(await racingDb.get(bytes(3)), bytes(7), 'but did not cache it')
      db.applied(prepared)
      t.same(await db.get(bytes(2)), bytes(6))
      await t.rejects(db.get(new Uint8Array(300)), { code: 'STATE_KEY_TOO_LARGE' })
    })
  })
}

t.test('random blocks against the model, with pruning (MemoryStore)', async (t) => {
  const change = fc.record({ key: fc.integer({ min: 0, max: 80 }).map((n) => bytes(n)), value: fc.option(fc.uint8Array({ maxLength: 6 }), { nil: undefined, freq: 3 }) })
  await fc.assert(
    fc.asyncProperty(fc.array(fc.array(change, { maxLength: 25 }), { minLength: 1, maxLength: 10 }), fc.integer({ min: 1, max: 4 }), async (blocks, window) => {
      const store = new MemoryStore()
      const db = await StateDb.open(store, { pruneWindow: window })
      const models: Map<string, Uint8Array>[] = []
      const model = new Map<string, Uint8Array>()
      for (const changes of blocks) {
        await commitBlock(db, store, changes)
        for (const { key, value } of changes) {
          if (value === undefined) model.delete(hex(key))
          else model.set(hex(key), value)
        }
        models.push(new Map(model))
      }
      if (hex(db.root) !== hex(referenceRoot(model))) return false
      for (let version = db.oldestVersion; version <= db.version; version++) {
        for (let k = 0; k <= 80; k += 7) {
          const want = models[version]?.get(hex(bytes(k)))
          const got = await db.getAt(bytes(k), version)
          if ((got === undefined ? '-' : hex(got)) !== (want === undefined ? '-' : hex(want))) return false
        }
      }
      const sub = t.test('nodes', async (tt) => checkNodesAreExactlyKeptVersions(tt, db, store))
      await sub
      return true
    }),
    { seed: 21, numRuns: 40 },
  )
})

t.test('getTyped answers what get answers, decoded, whether the value is cached or read from the store', async (t) => {
  const kind = k.struct({ nonce: k.uint, free: k.amount })
  const store = new MemoryStore()
  const writer = await StateDb.open(store)
  const key = new Uint8Array([9, 1, 2, 3])
  const absent = new Uint8Array([9, 1, 2, 4])
  const commitValue = async (db: StateDb, value: { nonce: number; free: bigint }) => {
    const prepared = await db.prepare([{ key, value: encode(kind.encode(value)) }])
    const batch = new WriteBatch()
    db.commit(prepared, batch)
    await store.write(batch)
    db.applied(prepared)
  }
  await commitValue(writer, { nonce: 1, free: 5n })

  const db = await StateDb.open(store) // a cold value cache: the first reads go to the store
  t.same(await db.getTyped(key, kind), { nonce: 1, free: 5n }, 'read from the store')
  const cached = await db.getTyped(key, kind)
  t.same(cached, { nonce: 1, free: 5n }, 'read from the cache')
  cached!.free = 999n
  t.same(await db.getTyped(key, kind), { nonce: 1, free: 5n }, "a caller's copy: changing it changes nothing stored")
  t.equal(await db.getTyped(absent, kind), undefined, 'absent, from the store')
  t.equal(await db.getTyped(absent, kind), undefined, 'absent, from the cache')
  await commitValue(db, { nonce: 2, free: 3n })
  t.same(await db.getTyped(key, kind), { nonce: 2, free: 3n }, 'the value of the latest block')
  t.same(kind.decode(decode((await db.get(key))!), 'storage'), await db.getTyped(key, kind), 'the same as get, decoded')
  const refused = db.getTyped(new Uint8Array(300), kind)
  t.type(refused, Promise, 'a bad key is a rejected promise, not a throw')
  await t.rejects(refused, { code: 'STATE_KEY_TOO_LARGE' })
})
