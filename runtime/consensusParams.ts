// The chain's consensus parameters: what every validator must agree on for blocks to be decided,
// though no block's validity depends on them. Today they come from the chain spec
// (`consensus.timeliness`); governance will own them, so they live beside the runtime's other
// parameters rather than in the consensus engine that reads them (consensus/timeliness.ts).
import * as k from './codec/schema.ts'

/** The bounds of proposer-based timestamps (see consensus/timeliness.ts for the rule). */
export const timelinessParamsKind = k.struct({
  /** ms: the most two honest validators' clocks may differ (the bound on clock error) */
  precisionMs: k.uint,
  /** ms: the most a proposal may take from its proposer's clock reading to a validator's receipt (build, sign, gossip) */
  messageDelayMs: k.uint,
})
export type TimelinessParams = k.Infer<typeof timelinessParamsKind>

/** A few NTP-synchronised machines on one continent; a block built in under 1 s, gossiped in under 2 s. */
export const DEFAULT_TIMELINESS: TimelinessParams = Object.freeze({ precisionMs: 500, messageDelayMs: 3_000 })

/**
 * ms between a commit and the next height's proposal when the spec names none: the target block
 * time. Not a validity rule (a block is valid however long it took); a light client turns the
 * unbonding period's blocks into time with it.
 */
export const DEFAULT_BLOCK_TIME_MS = 1_000
/** ms: the largest accepted target block time (ten minutes) */
export const MAX_BLOCK_TIME_MS = 600_000

/** ms: the largest accepted value of either parameter (an hour: beyond it the rule bounds nothing useful) */
export const MAX_TIMELINESS_MS = 3_600_000

/** The parameter that is out of range, named, or undefined. */
export function timelinessParamsProblem(params: TimelinessParams): string | undefined {
  for (const name of ['precisionMs', 'messageDelayMs'] as const) {
    const value = params[name]
    if (!Number.isSafeInteger(value) || value < 0 || value > MAX_TIMELINESS_MS) return `${name}: expected an integer number of ms in [0, ${MAX_TIMELINESS_MS}]`
  }
  return undefined
}
