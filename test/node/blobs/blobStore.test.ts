import t, { type Test } from 'tap'
import { CHUNK_BYTES, contentId } from '../../../node/blobs/contentId.ts'
import { createBlobStore, testBytes } from './fixtures.ts'
import { readdirSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'
import { toHex } from '../../../runtime/crypto/hash.ts'

const rejectsWith = (t: Test, promise: Promise<unknown>, code: string) => t.rejects(promise, { name: 'BlobError', code }, code)

t.test('streaming upload and chunked download round-trip', async (t) => {
  const { store } = await createBlobStore(t)
  const bytes = testBytes(3 * CHUNK_BYTES + 123)
  const { uploadId, chunks } = await store.beginUpload(bytes.length)
  t.equal(chunks, 4)
  // chunks in flight together, in any order
  await Promise.all([3, 1, 0, 2].map((i) => store.uploadChunk(uploadId, i, bytes.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES))))
  const { cid, size } = await store.finishUpload(uploadId, contentId(bytes))
  t.same(cid, contentId(bytes))
  t.equal(size, bytes.length)
  t.same(await store.read(cid), bytes)
  const last = await store.readChunk(cid, 3)
  t.equal(last.chunk.length, 123)
  t.equal(last.size, bytes.length)
  t.equal(await store.diskBytes(), bytes.length)
  // storing the same bytes again is a no-op
  t.same(await store.put(bytes), cid)
  t.equal(await store.diskBytes(), bytes.length)
})

t.test('bad uploads are refused and leave nothing behind', async (t) => {
  const { store } = await createBlobStore(t, { maxBlobBytes: 2 * CHUNK_BYTES })
  await rejectsWith(t, store.beginUpload(2 * CHUNK_BYTES + 1), 'BLOB_TOO_LARGE')
  await rejectsWith(t, store.beginUpload(0), 'EMPTY_BLOB')
  const bytes = testBytes(CHUNK_BYTES + 10)
  const { uploadId } = await store.beginUpload(bytes.length)
  await rejectsWith(t, store.uploadChunk(uploadId, 0, bytes.subarray(0, 100)), 'BAD_CHUNK_LENGTH')
  await rejectsWith(t, store.uploadChunk(uploadId, 2, bytes.subarray(0, 100)), 'CHUNK_OUT_OF_RANGE')
  await store.uploadChunk(uploadId, 1, bytes.subarray(CHUNK_BYTES))
  await rejectsWith(t, store.uploadChunk(uploadId, 1, bytes.subarray(CHUNK_BYTES)), 'DUPLICATE_CHUNK')
  await rejectsWith(t, store.finishUpload(uploadId), 'UPLOAD_INCOMPLETE')
  await store.uploadChunk(uploadId, 0, bytes.subarray(0, CHUNK_BYTES))
  const wrong = contentId(testBytes(5))
  await rejectsWith(t, store.finishUpload(uploadId, wrong), 'CID_MISMATCH')
  t.equal(await store.has(contentId(bytes)), false, 'a mismatching upload is not kept')
  t.equal(await store.diskBytes(), 0)
  await rejectsWith(t, store.uploadChunk(uploadId, 2, new Uint8Array(1)), 'UNKNOWN_UPLOAD')
  await rejectsWith(t, store.readChunk(wrong, 0), 'UNKNOWN_BLOB')
})

t.test('reference counting and garbage collection', async (t) => {
  const { store, clock } = await createBlobStore(t, { gcGraceMs: 1_000 })
  const kept = await store.put(testBytes(100, 1))
  const dropped = await store.put(testBytes(100, 2))
  t.equal(await store.pin(kept, 'datanet/1/0'), true)
  t.equal(await store.pin(kept, 'datanet/1/0'), true)
  t.equal((await store.info(kept))?.refs, 1, 'pinning twice for one owner counts once')
  t.equal(await store.pin(kept, 'datanet/2/5'), true)
  t.equal((await store.info(kept))?.refs, 2)
  await store.unpin(kept, 'datanet/2/5')
  await store.unpin(kept, 'datanet/2/5')
  t.equal((await store.info(kept))?.refs, 1, 'unpinning twice for one owner counts once')
  t.equal(await store.pin(contentId(testBytes(3)), 'x'), false, 'pinning an unknown blob')
  clock.now += 500
  t.equal(await store.collectGarbage(), 0, 'within the grace period')
  clock.now += 600
  t.equal(await store.collectGarbage(), 1)
  t.equal(await store.has(dropped), false)
  t.equal(await store.has(kept), true, 'referenced blobs stay')
  await store.unpin(kept, 'datanet/1/0')
  clock.now += 999
  t.equal(await store.collectGarbage(), 0)
  clock.now += 2
  t.equal(await store.collectGarbage(), 1)
  t.equal(await store.diskBytes(), 0)
})

/** How many of this process's file descriptors are open on `path` (Linux's /proc/self/fd). */
function openDescriptors(path: string): number {
  let count = 0
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === path) count++
    } catch {
      // closed between the listing and the look
    }
  }
  return count
}

t.test('pin and unpin close the cached read handle they drop (no FileHandle left to the garbage collector)', { skip: process.platform === 'linux' ? false : 'reads /proc/self/fd' }, async (t) => {
  const { store } = await createBlobStore(t)
  const bytes = testBytes(2 * CHUNK_BYTES)
  const cid = await store.put(bytes)
  const hex = toHex(cid).slice(2)
  const path = join(store.dir, hex.slice(0, 2), hex)
  const settled = async (expected: number, what: string): Promise<void> => {
    for (let i = 0; i < 200 && openDescriptors(path) !== expected; i++) await new Promise((resolve) => setTimeout(resolve, 10))
    t.equal(openDescriptors(path), expected, what)
  }
  await store.readChunk(cid, 0)
  await settled(1, 'serving a chunk keeps the blob open')
  t.equal(await store.pin(cid, 'contribution-1'), true)
  await settled(0, 'pin closed the handle it dropped from the read cache')
  await store.readChunk(cid, 1)
  await settled(1, 'reopened for the next read')
  await store.unpin(cid, 'contribution-1')
  await settled(0, 'unpin closed it too')
})
