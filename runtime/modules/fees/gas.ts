// Gas: what a transaction costs before its call runs. Deterministic from its bytes and the call's
// declared weight, so the fee is known before execution and nothing is refunded.
/** gas for every transaction: signature check, nonce and fee bookkeeping */
export const TX_BASE_GAS = 500
/** gas per byte of the encoded transaction: bandwidth and storage */
export const TX_GAS_PER_BYTE = 2

export function intrinsicGas(encodedBytes: number): number {
  return TX_BASE_GAS + encodedBytes * TX_GAS_PER_BYTE
}

/** EIP-1559: base fee plus the tip, but never above the sender's maximum. */
export function effectiveGasPrice(baseFee: bigint, maxFeePerGas: bigint, maxPriorityFeePerGas: bigint): bigint {
  const withTip = baseFee + maxPriorityFeePerGas
  return withTip < maxFeePerGas ? withTip : maxFeePerGas
}

/** The next block's base fee from this block's gas use (EIP-1559 update rule, integer math). */
export function nextBaseFee(baseFee: bigint, gasUsed: number, target: number, denominator: number, minimum: bigint): bigint {
  if (target <= 0 || gasUsed === target) return baseFee < minimum ? minimum : baseFee
  const t = BigInt(target)
  const d = BigInt(denominator)
  let next: bigint
  if (gasUsed > target) {
    // a block may hold more than twice the target (maxBlockGas is only bounded below by it): cap
    // the excess at the target so the fee still moves by at most 1/denominator
    const excess = BigInt(gasUsed) - t < t ? BigInt(gasUsed) - t : t
    const delta = (baseFee * excess) / t / d
    next = baseFee + (delta > 0n ? delta : 1n)
  } else {
    next = baseFee - (baseFee * (t - BigInt(gasUsed))) / t / d
  }
  return next < minimum ? minimum : next
}
