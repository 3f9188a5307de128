import t from 'tap'
import { availableParallelism } from 'node:os'
import { keccak256, toHex, utf8 } from '../../../runtime/crypto/hash.ts'
import { privateKeyToAddress, recoverAddress, signDigest } from '../../../runtime/crypto/secp256k1.ts'
import {
  InlineVerifier, WorkerPoolVerifier, type SignatureVerifier, type SignedDigest,
} from '../../../node/workers/signatureVerifier.ts'

const keys = [1, 2, 3].map((n) => {
  const privateKey = new Uint8Array(32)
  privateKey[31] = n
  return { privateKey, address: toHex(privateKeyToAddress(privateKey)) }
})

/** A deterministic mix of good signatures and every kind of bad one. */
function makeItems(count: number, salt = ''): SignedDigest[] {
  return Array.from({ length: count }, (_, i) => {
    const key = keys[i % keys.length] as (typeof keys)[number]
    const digest = keccak256(utf8(`item ${salt} ${i}`))
    const signature = signDigest(key.privateKey, digest)
    switch (i % 7) {
      case 3: signature[64] = 5; break // v out of range
      case 4: signature[10] = (signature[10] ?? 0) ^ 1; break // another signer, or none
      case 5: return { digest: digest.subarray(0, 31), signature }
      case 6: return { digest, signature: signature.subarray(0, 64) }
    }
    return { digest, signature }
  })
}

function expected(items: readonly SignedDigest[]): (string | undefined)[] {
  return items.map((item) => {
    const address = recoverAddress(item.digest, item.signature)
    return address === undefined ? undefined : toHex(address)
  })
}

function hexes(results: (Uint8Array | undefined)[]): (string | undefined)[] {
  return results.map((address) => (address === undefined ? undefined : toHex(address)))
}

const implementations: [string, () => SignatureVerifier][] = [
  ['InlineVerifier', () => new InlineVerifier()],
  ['WorkerPoolVerifier', () => new WorkerPoolVerifier({ threads: 2, batchSize: 64 })],
]

for (const [name, create] of implementations) {
  t.test(name, async (t) => {
    const verifier = create()
    t.teardown(() => verifier.stop())

    await t.rejects(verifier.recoverSigners(makeItems(1)), { code: 'NOT_STARTED' }, 'before start')
    verifier.start()

    t.test('recovers each signer in order, undefined for bad signatures', async (t) => {
      const items = makeItems(700)
      const results = await verifier.recoverSigners(items)
      t.equal(results.length, items.length)
      t.same(hexes(results), expected(items))
      t.equal(hexes(results)[0], keys[0]?.address)
      t.equal(results[3], undefined)
      t.equal(results[5], undefined)
      t.equal(results[6], undefined)
      for (const address of results) if (address !== undefined) t.equal(address.length, 20)
    })

    t.test('empty and tiny inputs', async (t) => {
      t.same(await verifier.recoverSigners([]), [])
      const one = makeItems(1)
      t.same(hexes(await verifier.recoverSigners(one)), expected(one))
      t.same(await verifier.recoverSigners(makeItems(7).slice(5)), [undefined, undefined])
    })

    t.test('the caller keeps its arrays', async (t) => {
      const items = makeItems(100)
      const copies = items.map((item) => ({ digest: Uint8Array.from(item.digest), signature: Uint8Array.from(item.signature) }))
      await verifier.recoverSigners(items)
      t.same(items, copies)
    })

    t.test('concurrent calls each get their own results', async (t) => {
      const calls = Array.from({ length: 6 }, (_, i) => makeItems(50 + i * 40, `call ${i}`))
      const results = await Promise.all(calls.map((items) => verifier.recoverSigners(items)))
      results.forEach((result, i) => t.same(hexes(result), expected(calls[i] ?? [])))
    })

    t.test('abort', async (t) => {
      await t.rejects(verifier.recoverSigners(makeItems(10), { signal: AbortSignal.abort() }), { code: 'ABORTED' })
      const controller = new AbortController()
      const pending = verifier.recoverSigners(makeItems(100), { signal: controller.signal })
      controller.abort()
      // the inline verifier finishes synchronously before the abort: either outcome is a settled promise
      await pending.then(() => t.pass('finished first'), (error: { code?: string }) => t.equal(error.code, 'ABORTED'))
      t.same(hexes(await verifier.recoverSigners(makeItems(20))), expected(makeItems(20)), 'still works after an abort')
    })

    t.test('stop, then restart', async (t) => {
      await verifier.stop()
      await t.rejects(verifier.recoverSigners(makeItems(3)), { code: 'NOT_STARTED' })
      verifier.start()
      t.same(hexes(await verifier.recoverSigners(makeItems(30))), expected(makeItems(30)))
    })
  })
}

t.test('WorkerPoolVerifier: abort while batches are queued', async (t) => {
  const verifier = new WorkerPoolVerifier({ threads: 1, batchSize: 32 })
  verifier.start()
  t.teardown(() => verifier.stop())
  const controller = new AbortController()
  const pending = verifier.recoverSigners(makeItems(2000), { signal: controller.signal })
  setImmediate(() => controller.abort(new Error('caller gave up')))
  await t.rejects(pending, { code: 'ABORTED', name: 'VerifierError' })
})

t.test('WorkerPoolVerifier: a worker that dies fails its batch and is replaced', async (t) => {
  const verifier = new WorkerPoolVerifier({ threads: 1, workerScript: new URL('./crashingSignatureWorker.ts', import.meta.url) })
  verifier.start()
  t.teardown(() => verifier.stop())
  t.same(hexes(await verifier.recoverSigners(makeItems(40))), expected(makeItems(40)), 'healthy first')

  for (const marker of [0xee, 0xdd]) {
    const items = makeItems(10)
    items[4] = { digest: new Uint8Array(32).fill(marker), signature: items[0]?.signature ?? new Uint8Array(65) }
    // a call that shared the dead worker either completed before it died or fails the same way
    const concurrent = verifier.recoverSigners(makeItems(10, 'other'))
      .then(() => t.pass('concurrent call finished'), (error: { code?: string }) => t.equal(error.code, 'WORKER_DIED'))
    await t.rejects(verifier.recoverSigners(items), { code: 'WORKER_DIED', name: 'VerifierError' }, `marker ${marker.toString(16)}`)
    await concurrent
    t.same(hexes(await verifier.recoverSigners(makeItems(40, 'after'))), expected(makeItems(40, 'after')), 'the replacement works')
  }
})

t.test('WorkerPoolVerifier: stop fails what is in flight', async (t) => {
  const verifier = new WorkerPoolVerifier({ threads: 1, batchSize: 16 })
  verifier.start()
  const rejected = t.rejects(verifier.recoverSigners(makeItems(500)), { code: 'STOPPED' })
  await verifier.stop()
  await rejected
})

t.test('WorkerPoolVerifier: one thread per core by default', async (t) => {
  t.equal(new WorkerPoolVerifier().threads, availableParallelism())
})
