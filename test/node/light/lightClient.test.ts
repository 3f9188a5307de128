// The light client against an untrusted source serving a real chain of headers, ed25519 commit
// certificates and validator sets that change twice (A → B → C, C sharing no validator with A),
// and a real authenticated state (StateDb): it follows the chain by skipping and bisection, proves a
// balance, and reports every tampered part instead of answering.
import t, { type Test } from 'tap'
import { MemoryStore } from '../../../node/db/memoryStore.ts'
import { WriteBatch } from '../../../node/db/store.ts'
import { StateDb } from '../../../node/state/stateDb.ts'
import { LightClient, type LightSource } from '../../../node/light/lightClient.ts'
import { LightClientError } from '../../../consensus/lightClient.ts'
import { createCommitCertificate, createValidatorSet, encodeCommitCertificate, encodeValidatorSet, signVote, validatorSetHash, type ValidatorSet } from '../../../consensus/types.ts'
import { decodeHeader, encodeHeader, hashHeader, type BlockHeader } from '../../../runtime/block.ts'
import { generateEd25519FromSeed } from '../../../runtime/crypto/ed25519.ts'
import { accountInfoKind, accounts } from '../../../runtime/modules/system/state.ts'
import { encode } from '../../../runtime/codec/canonical.ts'
import { encodeStateProof } from '../../../runtime/state/proof.ts'
import { devAccount } from '../../../genesis/devAccounts.ts'

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
  const prepared = await state.prepare([{ key: accounts.key(alice.address), value: encode(accountInfoKind.encode({ nonce: 3, free: ALICE_BALANCE })) }], 0)
  const batch = new WriteBatch()
  state.commit(prepared, batch)
  await store.write(batch)
  state.applied(prepared)
  const base = {
    chainId: CHAIN_ID, timestamp: 1_700_000_000_000, author: new Uint8Array(20), proposer: new Uint8Array(32), txRoot: new Uint8Array(32), stateRoot: prepared.root,
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
  const tamper = { block: (raw: Raw): Raw => raw, value: (value: Uint8Array | undefined) => value, proof: (proof: Uint8Array) => proof }
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
  }
  return { client: new LightClient({ hash: hashHeader(genesis), header: genesis, nextValidatorsHash: validatorSetHash(A) }, source), tamper, asked, headers }
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
})

