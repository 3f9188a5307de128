import t from 'tap'
import { join } from 'node:path'
import { devAccount } from '../../genesis/devAccounts.ts'
import { Keystore } from '../../node/keystore/keystore.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import { resolveAccountSigner } from '../../cli/signer.ts'
import type { CliIo } from '../../cli/io.ts'

function fakeIo(passphrase: string): CliIo & { prompts: string[] } {
  const prompts: string[] = []
  return { prompts, out: () => {}, err: () => {}, secret: async (prompt) => (prompts.push(prompt), passphrase) }
}

t.test('dev accounts, keystore keys, and unknown names', async (t) => {
  const home = t.testdir()
  const keystore = new Keystore(join(home, 'keystore'), { scryptN: 2 ** 10 })
  await keystore.import('cold', 'account', '0x' + '00'.repeat(31) + '01', 'pw')
  await keystore.import('bob', 'account', '0x' + '00'.repeat(31) + '02', 'pw')
  await keystore.generate('val', 'validator', 'pw')

  const io = fakeIo('pw')
  const alice = await resolveAccountSigner('alice', home, io)
  t.same(alice.address, devAccount('alice').address)
  t.same(alice.privateKey, devAccount('alice').privateKey)
  t.equal(alice.label, 'alice (dev account)')
  t.same(io.prompts, [], 'no passphrase for a dev account')

  const cold = await resolveAccountSigner('cold', home, io)
  t.equal(toHex(cold.address), '0x7e5f4552091a69125d5dfcb7b8c2659029395bdf')
  t.equal(cold.label, 'cold (keystore)')
  t.same(io.prompts, ["Passphrase for key 'cold': "])

  const bob = await resolveAccountSigner('bob', home, io)
  t.equal(bob.label, 'bob (keystore)', 'a keystore key shadows the dev account of that name')

  await t.rejects(resolveAccountSigner('val', home, io), { code: 'BAD_ARGUMENT' })
  await t.rejects(resolveAccountSigner('mallory', home, io), { code: 'BAD_ARGUMENT', message: /dev account \(alice, bob/ })
  await t.rejects(resolveAccountSigner('../etc/passwd', home, io), { code: 'BAD_ARGUMENT' })
  await t.rejects(resolveAccountSigner('cold', home, fakeIo('nope')), { code: 'WRONG_PASSPHRASE' })
})
