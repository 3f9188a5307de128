import t from 'tap'
import fc from 'fast-check'
import { CHUNK_BYTES, chunkCount, chunkLeaf, chunkProof, contentId, verifyChunk } from '../../../node/blobs/contentId.ts'
import { testBytes } from './fixtures.ts'

function leavesOf(bytes: Uint8Array): Uint8Array[] {
  const leaves: Uint8Array[] = []
  for (let offset = 0; offset < bytes.length; offset += CHUNK_BYTES) leaves.push(chunkLeaf(bytes.subarray(offset, offset + CHUNK_BYTES)))
  return leaves
}

t.test('every chunk verifies on its own; a changed chunk, index or size does not', async () => {
  // sizes around chunk boundaries, with 1..7 chunks (odd counts exercise promotion)
  fc.assert(fc.property(fc.integer({ min: 1, max: 7 }), fc.integer({ min: -2, max: 2 }), fc.integer({ min: 1, max: 1000 }), (chunks, delta, seed) => {
    const size = Math.max(1, (chunks - 1) * CHUNK_BYTES + Math.max(1, Math.min(CHUNK_BYTES, CHUNK_BYTES / 2 + delta * 1000)))
    const bytes = testBytes(size, seed)
    const cid = contentId(bytes)
    const leaves = leavesOf(bytes)
    const count = chunkCount(size)
    for (let i = 0; i < count; i++) {
      const chunk = bytes.slice(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES)
      const siblings = chunkProof(leaves, i)
      if (!verifyChunk(cid, size, i, chunk, siblings)) return false
      const tampered = chunk.slice()
      tampered[0] = (tampered[0] ?? 0) ^ 1
      if (verifyChunk(cid, size, i, tampered, siblings)) return false
      if (count > 1 && verifyChunk(cid, size, (i + 1) % count, chunk, siblings)) return false
      if (verifyChunk(cid, size + 1, i, chunk, siblings)) return false
    }
    return true
  }), { numRuns: 25, seed: 42 })
})

t.test('the content id binds the size and every byte', async (t) => {
  const a = testBytes(1000)
  const b = a.slice()
  b[999] = (b[999] ?? 0) ^ 0x80
  t.notSame(contentId(a), contentId(b))
  t.notSame(contentId(a.subarray(0, 999)), contentId(a))
  t.same(contentId(a), contentId(a.slice()), 'deterministic')
})
