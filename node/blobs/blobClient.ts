// Blob upload and download over JSON-RPC, for the CLI, scripts, tests and benches: chunks of
// CHUNK_BYTES as base64 (see node/api/datanetsApi.ts), each downloaded chunk verified against
// the content id before it is kept.
import { fromHex, toHex } from '../../runtime/crypto/hash.ts'
import { OpenLedgerError } from '../../runtime/errors.ts'
import type { RpcClient } from '../rpc/client.ts'
import { CHUNK_BYTES, chunkCount, contentId, verifyChunk } from './contentId.ts'

export type BlobClientErrorCode = 'CHUNK_INVALID'
export class BlobClientError extends OpenLedgerError<BlobClientErrorCode> {}

/** Uploads `bytes`; the node checks the content id (and, with `format`, the rows) before keeping them. */
export async function uploadBlob(client: RpcClient, bytes: Uint8Array, check: { format?: number; rows?: number } = {}): Promise<{ cid: string; size: number }> {
  const cid = toHex(contentId(bytes))
  const { uploadId } = await client.call<{ uploadId: string }>('openledger_beginBlobUpload', [bytes.length])
  try {
    for (let index = 0; index * CHUNK_BYTES < bytes.length; index++) {
      const chunk = bytes.subarray(index * CHUNK_BYTES, (index + 1) * CHUNK_BYTES)
      await client.call('openledger_uploadBlobChunk', [uploadId, index, Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('base64')])
    }
    return await client.call<{ cid: string; size: number }>('openledger_finishBlobUpload', [uploadId, cid, check.format ?? null, check.rows ?? null])
  } catch (error) {
    await client.call('openledger_abortBlobUpload', [uploadId]).catch(() => undefined)
    throw error
  }
}

/** Downloads a blob chunk by chunk, verifying each against `cid`. */
export async function downloadBlob(client: RpcClient, cid: string): Promise<Uint8Array> {
  const id = fromHex(cid)
  if (id === undefined || id.length !== 32) throw new BlobClientError('CHUNK_INVALID', 'a content id is 32 bytes of 0x-hex')
  let out: Uint8Array | undefined
  for (let index = 0; out === undefined || index < chunkCount(out.length); index++) {
    const { size, data, siblings } = await client.call<{ size: number; data: string; siblings: string[] }>('openledger_getBlobChunk', [cid, index])
    const chunk = new Uint8Array(Buffer.from(data, 'base64'))
    if (!verifyChunk(id, size, index, chunk, siblings.map((s) => fromHex(s) ?? new Uint8Array(0)))) throw new BlobClientError('CHUNK_INVALID', `chunk ${index} does not match content id ${cid}`)
    out ??= new Uint8Array(size)
    out.set(chunk, index * CHUNK_BYTES)
  }
  return out
}
