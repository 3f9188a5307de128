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

/**
 * Largest-remainder apportionment (Hamilton): shares of `total` proportional to `weights`, each
 * floor(total·w/Σw) plus one unit for the largest remainders until the shares sum to `total`
 * exactly; equal remainders go to the lower index. The caller guarantees non-negative weights
 * with a positive sum and a non-negative total (the fee split, attribution's credit shares).
 */
export function largestRemainder(weights: readonly bigint[], total: bigint): bigint[] {
  let sum = 0n
  for (const w of weights) sum += w
  const shares = weights.map((w) => (total * w) / sum)
  const remainders = weights.map((w, i) => ({ i, r: (total * w) % sum }))
  let left = total - shares.reduce((a, b) => a + b, 0n)
  remainders.sort((a, b) => (a.r > b.r ? -1 : a.r < b.r ? 1 : a.i - b.i))
  for (let k = 0; left > 0n; k++, left--) shares[remainders[k]!.i]! += 1n
  return shares
}

export const sameAddress: (a: Address, b: Address) => boolean = bytesEqual

export function moduleAccount(name: string): Address {
  return keccak256(utf8(`openledger/module-account/${name}`)).subarray(12)
}

export const TREASURY_ACCOUNT = moduleAccount('treasury')
/** the community & ecosystem rewards pool (61.71% of supply at genesis) */
export const ECOSYSTEM_POOL_ACCOUNT = moduleAccount('ecosystem')
