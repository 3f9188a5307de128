// The light client's rules (pure): what makes a header trusted without executing blocks, as
// CometBFT's light client does. A "light block" is a header, the commit certificate that
// finalized it and the validator set that signed it; an untrusted RPC supplies all three.
//
//   checked alone     the header hashes to the block the certificate signs, at its height and on
//                     our chain; the validator set hashes to the header's validatorsHash
//   adjacent (h+1)    its parent is the trusted block, its set is the one the trusted header named
//                     (nextValidatorsHash), and more than 2/3 of that set signed
//   skipping (h+k)    more than 2/3 of its own set signed, and validators of the trusted set holding
//                     more than 1/3 of the trusted power are among the signers (verifyCommitAcrossSets);
//                     if not, verify a header halfway first (bisection)
//   trusting period   a trusted header anchors skips only while it is younger than 2/3 of the
//                     unbonding period: past that its validators may have unbonded, and keys
//                     nobody can slash any more could sign a whole other chain (a long-range fork)
//
// Whatever fails is reported with a typed code and never becomes trusted.
import { bytesEqual } from '../runtime/codec/canonical.ts'
import { decodeHeader, hashHeader, type BlockHeader } from '../runtime/block.ts'
import { toHex } from '../runtime/crypto/hash.ts'
import { OpenLedgerError } from '../runtime/errors.ts'
import { decodeCommitCertificate, decodeValidatorSet, validatorSetHash, verifyCommit, verifyCommitAcrossSets, type CommitCertificate, type ValidatorSet } from './types.ts'

export type LightClientErrorCode =
  | 'MALFORMED'
  | 'WRONG_CHAIN'
  | 'HEADER_MISMATCH'
  | 'VALIDATORS_MISMATCH'
  | 'INVALID_COMMIT'
  | 'NOT_ADJACENT'
  | 'INSUFFICIENT_TRUSTED_POWER'
  | 'BAD_PROOF'
  | 'UNAVAILABLE'
  | 'TRUST_EXPIRED'
export class LightClientError extends OpenLedgerError<LightClientErrorCode> {}

export interface LightBlock {
  readonly hash: Uint8Array
  readonly header: BlockHeader
  readonly commit: CommitCertificate
  readonly validators: ValidatorSet
}

/**
 * A header the client trusts; `validators` is the set that signed it (absent for the genesis
 * header), `nextValidatorsHash` the set it schedules for the next height (the header's own field;
 * for the genesis, whose header leaves it zero, the hash of the first set computed from the
 * genesis state).
 */
export interface TrustedBlock {
  readonly hash: Uint8Array
  readonly header: BlockHeader
  readonly validators: ValidatorSet | undefined
  readonly nextValidatorsHash: Uint8Array
}

/** A checked light block as the client's trusted block. */
export function trustedBlock(block: LightBlock): TrustedBlock {
  return { hash: block.hash, header: block.header, validators: block.validators, nextValidatorsHash: block.header.nextValidatorsHash }
}

/** Decodes what an RPC sent and checks it hangs together (see the header); throws LightClientError. */
export function checkLightBlock(chainId: number, raw: { header: Uint8Array; commit: Uint8Array; validators: Uint8Array }): LightBlock {
  let header: BlockHeader
  let commit: CommitCertificate
  let validators: ValidatorSet
  try {
    header = decodeHeader(raw.header)
    commit = decodeCommitCertificate(raw.commit)
    validators = decodeValidatorSet(raw.validators)
  } catch (cause) {
    throw new LightClientError('MALFORMED', `light block does not decode: ${(cause as Error).message}`, { cause })
  }
  if (header.chainId !== chainId) throw new LightClientError('WRONG_CHAIN', `header is for chain ${header.chainId}, not ${chainId}`)
  const hash = hashHeader(header)
  if (commit.height !== header.height || !bytesEqual(commit.blockHash, hash)) {
    throw new LightClientError('HEADER_MISMATCH', `the certificate signs block ${toHex(commit.blockHash)} at height ${commit.height}, not this header (${toHex(hash)} at ${header.height})`)
  }
  if (!bytesEqual(validatorSetHash(validators), header.validatorsHash)) {
    throw new LightClientError('VALIDATORS_MISMATCH', `the validator set does not hash to the header's validatorsHash at height ${header.height}`)
  }
  return { hash, header, commit, validators }
}

/**
 * ms a trusted header may anchor a skip: 2/3 of the unbonding period (CometBFT's default ratio),
 * the period's blocks taken at `blockTimeMs` each. The margin covers blocks coming faster than
 * that and the client's clock error.
 */
export function trustingPeriodMs(unbondingPeriodBlocks: number, blockTimeMs: number): number {
  return Math.floor((unbondingPeriodBlocks * 2) / 3) * blockTimeMs
}

/** Throws TRUST_EXPIRED when `trusted` (its BFT time) is older than `periodMs` at `nowMs`. */
export function checkTrustingPeriod(trusted: TrustedBlock, nowMs: number, periodMs: number): void {
  const age = nowMs - trusted.header.timestamp
  if (age <= periodMs) return
  throw new LightClientError(
    'TRUST_EXPIRED',
    `the trusted block ${trusted.header.height} (${toHex(trusted.hash)}) is ${Math.round(age / 1000)} s old, past the trusting period of ${Math.round(periodMs / 1000)} s ` +
      '(2/3 of the unbonding period): its validators may have unbonded and could sign another chain unpunished. Start from a recent block you trust (a hash from a node or explorer you trust)',
    { details: { height: trusted.header.height, ageMs: age, trustingPeriodMs: periodMs } },
  )
}

/** Verifies the block right after `trusted`; returns it as trusted. */
export function verifyAdjacent(chainId: number, trusted: TrustedBlock, block: LightBlock): TrustedBlock {
  if (block.header.height !== trusted.header.height + 1 || !bytesEqual(block.header.parentHash, trusted.hash)) {
    throw new LightClientError('NOT_ADJACENT', `block ${block.header.height} does not follow the trusted block ${trusted.header.height} (${toHex(trusted.hash)})`)
  }
  if (!bytesEqual(block.header.validatorsHash, trusted.nextValidatorsHash)) {
    throw new LightClientError('VALIDATORS_MISMATCH', `block ${block.header.height} names another validator set than the trusted header scheduled`)
  }
  const result = verifyCommit(chainId, block.validators, block.commit, { height: block.header.height, blockHash: block.hash })
  if (!result.ok) throw new LightClientError('INVALID_COMMIT', `block ${block.header.height}: ${result.reason}`, { details: { reason: result.code } })
  return trustedBlock(block)
}

/** Verifies a later block against `trusted` by the 1/3 trust rule; INSUFFICIENT_TRUSTED_POWER means: bisect. */
export function verifySkipping(chainId: number, trusted: TrustedBlock, block: LightBlock): TrustedBlock {
  if (block.header.height <= trusted.header.height) throw new LightClientError('NOT_ADJACENT', `block ${block.header.height} is not after the trusted block ${trusted.header.height}`)
  if (block.header.height === trusted.header.height + 1 || trusted.validators === undefined) return verifyAdjacent(chainId, trusted, block)
  const result = verifyCommitAcrossSets(chainId, trusted.validators, block.validators, block.commit)
  if (!result.ok) {
    const code = result.code === 'INSUFFICIENT_TRUSTED_POWER' ? 'INSUFFICIENT_TRUSTED_POWER' : 'INVALID_COMMIT'
    throw new LightClientError(code, `block ${block.header.height}: ${result.reason}`, { details: { reason: result.code } })
  }
  return trustedBlock(block)
}

/**
 * Brings `trusted` to `target` with as few blocks as the trust rule allows: try the target, and on
 * INSUFFICIENT_TRUSTED_POWER verify the block halfway first (CometBFT's bisection). `fetch` gets a
 * checked light block from the untrusted source.
 */
export async function verifyTo(chainId: number, trusted: TrustedBlock, target: number, fetch: (height: number) => Promise<LightBlock>): Promise<{ trusted: TrustedBlock; verified: number[] }> {
  const verified: number[] = []
  let current = trusted
  const pending = [target]
  // from the genesis header (no signed set yet) the first step is block 1, adjacent
  if (current.validators === undefined && target > current.header.height + 1) pending.push(current.header.height + 1)
  while (current.header.height < target) {
    const height = pending[pending.length - 1] as number
    const block = await fetch(height)
    try {
      current = verifySkipping(chainId, current, block)
      verified.push(height)
      pending.pop()
      if (pending.length === 0 && current.header.height < target) pending.push(target)
    } catch (error) {
      if (!(error instanceof LightClientError) || error.code !== 'INSUFFICIENT_TRUSTED_POWER') throw error
      const pivot = Math.floor((current.header.height + height) / 2)
      if (pivot <= current.header.height) throw error
      pending.push(pivot)
    }
  }
  return { trusted: current, verified }
}
