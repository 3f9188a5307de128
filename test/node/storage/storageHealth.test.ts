import t from 'tap'
import { silentLogger } from '../../../lib/logger.ts'
import { StorageHealth, type StorageError } from '../../../node/storage/storageHealth.ts'

const MIB = 1024 * 1024

function health(free: { bytes: number | undefined }, fatal: StorageError[], gauge: number[] = []): StorageHealth {
  return new StorageHealth(
    { home: '/home/node', warnFreeBytes: 100 * MIB, minFreeBytes: 10 * MIB, checkIntervalMs: 60_000 },
    { logger: silentLogger, onFatal: (error) => fatal.push(error), freeBytes: () => free.bytes, freeBytesGauge: { set: (v) => gauge.push(v) } },
  )
}

t.test('free space: ok, low under the warning threshold, a clean stop under the minimum', async (t) => {
  const free = { bytes: 500 * MIB as number | undefined }
  const fatal: StorageError[] = []
  const gauge: number[] = []
  const h = health(free, fatal, gauge)
  h.start()
  t.teardown(() => h.stop())
  t.equal(h.status, 'ok')
  free.bytes = 50 * MIB
  h.check()
  t.equal(h.status, 'low', 'under the warning threshold')
  free.bytes = 200 * MIB
  h.check()
  t.equal(h.status, 'ok', 'recovered')
  free.bytes = 5 * MIB
  h.check()
  h.check()
  t.equal(h.status, 'failed')
  t.equal(fatal.length, 1, 'one stop, however often it is seen')
  t.equal(fatal[0]?.code, 'DISK_SPACE_LOW')
  t.match(fatal[0]?.message, /only 5\.0 MiB free for \/home\/node, under the minimum of 10\.0 MiB \(--min-free-disk\)/)
  t.same(gauge, [500 * MIB, 50 * MIB, 200 * MIB, 5 * MIB, 5 * MIB], 'the gauge follows every check')
})

t.test('a home already under the minimum does not start', async (t) => {
  const fatal: StorageError[] = []
  const h = health({ bytes: MIB }, fatal)
  t.throws(() => h.start(), { code: 'DISK_SPACE_LOW' })
  t.equal(fatal.length, 1)
})

t.test('a failed write stops the node once, naming path, cause and free space', async (t) => {
  const fatal: StorageError[] = []
  const h = health({ bytes: 0 }, fatal)
  const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })
  const error = h.writeFailed('/home/node/blobs/tmp/x', enospc)
  h.writeFailed('/home/node/db', new Error('IO error: /home/node/db/000003.log: Input/output error'))
  t.equal(fatal.length, 1, 'the first fault stops; later ones are the same stop')
  t.equal(error.code, 'STORAGE_WRITE_FAILED')
  t.same(error.details, { path: '/home/node/blobs/tmp/x', cause: 'ENOSPC', freeBytes: 0 })
  t.equal(error.message, 'writing /home/node/blobs/tmp/x failed: ENOSPC: no space left on device, write (ENOSPC; 0 B free)')
  t.equal(h.status, 'failed')
  t.equal(h.fatal, error)
  const other = health({ bytes: 0 }, [])
  t.equal(other.writeFailed('/db', new Error('IO error: /db/000003.log: Input/output error')).details?.['cause'], 'EIO', "LevelDB's spelled-out errno is read back")
})
