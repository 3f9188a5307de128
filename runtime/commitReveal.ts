// Commit–reveal for results that several workers compute independently (training verifiers and
// arbiters now; inference re-checks and attribution receipts next). Without it, the first result
// on chain can be copied by every later worker and paid for as if checked: Chainlink's first
// whitepaper calls this freeloading among oracles and answers it this way.
//
//   commit phase   each assigned worker submits keccak256(domain ‖ scope ‖ worker ‖ salt ‖
//                  payload) for its own result; nothing of any result is readable yet. It ends
//                  when every worker committed, or at its deadline.
//   reveal phase   each worker that committed submits salt and payload; the runtime checks them
//                  against its commitment. It ends when every committer revealed, or at its
//                  deadline; a commitment never revealed is penalized by the caller (otherwise
//                  a worker could commit, look at the others' reveals, and reveal only if it
//                  agrees).
//
// The worker's address is inside the hash, so copying another's commitment opens to nothing;
// the scope (e.g. job id and attempt) keeps a commitment from being replayed in another round.
import * as k from './codec/schema.ts'
import { bytesEqual } from './codec/canonical.ts'
import { concatBytes, keccak256, utf8 } from './crypto/hash.ts'
import type { Address } from './crypto/secp256k1.ts'

export const CommitPhase = { commit: 0, reveal: 1 } as const
export type CommitPhase = (typeof CommitPhase)[keyof typeof CommitPhase]

/** bytes of a salt: enough that a payload cannot be guessed from its commitment */
export const SALT_BYTES = 32

export const commitmentKind = k.struct({ worker: k.address, commitment: k.hash, height: k.uint })
export type Commitment = k.Infer<typeof commitmentKind>

/** The commitment a worker submits for `payload` in `scope` of `domain`. */
export function commitmentOf(domain: string, scope: Uint8Array, worker: Address, salt: Uint8Array, payload: Uint8Array): Uint8Array {
  return keccak256(concatBytes(utf8(domain), scope, worker, salt, payload))
}

/** The worker's commitment in `commitments`, if any. */
export function commitmentBy(commitments: readonly Commitment[], worker: Address): Commitment | undefined {
  return commitments.find((c) => bytesEqual(c.worker, worker))
}

/** Whether every one of `workers` has committed. */
export function allCommitted(commitments: readonly Commitment[], workers: readonly Address[]): boolean {
  return workers.every((worker) => commitmentBy(commitments, worker) !== undefined)
}

/** Whether `salt` and `payload` open the worker's commitment. */
export function opens(commitment: Commitment, domain: string, scope: Uint8Array, salt: Uint8Array, payload: Uint8Array): boolean {
  return salt.length === SALT_BYTES && bytesEqual(commitment.commitment, commitmentOf(domain, scope, commitment.worker, salt, payload))
}
