// The staking module's evidence check, supplied by consensus: two validly signed, conflicting
// votes of one validator at one height/round/step. Whether the key belongs to a validator, and
// the evidence's age, are the staking module's to judge.
import type { EvidenceVerifier } from '../../runtime/modules/staking/index.ts'
import { createValidatorSet, decodeEvidence, verifyEvidence } from '../../consensus/types.ts'

export function createEvidenceVerifier(): EvidenceVerifier {
  return (bytes, context) => {
    try {
      const evidence = decodeEvidence(bytes)
      const set = createValidatorSet([{ publicKey: evidence.voteA.validator, power: 1n }])
      if (!verifyEvidence(context.chainId, set, evidence).ok) return undefined
      return { consensusKey: evidence.voteA.validator, height: evidence.voteA.height }
    } catch {
      return undefined
    }
  }
}
