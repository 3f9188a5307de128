import t from 'tap'
import fc from 'fast-check'
import { CodecError, encode, type Encodable } from '../../runtime/codec/canonical.ts'
import { EMPTY_LIST_ROOT } from '../../runtime/merkleList.ts'
import { ConsensusError } from '../../consensus/errors.ts'
import {
  commitHash, createCommitCertificate, createDuplicateVoteEvidence, createValidatorSet, decodeCommitCertificate, decodeEvidence,
  decodeSignedProposal, decodeSignedVote, decodeValidatorSet, encodeCommitCertificate, encodeEvidence, encodeSignedProposal,
  encodeSignedVote, encodeValidatorSet, evidenceHash, signVote, validatorIndex, validatorSetHash, verifyCommit, verifyCommitAcrossSets,
  verifyEvidence, verifyProposalSignature, verifyVoteSignature, type CommitCertificate, type SignedVote, type VerifyResult,
} from '../../consensus/types.ts'
import { blockHash, CHAIN_ID, committee, keyPair, proposal, vote } from './fixtures.ts'

const A = blockHash('A')
const B = blockHash('B')

function failure(result: VerifyResult): string | undefined {
  return result.ok ? undefined : result.code
}

t.test('validator set: quorum is strictly more than 2/3, lookups, hash, round trip', async (t) => {
  const cases: Array<[bigint[], bigint, bigint]> = [
    [[1n, 1n, 1n, 1n], 3n, 2n],
    [[1n, 1n, 1n], 3n, 2n],
    [[10n], 7n, 4n],
    [[1n, 2n, 3n, 4n], 7n, 4n],
    [[100n], 67n, 34n],
    [[10n ** 27n, 5n * 10n ** 26n], 10n ** 27n + 1n, 5n * 10n ** 26n + 1n],
  ]
  for (const [powers, quorum, overOneThird] of cases) {
    const { set } = committee(powers)
    t.equal(set.quorum, quorum, `quorum of ${powers.join(',')}`)
    t.equal(set.overOneThird, overOneThird, `over 1/3 of ${powers.join(',')}`)
    t.equal(set.totalPower, powers.reduce((a, b) => a + b, 0n))
  }
  const { keys, set } = committee([5n, 6n, 7n])
  t.equal(validatorIndex(set, keys[2]!.publicKey), 2)
  t.equal(validatorIndex(set, keyPair(99).publicKey), undefined)
  const withAddress = createValidatorSet([...set.validators, { publicKey: keyPair(3).publicKey, power: 1n, address: new Uint8Array(20).fill(9) }])
  for (const s of [set, withAddress]) {
    const bytes = encodeValidatorSet(s)
    const decoded = decodeValidatorSet(bytes)
    t.same(Buffer.from(encodeValidatorSet(decoded)), Buffer.from(bytes))
    t.same(Buffer.from(validatorSetHash(decoded)), Buffer.from(validatorSetHash(s)))
    t.equal(decoded.totalPower, s.totalPower)
  }
  t.notSame(Buffer.from(validatorSetHash(set)), Buffer.from(validatorSetHash(withAddress)))
  // order matters: it fixes commit signature indices
  const reversed = createValidatorSet([...set.validators].reverse())
  t.notSame(Buffer.from(validatorSetHash(set)), Buffer.from(validatorSetHash(reversed)))
})

t.test('validator set: invalid sets are refused, naming the field', async (t) => {
  const key = (i: number) => keyPair(i).publicKey
  const smallOrder = new Uint8Array(32)
  smallOrder[0] = 1 // the identity point
  const cases: Array<[string, Parameters<typeof createValidatorSet>[0], RegExp]> = [
    ['empty', [], /at least one/],
    ['zero power', [{ publicKey: key(0), power: 0n }], /validators\[0\]\.power/],
    ['power above 2^128', [{ publicKey: key(0), power: 1n << 128n }], /validators\[0\]\.power/],
    ['duplicate key', [{ publicKey: key(0), power: 1n }, { publicKey: key(0), power: 2n }], /validators\[1\]\.publicKey: duplicate/],
    ['short key', [{ publicKey: new Uint8Array(31), power: 1n }], /validators\[0\]\.publicKey/],
    ['small-order key', [{ publicKey: smallOrder, power: 1n }], /not an acceptable/],
    ['bad address', [{ publicKey: key(0), power: 1n, address: new Uint8Array(19) }], /validators\[0\]\.address/],
  ]
  for (const [name, validators, message] of cases) {
    t.throws(() => createValidatorSet(validators), { name: 'ConsensusError', code: 'INVALID_VALIDATOR_SET', message }, name)
  }
  t.throws(() => createValidatorSet(Array.from({ length: 1025 }, (_, i) => ({ publicKey: key(i), power: 1n }))), ConsensusError)
  // decoding applies the same rules, as codec errors
  const encoded = (value: Encodable) => encode(value)
  t.throws(() => decodeValidatorSet(encoded([[key(0), 0n, []]])), { name: 'CodecError', message: /validators\[0\]\.power/ })
  t.throws(() => decodeValidatorSet(encoded([[key(0), 1n, []], [key(0), 1n, []]])), { name: 'CodecError', message: /duplicate/ })
  t.throws(() => decodeValidatorSet(encoded([[key(0), Uint8Array.of(0, 1), []]])), { name: 'CodecError', message: /leading zero/ })
  t.throws(() => decodeValidatorSet(encoded([[key(0), 1n, [new Uint8Array(20), new Uint8Array(20)]]])), { name: 'CodecError', message: /validators\[0\]\.address/ })
  t.throws(() => decodeValidatorSet(encoded([[key(0), 1n]])), { name: 'CodecError', message: /validators\[0\]/ })
})

const voteArbitrary = fc.record({
  type: fc.constantFrom('prevote' as const, 'precommit' as const),
  height: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  round: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  hash: fc.option(fc.uint8Array({ minLength: 32, maxLength: 32 }), { nil: undefined }),
  signer: fc.integer({ min: 0, max: 3 }),
})

t.test('votes: sign, verify, encode/decode round trip', async (t) => {
  const c = committee([1n, 1n, 1n, 1n])
  fc.assert(fc.property(voteArbitrary, (v) => {
    const signed = vote(c, v.signer, v.type, v.height, v.round, v.hash)
    const bytes = encodeSignedVote(signed)
    const decoded = decodeSignedVote(bytes)
    t.same(decoded, signed)
    t.same(Buffer.from(encodeSignedVote(decoded)), Buffer.from(bytes))
    t.ok(verifyVoteSignature(CHAIN_ID, decoded))
    t.notOk(verifyVoteSignature(CHAIN_ID + 1, decoded), 'another chain id')
  }), { seed: 31, numRuns: 100 })
})

t.test('votes: tampering and another chain are caught', async (t) => {
  const c = committee([1n, 1n, 1n, 1n])
  const signed = vote(c, 1, 'prevote', 10, 2, A)
  t.ok(verifyVoteSignature(CHAIN_ID, signed))
  const flipped = Uint8Array.from(signed.signature)
  flipped[5] = (flipped[5] ?? 0) ^ 1
  t.notOk(verifyVoteSignature(CHAIN_ID, { ...signed, signature: flipped }), 'flipped signature bit')
  t.notOk(verifyVoteSignature(CHAIN_ID, { ...signed, blockHash: B }), 'other block')
  t.notOk(verifyVoteSignature(CHAIN_ID, { ...signed, blockHash: undefined }), 'nil instead')
  t.notOk(verifyVoteSignature(CHAIN_ID, { ...signed, round: 3 }), 'other round')
  t.notOk(verifyVoteSignature(CHAIN_ID, { ...signed, height: 11 }), 'other height')
  t.notOk(verifyVoteSignature(CHAIN_ID, { ...signed, type: 'precommit' }), 'other type')
  t.notOk(verifyVoteSignature(CHAIN_ID, { ...signed, validator: c.keys[2]!.publicKey }), 'other validator')
  t.notOk(verifyVoteSignature(CHAIN_ID + 1, signed), 'other chain')
  // a proposal signature never passes as a vote (different domain tag)
  const p = proposal(c, 1, 10, 2, A)
  t.notOk(verifyVoteSignature(CHAIN_ID, { ...signed, signature: p.signature }))
})

t.test('votes: decoding rejects malformed and non-canonical bytes, naming the field', async (t) => {
  const c = committee([1n])
  const signed = vote(c, 0, 'precommit', 3, 1, A)
  const sig = signed.signature
  const key = c.keys[0]!.publicKey
  const cases: Array<[string, Encodable, RegExp]> = [
    ['vote type 3', [[3, 3, 1, [A], key], sig], /vote\.type/],
    ['height 0', [[2, 0, 1, [A], key], sig], /vote\.height/],
    ['round above 2^31-1', [[2, 3, 2 ** 31, [A], key], sig], /vote\.round/],
    ['31-byte hash', [[2, 3, 1, [A.subarray(1)], key], sig], /vote\.blockHash/],
    ['two hashes', [[2, 3, 1, [A, B], key], sig], /vote\.blockHash/],
    ['hash not wrapped', [[2, 3, 1, A, key], sig], /vote\.blockHash/],
    ['short key', [[2, 3, 1, [A], key.subarray(1)], sig], /vote\.validator/],
    ['short signature', [[2, 3, 1, [A], key], sig.subarray(1)], /vote\.signature/],
    ['extra field', [[2, 3, 1, [A], key, 0], sig], /vote/],
    ['negative round', [[2, 3, -1, [A], key], sig], /vote\.round/],
  ]
  for (const [name, value, message] of cases) t.throws(() => decodeSignedVote(encode(value)), { name: 'CodecError', message }, name)
  const bytes = encodeSignedVote(signed)
  // [[2, 3, 1, ...]]: the type byte 0x02 right after the two array headers, rewritten as uint8 0xcc 0x02
  t.equal(bytes[2], 0x02)
  const nonCanonical = Uint8Array.from([...bytes.subarray(0, 2), 0xcc, 0x02, ...bytes.subarray(3)])
  t.throws(() => decodeSignedVote(nonCanonical), { name: 'CodecError', code: 'NON_CANONICAL' })
  t.throws(() => decodeSignedVote(Uint8Array.from([...bytes, 0])), CodecError, 'trailing byte')
  t.throws(() => decodeSignedVote(new Uint8Array(300)), { code: 'TOO_LARGE' })
  // signing checks the fields the same way
  t.throws(() => signVote(CHAIN_ID, { type: 'prevote', height: 0, round: 0, blockHash: undefined, validator: key }, c.keys[0]!.secretKey), { name: 'CodecError', message: /vote\.height/ })
})

t.test('proposals: round trip, signature, polRound rule', async (t) => {
  const c = committee([1n, 1n])
  for (const polRound of [-1, 0, 4]) {
    const p = proposal(c, 1, 9, 5, A, polRound)
    const decoded = decodeSignedProposal(encodeSignedProposal(p))
    t.same(decoded, p)
    t.ok(verifyProposalSignature(CHAIN_ID, decoded))
    t.notOk(verifyProposalSignature(CHAIN_ID + 1, decoded))
    t.notOk(verifyProposalSignature(CHAIN_ID, { ...decoded, polRound: polRound + 1 }))
    t.notOk(verifyProposalSignature(CHAIN_ID, { ...decoded, blockHash: B }))
  }
  const p = proposal(c, 0, 9, 5, A)
  const key = c.keys[0]!.publicKey
  for (const polRound of [5, 6, -2]) {
    t.throws(() => decodeSignedProposal(encode([[9, 5, A, polRound, key], p.signature])), { name: 'CodecError', message: /proposal\.polRound/ }, `polRound ${polRound}`)
  }
  t.throws(() => decodeSignedProposal(encode([[9, 5, A, 1.5 as unknown as number, key], p.signature])), CodecError)
  t.throws(() => decodeSignedProposal(encode([[9, 5, [A], -1, key], p.signature])), { message: /proposal\.blockHash/ })
})

function precommits(c: ReturnType<typeof committee>, signers: number[], height: number, round: number, hash: Uint8Array): SignedVote[] {
  return signers.map((i) => vote(c, i, 'precommit', height, round, hash))
}

t.test('commit certificates: valid with more than 2/3, and every way to be wrong', async (t) => {
  const c = committee([1n, 1n, 1n, 1n])
  const cert = createCommitCertificate(c.set, 5, 1, A, precommits(c, [3, 0, 2], 5, 1, A))
  t.same(cert.signatures.map((s) => s.validatorIndex), [0, 2, 3], 'sorted by index')
  t.same(verifyCommit(CHAIN_ID, c.set, cert), { ok: true })
  t.same(verifyCommit(CHAIN_ID, c.set, cert, { height: 5, blockHash: A }), { ok: true })
  t.equal(failure(verifyCommit(CHAIN_ID, c.set, cert, { height: 6 })), 'UNEXPECTED_COMMIT')
  t.equal(failure(verifyCommit(CHAIN_ID, c.set, cert, { blockHash: B })), 'UNEXPECTED_COMMIT')

  const decoded = decodeCommitCertificate(encodeCommitCertificate(cert))
  t.same(decoded, cert)
  t.same(Buffer.from(commitHash(decoded)), Buffer.from(commitHash(cert)))

  // only matching precommits of members make it in
  const mixed = [...precommits(c, [0], 5, 1, A), vote(c, 1, 'prevote', 5, 1, A), vote(c, 2, 'precommit', 5, 1, B), vote(c, 3, 'precommit', 5, 2, A), ...precommits(c, [0], 5, 1, A)]
  t.same(createCommitCertificate(c.set, 5, 1, A, mixed).signatures.map((s) => s.validatorIndex), [0])

  const two = createCommitCertificate(c.set, 5, 1, A, precommits(c, [0, 1], 5, 1, A))
  t.equal(failure(verifyCommit(CHAIN_ID, c.set, two)), 'INSUFFICIENT_POWER', '2 of 4')
  const three = committee([1n, 1n, 1n])
  const exactlyTwoThirds = createCommitCertificate(three.set, 5, 1, A, precommits(three, [0, 1], 5, 1, A))
  t.equal(failure(verifyCommit(CHAIN_ID, three.set, exactlyTwoThirds)), 'INSUFFICIENT_POWER', 'exactly 2/3 is not enough')
  const weighted = committee([1n, 1n, 1n, 10n])
  t.equal(failure(verifyCommit(CHAIN_ID, weighted.set, createCommitCertificate(weighted.set, 5, 1, A, precommits(weighted, [0, 1, 2], 5, 1, A)))), 'INSUFFICIENT_POWER', '3 of 4 validators but 3 of 13 power')
  t.same(verifyCommit(CHAIN_ID, weighted.set, createCommitCertificate(weighted.set, 5, 1, A, precommits(weighted, [3], 5, 1, A))), { ok: true }, '1 validator with 10 of 13')

  const sigs = cert.signatures
  const withSignatures = (signatures: CommitCertificate['signatures']): CommitCertificate => ({ ...cert, signatures })
  t.equal(failure(verifyCommit(CHAIN_ID, c.set, withSignatures([sigs[0]!, sigs[0]!, sigs[1]!, sigs[2]!]))), 'DUPLICATE_SIGNATURE')
  t.equal(failure(verifyCommit(CHAIN_ID, c.set, withSignatures([sigs[1]!, sigs[0]!, sigs[2]!]))), 'UNSORTED_SIGNATURES')
  t.equal(failure(verifyCommit(CHAIN_ID, c.set, withSignatures([...sigs, { validatorIndex: 4, signature: sigs[0]!.signature }]))), 'UNKNOWN_VALIDATOR')
  t.equal(failure(verifyCommit(CHAIN_ID, c.set, { ...cert, height: 6 })), 'INVALID_SIGNATURE', 'wrong height')
  t.equal(failure(verifyCommit(CHAIN_ID, c.set, { ...cert, round: 0 })), 'INVALID_SIGNATURE', 'wrong round')
  t.equal(failure(verifyCommit(CHAIN_ID, c.set, { ...cert, blockHash: B })), 'INVALID_SIGNATURE', 'wrong block')
  t.equal(failure(verifyCommit(CHAIN_ID + 1, c.set, cert)), 'INVALID_SIGNATURE', 'wrong chain')
  t.equal(failure(verifyCommit(CHAIN_ID, c.set, { ...cert, blockHash: A.subarray(1) })), 'MALFORMED')
  const forged = Uint8Array.from(sigs[1]!.signature)
  forged[40] = (forged[40] ?? 0) ^ 0x10
  t.equal(failure(verifyCommit(CHAIN_ID, c.set, withSignatures([sigs[0]!, { validatorIndex: 2, signature: forged }, sigs[2]!]))), 'INVALID_SIGNATURE', 'forged signature')
  t.equal(failure(verifyCommit(CHAIN_ID, c.set, withSignatures([sigs[0]!, { validatorIndex: 2, signature: sigs[0]!.signature }, sigs[2]!]))), 'INVALID_SIGNATURE', "another validator's signature")
  const prevotes = [0, 1, 2].map((i) => vote(c, i, 'prevote', 5, 1, A))
  t.equal(failure(verifyCommit(CHAIN_ID, c.set, withSignatures(prevotes.map((v, i) => ({ validatorIndex: i, signature: v.signature }))))), 'INVALID_SIGNATURE', 'prevotes are not precommits')

  // the canonical form: ascending indices, no duplicates
  const entry = (i: number): Encodable => [sigs[i]!.validatorIndex, sigs[i]!.signature]
  t.throws(() => decodeCommitCertificate(encode([5, 1, A, [entry(1), entry(0)]])), { name: 'CodecError', message: /commit\.signatures\[1\]\.validatorIndex/ })
  t.throws(() => decodeCommitCertificate(encode([5, 1, A, [entry(0), entry(0)]])), { name: 'CodecError', message: /ascending/ })
  t.throws(() => decodeCommitCertificate(encode([0, 1, A, [entry(0)]])), { message: /commit\.height/ })
  t.notSame(Buffer.from(commitHash(cert)), Buffer.from(commitHash(createCommitCertificate(c.set, 5, 1, A, precommits(c, [0, 1, 2, 3], 5, 1, A)))))
})

t.test('verifyCommitAcrossSets: the light client skipping rule (more than 1/3 of the trusted power)', async (t) => {
  // keys 0..5; trusted = {0,1,2,3}, new = {2,3,4,5} (power 1 each)
  const all = committee([1n, 1n, 1n, 1n, 1n, 1n])
  const trusted = createValidatorSet([0, 1, 2, 3].map((i) => ({ publicKey: all.keys[i]!.publicKey, power: 1n })))
  const next = createValidatorSet([2, 3, 4, 5].map((i) => ({ publicKey: all.keys[i]!.publicKey, power: 1n })))
  const signed = (signers: number[]) => createCommitCertificate(next, 9, 0, A, signers.map((i) => vote(all, i, 'precommit', 9, 0, A)))
  t.same(verifyCommitAcrossSets(CHAIN_ID, trusted, next, signed([2, 3, 4])), { ok: true }, '2 of 4 trusted signed')
  t.equal(failure(verifyCommitAcrossSets(CHAIN_ID, trusted, next, signed([3, 4, 5]))), 'INSUFFICIENT_TRUSTED_POWER', '1 of 4 trusted signed')
  t.equal(failure(verifyCommitAcrossSets(CHAIN_ID, trusted, next, signed([2, 3]))), 'INSUFFICIENT_POWER', 'not a valid commit for the new set')
  t.same(verifyCommitAcrossSets(CHAIN_ID, next, next, signed([2, 3, 4])), { ok: true }, 'same set: the ordinary rule')
})

t.test('duplicate vote evidence: valid and invalid', async (t) => {
  const c = committee([1n, 1n, 1n, 1n])
  const a = vote(c, 2, 'prevote', 4, 1, A)
  const b = vote(c, 2, 'prevote', 4, 1, B)
  const nil = vote(c, 2, 'prevote', 4, 1, undefined)
  const evidence = createDuplicateVoteEvidence(b, a)
  t.same(createDuplicateVoteEvidence(a, b), evidence, 'one canonical order')
  t.same(verifyEvidence(CHAIN_ID, c.set, evidence), { ok: true })
  const withNil = createDuplicateVoteEvidence(a, nil)
  t.equal(withNil.voteA.blockHash, undefined, 'nil sorts first')
  t.same(verifyEvidence(CHAIN_ID, c.set, withNil), { ok: true })

  t.equal(failure(verifyEvidence(CHAIN_ID, c.set, { voteA: a, voteB: a })), 'NOT_CONFLICTING', 'same block')
  const other = vote(c, 3, 'prevote', 4, 1, B)
  t.equal(failure(verifyEvidence(CHAIN_ID, c.set, createDuplicateVoteEvidence(a, other))), 'NOT_CONFLICTING', 'different validators')
  t.equal(failure(verifyEvidence(CHAIN_ID, c.set, createDuplicateVoteEvidence(a, vote(c, 2, 'prevote', 4, 2, B)))), 'NOT_CONFLICTING', 'different rounds')
  t.equal(failure(verifyEvidence(CHAIN_ID, c.set, createDuplicateVoteEvidence(a, vote(c, 2, 'precommit', 4, 1, B)))), 'NOT_CONFLICTING', 'different types')
  t.equal(failure(verifyEvidence(CHAIN_ID, c.set, { voteA: evidence.voteB, voteB: evidence.voteA })), 'NOT_ORDERED')
  const badSignature = Uint8Array.from(evidence.voteB.signature)
  badSignature[0] = (badSignature[0] ?? 0) ^ 1
  t.equal(failure(verifyEvidence(CHAIN_ID, c.set, { voteA: evidence.voteA, voteB: { ...evidence.voteB, signature: badSignature } })), 'INVALID_SIGNATURE', 'bad signature')
  t.equal(failure(verifyEvidence(CHAIN_ID, c.set, { ...evidence, voteB: { ...evidence.voteB, signature: evidence.voteA.signature } })), 'INVALID_SIGNATURE', 'signature of the other vote')
  t.equal(failure(verifyEvidence(CHAIN_ID + 1, c.set, evidence)), 'INVALID_SIGNATURE', 'another chain')
  const outsider = committee([1n, 1n, 1n, 1n, 1n])
  const x = vote(outsider, 4, 'prevote', 4, 1, A)
  const y = vote(outsider, 4, 'prevote', 4, 1, B)
  t.equal(failure(verifyEvidence(CHAIN_ID, c.set, createDuplicateVoteEvidence(x, y))), 'UNKNOWN_VALIDATOR')

  // encoding
  const bytes = encodeEvidence(evidence)
  t.same(decodeEvidence(bytes), evidence)
  t.same(Buffer.from(encodeEvidence(decodeEvidence(bytes))), Buffer.from(bytes))
  const raw = (first: SignedVote, second: SignedVote, kind = 1) => encode([kind, [[1, first.height, first.round, first.blockHash === undefined ? [] : [first.blockHash], first.validator], first.signature], [[1, second.height, second.round, second.blockHash === undefined ? [] : [second.blockHash], second.validator], second.signature]])
  t.same(decodeEvidence(raw(evidence.voteA, evidence.voteB)), evidence, 'hand-built bytes match')
  t.throws(() => decodeEvidence(raw(evidence.voteA, evidence.voteB, 2)), { message: /evidence\.kind/ })
  t.throws(() => decodeEvidence(raw(evidence.voteB, evidence.voteA)), { message: /evidence\.voteB\.blockHash/ })
  t.throws(() => decodeEvidence(raw(a, a)), { message: /evidence\.voteB\.blockHash/ })
  t.throws(() => decodeEvidence(raw(a, other)), { message: /evidence\.voteB\.validator/ })

  // the header's evidence hash
  t.same(Buffer.from(evidenceHash([])), Buffer.from(EMPTY_LIST_ROOT))
  t.same(Buffer.from(evidenceHash([evidence, withNil])), Buffer.from(evidenceHash([decodeEvidence(bytes), withNil])))
  t.notSame(Buffer.from(evidenceHash([evidence, withNil])), Buffer.from(evidenceHash([withNil, evidence])))
})
