// Equivocation evidence. Whether evidence bytes prove an equivocation (two conflicting signed
// votes by one consensus key at one height) is the consensus layer's rule; the runtime does not
// depend on consensus/, so the node supplies the check as a port when it builds the runtime. The
// check must be pure and deterministic (same bytes, same answer on every node) and return
// undefined for anything that is not valid evidence.
//
// Evidence arrives in a submitEvidence transaction (anyone may report) or in the block itself
// (BlockInfo.evidence, from the header; handled at the start of the block). Either way the same
// rules apply: not from the future, at most evidenceMaxAgeBlocks old, for a known validator, and
// each infraction (consensus key, height) punished once whatever bytes prove it.
//
// One slash per episode: a validator that equivocates keeps doing so (every round, every height)
// until the set that drops it takes effect, and every honest validator reports each height. Once
// punished at block p it stays in the sets already scheduled up to height p + 1, so evidence of
// an equivocation at or before p + 1 is part of the episode already punished and is refused
// (AlreadySlashed). Equivocating again after an unjail is a new episode.
import { CodecError, encode } from '../../codec/canonical.ts'
import { sha256 } from '../../crypto/hash.ts'
import { OpenLedgerError } from '../../errors.ts'
import type { ExecutionContext, ModuleError } from '../../module.ts'
import { StakingError } from './errors.ts'
import { SlashReason } from './events.ts'
import { jail, slash } from './stake.ts'
import { doubleSignCovered, evidenceExpiry, params as stakingParams, processedEvidence, validatorByKey, validators } from './state.ts'

export interface EvidenceContext {
  readonly chainId: number
  /** the height of the block including the evidence */
  readonly height: number
}

export interface Equivocation {
  /** the ed25519 consensus key that signed twice */
  readonly consensusKey: Uint8Array
  /** the height at which it did */
  readonly height: number
}

export type EvidenceVerifier = (evidence: Uint8Array, context: EvidenceContext) => Equivocation | undefined

/** The default until consensus supplies its verifier: no evidence is accepted. */
export const rejectAllEvidence: EvidenceVerifier = () => undefined

/** One id per infraction, whatever the bytes that proved it: the same misbehaviour is punished once. */
export function infractionId(equivocation: Equivocation): Uint8Array {
  return sha256(encode([equivocation.consensusKey, equivocation.height]))
}

function verified(verify: EvidenceVerifier, evidence: Uint8Array, context: EvidenceContext): Equivocation | undefined {
  try {
    return verify(evidence, context)
  } catch (error) {
    // a verifier reports malformed input with our typed errors; anything else is a bug
    if (error instanceof CodecError || error instanceof OpenLedgerError) return undefined
    throw error
  }
}

/**
 * Verifies evidence and, if it proves a new equivocation young enough to punish and not part of
 * an episode already punished, slashes doubleSignSlashBps of the validator's bonded stake and of
 * the unbonding entries created at or after the infraction, and jails it for doubleSignJailBlocks.
 */
export async function punishEquivocation(context: ExecutionContext, verify: EvidenceVerifier, evidence: Uint8Array): Promise<ModuleError | undefined> {
  const { state } = context
  const height = context.block.height
  const equivocation = verified(verify, evidence, { chainId: context.block.chainId, height })
  if (equivocation === undefined || equivocation.height > height) return StakingError.InvalidEvidence
  const params = await stakingParams.get(state)
  if (height - equivocation.height > params.evidenceMaxAgeBlocks) return StakingError.EvidenceTooOld
  const operator = await validatorByKey.get(state, equivocation.consensusKey)
  const validator = operator === undefined ? undefined : await validators.get(state, operator)
  if (validator === undefined) return StakingError.UnknownValidator
  if (equivocation.height < validator.createdHeight) return StakingError.InvalidEvidence
  const id = infractionId(equivocation)
  if ((await processedEvidence.get(state, id)) !== undefined) return StakingError.DuplicateEvidence
  const covered = await doubleSignCovered.get(state, validator.operator)
  if (covered !== undefined && equivocation.height <= covered) return StakingError.AlreadySlashed
  processedEvidence.set(state, id, equivocation.height)
  // the set computed at the end of this block (without it) takes effect at height + 2
  doubleSignCovered.set(state, validator.operator, height + 1)
  // the record is needed only while the evidence is young enough to be submitted
  const expiry = equivocation.height + params.evidenceMaxAgeBlocks + 1
  evidenceExpiry.set(state, expiry, [...((await evidenceExpiry.get(state, expiry)) ?? []), id])
  await slash(context, validator, params.doubleSignSlashBps, equivocation.height, SlashReason.doubleSign)
  await jail(context, validator, height + params.doubleSignJailBlocks, SlashReason.doubleSign, params.downtimeWindow)
  validators.set(state, validator.operator, validator)
  return undefined
}
