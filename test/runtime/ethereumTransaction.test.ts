// Ethereum-signed transactions as viem (a real wallet library) signs them: decoded into ordinary
// chain transactions, senders recovered, hashes as Ethereum computes them; and every malformed
// variant refused by name.
import t from 'tap'
import { keccak256 as viemKeccak, parseTransaction, serializeTransaction, toHex as viemHex, type Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { CodecError, decodeTrusted, encode } from '../../runtime/codec/canonical.ts'
import { decodeRlp, encodeRlp } from '../../runtime/codec/rlp.ts'
import { fromHex, toHex } from '../../runtime/crypto/hash.ts'
import { moduleAddress, moduleOfAddress, TRANSFER_CALL } from '../../runtime/ethereumTransaction.ts'
import { transfer } from '../../runtime/modules/balances/calls.ts'
import { ModuleIndex } from '../../runtime/modules/indices.ts'
import { decodeTransaction, recoverSender } from '../../runtime/transaction.ts'
import { devAccount } from '../../genesis/devAccounts.ts'

const alice = devAccount('alice')
const bob = devAccount('bob')
const wallet = privateKeyToAccount(toHex(alice.privateKey) as Hex)
const CHAIN_ID = 1337

function bytesOf(hex: string): Uint8Array {
  const bytes = fromHex(hex)
  if (bytes === undefined) throw new Error(`not hex: ${hex}`)
  return bytes
}

async function signed(tx: Parameters<typeof wallet.signTransaction>[0]): Promise<Uint8Array> {
  return bytesOf(await wallet.signTransaction(tx))
}

t.test('an EIP-1559 transfer is balances.transfer from the signer, with Ethereum hash and fields', async (t) => {
  const raw = await signed({ type: 'eip1559', chainId: CHAIN_ID, nonce: 7, to: toHex(bob.address) as Hex, value: 10n ** 18n, gas: 30_000n, maxFeePerGas: 3_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n })
  const tx = decodeTransaction(raw)
  t.equal(tx.chainId, CHAIN_ID)
  t.equal(tx.nonce, 7)
  t.equal(tx.gasLimit, 30_000)
  t.equal(tx.maxFeePerGas, 3_000_000_000n)
  t.equal(tx.maxPriorityFeePerGas, 1_000_000_000n)
  t.same({ module: tx.call.module, call: tx.call.call }, TRANSFER_CALL)
  t.same(transfer.args.decode(tx.call.args, 'args'), { to: bob.address, amount: 10n ** 18n })
  t.equal(toHex(tx.hash), viemKeccak(toHex(raw) as Hex), 'hash is keccak256 of the raw bytes')
  t.equal(toHex(recoverSender(tx) ?? new Uint8Array()), toHex(alice.address))
  t.equal(tx.ethereum?.type, 2)
})

t.test('an EIP-155 legacy transfer takes gasPrice as both caps and the chain id from v', async (t) => {
  const raw = await signed({ type: 'legacy', chainId: CHAIN_ID, nonce: 0, to: toHex(bob.address) as Hex, value: 5n, gas: 25_000n, gasPrice: 2_000_000_000n })
  const tx = decodeTransaction(raw)
  t.equal(tx.chainId, CHAIN_ID)
  t.equal(tx.maxFeePerGas, 2_000_000_000n)
  t.equal(tx.maxPriorityFeePerGas, 2_000_000_000n)
  t.equal(toHex(recoverSender(tx) ?? new Uint8Array()), toHex(alice.address))
  t.equal(tx.ethereum?.type, 0)
  t.equal(tx.ethereum?.v, BigInt(CHAIN_ID * 2 + 35) + (tx.signature[64] === 1 ? 1n : 0n))
})

t.test('a module address with calldata is that module call', async (t) => {
  const args = [bytesOf('0x' + '11'.repeat(32)), 'name']
  const data = toHex(Uint8Array.of(3, ...encode(args))) as Hex
  const tx = decodeTransaction(await signed({ type: 'eip1559', chainId: CHAIN_ID, nonce: 1, to: toHex(moduleAddress(ModuleIndex.datanets)) as Hex, data, gas: 100_000n, maxFeePerGas: 3n, maxPriorityFeePerGas: 1n }))
  t.equal(tx.call.module, ModuleIndex.datanets)
  t.equal(tx.call.call, 3)
  t.same(tx.call.args, decodeTrusted(encode(args)))
  t.equal(toHex(moduleAddress(4)), '0x0000000000000000000000000000000000000804')
  t.equal(moduleOfAddress(moduleAddress(255)), 255)
  t.equal(moduleOfAddress(bob.address), undefined)
})

t.test('what we cannot run is refused by name', async (t) => {
  const base = { type: 'eip1559', chainId: CHAIN_ID, nonce: 1, gas: 100_000n, maxFeePerGas: 3n, maxPriorityFeePerGas: 1n } as const
  const cases: Array<[string, Promise<Uint8Array>, RegExp]> = [
    ['contract creation', signed({ ...base, data: '0x6000' }), /contract creation is not supported/],
    ['data to an account', signed({ ...base, to: toHex(bob.address) as Hex, data: '0x01' }), /only module addresses/],
    ['value to a module', signed({ ...base, to: toHex(moduleAddress(4)) as Hex, value: 1n, data: '0x0090' }), /must be 0 for a module call/],
    ['module call without data', signed({ ...base, to: toHex(moduleAddress(4)) as Hex }), /call index byte/],
    ['access list', signed({ ...base, to: toHex(bob.address) as Hex, accessList: [{ address: toHex(bob.address) as Hex, storageKeys: [] }] }), /access lists are not supported/],
    ['EIP-2930', signed({ type: 'eip2930', chainId: CHAIN_ID, nonce: 1, gas: 100_000n, gasPrice: 3n, to: toHex(bob.address) as Hex }), /transaction type not supported/],
  ]
  for (const [name, raw, message] of cases) {
    const bytes = await raw
    t.throws(() => decodeTransaction(bytes), message, name)
  }
})

t.test('unprotected legacy, bad RLP, high S and trailing bytes are refused', async (t) => {
  // a pre-EIP-155 transaction (v = 27) that viem serializes without a chain id
  const unprotected = serializeTransaction({ type: 'legacy', nonce: 0, gas: 21_000n, gasPrice: 1n, to: toHex(bob.address) as Hex, value: 1n }, { r: `0x${'7f'.repeat(32)}`, s: `0x${'3f'.repeat(32)}`, v: 27n })
  t.throws(() => decodeTransaction(bytesOf(unprotected)), /only replay-protected \(EIP-155\) transactions allowed over RPC/)

  const raw = await signed({ type: 'eip1559', chainId: CHAIN_ID, nonce: 1, to: toHex(bob.address) as Hex, gas: 30_000n, maxFeePerGas: 3n, maxPriorityFeePerGas: 1n })
  t.throws(() => decodeTransaction(Uint8Array.of(...raw, 0)), /trailing bytes/)
  const fields = decodeRlp(raw.subarray(1)) as Uint8Array[]
  // high S: n - s with the parity flipped is the same signature in the form Ethereum refuses
  const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n
  const s = BigInt(toHex(fields[11] as Uint8Array))
  const highS = bytesOf(viemHex(n - s))
  const flipped = [...fields.slice(0, 9), (fields[9] as Uint8Array).length === 0 ? Uint8Array.of(1) : new Uint8Array(0), fields[10] as Uint8Array, highS]
  const malleated = decodeTransaction(Uint8Array.of(2, ...encodeRlp(flipped)))
  t.equal(recoverSender(malleated), undefined, 'high-S signature does not recover')
  // a nonce with a leading zero byte
  const padded = [fields[0] as Uint8Array, Uint8Array.of(0, 1), ...fields.slice(2)]
  t.throws(() => decodeTransaction(Uint8Array.of(2, ...encodeRlp(padded))), /non-canonical integer/)
  // a single byte below 0x80 in long form
  t.throws(() => decodeRlp(Uint8Array.of(0x81, 0x05)), CodecError)
  t.throws(() => decodeRlp(Uint8Array.of(0xb8, 0x01, 0x05)), /long form/)
  t.same(parseTransaction(toHex(raw) as Hex).nonce, 1, 'viem reads back what we read')
})
