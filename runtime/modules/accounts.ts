// What every module shares about accounts and shares of amounts: module accounts (addresses owned
// by the runtime itself — treasury, ecosystem pool, each module's escrow; nobody holds their
// private key, only runtime logic moves their funds), address equality, basis points.
// Paying out of a module account is balances/ledger.ts `payFromModuleAccount`.
import { bytesEqual } from '../codec/canonical.ts'
import { keccak256, utf8 } from '../crypto/hash.ts'
import type { Address } from '../crypto/secp256k1.ts'

/** basis points in a whole: a parameter in bps is a share of 10,000 */
export const BPS = 10_000n

/** `bps` basis points of `amount`, rounded down. */
export function bpsOf(amount: bigint, bps: number): bigint {
  return (amount * BigInt(bps)) / BPS
}

export const sameAddress: (a: Address, b: Address) => boolean = bytesEqual

export function moduleAccount(name: string): Address {
  return keccak256(utf8(`openledger/module-account/${name}`)).subarray(12)
}

export const TREASURY_ACCOUNT = moduleAccount('treasury')
/** the community & ecosystem rewards pool (61.71% of supply at genesis) */
export const ECOSYSTEM_POOL_ACCOUNT = moduleAccount('ecosystem')
