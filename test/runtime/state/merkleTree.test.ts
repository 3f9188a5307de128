import t from 'tap'
import fc from 'fast-check'
import { StateError } from '../../../runtime/state/errors.ts'
import { latin1, normalizeChanges, readValue, updateTree, type StateChange } from '../../../runtime/state/merkleTree.ts'
import { EMPTY_HASH, MAX_STATE_KEY_BYTES, MAX_STATE_VALUE_BYTES } from '../../../runtime/state/treeHash.ts'
import { MemoryTree, hex, reachable, referenceRoot, sameBytes } from './treeHelpers.ts'

// Small key alphabet so that keys repeat (overwrites, deletes of present keys), plus a wide one
// so that trees get deep enough to span several pages.
const narrowKey = fc.integer({ min: 0, max: 60 }).map((n) => Uint8Array.of(n))
const wideKey = fc.uint8Array({ minLength: 0, maxLength: 40 })
const key = fc.oneof(narrowKey, wideKey)
const value = fc.uint8Array({ minLength: 0, maxLength: 12 })
const change: fc.Arbitrary<StateChange> = fc.record({ key, value: fc.option(value, { nil: undefined, freq: 3 }) })
const blocks = fc.array(fc.array(change, { maxLength: 40 }), { minLength: 1, maxLength: 12 })

function applyToModel(model: Map<string, Uint8Array>, changes: readonly StateChange[]): void {
  for (const { key, value } of changes) {
    if (value === undefined) model.delete(hex(key))
    else model.set(hex(key), value)
  }
}

t.test('incremental root equals the root computed from scratch, block after block', async (t) => {
  await fc.assert(
    fc.asyncProperty(blocks, async (blocks) => {
      const tree = new MemoryTree()
      const model = new Map<string, Uint8Array>()
      for (const changes of blocks) {
        await tree.apply(changes)
        applyToModel(model, changes)
        if (!sameBytes(tree.rootHash, referenceRoot(model))) return false
      }
      return true
    }),
    { seed: 1, numRuns: 150 },
  )
  t.pass()
})

t.test('stale marks are exact: the latest version references every written node not marked stale', async (t) => {
  await fc.assert(
    fc.asyncProperty(blocks, async (blocks) => {
      const tree = new MemoryTree()
      for (const changes of blocks) await tree.apply(changes)
      const live = reachable(tree, tree.root)
      const expected = [...tree.records.keys()].filter((id) => !tree.stale.has(id))
      if (live.size !== expected.length) return false
      for (const id of expected) if (!live.has(id)) return false
      // and nothing is marked stale twice or while still live
      for (const id of tree.stale) if (live.has(id) || !tree.records.has(id)) return false
      return true
    }),
    { seed: 2, numRuns: 150 },
  )
  t.pass()
})

t.test('root is independent of insertion order and of how changes are split into blocks', async (t) => {
  const entries = fc.uniqueArray(fc.tuple(wideKey, value), { minLength: 1, maxLength: 250, selector: ([k]) => hex(k) })
  await fc.assert(
    fc.asyncProperty(entries, fc.integer({ min: 1, max: 60 }), fc.integer(), async (entries, chunk, shuffleSeed) => {
      const one = new MemoryTree()
      await one.apply(entries.map(([key, value]) => ({ key, value })))
      const shuffled = [...entries].sort((a, b) => ((hex(a[0]).length * 31 + shuffleSeed) % 7) - ((hex(b[0]).length * 31 + shuffleSeed) % 7)).reverse()
      const many = new MemoryTree()
      for (let i = 0; i < shuffled.length; i += chunk) await many.apply(shuffled.slice(i, i + chunk).map(([key, value]) => ({ key, value })))
      return sameBytes(one.rootHash, many.rootHash)
    }),
    { seed: 3, numRuns: 60 },
  )
  t.pass()
})

t.test('deleting everything gives back the empty root and leaves nothing reachable', async (t) => {
  const tree = new MemoryTree()
  const keys = Array.from({ length: 300 }, (_, i) => Uint8Array.of(i >> 8, i & 0xff, 7))
  await tree.apply(keys.map((key) => ({ key, value: Uint8Array.of(1, 2, 3) })))
  t.not(hex(tree.rootHash), hex(EMPTY_HASH))
  // delete in two blocks, in a different order
  await tree.apply(keys.filter((_, i) => i % 2 === 0).map((key) => ({ key, value: undefined })))
  await tree.apply(keys.filter((_, i) => i % 2 === 1).reverse().map((key) => ({ key, value: undefined })))
  t.equal(hex(tree.rootHash), hex(EMPTY_HASH))
  t.equal(tree.root.kind, 'empty')
  t.equal(reachable(tree, tree.root).size, 0)
  t.equal(tree.stale.size, tree.records.size, 'every record written is stale')
})

t.test('setting a key back to its old value gives back the old root; no-op changes write nothing', async (t) => {
  const tree = new MemoryTree()
  const keys = Array.from({ length: 100 }, (_, i) => Uint8Array.of(i))
  await tree.apply(keys.map((key) => ({ key, value: Uint8Array.of(9) })))
  const before = tree.rootHash
  await tree.apply([{ key: keys[5] as Uint8Array, value: Uint8Array.of(10) }, { key: Uint8Array.of(200), value: Uint8Array.of(1) }])
  t.not(hex(tree.rootHash), hex(before))
  await tree.apply([{ key: keys[5] as Uint8Array, value: Uint8Array.of(9) }, { key: Uint8Array.of(200), value: undefined }])
  t.equal(hex(tree.rootHash), hex(before))
  const noop = await tree.apply([{ key: keys[7] as Uint8Array, value: Uint8Array.of(9) }, { key: Uint8Array.of(201), value: undefined }])
  t.equal(noop.pages.length + noop.leaves.length + noop.stale.length, 0, 'same value and deleting an absent key change nothing')
  t.equal(hex(tree.rootHash), hex(before))
})

t.test('several changes to one key in a block: the last wins', async (t) => {
  const tree = new MemoryTree()
  const k = Uint8Array.of(1)
  await tree.apply([{ key: k, value: Uint8Array.of(1) }, { key: k, value: undefined }, { key: k, value: Uint8Array.of(3) }])
  t.equal(hex(tree.rootHash), hex(referenceRoot(new Map([[hex(k), Uint8Array.of(3)]]))))
  await tree.apply([{ key: k, value: Uint8Array.of(4) }, { key: k, value: undefined }])
  t.equal(hex(tree.rootHash), hex(EMPTY_HASH))
})

t.test('reads through the tree return each version\'s values', async (t) => {
  await fc.assert(
    fc.asyncProperty(blocks, fc.array(key, { maxLength: 10 }), async (blocks, extra) => {
      const tree = new MemoryTree()
      const models: Map<string, Uint8Array>[] = []
      const model = new Map<string, Uint8Array>()
      const seen = new Map<string, Uint8Array>()
      for (const changes of blocks) {
        await tree.apply(changes)
        applyToModel(model, changes)
        models.push(new Map(model))
        for (const { key } of changes) seen.set(hex(key), key)
      }
      for (const k of extra) seen.set(hex(k), k)
      for (const [version, state] of models.entries()) {
        for (const [id, k] of seen) {
          const got = await readValue(tree, tree.roots[version] as never, k)
          const want = state.get(id)
          if ((got === undefined) !== (want === undefined)) return false
          if (got !== undefined && want !== undefined && !sameBytes(got, want)) return false
        }
      }
      return true
    }),
    { seed: 4, numRuns: 60 },
  )
  t.pass()
})

t.test('an update reads only the pages on the changed paths, one batch per level', async (t) => {
  const tree = new MemoryTree()
  const keys = Array.from({ length: 4000 }, (_, i) => Uint8Array.of(i >> 8, i & 0xff))
  await tree.apply(keys.map((key) => ({ key, value: Uint8Array.of(1) })))
  tree.reads = 0
  await tree.apply([{ key: keys[10] as Uint8Array, value: Uint8Array.of(2) }])
  // 4000 keys: leaves around depth 12-14, so 3-4 pages on the path
  t.ok(tree.reads >= 2 && tree.reads <= 5, `read ${tree.reads} pages`)
})

t.test('keys and values over the limits are typed errors', async (t) => {
  t.throws(() => normalizeChanges([{ key: new Uint8Array(MAX_STATE_KEY_BYTES + 1), value: Uint8Array.of(1) }]), { code: 'STATE_KEY_TOO_LARGE' })
  t.throws(() => normalizeChanges([{ key: Uint8Array.of(1), value: new Uint8Array(MAX_STATE_VALUE_BYTES + 1) }]), { code: 'STATE_VALUE_TOO_LARGE' })
  t.doesNotThrow(() => normalizeChanges([{ key: new Uint8Array(MAX_STATE_KEY_BYTES), value: new Uint8Array(MAX_STATE_VALUE_BYTES) }]))
})

t.test('a missing or malformed page is STATE_CORRUPT', async (t) => {
  const tree = new MemoryTree()
  await tree.apply(Array.from({ length: 50 }, (_, i) => ({ key: Uint8Array.of(i), value: Uint8Array.of(i) })))
  const [firstId] = tree.records.keys()
  const broken = new MemoryTree()
  for (const [id, bytes] of tree.records) broken.records.set(id, bytes)
  const rootPage = [...tree.records.entries()].find(([id]) => id.length === 9 && id.charCodeAt(8) === 0)
  t.ok(rootPage !== undefined && firstId !== undefined)
  broken.records.set(rootPage![0], rootPage![1].subarray(0, 40))
  await t.rejects(updateTree(broken, tree.root, normalizeChanges([{ key: Uint8Array.of(1), value: Uint8Array.of(2) }]), 1), StateError)
  await t.rejects(readValue(broken, tree.root, Uint8Array.of(1)), { code: 'STATE_CORRUPT' })
  broken.records.delete(rootPage![0])
  await t.rejects(readValue(broken, tree.root, Uint8Array.of(1)), { code: 'STATE_CORRUPT' })
  t.equal(latin1(Uint8Array.of(0xff, 0x41)), '\u00ffA')
})
