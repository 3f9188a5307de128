// Evidence of equivocation waiting for a block: what this node's consensus detected and what peers
// gossiped on the evidence topic (checked first). The proposer puts pending evidence in its block's
// body, where the staking module punishes it at the start of the block (once per infraction,
// quietly skipping anything it refuses), so no validator pays a fee to report and no report is
// made twice; every node drops evidence from its pool once a committed block carries it. Bounded:
// past `maxPending` the oldest goes.
import { sha256, toHex } from '../../runtime/crypto/hash.ts'
import type { EvidenceVerifier } from '../../runtime/modules/staking/index.ts'

/** pieces of evidence kept at most */
const DEFAULT_MAX_PENDING = 256
/** pieces of evidence one block carries at most */
export const MAX_EVIDENCE_PER_BLOCK = 16

/** `invalid`: the bytes prove nothing; `irrelevant`: a real equivocation by a key that no longer votes */
export type EvidenceVerdict = 'added' | 'known' | 'invalid' | 'irrelevant'

export interface EvidencePoolComponents {
  /** the same check the runtime applies (node/consensus/evidence.ts) */
  verify: EvidenceVerifier
  chainId: number
  /** the next height: evidence is judged as the next block would judge it */
  nextHeight: () => number
  /** whether the consensus key votes at the next height: evidence against anyone else is noise */
  isValidator: (consensusKey: Uint8Array) => Promise<boolean>
}

export class EvidencePool {
  readonly #maxPending: number
  readonly #components: EvidencePoolComponents
  /** by sha256 of the bytes, in arrival order */
  readonly #pending = new Map<string, Uint8Array>()
  /** ids seen in committed blocks, so a late gossip copy is not pooled again (bounded like the pool) */
  readonly #included = new Set<string>()

  constructor(options: { maxPending?: number }, components: EvidencePoolComponents) {
    this.#maxPending = options.maxPending ?? DEFAULT_MAX_PENDING
    this.#components = components
  }

  get size(): number {
    return this.#pending.size
  }

  /** Checks and pools evidence. */
  async add(bytes: Uint8Array): Promise<EvidenceVerdict> {
    const id = toHex(sha256(bytes))
    if (this.#pending.has(id) || this.#included.has(id)) return 'known'
    const { verify, chainId, nextHeight, isValidator } = this.#components
    const equivocation = verify(bytes, { chainId, height: nextHeight() })
    if (equivocation === undefined) return 'invalid'
    if (!(await isValidator(equivocation.consensusKey))) return 'irrelevant'
    this.#pending.set(id, bytes)
    if (this.#pending.size > this.#maxPending) this.#pending.delete(this.#pending.keys().next().value as string)
    return 'added'
  }

  /** What the next block should carry, oldest first. */
  pending(limit = MAX_EVIDENCE_PER_BLOCK): Uint8Array[] {
    return [...this.#pending.values()].slice(0, limit)
  }

  /** A block was committed: what it carried is dealt with (punished or refused) for good. */
  onCommitted(evidence: readonly Uint8Array[]): void {
    for (const bytes of evidence) {
      const id = toHex(sha256(bytes))
      this.#pending.delete(id)
      this.#included.add(id)
      if (this.#included.size > this.#maxPending) this.#included.delete(this.#included.values().next().value as string)
    }
  }
}
