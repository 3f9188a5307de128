// What an inference costs and how its fee is split. The split is exact: the four parts (and the
// model-owner part's division among adapter publishers) sum to the fee by largest remainder
// (accounts.ts), never losing or minting a base unit to rounding.
import { largestRemainder } from '../accounts.ts'
import { PRICE_UNIT_TOKENS, type FeeSplit, type InferenceParams } from './state.ts'

/** ceil((input · priceIn + output · priceOut) / 1000): prices are per 1,000 tokens, rounded up for the provider */
export function inferenceCost(prices: { priceIn: bigint; priceOut: bigint }, inputTokens: number, outputTokens: number): bigint {
  const total = BigInt(inputTokens) * prices.priceIn + BigInt(outputTokens) * prices.priceOut
  return (total + PRICE_UNIT_TOKENS - 1n) / PRICE_UNIT_TOKENS
}

/** `fee` split by the share parameters (which sum to 10,000), largest remainder, ties in the order provider, model owner, contributors, treasury. */
export function splitFee(fee: bigint, params: InferenceParams): FeeSplit {
  const [provider, modelOwner, contributors, treasury] = largestRemainder(
    [BigInt(params.providerShareBps), BigInt(params.modelOwnerShareBps), BigInt(params.contributorsShareBps), BigInt(params.treasuryShareBps)], fee,
  ) as [bigint, bigint, bigint, bigint]
  return { provider, modelOwner, contributors, treasury }
}

/** The model owners' part divided by adapter weight (largest remainder, ties to the earlier adapter). */
export function splitByWeight(amount: bigint, weights: readonly number[]): bigint[] {
  return largestRemainder(weights.map(BigInt), amount)
}
