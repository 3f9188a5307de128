// Ethereum-signed transactions: what MetaMask, viem or ethers sign, taken as ordinary chain
// transactions (same account, nonce, fees and receipts as the native format).
//
//   EIP-1559  0x02 || rlp([chainId, nonce, maxPriorityFeePerGas, maxFeePerGas, gasLimit, to, value,
//                          data, accessList, yParity, r, s])
//             signs keccak256(0x02 || rlp(the first nine items)); the access list must be empty
//   legacy    rlp([nonce, gasPrice, gasLimit, to, value, data, v, r, s]), EIP-155 only:
//             v = chainId * 2 + 35 + yParity, signs keccak256(rlp([nonce, gasPrice, gasLimit, to,
//             value, data, chainId, 0, 0])); gasPrice is both the fee cap and the tip cap
//   hash      keccak256(the raw bytes), as on Ethereum, so a wallet's own hash finds the receipt
//
// What the transaction does is read from `to` and `data` (ARCHITECTURE.md, "Ethereum JSON-RPC"):
//   - to an ordinary address, with empty data: balances.transfer(to, value);
//   - to a module address 0x0000…08MM (MM = the module index), value 0:
//     data = callIndex (1 byte) || canonical msgpack of the call's argument array.
// No contract creation, no data to an ordinary address: we have no EVM, so refusing is the only
// honest answer. Decoding is strict (RLP and integers minimal, low-S signatures by the chain's one
// acceptance rule), so a transaction has exactly one encoding and one hash.
import { CodecError, CodecErrorCode, bytesToBigint, decode, decodeTrusted, encode, type Decoded } from './codec/canonical.ts'
import { decodeRlp, encodeRlp, rlpUint, type RlpDecoded } from './codec/rlp.ts'
import { readArray } from './codec/read.ts'
import { concatBytes, keccak256 } from './crypto/hash.ts'
import { SIGNATURE_BYTES } from './crypto/secp256k1.ts'
import { ModuleIndex } from './modules/indices.ts'

export const EthereumTxType = { legacy: 0, eip1559: 2 } as const
export type EthereumTxType = (typeof EthereumTxType)[keyof typeof EthereumTxType]

/** The Ethereum fields a wallet signed, kept for the eth_* views (the chain runs the mapped call). */
export interface EthereumEnvelope {
  readonly type: EthereumTxType
  readonly to: Uint8Array
  readonly value: bigint
  readonly data: Uint8Array
  /** legacy: the EIP-155 v; EIP-1559: yParity */
  readonly v: bigint
  readonly r: Uint8Array
  readonly s: Uint8Array
}

export interface DecodedEthereumTransaction {
  readonly chainId: number
  readonly nonce: number
  readonly gasLimit: number
  readonly maxFeePerGas: bigint
  readonly maxPriorityFeePerGas: bigint
  readonly call: { module: number; call: number; args: Decoded[] }
  readonly signature: Uint8Array
  readonly digest: Uint8Array
  readonly hash: Uint8Array
  readonly envelope: EthereumEnvelope
}

/** The first address of the module range: module m answers at MODULE_ADDRESS_BASE + m. */
export const MODULE_ADDRESS_BASE = 0x0800
const MODULE_ADDRESS_PREFIX_BYTES = 18
/** The Ethereum transfer is this call: balances.transfer({ to, amount }) (a test checks it). */
export const TRANSFER_CALL = { module: ModuleIndex.balances, call: 0 } as const

export function moduleAddress(module: number): Uint8Array {
  if (!Number.isInteger(module) || module < 0 || module > 255) throw new RangeError('module index must be in [0, 255]')
  const address = new Uint8Array(20)
  const value = MODULE_ADDRESS_BASE + module
  address[18] = value >> 8
  address[19] = value & 0xff
  return address
}

/** The module index `address` stands for, or undefined for an ordinary account. */
export function moduleOfAddress(address: Uint8Array): number | undefined {
  if (address.length !== 20) return undefined
  for (let i = 0; i < MODULE_ADDRESS_PREFIX_BYTES; i++) if (address[i] !== 0) return undefined
  const value = ((address[18] as number) << 8) | (address[19] as number)
  const module = value - MODULE_ADDRESS_BASE
  return module >= 0 && module <= 255 ? module : undefined
}

/**
 * Whether `bytes` are an Ethereum transaction rather than our msgpack: typed ones start with their
 * type (0x00–0x7f, a msgpack fixint), legacy ones with a long RLP list header (0xf8–0xff, msgpack
 * negative fixints: a legacy transaction is always over 55 bytes, its r and s alone are 66). A
 * transaction of ours starts with an array header (0x92, or a non-canonical 0xdc/0xdd).
 */
export function isEthereumEncoding(bytes: Uint8Array): boolean {
  const first = bytes[0]
  return first !== undefined && (first < 0x80 || first >= 0xf8)
}

function invalid(message: string): never {
  throw new CodecError(CodecErrorCode.invalidEncoding, message)
}

function bytesField(value: RlpDecoded | undefined, field: string): Uint8Array {
  if (!(value instanceof Uint8Array)) invalid(`${field}: expected a byte string`)
  return value
}

/** An RLP integer: minimal big-endian, at most `maxBytes`. */
function uintField(value: RlpDecoded | undefined, field: string, maxBytes: number): bigint {
  const bytes = bytesField(value, field)
  if (bytes.length > maxBytes) invalid(`${field}: more than ${maxBytes} bytes`)
  if (bytes.length > 0 && bytes[0] === 0) invalid(`${field}: non-canonical integer (leading zero bytes)`)
  return bytesToBigint(bytes)
}

function safeField(value: RlpDecoded | undefined, field: string, max: number): number {
  const number = uintField(value, field, 8)
  if (number > BigInt(max)) invalid(`${field}: above ${max}`)
  return Number(number)
}

/** Fee fields: the native format's amount range (16 bytes). */
const FEE_BYTES = 16
/** A bound on any nonce, gas or chain id we take. */
const MAX_SAFE = Number.MAX_SAFE_INTEGER

function scalar32(value: RlpDecoded | undefined, field: string): Uint8Array {
  const bytes = bytesField(value, field)
  uintField(value, field, 32)
  const out = new Uint8Array(32)
  out.set(bytes, 32 - bytes.length)
  return out
}

function signatureOf(r: Uint8Array, s: Uint8Array, parity: number): Uint8Array {
  const signature = new Uint8Array(SIGNATURE_BYTES)
  signature.set(r, 0)
  signature.set(s, 32)
  signature[64] = parity
  return signature
}

/** The chain call an Ethereum transaction stands for (see the header); throws CodecError. */
export function ethereumCall(to: Uint8Array, value: bigint, data: Uint8Array): { module: number; call: number; args: Decoded[] } {
  const module = moduleOfAddress(to)
  if (module === undefined) {
    if (data.length > 0) invalid('data: only module addresses (0x0000…08MM) take calldata; we run no EVM code')
    return { ...TRANSFER_CALL, args: readArray(decodeTrusted(encode([to, value])), 'args') }
  }
  if (value !== 0n) invalid('value: must be 0 for a module call (send OPEN with balances.transfer)')
  const call = data[0]
  if (call === undefined) invalid('data: a module call needs a call index byte and its arguments')
  const args = readArray(decode(data.subarray(1), data.length), 'data.args')
  return { module, call, args }
}

function toField(value: RlpDecoded | undefined): Uint8Array {
  const to = bytesField(value, 'to')
  if (to.length === 0) invalid('to: contract creation is not supported (there is no EVM)')
  if (to.length !== 20) invalid('to: expected 20 bytes')
  return to
}

export function decodeEthereumTransaction(bytes: Uint8Array): DecodedEthereumTransaction {
  const first = bytes[0]
  if (first === undefined) invalid('typed transaction too short')
  if (first >= 0xf8) return decodeLegacy(bytes)
  if (first !== EthereumTxType.eip1559) invalid('transaction type not supported')
  const fields = decodeRlp(bytes.subarray(1))
  if (!Array.isArray(fields) || fields.length !== 12) invalid('rlp: expected a list of 12 items for an EIP-1559 transaction')
  const chainId = safeField(fields[0], 'chainId', MAX_SAFE)
  const nonce = safeField(fields[1], 'nonce', MAX_SAFE)
  const maxPriorityFeePerGas = uintField(fields[2], 'maxPriorityFeePerGas', FEE_BYTES)
  const maxFeePerGas = uintField(fields[3], 'maxFeePerGas', FEE_BYTES)
  const gasLimit = safeField(fields[4], 'gasLimit', MAX_SAFE)
  const to = toField(fields[5])
  const value = uintField(fields[6], 'value', 32)
  const data = bytesField(fields[7], 'data')
  const accessList = fields[8]
  if (!Array.isArray(accessList)) invalid('accessList: expected a list')
  if (accessList.length > 0) invalid('accessList: access lists are not supported (there is no EVM storage)')
  const parity = uintField(fields[9], 'yParity', 1)
  if (parity > 1n) invalid('yParity: expected 0 or 1')
  const r = scalar32(fields[10], 'r')
  const s = scalar32(fields[11], 's')
  const digest = keccak256(concatBytes(Uint8Array.of(EthereumTxType.eip1559), encodeRlp(fields.slice(0, 9))))
  return Object.freeze({
    chainId, nonce, gasLimit, maxFeePerGas, maxPriorityFeePerGas,
    call: ethereumCall(to, value, data),
    signature: signatureOf(r, s, Number(parity)),
    digest,
    hash: keccak256(bytes),
    envelope: Object.freeze({ type: EthereumTxType.eip1559, to, value, data, v: parity, r, s }),
  })
}

function decodeLegacy(bytes: Uint8Array): DecodedEthereumTransaction {
  const fields = decodeRlp(bytes)
  if (!Array.isArray(fields) || fields.length !== 9) invalid('rlp: expected a list of 9 items for a legacy transaction')
  const nonce = safeField(fields[0], 'nonce', MAX_SAFE)
  const gasPrice = uintField(fields[1], 'gasPrice', FEE_BYTES)
  const gasLimit = safeField(fields[2], 'gasLimit', MAX_SAFE)
  const to = toField(fields[3])
  const value = uintField(fields[4], 'value', 32)
  const data = bytesField(fields[5], 'data')
  const v = uintField(fields[6], 'v', 8)
  if (v < 35n) invalid('only replay-protected (EIP-155) transactions allowed over RPC')
  const chainIdBig = (v - 35n) / 2n
  if (chainIdBig > BigInt(MAX_SAFE)) invalid('v: chain id too large')
  const parity = Number((v - 35n) % 2n)
  const r = scalar32(fields[7], 'r')
  const s = scalar32(fields[8], 's')
  const chainIdBytes = rlpUint(chainIdBig)
  const digest = keccak256(encodeRlp([...fields.slice(0, 6), chainIdBytes, new Uint8Array(0), new Uint8Array(0)]))
  return Object.freeze({
    chainId: Number(chainIdBig), nonce, gasLimit, maxFeePerGas: gasPrice, maxPriorityFeePerGas: gasPrice,
    call: ethereumCall(to, value, data),
    signature: signatureOf(r, s, parity),
    digest,
    hash: keccak256(bytes),
    envelope: Object.freeze({ type: EthereumTxType.legacy, to, value, data, v, r, s }),
  })
}
