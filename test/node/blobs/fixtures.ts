// Blob stores over a temporary folder and an in-memory index, with a controllable clock.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryStore } from '../../../node/db/memoryStore.ts'
import { silentLogger } from '../../../lib/logger.ts'
import { BlobStore, type BlobStoreOptions } from '../../../node/blobs/blobStore.ts'

export interface Teardown {
  teardown(fn: () => unknown): void
}

export async function createBlobStore(t: Teardown, options: Partial<BlobStoreOptions> = {}): Promise<{ store: BlobStore; clock: { now: number } }> {
  const dir = await mkdtemp(join(tmpdir(), 'openledger-blobs-'))
  const clock = { now: 1_000_000 }
  const store = new BlobStore({ dir, gcIntervalMs: 0, ...options }, { store: new MemoryStore(), logger: silentLogger, now: () => clock.now })
  await store.start()
  t.teardown(async () => {
    await store.stop()
    await rm(dir, { recursive: true, force: true })
  })
  return { store, clock }
}

/** Deterministic pseudo-random bytes (xorshift), so failures reproduce. */
export function testBytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length)
  let x = seed | 0 || 1
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}
