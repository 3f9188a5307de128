// The worker thread of WorkerPoolVerifier: recovers the signers of each batch it is sent and
// transfers the results back. All the logic is recoverPackedBatch, so the thread adds only transport.
import { parentPort } from 'node:worker_threads'
import { recoverPackedBatch, type RecoverRequest } from './signatureVerifier.ts'

const port = parentPort
if (port !== null) {
  port.on('message', (request: RecoverRequest) => {
    const response = recoverPackedBatch(request)
    port.postMessage(response, [response.results])
  })
}
