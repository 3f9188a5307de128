import t from 'tap'
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import { fromHex, keccak256, toHex } from '../../../runtime/crypto/hash.ts'
import {
  availableBackends, currentBackend, isValidPrivateKey, privateKeyToAddress, recoverAddress, setBackend, signDigest,
} from '../../../runtime/crypto/secp256k1.ts'

interface Vector {
  comment: string
  digest: string
  signature: string
  address: string | null
}
const file = JSON.parse(readFileSync(new URL('../../vectors/secp256k1.json', import.meta.url), 'utf8')) as {
  keys: { comment: string; privateKey: string; address: string }[]
  vectors: Vector[]
}
function bytes(hex: string): Uint8Array {
  const out = fromHex(hex)
  if (out === undefined) throw new Error(`bad hex in a vector: ${hex}`)
  return out
}

t.test('both backends are available here', async (t) => {
  t.same([...availableBackends].sort(), ['native', 'noble'])
})

t.test('known private keys give known addresses', async (t) => {
  for (const key of file.keys) t.equal(toHex(privateKeyToAddress(bytes(key.privateKey))), key.address.toLowerCase(), key.comment)
})

t.test('vectors: every backend recovers the same address or rejects', async (t) => {
  t.ok(file.vectors.length >= 20)
  for (const vector of file.vectors) {
    for (const backend of availableBackends) {
      const recovered = recoverAddress(bytes(vector.digest), bytes(vector.signature), backend)
      t.equal(recovered === undefined ? null : toHex(recovered), vector.address, `${vector.comment} (${backend})`)
    }
  }
})

t.test('signatures from either backend are identical and recover on both', async (t) => {
  const before = currentBackend()
  t.teardown(() => setBackend(before))
  fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 64 }), (privateKey, message) => {
    fc.pre(isValidPrivateKey(privateKey))
    const digest = keccak256(message)
    const address = toHex(privateKeyToAddress(privateKey))
    const signatures = availableBackends.map((backend) => {
      setBackend(backend)
      return toHex(signDigest(privateKey, digest))
    })
    t.equal(new Set(signatures).size, 1)
    for (const backend of availableBackends) {
      const recovered = recoverAddress(digest, bytes(signatures[0] ?? ''), backend)
      t.equal(recovered === undefined ? undefined : toHex(recovered), address)
    }
  }), { seed: 11, numRuns: 50 })
})
