// A signature worker that misbehaves on marker digests, to test how the pool survives it:
// a digest of all 0xee bytes throws (an uncaught error), all 0xdd exits the thread.
import { serveParent } from '../../../node/workers/managedWorker.ts'
import { recoverPackedBatch, type RecoverRequest } from '../../../node/workers/signatureVerifier.ts'

serveParent<RecoverRequest>((request, reply) => {
  const digests = new Uint8Array(request.digests)
  for (let i = 0; i < request.count; i++) {
    const digest = digests.subarray(i * 32, (i + 1) * 32)
    if (digest.every((byte) => byte === 0xee)) throw new Error('signature worker crashed on purpose')
    if (digest.every((byte) => byte === 0xdd)) process.exit(7)
  }
  const response = recoverPackedBatch(request)
  reply(response, [response.results])
})
