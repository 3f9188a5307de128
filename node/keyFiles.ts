// Plain key files of a node home (mode 0600), like Tendermint's priv_validator_key.json: the
// validator's ed25519 consensus key and the operator's account key. Unencrypted because a
// validator must restart unattended; protect the home folder.
import { readFile, writeFile } from 'node:fs/promises'
import { fromHex, toHex } from '../runtime/crypto/hash.ts'
import { ed25519PublicKey } from '../runtime/crypto/ed25519.ts'
import { privateKeyToAddress, type Address } from '../runtime/crypto/secp256k1.ts'
import { OpenLedgerError } from '../runtime/errors.ts'

export type KeyFileErrorCode = 'KEY_FILE_NOT_FOUND' | 'KEY_FILE_INVALID'
export class KeyFileError extends OpenLedgerError<KeyFileErrorCode> {}

export interface ValidatorKey {
  secretKey: Uint8Array
  publicKey: Uint8Array
}

export interface OperatorKey {
  privateKey: Uint8Array
  address: Address
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (cause) {
    throw new KeyFileError('KEY_FILE_NOT_FOUND', `cannot read key file ${path}`, { cause })
  }
  try {
    const value = JSON.parse(text) as unknown
    if (typeof value !== 'object' || value === null) throw new Error('not an object')
    return value as Record<string, unknown>
  } catch (cause) {
    throw new KeyFileError('KEY_FILE_INVALID', `key file ${path} is not a JSON object`, { cause })
  }
}

function secret(value: unknown, path: string): Uint8Array {
  const bytes = typeof value === 'string' ? fromHex(value) : undefined
  if (bytes === undefined || bytes.length !== 32) throw new KeyFileError('KEY_FILE_INVALID', `key file ${path}: expected a 32-byte hex secret`)
  return bytes
}

export async function readValidatorKey(path: string): Promise<ValidatorKey> {
  const json = await readJson(path)
  if (json['type'] !== 'ed25519') throw new KeyFileError('KEY_FILE_INVALID', `key file ${path}: expected type ed25519`)
  const secretKey = secret(json['secretKey'], path)
  return { secretKey, publicKey: ed25519PublicKey(secretKey) }
}

export async function writeValidatorKey(path: string, key: ValidatorKey): Promise<void> {
  await writeFile(path, JSON.stringify({ type: 'ed25519', publicKey: toHex(key.publicKey), secretKey: toHex(key.secretKey) }, null, 2) + '\n', { mode: 0o600, flag: 'wx' })
}

export async function readOperatorKey(path: string): Promise<OperatorKey> {
  const json = await readJson(path)
  if (json['type'] !== 'secp256k1') throw new KeyFileError('KEY_FILE_INVALID', `key file ${path}: expected type secp256k1`)
  const privateKey = secret(json['privateKey'], path)
  return { privateKey, address: privateKeyToAddress(privateKey) }
}

export async function writeOperatorKey(path: string, key: OperatorKey): Promise<void> {
  await writeFile(path, JSON.stringify({ type: 'secp256k1', address: toHex(key.address), privateKey: toHex(key.privateKey) }, null, 2) + '\n', { mode: 0o600, flag: 'wx' })
}
