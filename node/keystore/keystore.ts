// The encrypted keystore: one JSON file per key in `<dir>/<name>.json` (mode 0600), holding an
// account (secp256k1) or validator (ed25519) private key encrypted under a passphrase.
//
// Format v1:
//   { version: 1, name, type: 'account' | 'validator', address | publicKey (0x hex),
//     crypto: { kdf: 'scrypt', kdfparams: { n, r, p, dklen, salt }, cipher: 'xchacha20-poly1305',
//               nonce, ciphertext, keyCheck } }
// scrypt (memory-hard) turns the NFKD-normalized passphrase into a 32-byte key; XChaCha20-Poly1305
// (random 24-byte nonce, so no nonce bookkeeping) encrypts the private key with the version, type
// and public part as associated data, so swapping the address or public key is detected.
// `keyCheck` (16 bytes of sha256 over a label and the derived key) tells a wrong passphrase apart
// from a modified file; it reveals nothing a guesser could not learn from the ciphertext.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import { link, mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import { ed25519PublicKey } from '../../runtime/crypto/ed25519.ts'
import { concatBytes, fromHex, sha256, toHex, utf8 } from '../../runtime/crypto/hash.ts'
import { isValidPrivateKey, privateKeyToAddress } from '../../runtime/crypto/secp256k1.ts'
import { OpenLedgerError } from '../../runtime/errors.ts'

export type KeystoreErrorCode = 'KEY_EXISTS' | 'KEY_NOT_FOUND' | 'WRONG_PASSPHRASE' | 'KEYSTORE_CORRUPT' | 'INVALID_KEY' | 'INVALID_NAME' | 'INVALID_OPTION'
export class KeystoreError extends OpenLedgerError<KeystoreErrorCode> {}

export const KEY_TYPES = ['account', 'validator'] as const
export type KeyType = (typeof KEY_TYPES)[number]

export type KeyInfo =
  | { name: string; type: 'account'; address: Uint8Array; file: string }
  | { name: string; type: 'validator'; publicKey: Uint8Array; file: string }

export type UnlockedKey =
  | { type: 'account'; privateKey: Uint8Array; address: Uint8Array }
  | { type: 'validator'; privateKey: Uint8Array; publicKey: Uint8Array }

export interface KeystoreOptions {
  /** scrypt cost N, a power of two; default 2^17 (128 MiB with r = 8). Tests pass less. */
  scryptN?: number
}

const KEYSTORE_VERSION = 1
const DEFAULT_SCRYPT_N = 2 ** 17
const SCRYPT_R = 8
const SCRYPT_P = 1
const DERIVED_KEY_BYTES = 32
const SALT_BYTES = 32
const NONCE_BYTES = 24
const KEY_CHECK_BYTES = 16
const PRIVATE_KEY_BYTES = 32
/** Upper bound on the scrypt memory a key file may ask for, in bytes (guards against a hostile file). */
const MAX_SCRYPT_MEMORY = 1024 * 1024 * 1024
const NAME_PATTERN = /^[a-z0-9_-]{1,64}$/

export function isValidKeyName(name: string): boolean {
  return typeof name === 'string' && NAME_PATTERN.test(name)
}

export function isKeyType(type: string): type is KeyType {
  return (KEY_TYPES as readonly string[]).includes(type)
}

interface ScryptParams {
  n: number
  r: number
  p: number
  dklen: number
  salt: Uint8Array
}

interface KeyFile {
  name: string
  type: KeyType
  publicPart: Uint8Array
  kdf: ScryptParams
  nonce: Uint8Array
  ciphertext: Uint8Array
  keyCheck: Uint8Array
}

function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 2 && (n & (n - 1)) === 0
}

function scryptMemory(n: number, r: number): number {
  return 128 * n * r
}

function deriveKey(passphrase: string, params: ScryptParams): Promise<Uint8Array> {
  const password = utf8(passphrase.normalize('NFKD'))
  const options = { N: params.n, r: params.r, p: params.p, maxmem: scryptMemory(params.n, params.r) + 16 * 1024 * 1024 }
  return new Promise((resolve, reject) => {
    scrypt(password, params.salt, params.dklen, options, (error, key) => {
      if (error !== null) reject(error)
      else resolve(new Uint8Array(key.buffer, key.byteOffset, key.byteLength))
    })
  })
}

function keyCheckOf(derivedKey: Uint8Array): Uint8Array {
  return sha256(concatBytes(utf8('openledger keystore v1 key check'), derivedKey)).subarray(0, KEY_CHECK_BYTES)
}

function associatedData(type: KeyType, publicPart: Uint8Array): Uint8Array {
  return utf8(`openledger keystore v${KEYSTORE_VERSION}\n${type}\n${toHex(publicPart)}`)
}

function publicPartOf(type: KeyType, privateKey: Uint8Array): Uint8Array {
  return type === 'account' ? privateKeyToAddress(privateKey) : ed25519PublicKey(privateKey)
}

function isValidPrivateKeyFor(type: KeyType, privateKey: Uint8Array): boolean {
  return type === 'account' ? isValidPrivateKey(privateKey) : privateKey.length === PRIVATE_KEY_BYTES
}

function infoOf(file: KeyFile, path: string): KeyInfo {
  return file.type === 'account'
    ? { name: file.name, type: 'account', address: file.publicPart, file: path }
    : { name: file.name, type: 'validator', publicKey: file.publicPart, file: path }
}

function serialize(file: KeyFile): string {
  const publicField = file.type === 'account' ? { address: toHex(file.publicPart) } : { publicKey: toHex(file.publicPart) }
  return JSON.stringify({
    version: KEYSTORE_VERSION,
    name: file.name,
    type: file.type,
    ...publicField,
    crypto: {
      kdf: 'scrypt',
      kdfparams: { n: file.kdf.n, r: file.kdf.r, p: file.kdf.p, dklen: file.kdf.dklen, salt: toHex(file.kdf.salt) },
      cipher: 'xchacha20-poly1305',
      nonce: toHex(file.nonce),
      ciphertext: toHex(file.ciphertext),
      keyCheck: toHex(file.keyCheck),
    },
  }, null, 2) + '\n'
}

/** Parses and checks a key file's shape; any deviation is KEYSTORE_CORRUPT naming the bad field. */
function parse(text: string, expectedName: string, path: string): KeyFile {
  const corrupt = (what: string): never => {
    throw new KeystoreError('KEYSTORE_CORRUPT', `key file ${path} is corrupt: ${what}`, { details: { name: expectedName } })
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (cause) {
    throw new KeystoreError('KEYSTORE_CORRUPT', `key file ${path} is not valid JSON`, { cause, details: { name: expectedName } })
  }
  const record = (value: unknown, what: string): Record<string, unknown> =>
    typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : corrupt(`${what} is not an object`)
  const hexField = (value: unknown, what: string, length?: number): Uint8Array => {
    const bytes = typeof value === 'string' ? fromHex(value) : undefined
    if (bytes === undefined) return corrupt(`${what} is not hex`)
    if (length !== undefined && bytes.length !== length) return corrupt(`${what} must be ${length} bytes`)
    return bytes
  }
  const integer = (value: unknown, what: string, min: number, max: number): number =>
    typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max ? value : corrupt(`${what} must be an integer in [${min}, ${max}]`)

  const top = record(json, 'the file')
  if (top['version'] !== KEYSTORE_VERSION) corrupt(`unsupported version ${JSON.stringify(top['version'])}`)
  if (top['name'] !== expectedName) corrupt(`its name ${JSON.stringify(top['name'])} does not match the file name`)
  const type = top['type']
  if (typeof type !== 'string' || !isKeyType(type)) return corrupt(`unknown key type ${JSON.stringify(type)}`)
  const publicPart = type === 'account' ? hexField(top['address'], 'address', 20) : hexField(top['publicKey'], 'publicKey', 32)

  const crypto = record(top['crypto'], 'crypto')
  if (crypto['kdf'] !== 'scrypt') corrupt(`unsupported kdf ${JSON.stringify(crypto['kdf'])}`)
  if (crypto['cipher'] !== 'xchacha20-poly1305') corrupt(`unsupported cipher ${JSON.stringify(crypto['cipher'])}`)
  const params = record(crypto['kdfparams'], 'kdfparams')
  const n = integer(params['n'], 'kdfparams.n', 2, 2 ** 24)
  const r = integer(params['r'], 'kdfparams.r', 1, 64)
  const p = integer(params['p'], 'kdfparams.p', 1, 16)
  if (!isPowerOfTwo(n)) corrupt('kdfparams.n must be a power of two')
  if (scryptMemory(n, r) > MAX_SCRYPT_MEMORY) corrupt('kdfparams ask for more than 1 GiB of memory')
  const dklen = integer(params['dklen'], 'kdfparams.dklen', DERIVED_KEY_BYTES, DERIVED_KEY_BYTES)
  const salt = hexField(params['salt'], 'kdfparams.salt')
  if (salt.length < 16 || salt.length > 64) corrupt('kdfparams.salt must be 16 to 64 bytes')
  return {
    name: expectedName,
    type,
    publicPart,
    kdf: { n, r, p, dklen, salt },
    nonce: hexField(crypto['nonce'], 'crypto.nonce', NONCE_BYTES),
    ciphertext: hexField(crypto['ciphertext'], 'crypto.ciphertext', PRIVATE_KEY_BYTES + 16),
    keyCheck: hexField(crypto['keyCheck'], 'crypto.keyCheck', KEY_CHECK_BYTES),
  }
}

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined
}

export class Keystore {
  readonly dir: string
  readonly #scryptN: number

  constructor(dir: string, options: KeystoreOptions = {}) {
    const n = options.scryptN ?? DEFAULT_SCRYPT_N
    if (!isPowerOfTwo(n) || scryptMemory(n, SCRYPT_R) > MAX_SCRYPT_MEMORY) {
      throw new KeystoreError('INVALID_OPTION', `scryptN must be a power of two from 2 to ${MAX_SCRYPT_MEMORY / (128 * SCRYPT_R)}`)
    }
    this.dir = dir
    this.#scryptN = n
  }

  /** Creates a new random key. */
  async generate(name: string, type: KeyType, passphrase: string): Promise<KeyInfo> {
    this.#checkName(name)
    this.#checkType(type)
    let privateKey = new Uint8Array(randomBytes(PRIVATE_KEY_BYTES))
    while (!isValidPrivateKeyFor(type, privateKey)) privateKey = new Uint8Array(randomBytes(PRIVATE_KEY_BYTES))
    try {
      return await this.#store(name, type, privateKey, passphrase)
    } finally {
      privateKey.fill(0)
    }
  }

  /** Stores an existing private key: 32 bytes of hex (a secp256k1 scalar, or an ed25519 seed). */
  async import(name: string, type: KeyType, privateKeyHex: string, passphrase: string): Promise<KeyInfo> {
    this.#checkName(name)
    this.#checkType(type)
    const privateKey = typeof privateKeyHex === 'string' ? fromHex(privateKeyHex.trim()) : undefined
    if (privateKey === undefined || privateKey.length !== PRIVATE_KEY_BYTES || !isValidPrivateKeyFor(type, privateKey)) {
      throw new KeystoreError('INVALID_KEY', `the private key must be 32 bytes of hex${type === 'account' ? ' in [1, n-1] of secp256k1' : ''}`)
    }
    try {
      return await this.#store(name, type, privateKey, passphrase)
    } finally {
      privateKey.fill(0)
    }
  }

  /** Every key in the directory, sorted by name. A corrupt file fails the listing (KEYSTORE_CORRUPT). */
  async list(): Promise<KeyInfo[]> {
    let entries: string[]
    try {
      entries = await readdir(this.dir)
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return []
      throw error
    }
    const names = entries
      .filter((entry) => entry.endsWith('.json') && isValidKeyName(entry.slice(0, -'.json'.length)))
      .map((entry) => entry.slice(0, -'.json'.length))
      .sort()
    return Promise.all(names.map((name) => this.inspect(name)))
  }

  /** The public part of a key, without decrypting anything. */
  async inspect(name: string): Promise<KeyInfo> {
    const { file, path } = await this.#read(name)
    return infoOf(file, path)
  }

  async unlock(name: string, passphrase: string): Promise<UnlockedKey> {
    const { file, path } = await this.#read(name)
    const derivedKey = await deriveKey(passphrase, file.kdf)
    try {
      if (!timingSafeEqual(keyCheckOf(derivedKey), file.keyCheck)) {
        throw new KeystoreError('WRONG_PASSPHRASE', `wrong passphrase for key '${name}'`, { details: { name } })
      }
      let privateKey: Uint8Array
      try {
        privateKey = xchacha20poly1305(derivedKey, file.nonce, associatedData(file.type, file.publicPart)).decrypt(file.ciphertext)
      } catch (cause) {
        throw new KeystoreError('KEYSTORE_CORRUPT', `key file ${path} was modified: its ciphertext, type or public part does not authenticate`, { cause, details: { name } })
      }
      if (!isValidPrivateKeyFor(file.type, privateKey) || toHex(publicPartOf(file.type, privateKey)) !== toHex(file.publicPart)) {
        throw new KeystoreError('KEYSTORE_CORRUPT', `key file ${path} holds a key that does not match its public part`, { details: { name } })
      }
      return file.type === 'account'
        ? { type: 'account', privateKey, address: file.publicPart }
        : { type: 'validator', privateKey, publicKey: file.publicPart }
    } finally {
      derivedKey.fill(0)
    }
  }

  #checkName(name: string): void {
    if (!isValidKeyName(name)) {
      throw new KeystoreError('INVALID_NAME', `invalid key name ${JSON.stringify(name)}: use 1 to 64 of a-z, 0-9, '_' and '-'`)
    }
  }

  #checkType(type: string): void {
    if (!isKeyType(type)) throw new KeystoreError('INVALID_KEY', `unknown key type ${JSON.stringify(type)}: expected ${KEY_TYPES.join(' or ')}`)
  }

  #pathOf(name: string): string {
    return join(this.dir, `${name}.json`)
  }

  async #read(name: string): Promise<{ file: KeyFile; path: string }> {
    this.#checkName(name)
    const path = this.#pathOf(name)
    let text: string
    try {
      text = await readFile(path, 'utf8')
    } catch (cause) {
      if (errorCode(cause) === 'ENOENT') throw new KeystoreError('KEY_NOT_FOUND', `no key named '${name}' in ${this.dir}`, { cause, details: { name } })
      throw cause
    }
    return { file: parse(text, name, path), path }
  }

  async #store(name: string, type: KeyType, privateKey: Uint8Array, passphrase: string): Promise<KeyInfo> {
    if (typeof passphrase !== 'string') throw new KeystoreError('INVALID_OPTION', 'the passphrase must be a string')
    const path = this.#pathOf(name)
    // Fail early (before the slow kdf) if the name is taken; #writeNew checks again atomically.
    if (await stat(path).then(() => true, () => false)) throw this.#exists(name)
    const kdf: ScryptParams = { n: this.#scryptN, r: SCRYPT_R, p: SCRYPT_P, dklen: DERIVED_KEY_BYTES, salt: new Uint8Array(randomBytes(SALT_BYTES)) }
    const publicPart = publicPartOf(type, privateKey)
    const derivedKey = await deriveKey(passphrase, kdf)
    const nonce = new Uint8Array(randomBytes(NONCE_BYTES))
    let file: KeyFile
    try {
      const ciphertext = xchacha20poly1305(derivedKey, nonce, associatedData(type, publicPart)).encrypt(privateKey)
      file = { name, type, publicPart, kdf, nonce, ciphertext, keyCheck: keyCheckOf(derivedKey) }
    } finally {
      derivedKey.fill(0)
    }
    await this.#writeNew(name, serialize(file))
    return infoOf(file, path)
  }

  #exists(name: string): KeystoreError {
    return new KeystoreError('KEY_EXISTS', `a key named '${name}' already exists in ${this.dir}`, { details: { name } })
  }

  /**
   * Writes a whole file or nothing, never replacing an existing key: the content goes to a temp
   * file (0600, fsynced), then link() gives it its name (fails if taken, unlike rename) and the
   * temp name is removed; the directory is fsynced so the new name survives a crash.
   */
  async #writeNew(name: string, contents: string): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 })
    const path = this.#pathOf(name)
    const temp = join(this.dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`)
    const handle = await open(temp, 'wx', 0o600)
    try {
      await handle.writeFile(contents, 'utf8')
      await handle.sync()
    } finally {
      await handle.close()
    }
    try {
      await link(temp, path)
    } catch (error) {
      const code = errorCode(error)
      if (code === 'EEXIST') {
        await unlink(temp).catch(() => {})
        throw this.#exists(name)
      }
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') {
        await unlink(temp).catch(() => {})
        throw error
      }
      // A file system without hard links: check, then rename (a tiny race we accept there).
      if (await stat(path).then(() => true, () => false)) {
        await unlink(temp).catch(() => {})
        throw this.#exists(name)
      }
      await rename(temp, path)
    }
    await unlink(temp).catch(() => {})
    const directory = await open(this.dir, 'r')
    try {
      await directory.sync()
    } catch {
      // some platforms cannot fsync a directory; the file itself is already durable
    } finally {
      await directory.close()
    }
  }
}
