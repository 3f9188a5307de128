// Damage told from absence: the LevelDB file checks (log records, table blocks) against real
// LevelDB folders, and the chain index check at open against a store with holes and bad bytes.
import t from 'tap'
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Bucket, heightKey } from '../../../node/db/buckets.ts'
import { LevelStore } from '../../../node/db/levelStore.ts'
import { checkLogFile, checkStoreFiles, crc32c, liveFiles, snappyDecompress } from '../../../node/db/storeCheck.ts'
import { WriteBatch } from '../../../node/db/store.ts'
import { MemoryStore } from '../../../node/db/memoryStore.ts'
import { Chain } from '../../../node/chain/chain.ts'
import { createRuntime } from '../../../runtime/index.ts'
import { silentLogger } from '../../../lib/logger.ts'
import { devChainSpec } from '../../../genesis/devSpec.ts'
import { devKey } from '../../../genesis/devAccounts.ts'
import type { DatabaseError } from '../../../node/db/errors.ts'

const text = (s: string): Uint8Array => new TextEncoder().encode(s)

/** A real LevelDB folder with a table (compacted) and a log (the writes after it). */
async function levelFolder(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'openledger-storecheck-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const store = await LevelStore.open(dir)
  for (let i = 0; i < 2000; i++) await store.write(new WriteBatch().put(Bucket.meta, text(`a${i}`), text(`value ${i} `.repeat(40))))
  await store.close() // reopening turns the log into a table
  const again = await LevelStore.open(dir)
  for (let i = 0; i < 300; i++) await again.write(new WriteBatch().put(Bucket.meta, text(`b${i}`), text(`later ${i} `.repeat(40))), { sync: true })
  await again.close()
  return dir
}

async function damageOf(promise: Promise<unknown>): Promise<DatabaseError | undefined> {
  return promise.then(
    () => undefined,
    (error: unknown) => error as DatabaseError,
  )
}

t.test('crc32c and snappy match their published vectors', async (t) => {
  t.equal(crc32c(text('123456789')), 0xe3069283)
  t.equal(crc32c(new Uint8Array(32)), 0x8a9136aa)
  // hand-made streams: [length][literal 'abc'][a copy of 5 (copy1) or 3 (copy2) bytes from 3 back]
  t.same([...snappyDecompress(Uint8Array.of(8, 0x08, 0x61, 0x62, 0x63, 0x05, 0x03))], [...text('abcabcab')], 'literal + copy1')
  t.same([...snappyDecompress(Uint8Array.of(6, 0x08, 0x61, 0x62, 0x63, 0x0a, 0x03, 0x00))], [...text('abcabc')], 'literal + copy2')
  t.throws(() => snappyDecompress(Uint8Array.of(6, 0x08, 0x61, 0x62, 0x63, 0x0a, 0x09, 0x00)), RangeError, 'a copy from before the start is refused')
})

t.test('an intact store passes; a torn log tail (a write that never returned) is not damage', async (t) => {
  const dir = await levelFolder(t)
  const names = await readdir(dir)
  t.ok(names.some((n) => n.endsWith('.ldb')) && names.some((n) => n.endsWith('.log')), 'has a table and a log')
  const checked = await checkStoreFiles(dir)
  t.ok(checked.files >= 3 && checked.bytes > 50_000, `checked ${checked.files} files, ${checked.bytes} bytes`)
  const log = join(dir, names.find((n) => n.endsWith('.log')) as string)
  const size = (await readFile(log)).length
  await truncate(log, size - 100)
  t.same(await checkStoreFiles(dir), { files: checked.files, bytes: checked.bytes - 100 }, 'a torn tail passes')
  const store = await LevelStore.open(dir)
  t.equal((await store.get(Bucket.meta, text('b0')))?.length, 'later 0 '.length * 40, 'and LevelDB opens it')
  await store.close()
  t.equal(await checkStoreFiles(join(dir, 'absent')).then((r) => r.files), 0, 'no folder: nothing to check (a new node)')
})

t.test('files LevelDB will not read are not checked: a half-written table a kill -9 left, an old manifest', async (t) => {
  const dir = await levelFolder(t)
  const names = await readdir(dir)
  const manifest = (await readFile(join(dir, 'CURRENT'), 'utf8')).trim()
  const live = liveFiles(await readFile(join(dir, manifest)))
  const tables = names.filter((n) => n.endsWith('.ldb')).map((n) => Number.parseInt(n, 10)).sort((a, b) => a - b)
  t.same([...(live?.tables ?? [])].sort((a, b) => a - b), tables, `the manifest lists the folder's tables (${tables.join(', ')})`)
  const checked = await checkStoreFiles(dir)

  // a compaction killed mid-write: the first half of a real table under the next file number
  const table = await readFile(join(dir, names.find((n) => n.endsWith('.ldb')) as string))
  const orphan = `${String(Math.max(...tables, ...names.map((n) => Number.parseInt(n, 10)).filter(Number.isSafeInteger)) + 1).padStart(6, '0')}.ldb`
  await writeFile(join(dir, orphan), table.subarray(0, Math.floor(table.length / 2)))
  await writeFile(join(dir, 'MANIFEST-000000'), Buffer.alloc(64, 0x41))
  t.same(await checkStoreFiles(dir), checked, `${orphan} (torn, named by no manifest) and a stale MANIFEST-000000 are passed over`)
  const store = await LevelStore.open(dir)
  t.equal((await store.get(Bucket.meta, text('a7')))?.length, 'value 7 '.length * 40, 'and LevelDB opens the store')
  await store.close()
  t.notOk((await readdir(dir)).includes(orphan), 'deleting the torn table itself')

  // the same bytes as a table the manifest does list are damage
  const listed = names.find((n) => n.endsWith('.ldb')) as string
  await writeFile(join(dir, listed), table.subarray(0, Math.floor(table.length / 2)))
  t.equal((await damageOf(checkStoreFiles(dir)))?.code, 'DB_CORRUPT', `a torn ${listed}, which the manifest lists, is refused`)
  await writeFile(join(dir, listed), table)

  // a manifest it cannot read: every file is checked, as before it knew which are live
  await writeFile(join(dir, orphan), table.subarray(0, Math.floor(table.length / 2)))
  const current = await readFile(join(dir, 'CURRENT'))
  await writeFile(join(dir, 'CURRENT'), 'MANIFEST-999999\n')
  t.match((await damageOf(checkStoreFiles(dir)))?.message, new RegExp(orphan), 'no manifest to go by: the torn table is refused')
  await writeFile(join(dir, 'CURRENT'), current)
})

t.test('eight bytes overwritten in the middle of the log or of a table: DB_CORRUPT naming the file and offset', async (t) => {
  const dir = await levelFolder(t)
  const names = await readdir(dir)
  // (a MANIFEST holds one record here: damage in it is its tail, and LevelDB's own open refuses it)
  for (const name of [names.find((n) => n.endsWith('.log')), names.find((n) => n.endsWith('.ldb'))] as string[]) {
    const path = join(dir, name)
    const original = await readFile(path)
    const damaged = Buffer.from(original)
    const at = Math.floor(damaged.length / 2)
    damaged.fill(0x41, at, at + 8)
    await writeFile(path, damaged)
    const error = await damageOf(checkStoreFiles(dir))
    t.equal(error?.code, 'DB_CORRUPT', `${name}: refused`)
    t.match(error?.message, new RegExp(`${name} has a (log record|block) whose checksum fails at byte \\d+`), `${name}: names the file and what is wrong`)
    t.match(error?.message, /resync from peers/, 'and the way out')
    t.equal(error?.details?.['path'], path)
    await writeFile(path, original)
  }
  t.resolves(checkStoreFiles(dir), 'restored: passes again')
})

t.test('a bad log record with bytes after it is damage; a short or bad last record is a torn tail', async (t) => {
  // two records in one block: [crc][len][type=1][payload]
  const record = (payload: Uint8Array): Uint8Array => {
    const out = new Uint8Array(7 + payload.length)
    const view = new DataView(out.buffer)
    out[6] = 1
    out.set(payload, 7)
    const crc = crc32c(out, 6, out.length)
    const masked = (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0
    view.setUint32(0, masked, true)
    view.setUint16(4, payload.length, true)
    return out
  }
  const a = record(text('first record'))
  const b = record(text('second record'))
  const log = new Uint8Array(a.length + b.length)
  log.set(a)
  log.set(b, a.length)
  t.equal(checkLogFile(log), undefined, 'both good')
  const flip = (bytes: Uint8Array, at: number): Uint8Array => {
    const out = bytes.slice()
    out[at] = (out[at] as number) ^ 1
    return out
  }
  const tailBad = flip(log, a.length + 9)
  t.equal(checkLogFile(tailBad), undefined, 'the last record bad: a torn tail')
  t.same(checkLogFile(flip(log, 9)), { offset: 0, reason: 'has a log record whose checksum fails' }, 'a bad record with another after it: damage')
  const longLength = log.slice()
  new DataView(longLength.buffer).setUint16(4, 40_000, true)
  t.same(checkLogFile(longLength), { offset: 0, reason: 'has a log record longer than its block' }, 'a damaged length: damage, not a torn tail')
  t.equal(checkLogFile(log.subarray(0, a.length + 10)), undefined, 'a short last record: a torn tail')
  t.equal(checkLogFile(log.subarray(0, a.length + 3)), undefined, 'a short last header: a torn tail')
})

t.test('chain open verifies the index from genesis to the head and the head state: holes and bad bytes are DB_CORRUPT', async (t) => {
  const runtime = createRuntime()
  const spec = devChainSpec()
  const open = async (store: MemoryStore): Promise<Chain> => {
    const chain = new Chain({ store, runtime, logger: silentLogger })
    await chain.open(spec)
    return chain
  }
  const fresh = async (): Promise<MemoryStore> => {
    const store = new MemoryStore()
    const chain = await open(store)
    for (let i = 0; i < 5; i++) {
      const block = await chain.buildBlock({ timestamp: chain.head.header.timestamp + 1000, author: devKey('author').address }, (function* () {})())
      await chain.commit(block, { finalized: true })
    }
    return store
  }
  const intact = await fresh()
  t.equal((await open(intact)).head.header.height, 5, 'an intact store opens at its head')

  const hole = await fresh()
  await hole.write(new WriteBatch().del(Bucket.canonicalHash, heightKey(3)))
  t.match(await damageOf(open(hole)), { code: 'DB_CORRUPT', message: /the chain index has no block at height 3/ }, 'a missing index entry')

  const badHeader = await fresh()
  const hash = (await badHeader.get(Bucket.canonicalHash, heightKey(2))) as Uint8Array
  const header = ((await badHeader.get(Bucket.blockHeader, hash)) as Uint8Array).slice()
  header[header.length - 3] = (header[header.length - 3] as number) ^ 0xff
  await badHeader.write(new WriteBatch().put(Bucket.blockHeader, hash, header))
  t.match(await damageOf(open(badHeader)), { code: 'DB_CORRUPT', message: /the header of block 2 does not hash to/ }, 'a damaged header is damage, not absence')

  const lostHeader = await fresh()
  await lostHeader.write(new WriteBatch().del(Bucket.blockHeader, (await lostHeader.get(Bucket.canonicalHash, heightKey(4))) as Uint8Array))
  t.match(await damageOf(open(lostHeader)), { code: 'DB_CORRUPT', message: /the header of block 4 .* is missing/ })

  const lostRoot = await fresh()
  const rootPages: Uint8Array[] = []
  for await (const [key] of lostRoot.entries(Bucket.stateNode)) rootPages.push(key.slice())
  const batch = new WriteBatch()
  for (const key of rootPages) batch.del(Bucket.stateNode, key)
  await lostRoot.write(batch)
  t.match(await damageOf(open(lostRoot)), { code: 'DB_CORRUPT', message: /the state tree of the head block 5 cannot be read/ }, 'the head state root must resolve')

  const noHead = await fresh()
  await noHead.write(new WriteBatch().del(Bucket.meta, text('head')))
  t.match(await damageOf(open(noHead)), { code: 'DB_CORRUPT', message: /head record is missing/ }, 'blocks without a head record are not a new chain')
})
