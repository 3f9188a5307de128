import t, { type Test } from 'tap'
import { readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ed25519PublicKey } from '../../../runtime/crypto/ed25519.ts'
import { toHex } from '../../../runtime/crypto/hash.ts'
import { privateKeyToAddress } from '../../../runtime/crypto/secp256k1.ts'
import { Keystore, KeystoreError } from '../../../node/keystore/keystore.ts'

const FAST = { scryptN: 2 ** 10 }
const ACCOUNT_KEY = '0x' + '00'.repeat(31) + '01'
const VALIDATOR_SEED = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'

function keystoreIn(t: Test): Keystore {
  return new Keystore(join(t.testdir(), 'keystore'), FAST)
}

interface KeyFileJson {
  version: number
  name: string
  type: string
  address?: string
  publicKey?: string
  crypto: { kdf: string; cipher: string; nonce: string; ciphertext: string; kdfparams: { n: number; r: number; p: number; dklen: number; salt: string } }
}

async function editJson(path: string, edit: (json: KeyFileJson) => void): Promise<void> {
  const json = JSON.parse(await readFile(path, 'utf8')) as KeyFileJson
  edit(json)
  await writeFile(path, JSON.stringify(json))
}

t.test('generate, inspect, list and unlock round-trip for both key types', async (t) => {
  const keystore = keystoreIn(t)
  const account = await keystore.generate('main', 'account', 'correct horse')
  const validator = await keystore.generate('val-1', 'validator', 'battery staple')
  t.equal(account.type, 'account')
  t.equal(validator.type, 'validator')

  const unlockedAccount = await keystore.unlock('main', 'correct horse')
  t.equal(unlockedAccount.type, 'account')
  if (unlockedAccount.type !== 'account' || account.type !== 'account') throw new Error('expected an account')
  t.same(privateKeyToAddress(unlockedAccount.privateKey), account.address)
  t.same(unlockedAccount.address, account.address)

  const unlockedValidator = await keystore.unlock('val-1', 'battery staple')
  if (unlockedValidator.type !== 'validator' || validator.type !== 'validator') throw new Error('expected a validator key')
  t.same(ed25519PublicKey(unlockedValidator.privateKey), validator.publicKey)

  const listed = await keystore.list()
  t.same(listed.map((key) => [key.name, key.type]), [['main', 'account'], ['val-1', 'validator']])
  t.same(await keystore.inspect('main'), account)
})

t.test('import stores the given key; the file holds no secret in the clear', async (t) => {
  const keystore = keystoreIn(t)
  const info = await keystore.import('one', 'account', ACCOUNT_KEY, 'pw')
  if (info.type !== 'account') throw new Error('expected an account')
  t.equal(toHex(info.address), '0x7e5f4552091a69125d5dfcb7b8c2659029395bdf')
  const unlocked = await keystore.unlock('one', 'pw')
  t.equal(toHex(unlocked.privateKey), ACCOUNT_KEY)

  const validator = await keystore.import('v', 'validator', VALIDATOR_SEED, 'pw')
  if (validator.type !== 'validator') throw new Error('expected a validator')
  t.equal(toHex(validator.publicKey), '0xd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a')

  const text = await readFile(info.file, 'utf8')
  t.notMatch(text, ACCOUNT_KEY.slice(2))
  const json = JSON.parse(text) as KeyFileJson
  t.equal(json.version, 1)
  t.equal(json.name, 'one')
  t.equal(json.type, 'account')
  t.equal(json.crypto.kdf, 'scrypt')
  t.same({ n: json.crypto.kdfparams.n, r: json.crypto.kdfparams.r, p: json.crypto.kdfparams.p, dklen: json.crypto.kdfparams.dklen }, { n: 1024, r: 8, p: 1, dklen: 32 })
  t.equal(json.crypto.cipher, 'xchacha20-poly1305')
})

t.test('the passphrase is NFKD-normalized', async (t) => {
  const keystore = keystoreIn(t)
  await keystore.generate('n', 'account', 'caf\u00e9')
  t.ok(await keystore.unlock('n', 'cafe\u0301'))
})

t.test('invalid private keys are refused', async (t) => {
  const keystore = keystoreIn(t)
  for (const bad of ['', '0x00', 'zz'.repeat(32), '00'.repeat(32), 'ff'.repeat(32), '01'.repeat(33)]) {
    await t.rejects(keystore.import('k', 'account', bad, 'pw'), { code: 'INVALID_KEY' }, bad)
  }
  await t.rejects(keystore.import('k', 'validator', '01'.repeat(31), 'pw'), { code: 'INVALID_KEY' })
  await t.rejects(keystore.generate('k', 'wallet' as 'account', 'pw'), { code: 'INVALID_KEY' })
  t.same(await keystore.list(), [])
})

t.test('wrong passphrase', async (t) => {
  const keystore = keystoreIn(t)
  await keystore.generate('k', 'account', 'right')
  await t.rejects(keystore.unlock('k', 'wrong'), { code: 'WRONG_PASSPHRASE', name: 'KeystoreError' })
  await t.rejects(keystore.unlock('k', ''), KeystoreError)
})

t.test('tampering is detected', async (t) => {
  const keystore = keystoreIn(t)
  const other = await keystore.import('other', 'account', '0x' + '00'.repeat(31) + '02', 'pw')
  if (other.type !== 'account') throw new Error('expected an account')

  const cases: [string, (json: KeyFileJson) => void, string][] = [
    ['ciphertext', (json) => { json.crypto.ciphertext = json.crypto.ciphertext.slice(0, -2) + (json.crypto.ciphertext.endsWith('00') ? '01' : '00') }, 'KEYSTORE_CORRUPT'],
    ['nonce', (json) => { json.crypto.nonce = '0x' + '11'.repeat(24) }, 'KEYSTORE_CORRUPT'],
    ['address swapped for another', (json) => { json.address = toHex(other.address) }, 'KEYSTORE_CORRUPT'],
    ['type swapped', (json) => { json.type = 'validator'; json.publicKey = '0x' + '22'.repeat(32); delete json.address }, 'KEYSTORE_CORRUPT'],
    // the kdf parameters and salt feed the key derivation: a change is indistinguishable from a wrong passphrase
    ['kdfparams.n', (json) => { json.crypto.kdfparams.n = 2048 }, 'WRONG_PASSPHRASE'],
    ['kdfparams.salt', (json) => { json.crypto.kdfparams.salt = '0x' + '33'.repeat(32) }, 'WRONG_PASSPHRASE'],
    ['kdfparams.n not a power of two', (json) => { json.crypto.kdfparams.n = 1000 }, 'KEYSTORE_CORRUPT'],
    ['kdfparams asking for too much memory', (json) => { json.crypto.kdfparams.n = 2 ** 24; json.crypto.kdfparams.r = 64 }, 'KEYSTORE_CORRUPT'],
    ['kdfparams.dklen', (json) => { json.crypto.kdfparams.dklen = 16 }, 'KEYSTORE_CORRUPT'],
    ['unknown cipher', (json) => { json.crypto.cipher = 'rot13' }, 'KEYSTORE_CORRUPT'],
    ['version', (json) => { json.version = 2 }, 'KEYSTORE_CORRUPT'],
    ['name differs from the file name', (json) => { json.name = 'other' }, 'KEYSTORE_CORRUPT'],
    ['missing crypto', (json) => { delete (json as Partial<KeyFileJson>).crypto }, 'KEYSTORE_CORRUPT'],
  ]
  for (const [what, edit, code] of cases) {
    const info = await keystore.import(`k-${cases.findIndex((c) => c[0] === what)}`, 'account', ACCOUNT_KEY, 'pw')
    await editJson(info.file, edit)
    await t.rejects(keystore.unlock(info.name, 'pw'), { code }, what)
  }
  const info = await keystore.import('garbage', 'account', ACCOUNT_KEY, 'pw')
  await writeFile(info.file, '{ not json')
  await t.rejects(keystore.unlock('garbage', 'pw'), { code: 'KEYSTORE_CORRUPT' })
  await t.rejects(keystore.inspect('garbage'), { code: 'KEYSTORE_CORRUPT' })
  await t.rejects(keystore.list(), { code: 'KEYSTORE_CORRUPT' })
})

t.test('key names are validated', async (t) => {
  const keystore = keystoreIn(t)
  for (const bad of ['', 'A', 'a.b', '../x', '..', 'a/b', 'a\\b', 'a b', 'x'.repeat(65), 'é', 'a\u0000']) {
    await t.rejects(keystore.generate(bad, 'account', 'pw'), { code: 'INVALID_NAME' }, JSON.stringify(bad))
    await t.rejects(keystore.unlock(bad, 'pw'), { code: 'INVALID_NAME' })
    await t.rejects(keystore.inspect(bad), { code: 'INVALID_NAME' })
  }
  for (const good of ['a', 'x'.repeat(64), 'my_key-2']) await keystore.generate(good, 'account', 'pw')
  t.equal((await keystore.list()).length, 3)
})

t.test('files are private, writes leave no temp files, existing keys are never overwritten', async (t) => {
  const dir = join(t.testdir(), 'keystore')
  const keystore = new Keystore(dir, FAST)
  const first = await keystore.import('k', 'account', ACCOUNT_KEY, 'pw')
  t.equal((await stat(first.file)).mode & 0o777, 0o600)
  t.equal((await stat(dir)).mode & 0o077, 0)
  const before = await readFile(first.file, 'utf8')
  await t.rejects(keystore.generate('k', 'account', 'pw'), { code: 'KEY_EXISTS' })
  await t.rejects(keystore.import('k', 'validator', VALIDATOR_SEED, 'other'), { code: 'KEY_EXISTS' })
  t.equal(await readFile(first.file, 'utf8'), before)

  // racing writers: exactly one wins
  const results = await Promise.allSettled(Array.from({ length: 4 }, () => keystore.generate('race', 'account', 'pw')))
  t.equal(results.filter((result) => result.status === 'fulfilled').length, 1)
  t.equal(results.filter((result) => result.status === 'rejected' && (result.reason as KeystoreError).code === 'KEY_EXISTS').length, 3)
  t.same((await readdir(dir)).sort(), ['k.json', 'race.json'])
})

t.test('missing keys and directories', async (t) => {
  const keystore = keystoreIn(t)
  t.same(await keystore.list(), [])
  await t.rejects(keystore.unlock('nobody', 'pw'), { code: 'KEY_NOT_FOUND' })
  await t.rejects(keystore.inspect('nobody'), { code: 'KEY_NOT_FOUND' })
})

t.test('options are checked', async (t) => {
  t.throws(() => new Keystore('/tmp/x', { scryptN: 1000 }), { code: 'INVALID_OPTION' })
  t.throws(() => new Keystore('/tmp/x', { scryptN: 2 ** 30 }), { code: 'INVALID_OPTION' })
})

t.test('the default cost is scrypt N = 2^17', async (t) => {
  const keystore = new Keystore(join(t.testdir(), 'keystore'))
  const info = await keystore.generate('slow', 'validator', 'pw')
  const json = JSON.parse(await readFile(info.file, 'utf8')) as KeyFileJson
  t.equal(json.crypto.kdfparams.n, 2 ** 17)
  const unlocked = await keystore.unlock('slow', 'pw')
  t.equal(unlocked.type, 'validator')
})
