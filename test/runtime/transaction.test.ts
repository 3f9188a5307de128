import t from 'tap'
import fc from 'fast-check'
import { CodecError, CodecErrorCode, decode, encode, type Decoded, type Encodable } from '../../runtime/codec/canonical.ts'
import { sha256, toHex } from '../../runtime/crypto/hash.ts'
import { availableBackends, isAcceptableSignature, privateKeyToAddress, recoverAddress } from '../../runtime/crypto/secp256k1.ts'
import { decodeTransaction, maxCost, MAX_TX_BYTES, MAX_TX_GAS, recoverSender, signTransaction, signingDigest, TX_VERSION, type Transaction, type UnsignedTransaction } from '../../runtime/transaction.ts'
import { devAccount, devAccounts } from '../../genesis/devAccounts.ts'

const CURVE_ORDER = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n
const alice = devAccount('alice')
const bob = devAccount('bob')

const simpleArg: fc.Arbitrary<Encodable> = fc.oneof(fc.maxSafeNat(), fc.string({ maxLength: 40 }), fc.uint8Array({ maxLength: 40 }), fc.boolean(), fc.constant(null))

const unsignedTx: fc.Arbitrary<UnsignedTransaction> = fc.record({
  chainId: fc.integer({ min: 0, max: 0xffffffff }),
  nonce: fc.maxSafeNat(),
  gasLimit: fc.integer({ min: 0, max: MAX_TX_GAS }),
  maxFeePerGas: fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
  maxPriorityFeePerGas: fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
  call: fc.record({
    module: fc.integer({ min: 0, max: 255 }),
    call: fc.integer({ min: 0, max: 255 }),
    args: fc.array(simpleArg, { maxLength: 4 }),
  }),
})

const sample: UnsignedTransaction = {
  chainId: 1337,
  nonce: 5,
  gasLimit: 21_000,
  maxFeePerGas: 2_000_000_000n,
  maxPriorityFeePerGas: 1_000_000_000n,
  call: { module: 1, call: 0, args: [bob.address, 10n ** 18n] },
}

/** the sample's fields as they go on the wire, for building malformed variants */
function sampleFields(): Encodable[] {
  return [TX_VERSION, sample.chainId, sample.nonce, sample.gasLimit, sample.maxFeePerGas, sample.maxPriorityFeePerGas, [sample.call.module, sample.call.call, sample.call.args]]
}

function signedBytes(fields: Encodable, signature: Encodable = signTransaction(sample, alice.privateKey).signature): Uint8Array {
  return encode([fields, signature])
}

/** The same unsigned payload under another signature. */
function withSignature(tx: Transaction, signature: Uint8Array): Transaction {
  const [unsigned] = decode(tx.bytes) as Decoded[]
  return decodeTransaction(encode([unsigned ?? null, signature]))
}

t.test('sign -> encode -> decode round-trips every field and recovers the signer', async (t) => {
  const keys = devAccounts()
  fc.assert(fc.property(unsignedTx, fc.integer({ min: 0, max: keys.length - 1 }), (unsigned, who) => {
    const key = keys[who]!
    const tx = signTransaction(unsigned, key.privateKey)
    const again = decodeTransaction(tx.bytes)
    t.same(Buffer.from(encode(decode(again.bytes))), Buffer.from(tx.bytes), 'canonical bytes')
    t.equal(again.chainId, unsigned.chainId)
    t.equal(again.nonce, unsigned.nonce)
    t.equal(again.gasLimit, unsigned.gasLimit)
    t.equal(again.maxFeePerGas, unsigned.maxFeePerGas)
    t.equal(again.maxPriorityFeePerGas, unsigned.maxPriorityFeePerGas)
    t.equal(again.call.module, unsigned.call.module)
    t.equal(again.call.call, unsigned.call.call)
    t.same(Buffer.from(encode(again.call.args)), Buffer.from(encode(unsigned.call.args)))
    t.equal(toHex(again.hash), toHex(sha256(tx.bytes)))
    t.equal(toHex(again.digest), toHex(signingDigest(unsigned)))
    t.equal(toHex(recoverSender(again) ?? new Uint8Array(0)), toHex(key.address))
    t.ok(Object.isFrozen(again) && Object.isFrozen(again.call), 'frozen')
  }), { seed: 11, numRuns: 150 })
})

t.test('the hash is stable: deterministic signatures, pinned vector', async (t) => {
  const first = signTransaction(sample, alice.privateKey)
  const second = signTransaction({ ...sample, call: { ...sample.call } }, alice.privateKey)
  t.equal(toHex(second.hash), toHex(first.hash), 'signing twice gives one hash')
  t.equal(toHex(decodeTransaction(first.bytes).hash), toHex(first.hash), 'decoding keeps the hash')
  t.not(toHex(signTransaction({ ...sample, nonce: 6 }, alice.privateKey).hash), toHex(first.hash), 'any field changes the hash')
  t.not(toHex(signTransaction(sample, bob.privateKey).hash), toHex(first.hash), 'another signer changes the hash')
  // a change of encoding, domain or signature scheme must show up here
  t.equal(toHex(first.hash), PINNED_HASH, 'pinned transaction hash')
  t.equal(maxCost(first), 21_000n * 2_000_000_000n)
})

const PINNED_HASH = '0xd28817872dfa22f967ba2e26502f44b0a6584a801bd95df2ede409dd2190e7ac'

t.test('a tampered signature recovers nobody or somebody else', async (t) => {
  const tx = signTransaction(sample, alice.privateKey)
  fc.assert(fc.property(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 7 }), (byte, bit) => {
    const signature = tx.signature.slice()
    signature[byte] = (signature[byte] as number) ^ (1 << bit)
    const tampered = withSignature(tx, signature)
    const sender = recoverSender(tampered)
    t.ok(sender === undefined || toHex(sender) !== toHex(alice.address), `byte ${byte} bit ${bit}`)
  }), { seed: 5, numRuns: 200 })
  // the same signature over a different payload: a different (or no) sender
  const moved = decodeTransaction(signedBytes([TX_VERSION, sample.chainId, 6, sample.gasLimit, sample.maxFeePerGas, sample.maxPriorityFeePerGas, [1, 0, sample.call.args]], tx.signature))
  const sender = recoverSender(moved)
  t.ok(sender === undefined || toHex(sender) !== toHex(alice.address))
})

t.test('high-S and out-of-range signatures are rejected on every backend', async (t) => {
  const tx = signTransaction(sample, alice.privateKey)
  const s = BigInt(toHex(tx.signature.subarray(32, 64)))
  t.ok(s <= CURVE_ORDER >> 1n, 'we sign low-S')
  // (r, n - s, v ^ 1) is the same signature mirrored: valid ECDSA, but malleable, so refused
  const highS = tx.signature.slice()
  highS.set(Buffer.from((CURVE_ORDER - s).toString(16).padStart(64, '0'), 'hex'), 32)
  highS[64] = (highS[64] as number) ^ 1
  t.notOk(isAcceptableSignature(highS))
  t.equal(recoverSender(withSignature(tx, highS)), undefined, 'high-S')
  for (const backend of availableBackends) t.equal(recoverAddress(tx.digest, highS, backend), undefined, `high-S on ${backend}`)

  const zeroR = tx.signature.slice()
  zeroR.fill(0, 0, 32)
  t.equal(recoverSender(withSignature(tx, zeroR)), undefined, 'r = 0')
  const bigR = tx.signature.slice()
  bigR.set(Buffer.from(CURVE_ORDER.toString(16), 'hex'), 0)
  t.equal(recoverSender(withSignature(tx, bigR)), undefined, 'r = n')
  const zeroS = tx.signature.slice()
  zeroS.fill(0, 32, 64)
  t.equal(recoverSender(withSignature(tx, zeroS)), undefined, 's = 0')
  for (const v of [2, 27, 28]) {
    const wrongV = tx.signature.slice()
    wrongV[64] = v
    t.equal(recoverSender(withSignature(tx, wrongV)), undefined, `v = ${v}`)
  }
  t.equal(toHex(recoverSender(tx) ?? new Uint8Array(0)), toHex(privateKeyToAddress(alice.privateKey)), 'the original still recovers')
})

/** The CodecError code decoding `bytes` throws; 'decoded' if it does not throw. */
function codecErrorOf(bytes: Uint8Array): string {
  try {
    decodeTransaction(bytes)
    return 'decoded'
  } catch (error) {
    if (error instanceof CodecError) return error.code
    throw error
  }
}

t.test('wrong version, oversize and non-canonical bytes are CodecErrors', async (t) => {
  const fields = sampleFields()
  t.equal(codecErrorOf(signedBytes([2, ...fields.slice(1)])), CodecErrorCode.wrongType, 'version 2')
  t.equal(codecErrorOf(signedBytes([0, ...fields.slice(1)])), CodecErrorCode.wrongType, 'version 0')
  t.equal(codecErrorOf(signedBytes(['1', ...fields.slice(1)])), CodecErrorCode.wrongType, 'version as string')

  const big = signedBytes([...fields.slice(0, 6), [1, 0, [new Uint8Array(MAX_TX_BYTES)]]])
  t.ok(big.length > MAX_TX_BYTES)
  t.equal(codecErrorOf(big), CodecErrorCode.tooLarge, 'oversize')
  // just under the limit still decodes (the args are the module's business)
  const filler = new Uint8Array(MAX_TX_BYTES - 300)
  const underLimit = signedBytes([...fields.slice(0, 6), [1, 0, [filler]]])
  t.ok(underLimit.length <= MAX_TX_BYTES)
  t.equal(decodeTransaction(underLimit).bytes.length, underLimit.length)

  const good = signTransaction(sample, alice.privateKey).bytes
  // [0x92 array(2), 0x97 array(7), 0x01 version, 0xcd 0x0539 chainId, 0x05 nonce, ...]
  t.same([...good.subarray(0, 7)], [0x92, 0x97, 0x01, 0xcd, 0x05, 0x39, 0x05], 'layout as expected')
  const widenedNonce = Uint8Array.from([...good.subarray(0, 6), 0xcc, 0x05, ...good.subarray(7)])
  t.equal(codecErrorOf(widenedNonce), CodecErrorCode.nonCanonical, 'nonce as uint8')
  const widenedChainId = Uint8Array.from([...good.subarray(0, 3), 0xce, 0x00, 0x00, 0x05, 0x39, ...good.subarray(6)])
  t.equal(codecErrorOf(widenedChainId), CodecErrorCode.nonCanonical, 'chainId as uint32')
  const array16 = Uint8Array.from([0xdc, 0x00, 0x02, ...good.subarray(1)])
  t.equal(codecErrorOf(array16), CodecErrorCode.nonCanonical, 'outer array as array16')
  t.equal(codecErrorOf(Uint8Array.from([...good, 0x00])), CodecErrorCode.invalidEncoding, 'trailing byte')
  t.equal(codecErrorOf(good.subarray(0, good.length - 1)), CodecErrorCode.invalidEncoding, 'truncated')
  t.equal(codecErrorOf(new Uint8Array(0)), CodecErrorCode.invalidEncoding, 'empty')
})

t.test('wrong field types are CodecErrors naming the field', async (t) => {
  const f = sampleFields()
  const sig = signTransaction(sample, alice.privateKey).signature
  const replace = (index: number, value: Encodable): Encodable[] => f.map((v, i) => (i === index ? value : v))
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['chainId string', signedBytes(replace(1, '1337')), /chainId/],
    ['chainId above 2^32', signedBytes(replace(1, 2 ** 32)), /chainId/],
    ['nonce negative', signedBytes(replace(2, -1)), /nonce/],
    ['nonce bytes', signedBytes(replace(2, new Uint8Array([5]))), /nonce/],
    ['gasLimit above MAX_TX_GAS', signedBytes(replace(3, MAX_TX_GAS + 1)), /gasLimit/],
    ['maxFeePerGas as number', signedBytes(replace(4, 2_000_000_000)), /maxFeePerGas/],
    ['maxFeePerGas of 17 bytes', signedBytes(replace(4, 1n << 128n)), /maxFeePerGas/],
    ['maxPriorityFeePerGas with a leading zero', signedBytes(replace(5, Uint8Array.of(0, 1))), /leading zero/],
    ['call not an array', signedBytes(replace(6, 'transfer')), /call/],
    ['call with 2 items', signedBytes(replace(6, [1, 0])), /call/],
    ['call.module 256', signedBytes(replace(6, [256, 0, []])), /call\.module/],
    ['call.call string', signedBytes(replace(6, [1, '0', []])), /call\.call/],
    ['call.args not an array', signedBytes(replace(6, [1, 0, 5])), /call\.args/],
    ['unsigned with 6 fields', signedBytes(f.slice(0, 6)), /transaction\.unsigned/],
    ['unsigned with 8 fields', signedBytes([...f, 0]), /transaction\.unsigned/],
    ['signature of 64 bytes', signedBytes(f, sig.subarray(0, 64)), /signature/],
    ['signature as string', signedBytes(f, 'sig'), /signature/],
    ['signed with 3 items', encode([f, sig, null]), /transaction/],
    ['not an array', encode('transaction'), /transaction/],
  ]
  for (const [name, bytes, message] of cases) {
    t.throws(() => decodeTransaction(bytes), CodecError, name)
    t.throws(() => decodeTransaction(bytes), { message }, `${name} names the field`)
  }
})

t.test('random bytes never crash the decoder with anything but CodecError', async (t) => {
  const good = signTransaction(sample, alice.privateKey).bytes
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 0, max: good.length - 1 }), fc.integer({ min: 0, max: 255 }), (bytes, at, value) => {
    for (const input of [bytes, Uint8Array.from(good.map((b, i) => (i === at ? value : b)))]) {
      try {
        const tx = decodeTransaction(input)
        recoverSender(tx)
      } catch (error) {
        if (!(error instanceof CodecError)) throw error
      }
    }
  }), { seed: 9, numRuns: 2000 })
  t.pass('no foreign exception')
})
