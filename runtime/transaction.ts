// Transactions: what a wallet signs and the chain executes.
//
//   unsigned = [TX_VERSION, chainId, nonce, gasLimit, maxFeePerGas, maxPriorityFeePerGas, [module, call, args]]
//   signed   = [unsigned, signature]              signature = r || s || v (65 bytes, secp256k1)
//   digest   = keccak256("openledger/tx/v1" || encode(unsigned))   what the sender signs
//   hash     = sha256(encode(signed))                               the transaction id
//
// Ethereum-signed transactions (EIP-1559 and EIP-155 legacy, ethereumTransaction.ts) are a second
// encoding of the same thing: decodeTransaction takes either (told apart by the first byte: ours
// is a msgpack array, 0x92), and maps the Ethereum one to its call; its hash is keccak256(bytes).
//
// The chain id in the signed payload is the replay protection across chains; the nonce within one.
// A Transaction is checked when decoded and then frozen; its sender is recovered separately
// (off the main thread in the node), so decoding stays cheap.
import { CodecError, CodecErrorCode, decode, encode, type Decoded, type Encodable } from './codec/canonical.ts'
import { readAmount, readArray, readBytes, readUint } from './codec/read.ts'
import { concatBytes, keccak256, keccak256Prefixed, sha256, utf8 } from './crypto/hash.ts'
import { recoverAddress, signDigest, SIGNATURE_BYTES, type Address } from './crypto/secp256k1.ts'
import { decodeEthereumTransaction, isEthereumEncoding, type EthereumEnvelope } from './ethereumTransaction.ts'

export const TX_VERSION = 1
/** bytes: the largest encoded transaction a node accepts */
export const MAX_TX_BYTES = 128 * 1024
/** gas: the largest gas limit one transaction may ask for */
export const MAX_TX_GAS = 50_000_000
const DIGEST_DOMAIN = utf8('openledger/tx/v1')

export interface Call<Args extends Encodable = Decoded> {
  readonly module: number
  readonly call: number
  /** call arguments in canonical form; the module's schema decodes them */
  readonly args: Args
}

export interface UnsignedTransaction {
  readonly chainId: number
  readonly nonce: number
  readonly gasLimit: number
  /** base units per gas */
  readonly maxFeePerGas: bigint
  /** base units per gas, paid to the block proposer */
  readonly maxPriorityFeePerGas: bigint
  readonly call: Call<Encodable>
}

export interface Transaction extends UnsignedTransaction {
  readonly call: Call
  readonly signature: Uint8Array
  readonly hash: Uint8Array
  readonly digest: Uint8Array
  readonly bytes: Uint8Array
  /** set when the sender signed an Ethereum transaction: what it signed, for the eth_* views */
  readonly ethereum?: EthereumEnvelope
}

function unsignedToEncodable(tx: UnsignedTransaction): Encodable {
  return [TX_VERSION, tx.chainId, tx.nonce, tx.gasLimit, tx.maxFeePerGas, tx.maxPriorityFeePerGas, [tx.call.module, tx.call.call, tx.call.args]]
}

export function signingDigest(tx: UnsignedTransaction): Uint8Array {
  return keccak256(concatBytes(DIGEST_DOMAIN, encode(unsignedToEncodable(tx))))
}

/** bytes: the length of `tx` once signed (signatures have a fixed length), for its intrinsic gas. */
export function signedLength(tx: UnsignedTransaction): number {
  return encode([unsignedToEncodable(tx), new Uint8Array(SIGNATURE_BYTES)]).length
}

export function signTransaction(tx: UnsignedTransaction, privateKey: Uint8Array): Transaction {
  const digest = signingDigest(tx)
  const signature = signDigest(privateKey, digest)
  return decodeTransaction(encode([unsignedToEncodable(tx), signature]))
}

/** Decodes and checks the shape of a signed transaction; throws CodecError naming the bad field. */
export function decodeTransaction(bytes: Uint8Array): Transaction {
  if (isEthereumEncoding(bytes)) return decodeEthereum(bytes)
  const value = decode(bytes, MAX_TX_BYTES)
  const [unsigned, signatureValue] = readArray(value, 'transaction', 2)
  const fields = readArray(unsigned ?? null, 'transaction.unsigned', 7)
  if (fields[0] !== TX_VERSION) throw new CodecError(CodecErrorCode.wrongType, `version: expected ${TX_VERSION}`)
  const chainId = readUint(fields[1] ?? null, 'chainId', 0xffffffff)
  const nonce = readUint(fields[2] ?? null, 'nonce')
  const gasLimit = readUint(fields[3] ?? null, 'gasLimit', MAX_TX_GAS)
  const maxFeePerGas = readAmount(fields[4] ?? null, 'maxFeePerGas')
  const maxPriorityFeePerGas = readAmount(fields[5] ?? null, 'maxPriorityFeePerGas')
  const callFields = readArray(fields[6] ?? null, 'call', 3)
  const call: Call = Object.freeze({
    module: readUint(callFields[0] ?? null, 'call.module', 255),
    call: readUint(callFields[1] ?? null, 'call.call', 255),
    args: readArray(callFields[2] ?? null, 'call.args'),
  })
  const signature = readBytes(signatureValue ?? null, 'signature', SIGNATURE_BYTES)
  // The input is canonical, so the unsigned part's encoding is the bytes between the outer array
  // header (1 byte) and the signature (2-byte bin8 header + 65 bytes): no need to re-encode it.
  const unsignedBytes = bytes.subarray(1, bytes.length - 2 - SIGNATURE_BYTES)
  const digest = keccak256Prefixed(DIGEST_DOMAIN, unsignedBytes)
  return Object.freeze({ chainId, nonce, gasLimit, maxFeePerGas, maxPriorityFeePerGas, call, signature, hash: sha256(bytes), digest, bytes })
}

function decodeEthereum(bytes: Uint8Array): Transaction {
  if (bytes.length > MAX_TX_BYTES) throw new CodecError(CodecErrorCode.tooLarge, `transaction: more than ${MAX_TX_BYTES} bytes`)
  const tx = decodeEthereumTransaction(bytes)
  if (tx.gasLimit > MAX_TX_GAS) throw new CodecError(CodecErrorCode.wrongType, `gasLimit: expected an integer in [0, ${MAX_TX_GAS}]`)
  const { envelope, call, ...fields } = tx
  return Object.freeze({ ...fields, call: Object.freeze(call), bytes, ethereum: envelope })
}

/** The sender's address, or undefined when the signature is invalid. */
export function recoverSender(tx: Transaction): Address | undefined {
  return recoverAddress(tx.digest, tx.signature)
}

/** What the sender must be able to pay before the call runs: gasLimit x maxFeePerGas. */
export function maxCost(tx: UnsignedTransaction): bigint {
  return BigInt(tx.gasLimit) * tx.maxFeePerGas
}
