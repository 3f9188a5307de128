// Proposer-based timestamps (CometBFT's PBTS): the rule that keeps chain time within the honest
// validators' clocks. Pure: the receive time is data the driver read from its clock port.
//
// A new block's time is its proposer's clock (never earlier than its parent's time + 1 ms). Every
// validator, on receiving a proposal of a new block (polRound −1), prevotes nil unless the block is
// *timely* by its own clock:
//
//     receivedAt − precision − messageDelay  ≤  blockTime  ≤  receivedAt + precision
//
// A block needs prevotes from more than 2/3 of the power, so from validators holding more than 1/3
// that are honest; each of them saw it timely. With every honest clock within `precision` of real
// time, a coalition under 1/3 cannot finalize a block whose time is more than `precision` ahead of
// honest clocks, nor more than `precision + messageDelay` behind them when it was received.
// A re-proposal (polRound ≥ 0) carries its proof-of-lock: more than 2/3 prevoted it as timely in
// that round already, so it is not checked again (it may legitimately be older by then).
// The parameters (precision, messageDelay) are the chain's: runtime/consensusParams.ts.
//
// messageDelay grows by 10% a round (CometBFT v1's `SynchronyParams.InRound`): when the real delay
// from the proposer's clock reading to receipt is above the configured one — an overloaded machine
// builds and gossips a block in more than 3.5 s — every proposal is `tooLate` for everyone and no
// round could ever reach a polka; from round r the bound is messageDelay · 1.1^r, so some round's
// bound covers the real delay (the chaos soak saw heights stuck 45 s+ in nil rounds after a restart
// of all four validators on a loaded machine). Only the lateness bound grows: a block still cannot
// be ahead of honest clocks by more than `precision`, so a coalition cannot move time forward.
import { timelinessParamsProblem, type TimelinessParams } from '../runtime/consensusParams.ts'
import { ConsensusError } from './errors.ts'

const MESSAGE_DELAY_GROWTH_PER_ROUND = 1.1

/** The message delay bound in `round`: messageDelay · 1.1^round, in whole ms. */
export function messageDelayInRound(params: TimelinessParams, round: number): number {
  return Math.floor(params.messageDelayMs * MESSAGE_DELAY_GROWTH_PER_ROUND ** Math.max(0, round))
}

export function checkedTimelinessParams(params: TimelinessParams): TimelinessParams {
  const problem = timelinessParamsProblem(params)
  if (problem !== undefined) throw new ConsensusError('INVALID_OPTIONS', `timeliness.${problem}`)
  return Object.freeze({ precisionMs: params.precisionMs, messageDelayMs: params.messageDelayMs })
}

/** `timely`, or which bound the block time broke. */
export type Timeliness = 'timely' | 'tooEarly' | 'tooLate'

/**
 * Whether a proposed block with time `blockTime` (ms since the epoch), received at `receivedAt`
 * by this validator's clock in `round`, is timely. Both bounds are inclusive.
 */
export function proposalTimeliness(blockTime: number, receivedAt: number, params: TimelinessParams, round = 0): Timeliness {
  if (blockTime > receivedAt + params.precisionMs) return 'tooEarly'
  if (blockTime < receivedAt - params.precisionMs - messageDelayInRound(params, round)) return 'tooLate'
  return 'timely'
}

/**
 * Whether this node's clock is out of step with its peers': `peerOffsetMs` is the median of
 * (peer's clock − ours) over its peers. Beyond `precision` either way, its votes on honest
 * proposals are nil (too far ahead: they look late; behind: early) and its own proposals fail.
 */
export function isClockSkewed(peerOffsetMs: number, params: TimelinessParams): boolean {
  return Math.abs(peerOffsetMs) > params.precisionMs
}

/** The median of a non-empty list (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new ConsensusError('INVALID_INPUT', 'median of no values')
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}
