// Blob upload and download over JSON-RPC, for the CLI, scripts, tests and benches: chunks of
// CHUNK_BYTES as base64 (see node/api/datanetsApi.ts), each downloaded chunk verified against
// the content id before it is kept. Up to CONCURRENCY chunk calls are in flight at once.
import { fromHex, toHex } from '../../runtime/crypto/hash.ts'
import { OpenLedgerError } from '../../runtime/errors.ts'
import type { RpcClient } from '../rpc/client.ts'
import { CHUNK_BYTES, chunkCount, contentId, verifyChunk } from './contentId.ts'

/** chunk calls kept in flight at once */
const CONCURRENCY = 4

/** Runs `work(i)` for i in [0, count) with at most CONCURRENCY calls in flight. */
async function inParallel(count: number, work: (index: number) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < count) await work(next++)
  }
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, count) }, worker))
}

export type BlobClientErrorCode = 'CHUNK_INVALID'
export class BlobClientError extends OpenLedgerError<BlobClientErrorCode> {}

/** Uploads `bytes`; the node checks the content id (and, with `format`, the rows) before keeping them. */
export async function uploadBlob(client: RpcClient, bytes: Uint8Array, check: { format?: number; rows?: number } = {}): Promise<{ cid: string; size: number }> {
  const cid = toHex(contentId(bytes))
  const { uploadId } = await client.call('openledger_beginBlobUpload', [bytes.length])
  try {
    await inParallel(chunkCount(bytes.length), async (index) => {
      const chunk = bytes.subarray(index * CHUNK_BYTES, (index + 1) * CHUNK_BYTES)
      await client.call('openledger_uploadBlobChunk', [uploadId, index, Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('base64')])
    })
    return await client.call('openledger_finishBlobUpload', [uploadId, cid, check.format ?? null, check.rows ?? null])
  } catch (error) {
    await client.call('openledger_abortBlobUpload', [uploadId]).catch(() => undefined)
    throw error
  }
}

/** Downloads a blob chunk by chunk, verifying each against `cid`. */
export async function downloadBlob(client: RpcClient, cid: string): Promise<Uint8Array> {
  const id = fromHex(cid)
  if (id === undefined || id.length !== 32) throw new BlobClientError('CHUNK_INVALID', 'a content id is 32 bytes of 0x-hex')
  const fetchChunk = async (index: number) => {
    const { size, data, siblings } = await client.call('openledger_getBlobChunk', [cid, index])
    const chunk = new Uint8Array(Buffer.from(data, 'base64'))
    if (!verifyChunk(id, size, index, chunk, siblings.map((s) => fromHex(s) ?? new Uint8Array(0)))) throw new BlobClientError('CHUNK_INVALID', `chunk ${index} does not match content id ${cid}`)
    return { size, chunk }
  }
  // the first chunk tells the size (bound by the content id); the rest come in parallel
  const first = await fetchChunk(0)
  const out = new Uint8Array(first.size)
  out.set(first.chunk, 0)
  await inParallel(chunkCount(first.size) - 1, async (i) => {
    const { size, chunk } = await fetchChunk(i + 1)
    if (size !== first.size) throw new BlobClientError('CHUNK_INVALID', 'the size changed between chunks')
    out.set(chunk, (i + 1) * CHUNK_BYTES)
  })
  return out
}
