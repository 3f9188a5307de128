// The chain's hash functions against independent implementations (@noble/hashes, Node's Buffer
// path) and published test vectors.
import t from 'tap'
import fc from 'fast-check'
import { createHash } from 'node:crypto'
import { keccak_256 } from '@noble/hashes/sha3.js'
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js'
import { concatBytes, keccak256, keccak256Prefixed, sha256, toHex, utf8 } from '../../../runtime/crypto/hash.ts'

t.test('published vectors', async (t) => {
  t.equal(toHex(sha256(new Uint8Array(0))), '0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
  t.equal(toHex(sha256(utf8('abc'))), '0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  t.equal(toHex(keccak256(new Uint8Array(0))), '0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470')
  t.equal(toHex(keccak256(utf8('abc'))), '0x4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45')
})

t.test('sha256 and keccak256 agree with @noble/hashes and node:crypto on any input', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2048 }), fc.uint8Array({ maxLength: 64 }), (data, prefix) => {
      const sha = sha256(data)
      const reference = createHash('sha256').update(data).digest()
      return (
        sha.length === 32 &&
        Buffer.from(sha).equals(reference) &&
        Buffer.from(sha).equals(nobleSha256(data)) &&
        Buffer.from(keccak256(data)).equals(keccak_256(data)) &&
        Buffer.from(keccak256Prefixed(prefix, data)).equals(keccak_256(concatBytes(prefix, data)))
      )
    }),
    { numRuns: 400 },
  )
  const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 31) & 0xff)
  t.same(keccak256(big), keccak_256(big), 'megabytes')
  t.same(sha256(big), nobleSha256(big))
})

t.test('every result is its own memory: a later hash changes no earlier one', async (t) => {
  const first = keccak256(utf8('first'))
  const firstSha = sha256(utf8('first'))
  const copy = first.slice()
  const copySha = firstSha.slice()
  keccak256(utf8('second'))
  keccak256Prefixed(utf8('a'), utf8('b'))
  sha256(utf8('second'))
  t.same(first, copy)
  t.same(firstSha, copySha)
  t.not(first.buffer, keccak256(utf8('first')).buffer, 'not a view of one shared buffer')
  t.equal(first.byteOffset, 0)
  t.equal(first.byteLength, first.buffer.byteLength, 'no larger buffer held alive behind it')
})
