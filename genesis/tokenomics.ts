// OPEN tokenomics: 18 decimals, exactly 1,000,000,000 OPEN minted at genesis and never again.
export const OPEN_DECIMALS = 18
/** base units in one OPEN */
export const ONE_OPEN = 10n ** 18n
/** base units: the whole supply */
export const TOTAL_SUPPLY = 1_000_000_000n * ONE_OPEN

export const AllocationCategory = {
  community: 'community',
  investors: 'investors',
  team: 'team',
  liquidity: 'liquidity',
} as const
export type AllocationCategory = (typeof AllocationCategory)[keyof typeof AllocationCategory]

/** basis points of the total supply per category; they sum to 10,000 */
export const ALLOCATION_BPS: Record<AllocationCategory, bigint> = {
  community: 6_171n,
  investors: 1_829n,
  team: 1_500n,
  liquidity: 500n,
}

export function allocationAmount(category: AllocationCategory): bigint {
  return (TOTAL_SUPPLY * ALLOCATION_BPS[category]) / 10_000n
}

/** ms: 365 days */
export const YEAR_MS = 365 * 24 * 60 * 60 * 1000
/** team and investors: nothing moves for 12 months, then linear release over 36 months */
export const VESTING_CLIFF_MS = YEAR_MS
export const VESTING_LINEAR_MS = 3 * YEAR_MS
export const VESTED_CATEGORIES: readonly AllocationCategory[] = ['investors', 'team']

/** Parses "12.5" (OPEN, up to 18 decimals) into base units; undefined if malformed. */
export function parseOpen(text: string): bigint | undefined {
  const match = /^(0|[1-9][0-9]{0,17})(?:\.([0-9]{1,18}))?$/.exec(text.trim())
  if (match === null) return undefined
  const whole = BigInt(match[1] ?? '0')
  const fraction = BigInt((match[2] ?? '').padEnd(18, '0'))
  return whole * ONE_OPEN + fraction
}

export function formatOpen(baseUnits: bigint): string {
  const whole = baseUnits / ONE_OPEN
  const fraction = (baseUnits % ONE_OPEN).toString().padStart(18, '0').replace(/0+$/, '')
  return fraction === '' ? whole.toString() : `${whole}.${fraction}`
}
