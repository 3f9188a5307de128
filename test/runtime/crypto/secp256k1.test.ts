import t from 'tap'
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import { fromHex, keccak256, toHex } from '../../../runtime/crypto/hash.ts'
import {
  availableBackends, currentBackend, isAcceptableSignature, isValidPrivateKey, privateKeyToAddress, recoverAddress, setBackend, signDigest,
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

const ORDER = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n
const toBytes32 = (value: bigint): Uint8Array => Uint8Array.from(Buffer.from(value.toString(16).padStart(64, '0'), 'hex'))
// scalars near every bound the rules use, and with leading zero bytes, next to uniform ones
const scalarArb = fc.oneof(
  fc.constantFrom(0n, 1n, 2n, 255n, 256n, ORDER >> 1n, (ORDER >> 1n) + 1n, ORDER - 1n, ORDER, ORDER + 1n, 2n ** 256n - 1n),
  fc.bigInt({ min: 0n, max: 2n ** 256n - 1n }),
  fc.bigInt({ min: 0n, max: 2n ** 64n }),
  fc.bigInt({ min: -1000n, max: 1000n }).map((d) => ((ORDER >> 1n) + d)),
  fc.bigInt({ min: -1000n, max: 1000n }).map((d) => (ORDER + d)),
)

t.test('property: the byte-wise range checks agree with the arithmetic rule (r, key in [1, n-1]; s in [1, n/2]; v in {0, 1})', async (t) => {
  fc.assert(fc.property(scalarArb, scalarArb, fc.integer({ min: 0, max: 3 }), (r, s, v) => {
    const signature = new Uint8Array(65)
    signature.set(toBytes32(r), 0)
    signature.set(toBytes32(s), 32)
    signature[64] = v
    const expected = r >= 1n && r < ORDER && s >= 1n && s <= ORDER >> 1n && v <= 1
    return isAcceptableSignature(signature) === expected && isValidPrivateKey(toBytes32(r)) === (r >= 1n && r < ORDER)
  }), { numRuns: 5000 })
  t.notOk(isAcceptableSignature(new Uint8Array(64)), 'too short')
  t.notOk(isValidPrivateKey(new Uint8Array(31).fill(1)), 'key too short')
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
