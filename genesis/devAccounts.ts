// Well-known development accounts, like Substrate's //Alice, //Bob: anyone can sign for them, so
// they exist only in dev and local-testnet specs. Private key = sha256("openledger dev account " + name).
import { generateEd25519FromSeed, type Ed25519KeyPair } from '../runtime/crypto/ed25519.ts'
import { sha256, utf8 } from '../runtime/crypto/hash.ts'
import { privateKeyToAddress, type Address } from '../runtime/crypto/secp256k1.ts'

export const DEV_ACCOUNT_NAMES = ['alice', 'bob', 'charlie', 'dave', 'eve', 'ferdie'] as const
export type DevAccountName = (typeof DEV_ACCOUNT_NAMES)[number]

export interface DevAccount {
  name: DevAccountName
  privateKey: Uint8Array
  address: Address
}

export function isDevAccountName(name: string): name is DevAccountName {
  return (DEV_ACCOUNT_NAMES as readonly string[]).includes(name)
}

/** Any well-known dev key; the named accounts above and the dev spec's team/investor holders. */
export function devKey(name: string): { privateKey: Uint8Array; address: Address } {
  const privateKey = sha256(utf8(`openledger dev account ${name}`))
  return { privateKey, address: privateKeyToAddress(privateKey) }
}

export function devAccount(name: DevAccountName): DevAccount {
  return { name, ...devKey(name) }
}

export function devAccounts(): DevAccount[] {
  return DEV_ACCOUNT_NAMES.map(devAccount)
}

/** A well-known ed25519 consensus key (dev and local testnets only): seed = sha256("openledger dev validator " + name). */
export function devValidatorKey(name: string): Ed25519KeyPair {
  return generateEd25519FromSeed(sha256(utf8(`openledger dev validator ${name}`)))
}
