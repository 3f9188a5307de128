// Work validators do for other modules (ModelFactory's trainers and verifiers, attribution's
// attributors and verifiers, the inference market's re-checkers): who is drawn to do it, and the
// stake burnt when it was not done or done wrong. One place, so every module draws and slashes
// its workers the same way.
import type { Address } from '../../crypto/secp256k1.ts'
import type { ExecutionContext } from '../../module.ts'
import { drawSeed, drawWeighted, type DrawRequest } from '../system/index.ts'
import type { SlashReason } from './events.ts'
import { slash } from './stake.ts'
import { validators } from './state.ts'
import { countedSetAt } from './validatorSet.ts'

/**
 * The active operators whose stake counts at the executing height, in an order drawn by power
 * from the mix of `draw.height` (system/randomness.ts: the caller keeps its lookahead rule).
 */
export async function drawValidators(context: ExecutionContext, draw: DrawRequest): Promise<Address[]> {
  const members = (await countedSetAt(context.state, context.block.height)).filter((member) => member.power > 0n)
  const seed = await drawSeed(context.state, draw, context.block.height)
  return drawWeighted(seed, members.map((member) => BigInt(member.power)), members.length).map((index) => members[index]?.operator as Address)
}

/**
 * Burns `bps` of the operator's bonded stake (and its unbondings still slashable at
 * `infractionHeight`) through staking's slash. False, burning nothing, if it is no validator any
 * more or `bps` is zero.
 */
export async function slashForWork(context: ExecutionContext, operator: Address, bps: number, infractionHeight: number, reason: SlashReason): Promise<boolean> {
  if (bps === 0) return false
  const validator = await validators.get(context.state, operator)
  if (validator === undefined) return false
  await slash(context, validator, bps, infractionHeight, reason)
  validators.set(context.state, operator, validator)
  return true
}
