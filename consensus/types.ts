// Consensus messages and certificates: validator sets, proposals, votes, commit certificates and
// duplicate-vote evidence — their canonical encodings, sign bytes and verification. Pure: no IO.
//
//   validator    = [publicKey (32), power (amount), [] | [address (20)]]
//   validatorSet = [validator, ...]                     validatorSetHash = sha256(encoding)
//   proposal     = [height, round, blockHash, polRound, proposer]   polRound = -1 or in [0, round)
//   vote         = [type (1 prevote, 2 precommit), height, round, [] | [blockHash], validator]
//   signed X     = [X, signature (64)]
//   sign bytes   = "openledger/proposal/v1" or "openledger/vote/v1"  ||  encode([chainId, X])
//   commit       = [height, round, blockHash, [[validatorIndex, signature], ...]]  indices ascending
//   evidence     = [1 (duplicate vote), signed vote A, signed vote B]   A's blockHash < B's, nil first
//
// The chain id is in every sign bytes but not on the wire, so a vote from another chain (or a
// testnet with the same keys) never verifies here. Decoders check every field and name the bad
// one (CodecError); the codec's canonical rule rejects any other encoding of the same value.
// Signatures are ed25519 under runtime/crypto/ed25519.ts's single acceptance rule.
import { CodecError, CodecErrorCode, bytesEqual, decode, encode, type Decoded, type Encodable } from '../runtime/codec/canonical.ts'
import { readAmount, readArray, readBytes, readUint } from '../runtime/codec/read.ts'
import { ED25519_PUBLIC_KEY_BYTES, ED25519_SIGNATURE_BYTES, ed25519Sign, ed25519Verify, isAcceptablePublicKey } from '../runtime/crypto/ed25519.ts'
import { concatBytes, sha256, toHex, utf8 } from '../runtime/crypto/hash.ts'
import { merkleListRoot } from '../runtime/merkleList.ts'
import { ConsensusError } from './errors.ts'

/** the most validators a set may hold */
export const MAX_VALIDATORS = 1024
/** the highest round a message may carry (a height never gets near it: timeouts grow per round) */
export const MAX_ROUND = 2 ** 31 - 1
/** voting power is an amount: below 2^128 */
export const MAX_POWER = (1n << 128n) - 1n
/** bytes: encoded size limits */
export const MAX_VALIDATOR_SET_BYTES = 128 * 1024
export const MAX_VOTE_BYTES = 256
export const MAX_PROPOSAL_BYTES = 256
export const MAX_COMMIT_BYTES = 128 * 1024
export const MAX_EVIDENCE_BYTES = 1024

const HASH_BYTES = 32
const ADDRESS_BYTES = 20
const PROPOSAL_DOMAIN = utf8('openledger/proposal/v1')
const VOTE_DOMAIN = utf8('openledger/vote/v1')
/** evidence kinds on the wire; permanent, never renumbered */
const EVIDENCE_DUPLICATE_VOTE = 1

// ---------------------------------------------------------------------------------------------
// Validator sets

export interface Validator {
  /** ed25519 consensus key */
  readonly publicKey: Uint8Array
  /** voting power, > 0 */
  readonly power: bigint
  /** the operator's 20-byte account address (rewards, slashing) */
  readonly address?: Uint8Array
}

export interface ValidatorSet {
  /** in the order the staking module fixed; commit signatures refer to these indices */
  readonly validators: readonly Validator[]
  readonly totalPower: bigint
  /** power strictly more than 2/3 of the total: floor(2·total/3) + 1 */
  readonly quorum: bigint
  /** power strictly more than 1/3 of the total (f + 1): floor(total/3) + 1 */
  readonly overOneThird: bigint
}

function validatorSetProblem(validators: readonly Validator[]): string | undefined {
  if (validators.length === 0) return 'validators: expected at least one validator'
  if (validators.length > MAX_VALIDATORS) return `validators: expected at most ${MAX_VALIDATORS} validators`
  const seen = new Set<string>()
  for (const [i, validator] of validators.entries()) {
    const field = `validators[${i}]`
    if (!(validator.publicKey instanceof Uint8Array) || validator.publicKey.length !== ED25519_PUBLIC_KEY_BYTES) return `${field}.publicKey: expected ${ED25519_PUBLIC_KEY_BYTES} bytes`
    if (!isAcceptablePublicKey(validator.publicKey)) return `${field}.publicKey: not an acceptable ed25519 public key`
    if (typeof validator.power !== 'bigint' || validator.power <= 0n || validator.power > MAX_POWER) return `${field}.power: expected an amount in [1, 2^128 - 1]`
    if (validator.address !== undefined && (!(validator.address instanceof Uint8Array) || validator.address.length !== ADDRESS_BYTES)) return `${field}.address: expected ${ADDRESS_BYTES} bytes`
    const key = toHex(validator.publicKey)
    if (seen.has(key)) return `${field}.publicKey: duplicate validator`
    seen.add(key)
  }
  return undefined
}

function buildValidatorSet(validators: readonly Validator[]): ValidatorSet {
  const copied = validators.map((v) => Object.freeze(v.address === undefined
    ? { publicKey: Uint8Array.from(v.publicKey), power: v.power }
    : { publicKey: Uint8Array.from(v.publicKey), power: v.power, address: Uint8Array.from(v.address) }))
  let totalPower = 0n
  for (const v of copied) totalPower += v.power
  return Object.freeze({ validators: Object.freeze(copied), totalPower, quorum: (2n * totalPower) / 3n + 1n, overOneThird: totalPower / 3n + 1n })
}

/** Checks and freezes a validator set; throws ConsensusError INVALID_VALIDATOR_SET naming the bad field. */
export function createValidatorSet(validators: readonly Validator[]): ValidatorSet {
  const problem = validatorSetProblem(validators)
  if (problem !== undefined) throw new ConsensusError('INVALID_VALIDATOR_SET', problem)
  return buildValidatorSet(validators)
}

function validatorToEncodable(v: Validator): Encodable {
  return [v.publicKey, v.power, v.address === undefined ? [] : [v.address]]
}

export function encodeValidatorSet(set: ValidatorSet): Uint8Array {
  return encode(set.validators.map(validatorToEncodable))
}

export function decodeValidatorSet(bytes: Uint8Array): ValidatorSet {
  const items = readArray(decode(bytes, MAX_VALIDATOR_SET_BYTES), 'validators')
  if (items.length > MAX_VALIDATORS) invalid('validators', `at most ${MAX_VALIDATORS} validators`)
  const validators = items.map((item, i): Validator => {
    const field = `validators[${i}]`
    const [publicKey, power, address] = readArray(item, field, 3)
    const optionalAddress = readArray(address ?? null, `${field}.address`)
    if (optionalAddress.length > 1) invalid(`${field}.address`, '[] or [address]')
    const base = { publicKey: readBytes(publicKey ?? null, `${field}.publicKey`, ED25519_PUBLIC_KEY_BYTES), power: readAmount(power ?? null, `${field}.power`) }
    return optionalAddress.length === 0 ? base : { ...base, address: readBytes(optionalAddress[0] ?? null, `${field}.address`, ADDRESS_BYTES) }
  })
  const problem = validatorSetProblem(validators)
  if (problem !== undefined) throw new CodecError(CodecErrorCode.wrongType, problem)
  return buildValidatorSet(validators)
}

/** sha256 of the canonical encoding: the header's validatorsHash / nextValidatorsHash. */
export function validatorSetHash(set: ValidatorSet): Uint8Array {
  return sha256(encodeValidatorSet(set))
}

const indexCache = new WeakMap<ValidatorSet, Map<string, number>>()

/** The position of `publicKey` in the set, or undefined for a non-member. */
export function validatorIndex(set: ValidatorSet, publicKey: Uint8Array): number | undefined {
  let index = indexCache.get(set)
  if (index === undefined) {
    index = new Map(set.validators.map((v, i) => [toHex(v.publicKey), i]))
    indexCache.set(set, index)
  }
  return index.get(toHex(publicKey))
}

// ---------------------------------------------------------------------------------------------
// Proposals and votes

export interface Proposal {
  readonly height: number
  readonly round: number
  readonly blockHash: Uint8Array
  /** the round of the proof-of-lock (2f+1 prevotes) that justifies re-proposing blockHash, or -1 */
  readonly polRound: number
  /** the proposer's ed25519 consensus key */
  readonly proposer: Uint8Array
}
export interface SignedProposal extends Proposal {
  readonly signature: Uint8Array
}

export type VoteType = 'prevote' | 'precommit'
/** vote types on the wire; permanent */
const VOTE_TYPE_CODES = { prevote: 1, precommit: 2 } as const

export interface Vote {
  readonly type: VoteType
  readonly height: number
  readonly round: number
  /** 32 bytes, or undefined for a vote for nil */
  readonly blockHash: Uint8Array | undefined
  /** the voter's ed25519 consensus key */
  readonly validator: Uint8Array
}
export interface SignedVote extends Vote {
  readonly signature: Uint8Array
}

function invalid(field: string, expected: string): never {
  throw new CodecError(CodecErrorCode.wrongType, `${field}: expected ${expected}`)
}

function readHeight(value: Decoded, field: string): number {
  const height = readUint(value, field)
  if (height < 1) invalid(field, 'a height of at least 1')
  return height
}

function readRound(value: Decoded, field: string): number {
  return readUint(value, field, MAX_ROUND)
}

function proposalToEncodable(p: Proposal): Encodable {
  return [p.height, p.round, p.blockHash, p.polRound, p.proposer]
}

function readProposal(value: Decoded, field: string): Proposal {
  const [height, round, blockHash, polRound, proposer] = readArray(value, field, 5)
  const roundValue = readRound(round ?? null, `${field}.round`)
  if (typeof polRound !== 'number' || !Number.isSafeInteger(polRound) || polRound < -1 || polRound >= roundValue) {
    invalid(`${field}.polRound`, `-1 or a round below ${roundValue}`)
  }
  return {
    height: readHeight(height ?? null, `${field}.height`),
    round: roundValue,
    blockHash: readBytes(blockHash ?? null, `${field}.blockHash`, HASH_BYTES),
    polRound,
    proposer: readBytes(proposer ?? null, `${field}.proposer`, ED25519_PUBLIC_KEY_BYTES),
  }
}

function voteToEncodable(v: Vote): Encodable {
  return [VOTE_TYPE_CODES[v.type], v.height, v.round, v.blockHash === undefined ? [] : [v.blockHash], v.validator]
}

function readVote(value: Decoded, field: string): Vote {
  const [type, height, round, blockHash, validator] = readArray(value, field, 5)
  const typeName = type === VOTE_TYPE_CODES.prevote ? 'prevote' : type === VOTE_TYPE_CODES.precommit ? 'precommit' : invalid(`${field}.type`, '1 (prevote) or 2 (precommit)')
  const optionalHash = readArray(blockHash ?? null, `${field}.blockHash`)
  if (optionalHash.length > 1) invalid(`${field}.blockHash`, '[] (nil) or [blockHash]')
  return {
    type: typeName,
    height: readHeight(height ?? null, `${field}.height`),
    round: readRound(round ?? null, `${field}.round`),
    blockHash: optionalHash.length === 0 ? undefined : readBytes(optionalHash[0] ?? null, `${field}.blockHash`, HASH_BYTES),
    validator: readBytes(validator ?? null, `${field}.validator`, ED25519_PUBLIC_KEY_BYTES),
  }
}

function readSigned(value: Decoded, field: string): [Decoded, Uint8Array] {
  const [body, signature] = readArray(value, field, 2)
  return [body ?? null, readBytes(signature ?? null, `${field}.signature`, ED25519_SIGNATURE_BYTES)]
}

function readSignedVote(value: Decoded, field: string): SignedVote {
  const [body, signature] = readSigned(value, field)
  return Object.freeze({ ...readVote(body, field), signature })
}

/** Checks an in-memory message by decoding its own encoding: the same rule as the wire, naming the field. */
function checked<T>(encodable: Encodable, read: (value: Decoded, field: string) => T, field: string): T {
  return read(decode(encode(encodable)), field)
}

export function proposalSignBytes(chainId: number, proposal: Proposal): Uint8Array {
  return concatBytes(PROPOSAL_DOMAIN, encode([chainId, proposalToEncodable(proposal)]))
}

export function voteSignBytes(chainId: number, vote: Vote): Uint8Array {
  return concatBytes(VOTE_DOMAIN, encode([chainId, voteToEncodable(vote)]))
}

/** Signs a proposal after checking its fields (CodecError names a bad one). */
export function signProposal(chainId: number, proposal: Proposal, secretKey: Uint8Array): SignedProposal {
  const body = checked(proposalToEncodable(proposal), readProposal, 'proposal')
  return Object.freeze({ ...body, signature: ed25519Sign(secretKey, proposalSignBytes(chainId, body)) })
}

/** Signs a vote after checking its fields (CodecError names a bad one). */
export function signVote(chainId: number, vote: Vote, secretKey: Uint8Array): SignedVote {
  const body = checked(voteToEncodable(vote), readVote, 'vote')
  return Object.freeze({ ...body, signature: ed25519Sign(secretKey, voteSignBytes(chainId, body)) })
}

/** True when the proposer's key signed exactly this proposal on this chain. */
export function verifyProposalSignature(chainId: number, proposal: SignedProposal): boolean {
  return ed25519Verify(proposal.proposer, proposalSignBytes(chainId, proposal), proposal.signature)
}

/** True when the validator's key signed exactly this vote on this chain. */
export function verifyVoteSignature(chainId: number, vote: SignedVote): boolean {
  return ed25519Verify(vote.validator, voteSignBytes(chainId, vote), vote.signature)
}

export function encodeSignedProposal(proposal: SignedProposal): Uint8Array {
  return encode([proposalToEncodable(proposal), proposal.signature])
}

export function decodeSignedProposal(bytes: Uint8Array): SignedProposal {
  const [body, signature] = readSigned(decode(bytes, MAX_PROPOSAL_BYTES), 'proposal')
  return Object.freeze({ ...readProposal(body, 'proposal'), signature })
}

function signedVoteToEncodable(vote: SignedVote): Encodable {
  return [voteToEncodable(vote), vote.signature]
}

export function encodeSignedVote(vote: SignedVote): Uint8Array {
  return encode(signedVoteToEncodable(vote))
}

export function decodeSignedVote(bytes: Uint8Array): SignedVote {
  return readSignedVote(decode(bytes, MAX_VOTE_BYTES), 'vote')
}

/** Orders block hashes: nil first, then bytewise. */
export function compareBlockHashes(a: Uint8Array | undefined, b: Uint8Array | undefined): number {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? -1 : 1
  return Buffer.compare(a, b)
}

function sameBlockHash(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return compareBlockHashes(a, b) === 0
}

// ---------------------------------------------------------------------------------------------
// Verification results

export type VerifyFailureCode =
  | 'MALFORMED'
  | 'UNEXPECTED_COMMIT'
  | 'UNKNOWN_VALIDATOR'
  | 'UNSORTED_SIGNATURES'
  | 'DUPLICATE_SIGNATURE'
  | 'INVALID_SIGNATURE'
  | 'INSUFFICIENT_POWER'
  | 'INSUFFICIENT_TRUSTED_POWER'
  | 'NOT_CONFLICTING'
  | 'NOT_ORDERED'

export type VerifyResult = { readonly ok: true } | { readonly ok: false; readonly code: VerifyFailureCode; readonly reason: string }

const OK: VerifyResult = Object.freeze({ ok: true })
function fail(code: VerifyFailureCode, reason: string): VerifyResult {
  return Object.freeze({ ok: false, code, reason })
}

// ---------------------------------------------------------------------------------------------
// Commit certificates

export interface CommitSignature {
  /** position of the signer in the height's validator set */
  readonly validatorIndex: number
  /** the signer's precommit signature for (height, round, blockHash) */
  readonly signature: Uint8Array
}

export interface CommitCertificate {
  readonly height: number
  readonly round: number
  readonly blockHash: Uint8Array
  /** ascending validatorIndex, one per signer */
  readonly signatures: readonly CommitSignature[]
}

/**
 * The certificate made of those `precommits` that are for exactly (height, round, blockHash) and
 * come from members of `set` (the state machine's decide output gives exactly these), one per
 * validator, in index order. It does not check signatures or power: verifyCommit does.
 */
export function createCommitCertificate(set: ValidatorSet, height: number, round: number, blockHash: Uint8Array, precommits: readonly SignedVote[]): CommitCertificate {
  const byIndex = new Map<number, CommitSignature>()
  for (const vote of precommits) {
    if (vote.type !== 'precommit' || vote.height !== height || vote.round !== round || !sameBlockHash(vote.blockHash, blockHash)) continue
    const validatorIndexOf = validatorIndex(set, vote.validator)
    if (validatorIndexOf === undefined || byIndex.has(validatorIndexOf)) continue
    byIndex.set(validatorIndexOf, Object.freeze({ validatorIndex: validatorIndexOf, signature: vote.signature }))
  }
  const signatures = [...byIndex.values()].sort((a, b) => a.validatorIndex - b.validatorIndex)
  return Object.freeze({ height, round, blockHash, signatures: Object.freeze(signatures) })
}

export function encodeCommitCertificate(cert: CommitCertificate): Uint8Array {
  return encode([cert.height, cert.round, cert.blockHash, cert.signatures.map((s) => [s.validatorIndex, s.signature])])
}

/** Decodes a certificate; the signatures must be in strictly ascending validator order (one form per signer set). */
export function decodeCommitCertificate(bytes: Uint8Array): CommitCertificate {
  const [height, round, blockHash, signatures] = readArray(decode(bytes, MAX_COMMIT_BYTES), 'commit', 4)
  const items = readArray(signatures ?? null, 'commit.signatures')
  if (items.length > MAX_VALIDATORS) invalid('commit.signatures', `at most ${MAX_VALIDATORS} signatures`)
  let previous = -1
  const parsed = items.map((item, i): CommitSignature => {
    const field = `commit.signatures[${i}]`
    const [index, signature] = readArray(item, field, 2)
    const validatorIndexValue = readUint(index ?? null, `${field}.validatorIndex`, MAX_VALIDATORS - 1)
    if (validatorIndexValue <= previous) invalid(`${field}.validatorIndex`, `an index above ${previous} (ascending, no duplicates)`)
    previous = validatorIndexValue
    return Object.freeze({ validatorIndex: validatorIndexValue, signature: readBytes(signature ?? null, `${field}.signature`, ED25519_SIGNATURE_BYTES) })
  })
  return Object.freeze({
    height: readHeight(height ?? null, 'commit.height'),
    round: readRound(round ?? null, 'commit.round'),
    blockHash: readBytes(blockHash ?? null, 'commit.blockHash', HASH_BYTES),
    signatures: Object.freeze(parsed),
  })
}

/** sha256 of the certificate's canonical encoding: the next header's lastCommitHash. */
export function commitHash(cert: CommitCertificate): Uint8Array {
  return sha256(encodeCommitCertificate(cert))
}

function commitShapeProblem(cert: CommitCertificate): string | undefined {
  if (!Number.isSafeInteger(cert.height) || cert.height < 1) return 'commit.height: expected a height of at least 1'
  if (!Number.isSafeInteger(cert.round) || cert.round < 0 || cert.round > MAX_ROUND) return `commit.round: expected a round in [0, ${MAX_ROUND}]`
  if (!(cert.blockHash instanceof Uint8Array) || cert.blockHash.length !== HASH_BYTES) return `commit.blockHash: expected ${HASH_BYTES} bytes`
  return undefined
}

/**
 * Structure, then power, then every signature. Fails on the first problem: a certificate with any
 * invalid part is invalid as a whole (it is hashed into a header, so it must not carry garbage).
 */
function checkCommitSignatures(chainId: number, set: ValidatorSet, cert: CommitCertificate): VerifyResult {
  const shape = commitShapeProblem(cert)
  if (shape !== undefined) return fail('MALFORMED', shape)
  let previous = -1
  let signedPower = 0n
  for (const [i, entry] of cert.signatures.entries()) {
    const validator = set.validators[entry.validatorIndex]
    if (!Number.isSafeInteger(entry.validatorIndex) || validator === undefined) return fail('UNKNOWN_VALIDATOR', `commit.signatures[${i}]: no validator at index ${entry.validatorIndex}`)
    if (entry.validatorIndex === previous) return fail('DUPLICATE_SIGNATURE', `commit.signatures[${i}]: validator ${entry.validatorIndex} signed twice`)
    if (entry.validatorIndex < previous) return fail('UNSORTED_SIGNATURES', `commit.signatures[${i}]: validator indices must ascend`)
    previous = entry.validatorIndex
    signedPower += validator.power
  }
  if (signedPower < set.quorum) return fail('INSUFFICIENT_POWER', `commit signed by power ${signedPower} of ${set.totalPower}; more than 2/3 (${set.quorum}) needed`)
  for (const [i, entry] of cert.signatures.entries()) {
    const validator = set.validators[entry.validatorIndex] as Validator
    const vote: Vote = { type: 'precommit', height: cert.height, round: cert.round, blockHash: cert.blockHash, validator: validator.publicKey }
    if (!ed25519Verify(validator.publicKey, voteSignBytes(chainId, vote), entry.signature)) {
      return fail('INVALID_SIGNATURE', `commit.signatures[${i}]: not a precommit of validator ${entry.validatorIndex} for this height, round and block on chain ${chainId}`)
    }
  }
  return OK
}

/**
 * Accepts `cert` when validators of `set` holding more than 2/3 of its power signed precommits for
 * exactly (cert.height, cert.round, cert.blockHash) on `chainId`: every index known, ascending, no
 * duplicates, every signature valid. `expect` also pins the height and block the caller wants.
 * `set` must be the validator set of cert.height (the caller knows it from the header chain).
 */
export function verifyCommit(chainId: number, set: ValidatorSet, cert: CommitCertificate, expect?: { height?: number; blockHash?: Uint8Array }): VerifyResult {
  if (expect?.height !== undefined && cert.height !== expect.height) return fail('UNEXPECTED_COMMIT', `commit is for height ${cert.height}, expected ${expect.height}`)
  if (expect?.blockHash !== undefined && !(cert.blockHash instanceof Uint8Array && bytesEqual(cert.blockHash, expect.blockHash))) {
    return fail('UNEXPECTED_COMMIT', `commit is for block ${cert.blockHash instanceof Uint8Array ? toHex(cert.blockHash) : '?'}, expected ${toHex(expect.blockHash)}`)
  }
  return checkCommitSignatures(chainId, set, cert)
}

/**
 * The light client's skipping rule (Tendermint's "trust level 1/3"): a client that trusts
 * `trustedSet` (from a header it verified earlier) accepts a commit made by a later, different
 * `newSet` when
 *   1. the commit is valid for `newSet` (more than 2/3 of its power, see verifyCommit), and
 *   2. validators of `trustedSet` (matched by public key) holding more than 1/3 of the TRUSTED
 *      set's power are among its signers.
 * If fewer than 1/3 of the trusted power is faulty, rule 2 means at least one honest validator the
 * client already trusts vouched for the new block, and thereby for `newSet`. The caller must only
 * use a trusted set whose header is younger than the trusting period (shorter than the unbonding
 * period): after that its validators may have unbonded and can sign anything without being
 * slashable. When rule 2 fails, the client bisects: verifies an intermediate header first.
 */
export function verifyCommitAcrossSets(chainId: number, trustedSet: ValidatorSet, newSet: ValidatorSet, cert: CommitCertificate): VerifyResult {
  const result = checkCommitSignatures(chainId, newSet, cert)
  if (!result.ok) return result
  let trustedPower = 0n
  for (const entry of cert.signatures) {
    const signer = newSet.validators[entry.validatorIndex] as Validator
    const trustedIndex = validatorIndex(trustedSet, signer.publicKey)
    if (trustedIndex !== undefined) trustedPower += (trustedSet.validators[trustedIndex] as Validator).power
  }
  if (trustedPower < trustedSet.overOneThird) {
    return fail('INSUFFICIENT_TRUSTED_POWER', `trusted validators with power ${trustedPower} of ${trustedSet.totalPower} signed; more than 1/3 (${trustedSet.overOneThird}) needed`)
  }
  return OK
}

// ---------------------------------------------------------------------------------------------
// Evidence

/** Two votes of one validator for one (height, round, type) with different block hashes. */
export interface DuplicateVoteEvidence {
  /** the vote with the smaller block hash (nil sorts first), so a pair has one form */
  readonly voteA: SignedVote
  readonly voteB: SignedVote
}

/** Puts two conflicting votes in their canonical order; verifyEvidence checks the rest. */
export function createDuplicateVoteEvidence(first: SignedVote, second: SignedVote): DuplicateVoteEvidence {
  return compareBlockHashes(first.blockHash, second.blockHash) <= 0
    ? Object.freeze({ voteA: first, voteB: second })
    : Object.freeze({ voteA: second, voteB: first })
}

/**
 * Accepts evidence that a member of `set` (the validator set at the votes' height) signed two
 * different block hashes for the same height, round and vote type on `chainId`. Whether the
 * evidence is recent enough to punish, and not yet punished, is the caller's question.
 */
export function verifyEvidence(chainId: number, set: ValidatorSet, evidence: DuplicateVoteEvidence): VerifyResult {
  const { voteA: a, voteB: b } = evidence
  if (!bytesEqual(a.validator, b.validator)) return fail('NOT_CONFLICTING', 'evidence: the votes are from different validators')
  if (a.height !== b.height || a.round !== b.round || a.type !== b.type) return fail('NOT_CONFLICTING', 'evidence: the votes are for different heights, rounds or types')
  const order = compareBlockHashes(a.blockHash, b.blockHash)
  if (order === 0) return fail('NOT_CONFLICTING', 'evidence: the votes are for the same block')
  if (order > 0) return fail('NOT_ORDERED', 'evidence: voteA must have the smaller block hash')
  const index = validatorIndex(set, a.validator)
  if (index === undefined) return fail('UNKNOWN_VALIDATOR', `evidence: ${toHex(a.validator)} is not in the validator set`)
  if (!verifyVoteSignature(chainId, a)) return fail('INVALID_SIGNATURE', 'evidence.voteA: invalid signature')
  if (!verifyVoteSignature(chainId, b)) return fail('INVALID_SIGNATURE', 'evidence.voteB: invalid signature')
  return OK
}

function evidenceToEncodable(evidence: DuplicateVoteEvidence): Encodable {
  return [EVIDENCE_DUPLICATE_VOTE, signedVoteToEncodable(evidence.voteA), signedVoteToEncodable(evidence.voteB)]
}

export function encodeEvidence(evidence: DuplicateVoteEvidence): Uint8Array {
  return encode(evidenceToEncodable(evidence))
}

/** Decodes evidence and checks its shape (same validator, height, round, type; ordered, different hashes). Signatures: verifyEvidence. */
export function decodeEvidence(bytes: Uint8Array): DuplicateVoteEvidence {
  const [kind, a, b] = readArray(decode(bytes, MAX_EVIDENCE_BYTES), 'evidence', 3)
  if (kind !== EVIDENCE_DUPLICATE_VOTE) invalid('evidence.kind', `${EVIDENCE_DUPLICATE_VOTE} (duplicate vote)`)
  const voteA = readSignedVote(a ?? null, 'evidence.voteA')
  const voteB = readSignedVote(b ?? null, 'evidence.voteB')
  if (!bytesEqual(voteA.validator, voteB.validator)) invalid('evidence.voteB.validator', 'the same validator as voteA')
  if (voteA.height !== voteB.height || voteA.round !== voteB.round || voteA.type !== voteB.type) invalid('evidence.voteB', 'the same height, round and type as voteA')
  if (compareBlockHashes(voteA.blockHash, voteB.blockHash) >= 0) invalid('evidence.voteB.blockHash', 'a block hash greater than voteA\'s')
  return Object.freeze({ voteA, voteB })
}

/** Merkle root (runtime/merkleList.ts) over the encoded evidence: the header's evidenceHash. */
export function evidenceHash(list: readonly DuplicateVoteEvidence[]): Uint8Array {
  return merkleListRoot(list.map(encodeEvidence))
}
