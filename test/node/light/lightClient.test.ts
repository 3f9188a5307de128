// The light client against an untrusted source serving a real chain of headers, ed25519 commit
// certificates and validator sets that change twice (A → B → C, C sharing no validator with A),
// and a real authenticated state (StateDb): it follows the chain by skipping and bisection, proves a
// balance, a contribution's inclusion in a datanet version and an attribution's payout, refuses a
// trusted block past the trusting period, and reports every tampered part instead of answering.
import t, { type Test } from 'tap'
import { MemoryStore } from '../../../node/db/memoryStore.ts'
import { WriteBatch } from '../../../node/db/store.ts'
import { StateDb } from '../../../node/state/stateDb.ts'
import { LightClient, type ContributionPath, type LightSource } from '../../../node/light/lightClient.ts'
import { LightClientError } from '../../../consensus/lightClient.ts'
import { createCommitCertificate, createValidatorSet, encodeCommitCertificate, encodeValidatorSet, signVote, validatorSetHash, type ValidatorSet } from '../../../consensus/types.ts'
import { decodeHeader, encodeHeader, hashHeader, type BlockHeader } from '../../../runtime/block.ts'
import { generateEd25519FromSeed } from '../../../runtime/crypto/ed25519.ts'
import { accountInfoKind, accounts } from '../../../runtime/modules/system/state.ts'
import { decode, encode } from '../../../runtime/codec/canonical.ts'
import { encodeStateProof } from '../../../runtime/state/proof.ts'
import { devAccount } from '../../../genesis/devAccounts.ts'
import { versionKind, versions } from '../../../runtime/modules/datanets/state.ts'
import { contributionLeaf, type LeafFields } from '../../../runtime/modules/datanets/versionTree.ts'
import { versionTree } from '../../../runtime/modules/datanets/proofs.ts'
import { attributionKind, attributions, AttributionStatus } from '../../../runtime/modules/attribution/state.ts'
import { DEFAULT_STAKING_PARAMS } from '../../../runtime/modules/staking/state.ts'

const CHAIN_ID = 7
const HEIGHT = 12
const keys = Array.from({ length: 12 }, (_, i) => generateEd25519FromSeed(new Uint8Array(32).fill(i + 1)))
const setOf = (members: number[]): ValidatorSet => createValidatorSet(members.map((i) => ({ publicKey: (keys[i] as { publicKey: Uint8Array }).publicKey, power: 10n })))
const A = setOf([0, 1, 2, 3])
const B = setOf([2, 3, 4, 5]) // half of A's power stays: a skip from A to B is trusted
const C = setOf([4, 5, 6, 7]) // nothing of A: from A to C needs a B header in between
const FORGED = setOf([8, 9, 10, 11])
const setAt = (height: number): ValidatorSet => (height <= 4 ? A : height <= 8 ? B : C)
const alice = devAccount('alice')
const ALICE_BALANCE = 123_456_789n * 10n ** 12n
const bob = devAccount('bob')
const GENESIS_TIME = 1_700_000_000_000
/** the trusting period at the default 1 s blocks: 2/3 of the default unbonding period */
const TRUSTING_MS = Math.floor((DEFAULT_STAKING_PARAMS.unbondingPeriod * 2) / 3) * 1000
/** datanet 3's version 2: four contributions, the third (index 7) by bob */
const leaves: LeafFields[] = [4, 5, 7, 9].map((index, i) => ({
  datanet: 3, index, contributor: (i === 2 ? bob : alice).address, cid: new Uint8Array(32).fill(index), size: 100 * index, rows: index, format: 0,
}))
const tree = versionTree(leaves.map(contributionLeaf))
const RECORD = 11

interface Raw { height: number; header: Uint8Array; commit: Uint8Array; validators: Uint8Array }

function sign(header: BlockHeader, set: ValidatorSet): Raw {
  const hash = hashHeader(header)
  const precommits = set.validators.map((v) => {
    const key = keys.find((k) => k.publicKey.every((b, i) => b === v.publicKey[i])) as { secretKey: Uint8Array }
    return signVote(CHAIN_ID, { type: 'precommit', height: header.height, round: 0, blockHash: hash, validator: v.publicKey }, key.secretKey)
  })
  return { height: header.height, header: encodeHeader(header), commit: encodeCommitCertificate(createCommitCertificate(set, header.height, 0, hash, precommits)), validators: encodeValidatorSet(set) }
}

async function fixture() {
  const store = new MemoryStore()
  const state = await StateDb.open(store)
  const version = { datanet: 3, version: 2, root: tree.root, positions: 4, contributions: 4, bytes: 2_500, rows: 25, publishedHeight: 5, publishedAt: GENESIS_TIME, note: '' }
  const attribution = {
    record: RECORD, status: AttributionStatus.final, attempt: 0, attributor: alice.address, excluded: [], deadline: 0, forceCheck: false, receipt: undefined, receiptHash: undefined,
    submittedHeight: 9, verifiers: [], phase: 0, commitments: [], reveals: [], paid: 600n, toTreasury: 0n, finalHeight: 10,
    payouts: [{ datanet: 3, index: 7, contributor: bob.address, amount: 400n }, { datanet: 3, index: 4, contributor: alice.address, amount: 150n }, { datanet: 3, index: 9, contributor: bob.address, amount: 50n }],
  }
  const prepared = await state.prepare([
    { key: accounts.key(alice.address), value: encode(accountInfoKind.encode({ nonce: 3, free: ALICE_BALANCE })) },
    { key: versions.key({ datanet: 3, version: 2 }), value: encode(versionKind.encode(version)) },
    { key: attributions.key(RECORD), value: encode(attributionKind.encode(attribution)) },
  ], 0)
  const batch = new WriteBatch()
  state.commit(prepared, batch)
  await store.write(batch)
  state.applied(prepared)
  const base = {
    chainId: CHAIN_ID, timestamp: GENESIS_TIME, author: new Uint8Array(20), proposer: new Uint8Array(32), txRoot: new Uint8Array(32), stateRoot: prepared.root,
    receiptsRoot: new Uint8Array(32), lastCommitHash: new Uint8Array(32), evidenceHash: new Uint8Array(32), gasUsed: 0, baseFeePerGas: 0n, randomnessReveal: new Uint8Array(32),
  }
  // as on the real chain, the genesis header leaves both set hashes zero: the anchor carries set A's
  const genesis: BlockHeader = { ...base, height: 0, parentHash: new Uint8Array(32), validatorsHash: new Uint8Array(32), nextValidatorsHash: new Uint8Array(32) }
  const headers: BlockHeader[] = [genesis]
  const blocks = new Map<number, Raw>()
  for (let height = 1; height <= HEIGHT; height++) {
    const header: BlockHeader = { ...base, height, timestamp: base.timestamp + height * 1000, parentHash: hashHeader(headers[height - 1] as BlockHeader), validatorsHash: validatorSetHash(setAt(height)), nextValidatorsHash: validatorSetHash(setAt(height + 1)) }
    headers.push(header)
    blocks.set(height, sign(header, setAt(height)))
  }
  const asked: number[] = []
  const tamper = { block: (raw: Raw): Raw => raw, value: (value: Uint8Array | undefined) => value, proof: (proof: Uint8Array) => proof, path: (path: ContributionPath): ContributionPath => path }
  const source: LightSource = {
    async lightBlock(height) {
      const h = height ?? HEIGHT
      asked.push(h)
      const raw = blocks.get(h)
      return raw === undefined ? null : tamper.block(raw)
    },
    async readProof(key) {
      return { value: tamper.value(await state.get(key)), proof: tamper.proof(encodeStateProof(await state.prove(key, 0))) }
    },
    async contributionProof(datanet, index, number) {
      const position = leaves.findIndex((l) => l.datanet === datanet && l.index === index)
      if (position === -1 || (number ?? 2) !== 2) return null
      return tamper.path({ version: 2, position, siblings: tree.proof(position), leaf: leaves[position] as LeafFields })
    },
  }
  const clock = { now: GENESIS_TIME + 60_000 }
  const anchor = { hash: hashHeader(genesis), header: genesis, validators: undefined, nextValidatorsHash: validatorSetHash(A), unbondingPeriod: DEFAULT_STAKING_PARAMS.unbondingPeriod }
  const client = new LightClient(anchor, source, { now: () => clock.now })
  return { client, tamper, asked, headers, clock, source }
}

async function rejects(t: Test, promise: Promise<unknown>, code: string, what: string): Promise<void> {
  try {
    await promise
    t.fail(`${what}: accepted`)
  } catch (error) {
    t.ok(error instanceof LightClientError, `${what}: a LightClientError`)
    t.equal((error as LightClientError).code, code, what)
  }
}

t.test('follows two validator-set changes by skipping and bisection, then proves a balance', async (t) => {
  const { client, asked } = await fixture()
  const verified = await client.sync()
  t.same(verified, [1, 6, 12], 'block 1 (adjacent to genesis), then 12 needed 6 in between: A and C share no validator')
  t.ok(asked.includes(12) && asked.includes(6), 'bisection asked for the pivot')
  t.equal(client.trusted.header.height, HEIGHT)
  const account = await client.account(alice.address)
  t.equal(account.free, ALICE_BALANCE, 'balance proven against the verified state root')
  t.equal(account.nonce, 3)
  const nobody = await client.account(devAccount('ferdie').address)
  t.equal(nobody.free, 0n, 'an absent account is proven absent')
})

t.test('proves a contribution\'s inclusion in a version and what an attribution paid a contributor', async (t) => {
  const { client } = await fixture()
  await client.sync()
  const proven = await client.contribution(3, 7)
  t.equal(proven?.version, 2, 'the latest version')
  t.equal(proven?.position, 2)
  t.same(proven?.contributor, bob.address, 'its contributor, bound by the leaf')
  t.same(proven?.root, tree.root)
  t.equal(proven?.height, HEIGHT, 'proven at the verified block')
  t.equal(await client.contribution(3, 8), null, 'a contribution the node places in no version')
  const paid = await client.payout(RECORD, bob.address)
  t.equal(paid.status, 'final')
  t.equal(paid.amount, 450n, 'both of bob\'s payouts of the record')
  t.same(paid.contributions.map((c) => [c.index, c.amount]), [[7, 400n], [9, 50n]])
  t.equal((await client.payout(RECORD, devAccount('ferdie').address)).amount, 0n, 'nothing paid to someone the record did not credit')
  t.same(await client.payout(RECORD + 1, bob.address), { record: RECORD + 1, status: 'none', amount: 0n, contributions: [], height: HEIGHT }, 'an absent attribution, proven absent')
})

t.test('a trusted block past the trusting period anchors nothing; a recent block trusted by its hash does', async (t) => {
  {
    const { client, clock, asked } = await fixture()
    clock.now = GENESIS_TIME + TRUSTING_MS + 1
    await rejects(t, client.sync(), 'TRUST_EXPIRED', 'a genesis older than 2/3 of the unbonding period')
    t.same(asked, [12], 'nothing verified: only the head was asked for')
    t.match(await client.sync().catch((error: Error) => error.message), /block 0 .* past the trusting period of \d+ s/, 'the message says which block and why')
  }
  {
    const { client, clock } = await fixture()
    clock.now = GENESIS_TIME + TRUSTING_MS // exactly the period: still trusted
    t.same(await client.sync(6), [1, 6])
    clock.now = 6_000 + GENESIS_TIME + TRUSTING_MS + 1
    await rejects(t, client.sync(), 'TRUST_EXPIRED', 'block 6 once it is past the period in its turn')
  }
  {
    const { source, headers } = await fixture()
    const clock = { now: GENESIS_TIME + TRUSTING_MS + 1 }
    const trustedHash = hashHeader(headers[5] as BlockHeader)
    const client = await LightClient.fromTrustedBlock(CHAIN_ID, { height: 5, hash: trustedHash }, source, { now: () => clock.now })
    t.same(await client.sync(), [12], 'from block 5 (set B) to 12 (set C) in one skip: half of B signed 12')
    t.equal(client.trustingPeriodMs, TRUSTING_MS, 'the unbonding period proven at block 5')
    await rejects(t, LightClient.fromTrustedBlock(CHAIN_ID, { height: 5, hash: new Uint8Array(32).fill(1) }, source), 'HEADER_MISMATCH', 'a node whose block 5 is not the one trusted')
    const short = await LightClient.fromTrustedBlock(CHAIN_ID, { height: 5, hash: trustedHash }, source, { now: () => clock.now, blockTimeMs: 1 })
    await rejects(t, short.sync(), 'TRUST_EXPIRED', 'the same block at 1 ms blocks is far past the period')
  }
})

t.test('a tampered header, certificate, validator set or proof is detected and reported', async (t) => {
  {
    const { client, tamper } = await fixture()
    tamper.block = (raw) => (raw.height === HEIGHT ? { ...raw, header: encodeHeader({ ...decodeHeader(raw.header), stateRoot: new Uint8Array(32).fill(9) }) } : raw)
    await rejects(t, client.sync(), 'HEADER_MISMATCH', 'a header with another state root than the one signed')
  }
  {
    const { client, tamper } = await fixture()
    tamper.block = (raw) => {
      if (raw.height !== 6) return raw
      const commit = Uint8Array.from(raw.commit)
      commit[commit.length - 5] = (commit[commit.length - 5] as number) ^ 1
      return { ...raw, commit }
    }
    await rejects(t, client.sync(), 'INVALID_COMMIT', 'a certificate with a broken signature')
  }
  {
    const { client, tamper } = await fixture()
    tamper.block = (raw) => (raw.height === 6 ? { ...raw, validators: encodeValidatorSet(setOf([2, 3, 4, 6])) } : raw)
    await rejects(t, client.sync(), 'VALIDATORS_MISMATCH', 'a validator set that is not the one the header names')
  }
  {
    // a whole consistent chain forged by keys the client never trusted: every skip fails, and the
    // adjacent step shows the set was never scheduled
    const { client, tamper, headers } = await fixture()
    tamper.block = (raw) => {
      if (raw.height === 1) return raw
      const header = { ...(headers[raw.height] as BlockHeader), validatorsHash: validatorSetHash(FORGED), gasUsed: 1 }
      return sign(header, FORGED)
    }
    await rejects(t, client.sync(), 'VALIDATORS_MISMATCH', 'a chain signed by unknown validators')
  }
  {
    const { client, tamper } = await fixture()
    await client.sync()
    tamper.value = (value) => (value === undefined ? value : encode(accountInfoKind.encode({ nonce: 3, free: ALICE_BALANCE * 10n })))
    await rejects(t, client.account(alice.address), 'BAD_PROOF', 'a balance the proof does not support')
    tamper.value = (value) => value
    tamper.proof = (proof) => {
      const copy = Uint8Array.from(proof)
      copy[copy.length - 1] = (copy[copy.length - 1] as number) ^ 1
      return copy
    }
    await rejects(t, client.account(alice.address), 'BAD_PROOF', 'a proof with a changed hash')
  }
  {
    const { client, tamper } = await fixture()
    await client.sync()
    tamper.path = (path) => ({ ...path, leaf: { ...path.leaf, contributor: alice.address } })
    await rejects(t, client.contribution(3, 7), 'BAD_PROOF', 'a contribution credited to another contributor')
    tamper.path = (path) => ({ ...path, position: path.position ^ 1 })
    await rejects(t, client.contribution(3, 7), 'BAD_PROOF', 'a contribution at another position')
    tamper.path = (path) => ({ ...path, leaf: leaves[0] as LeafFields, position: 0, siblings: tree.proof(0) })
    await rejects(t, client.contribution(3, 7), 'BAD_PROOF', 'a valid proof of another contribution')
    tamper.path = (path) => ({ ...path, version: 1 })
    await rejects(t, client.contribution(3, 7), 'BAD_PROOF', 'a version the state does not hold')
    tamper.path = (path) => path
    tamper.value = (value) => (value === undefined ? value : encode(attributionKind.encode({ ...attributionKind.decode(decode(value), 'x'), paid: 10_600n, payouts: [{ datanet: 3, index: 7, contributor: bob.address, amount: 10_400n }] })))
    await rejects(t, client.payout(RECORD, bob.address), 'BAD_PROOF', 'a payout the proof does not support')
  }
})

