// Fail-stop on a real full filesystem: a LevelStore, the consensus WAL and the sign guard on a
// small tmpfs that is filled on command. Each failed write names its cause and free space, nothing
// is written after it, and reopening finds everything that was acknowledged before it.
import t from 'tap'
import { Bucket } from '../../../node/db/buckets.ts'
import { LevelStore, type DatabaseError } from '../../../node/db/levelStore.ts'
import { WriteBatch } from '../../../node/db/store.ts'
import { ConsensusWal, type WalError } from '../../../consensus/driver/wal.ts'
import { SignGuard, SignStep } from '../../../consensus/driver/signGuard.ts'
import { canMount, mountTmpfs } from './tmpfs.ts'
import { join } from 'node:path'

const key = (i: number): Uint8Array => new TextEncoder().encode(`key-${i.toString().padStart(6, '0')}`)
const value = (i: number): Uint8Array => new Uint8Array(2048).fill(i & 0xff)

t.test('LevelStore: the first failed write poisons the store, names ENOSPC, and a reopen keeps every acknowledged write', { skip: canMount ? false : 'needs root to mount a tmpfs' }, async (t) => {
  const fs = mountTmpfs(t.teardown, 16 * 1024 * 1024)
  const path = join(fs.path, 'db')
  const failures: DatabaseError[] = []
  const store = await LevelStore.open(path, { onWriteFailure: (error) => failures.push(error) })
  let acknowledged = 0
  for (; acknowledged < 200; acknowledged++) await store.write(new WriteBatch().put(Bucket.meta, key(acknowledged), value(acknowledged)), { sync: true })
  fs.fill()
  // LevelDB buffers: keep writing until the disk refuses one
  let failed: DatabaseError | undefined
  for (let i = acknowledged; failed === undefined && i < acknowledged + 10_000; i++) {
    try {
      await store.write(new WriteBatch().put(Bucket.meta, key(i), value(i)), { sync: true })
      acknowledged = i + 1
    } catch (error) {
      failed = error as DatabaseError
    }
  }
  t.ok(failed, 'a write failed on the full disk')
  t.equal(failed?.code, 'DB_WRITE_FAILED')
  t.equal(failed?.details?.['cause'], 'ENOSPC', 'the cause is named')
  t.match(failed?.message, /ENOSPC; .* free\)/, 'the message says the cause and the free space')
  t.match(failed?.message, path, 'and the path')
  t.equal(failures.length, 1, 'reported once')

  fs.free()
  // concurrent writes after the failure: every one refused, none lands behind the torn record
  const later = await Promise.allSettled([0, 1, 2].map((j) => store.write(new WriteBatch().put(Bucket.meta, key(900_000 + j), value(j)), { sync: true })))
  t.same(later.map((r) => r.status), ['rejected', 'rejected', 'rejected'], 'writes after a failed one are refused even with space again')
  t.match((later[0] as PromiseRejectedResult).reason.message, /refuses writes after a failed one/)
  t.equal(failures.length, 1, 'still reported once')
  await store.close()

  const reopened = await LevelStore.open(path)
  const values = await reopened.getMany(Bucket.meta, Array.from({ length: acknowledged }, (_, i) => key(i)))
  t.equal(values.filter((v, i) => v !== undefined && v[0] === (i & 0xff) && v.length === 2048).length, acknowledged, `all ${acknowledged} acknowledged writes are there after reopening`)
  t.equal(await reopened.get(Bucket.meta, key(900_000)), undefined, 'nothing written after the failure')
  await reopened.write(new WriteBatch().put(Bucket.meta, key(999_999), value(1)), { sync: true })
  await reopened.close()
})

t.test('LevelStore: opening on a full disk says why (DB_OPEN_FAILED with ENOSPC and the free space)', { skip: canMount ? false : 'needs root to mount a tmpfs' }, async (t) => {
  const fs = mountTmpfs(t.teardown, 8 * 1024 * 1024)
  const path = join(fs.path, 'db')
  const store = await LevelStore.open(path)
  for (let i = 0; i < 300; i++) await store.write(new WriteBatch().put(Bucket.meta, key(i), value(i)))
  await store.close()
  fs.fill()
  const error = await LevelStore.open(path).then(
    async (opened) => {
      await opened.close()
      return undefined
    },
    (e: unknown) => e as DatabaseError,
  )
  t.equal(error?.code, 'DB_OPEN_FAILED')
  t.equal(error?.details?.['cause'], 'ENOSPC')
  t.match(error?.message, /No space left on device \(ENOSPC; 0 B free\)/)
  fs.free()
  const again = await LevelStore.open(path)
  t.equal((await again.get(Bucket.meta, key(299)))?.length, 2048, 'opens once space is back, with its data')
  await again.close()
})

t.test('consensus WAL and sign guard: a failed write is WAL_WRITE_FAILED with its cause; what was synced before survives', { skip: canMount ? false : 'needs root to mount a tmpfs' }, async (t) => {
  const fs = mountTmpfs(t.teardown, 4 * 1024 * 1024)
  const dir = join(fs.path, 'wal')
  const wal = new ConsensusWal(dir)
  wal.openHeight(7)
  wal.append(Uint8Array.of(1, 2, 3), { sync: true })
  wal.append(Uint8Array.of(4), { sync: true })
  const guard = new SignGuard(join(fs.path, 'sign-state.json'))
  guard.authorize({ height: 7, round: 0, step: SignStep.prevote, digest: 'aa' })
  fs.fill()
  const walError = t.throws(() => wal.append(new Uint8Array(256 * 1024), { sync: true })) as WalError
  t.equal(walError.code, 'WAL_WRITE_FAILED')
  t.equal(walError.details?.['cause'], 'ENOSPC')
  t.equal(walError.details?.['path'], join(dir, '7.wal'))
  t.throws(() => wal.append(Uint8Array.of(5), { sync: true }), { code: 'WAL_CLOSED' }, 'the log takes nothing after a failed write')
  const guardError = t.throws(() => guard.authorize({ height: 7, round: 0, step: SignStep.precommit, digest: 'bb' })) as WalError
  t.equal(guardError.code, 'WAL_WRITE_FAILED', 'the sign guard cannot record: no signature')
  t.equal(guardError.details?.['cause'], 'ENOSPC')
  t.same(guard.last, { height: 7, round: 0, step: SignStep.prevote, digest: 'aa' }, 'the guard still holds the last recorded position')
  fs.free()
  const reopened = new ConsensusWal(dir)
  t.same(reopened.openHeight(7).map((r) => [...r]), [[1, 2, 3], [4]], 'the synced records are there, the torn one cut')
  reopened.close()
  t.same(new SignGuard(join(fs.path, 'sign-state.json')).last, { height: 7, round: 0, step: SignStep.prevote, digest: 'aa' }, 'the guard reloads its last durable position')
})
