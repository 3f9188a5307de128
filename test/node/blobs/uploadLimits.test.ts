// Issue 21, defect 4: one client cannot take every upload slot, a trickle of chunks cannot keep an
// upload alive past its deadline, and finished blobs nobody references have a quota.
import t, { type Test } from 'tap'
import { CHUNK_BYTES } from '../../../node/blobs/contentId.ts'
import { createBlobStore, testBytes } from './fixtures.ts'

const rejectsWith = (t: Test, promise: Promise<unknown>, code: string) => t.rejects(promise, { name: 'BlobError', code }, code)

t.test('upload slots per client', async (t) => {
  const { store } = await createBlobStore(t, { maxUploads: 10, maxUploadsPerClient: 3 })
  for (let i = 0; i < 3; i++) await store.beginUpload(100, '10.0.0.1')
  await rejectsWith(t, store.beginUpload(100, '10.0.0.1'), 'TOO_MANY_UPLOADS')
  // another client still gets one
  t.ok((await store.beginUpload(100, '10.0.0.2')).uploadId)
})

t.test('a trickle of chunks does not keep an upload alive', async (t) => {
  // 10 s of grace plus one second per 256 KiB chunk received (a rate of one chunk per second)
  const { store, clock } = await createBlobStore(t, { uploadIdleMs: 10_000, minUploadBytesPerSecond: CHUNK_BYTES, maxUploadsPerClient: 1 })
  const bytes = testBytes(40 * CHUNK_BYTES)
  const { uploadId } = await store.beginUpload(bytes.length, 'slow')
  // one chunk every 9 s: before the fix each reset a 10 s idle timer and the upload lived forever
  let refused = -1
  for (let i = 0; i < 40; i++) {
    clock.now += 9_000
    try {
      await store.uploadChunk(uploadId, i, bytes.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES))
    } catch (error) {
      t.equal((error as { code?: string }).code, 'UNKNOWN_UPLOAD')
      refused = i
      break
    }
  }
  t.ok(refused > 0 && refused < 3, `the trickled upload expired after ${refused} chunks`)
  // and its slot is free again
  t.ok((await store.beginUpload(100, 'slow')).uploadId, 'the slot is free')
  // a silent upload is dropped at the next begin, without any chunk of its own
  const { store: quiet, clock: quietClock } = await createBlobStore(t, { uploadIdleMs: 10_000, maxUploadsPerClient: 1 })
  await quiet.beginUpload(100, 'silent')
  await rejectsWith(t, quiet.beginUpload(100, 'silent'), 'TOO_MANY_UPLOADS')
  quietClock.now += 10_001
  t.ok((await quiet.beginUpload(100, 'silent')).uploadId, 'expired silent upload swept')
})

t.test('unreferenced blobs have a quota; referencing or collecting frees it', async (t) => {
  const size = 2 * CHUNK_BYTES
  const { store, clock } = await createBlobStore(t, { maxUnreferencedBytes: 3 * size, gcGraceMs: 1_000 })
  const cids = []
  for (let i = 0; i < 3; i++) cids.push(await store.put(testBytes(size, i + 1)))
  await rejectsWith(t, store.beginUpload(size, 'x'), 'BLOB_QUOTA_EXCEEDED')
  // a contribution referencing one frees its share
  t.ok(await store.pin(cids[0] as Uint8Array, 'contribution-1'))
  const { uploadId } = await store.beginUpload(size, 'x')
  // open uploads count as well
  await rejectsWith(t, store.beginUpload(size, 'y'), 'BLOB_QUOTA_EXCEEDED')
  await store.abortUpload(uploadId)
  // garbage collection of the unreferenced ones frees theirs
  clock.now += 2_000
  t.equal(await store.collectGarbage(), 2)
  for (let i = 0; i < 2; i++) await store.put(testBytes(size, 10 + i))
  // unpinning counts again
  await store.unpin(cids[0] as Uint8Array, 'contribution-1')
  await rejectsWith(t, store.beginUpload(size, 'x'), 'BLOB_QUOTA_EXCEEDED')
})
