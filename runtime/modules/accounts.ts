// Module accounts: addresses owned by the runtime itself (treasury, ecosystem pool). Nobody holds
// their private key; only runtime logic moves their funds.
import { keccak256, utf8 } from '../crypto/hash.ts'
import type { Address } from '../crypto/secp256k1.ts'

export function moduleAccount(name: string): Address {
  return keccak256(utf8(`openledger/module-account/${name}`)).subarray(12)
}

export const TREASURY_ACCOUNT = moduleAccount('treasury')
/** the community & ecosystem rewards pool (61.71% of supply at genesis) */
export const ECOSYSTEM_POOL_ACCOUNT = moduleAccount('ecosystem')
