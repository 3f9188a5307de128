import t from 'tap'
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import {
  availableBackends, ed25519PublicKey, ed25519Sign, ed25519Verify, generateEd25519FromSeed, isCanonicalPointEncoding, Ed25519Error,
} from '../../../runtime/crypto/ed25519.ts'

interface Vector {
  comment: string
  secretKey?: string
  publicKey: string
  message: string
  signature: string
  valid: boolean
}
const { vectors } = JSON.parse(readFileSync(new URL('../../vectors/ed25519.json', import.meta.url), 'utf8')) as { vectors: Vector[] }
const bytes = (hex: string) => new Uint8Array(Buffer.from(hex, 'hex'))

t.test('both backends are available here', async (t) => {
  t.same([...availableBackends].sort(), ['native', 'noble'])
})

t.test('vectors: every backend gives the expected verdict', async (t) => {
  t.ok(vectors.length >= 20)
  for (const vector of vectors) {
    const verdicts = availableBackends.map((backend) => ed25519Verify(bytes(vector.publicKey), bytes(vector.message), bytes(vector.signature), backend))
    t.same(verdicts, availableBackends.map(() => vector.valid), vector.comment)
    if (vector.secretKey !== undefined) {
      const secretKey = bytes(vector.secretKey)
      t.equal(Buffer.from(ed25519PublicKey(secretKey)).toString('hex'), vector.publicKey, `${vector.comment}: public key`)
      for (const backend of availableBackends) {
        t.equal(Buffer.from(ed25519Sign(secretKey, bytes(vector.message), backend)).toString('hex'), vector.signature, `${vector.comment}: ${backend} signature`)
      }
    }
  }
})

t.test('random keys and messages: backends agree, and tampering is caught', async (t) => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 200 }), fc.nat(), (seed, message, flip) => {
    const { secretKey, publicKey } = generateEd25519FromSeed(seed)
    const signature = ed25519Sign(secretKey, message, 'native')
    t.same(Buffer.from(ed25519Sign(secretKey, message, 'noble')), Buffer.from(signature))
    for (const backend of availableBackends) t.ok(ed25519Verify(publicKey, message, signature, backend))
    const tampered = Uint8Array.from(signature)
    const index = flip % 64
    tampered[index] = (tampered[index] ?? 0) ^ (1 << (flip % 8))
    const verdicts = availableBackends.map((backend) => ed25519Verify(publicKey, message, tampered, backend))
    t.same(verdicts, availableBackends.map(() => false))
  }), { seed: 7, numRuns: 100 })
})

t.test('canonical encoding check', async (t) => {
  t.ok(isCanonicalPointEncoding(bytes('ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f')), 'y = p - 1')
  t.notOk(isCanonicalPointEncoding(bytes('edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f')), 'y = p')
  t.notOk(isCanonicalPointEncoding(bytes('ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff')), 'y = p - 1 with x sign bit')
  t.notOk(isCanonicalPointEncoding(new Uint8Array(31)), 'short')
})

t.test('secret keys must be 32 bytes', async (t) => {
  t.throws(() => ed25519PublicKey(new Uint8Array(31)), Ed25519Error)
  t.throws(() => ed25519Sign(new Uint8Array(64), new Uint8Array(1)), { code: 'INVALID_SECRET_KEY' })
  t.throws(() => generateEd25519FromSeed(new Uint8Array(0)), { code: 'INVALID_SECRET_KEY' })
})

t.test('generateEd25519FromSeed copies the seed', async (t) => {
  const seed = new Uint8Array(32).fill(3)
  const pair = generateEd25519FromSeed(seed)
  seed.fill(0)
  t.equal(pair.secretKey[0], 3)
  t.same(pair.publicKey, ed25519PublicKey(pair.secretKey))
})
