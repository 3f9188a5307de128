// Who signs a transaction the CLI sends: `--from NAME` names a key in the keystore (its passphrase
// is asked for) or, failing that, a well-known dev account (alice, bob, …).
import { KeystoreError, Keystore, isValidKeyName } from '../node/keystore/keystore.ts'
import { DEV_ACCOUNT_NAMES, devAccount, isDevAccountName } from '../genesis/devAccounts.ts'
import type { Address } from '../runtime/crypto/secp256k1.ts'
import { keystoreDir } from './home.ts'
import { CliError, type CliIo } from './io.ts'

export interface AccountSigner {
  address: Address
  privateKey: Uint8Array
  /** How to name the signer in output, e.g. "alice (dev account)". */
  label: string
}

/**
 * A keystore key wins over a dev account of the same name: whoever created it meant it.
 * Validator keys cannot sign transactions.
 */
export async function resolveAccountSigner(from: string, home: string, io: CliIo): Promise<AccountSigner> {
  const dir = keystoreDir(home)
  if (isValidKeyName(from)) {
    const keystore = new Keystore(dir)
    const info = await keystore.inspect(from).catch((error: unknown) => {
      if (error instanceof KeystoreError && error.code === 'KEY_NOT_FOUND') return undefined
      throw error
    })
    if (info !== undefined) {
      if (info.type !== 'account') throw new CliError('BAD_ARGUMENT', `key '${from}' is a ${info.type} key; transactions are signed by account keys`)
      const unlocked = await keystore.unlock(from, await io.secret(`Passphrase for key '${from}': `))
      if (unlocked.type !== 'account') throw new CliError('BAD_ARGUMENT', `key '${from}' is not an account key`)
      return { address: unlocked.address, privateKey: unlocked.privateKey, label: `${from} (keystore)` }
    }
  }
  if (isDevAccountName(from)) {
    const account = devAccount(from)
    return { address: account.address, privateKey: account.privateKey, label: `${from} (dev account)` }
  }
  throw new CliError('BAD_ARGUMENT', `unknown signer '${from}': not a key in ${dir} nor a dev account (${DEV_ACCOUNT_NAMES.join(', ')})`)
}
