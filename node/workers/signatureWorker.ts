// The worker thread of WorkerPoolVerifier: recovers the signers of each batch it is sent and
// transfers the results back. All the logic is recoverPackedBatch, so the thread adds only transport
// (and serveParent's ready/close handshake, which lets the pool drain it instead of terminating it).
import { serveParent } from './managedWorker.ts'
import { recoverPackedBatch, type RecoverRequest } from './signatureVerifier.ts'

serveParent<RecoverRequest>((request, reply) => {
  const response = recoverPackedBatch(request)
  reply(response, [response.results])
})
