// A node's consensus-facing parts over an in-memory store, for BlockSync and NodeConsensusChain
// tests: the dev chain (one validator, alice, whose key the tests hold), a real Chain, Mempool,
// signature verifier and evidence pool. `produce` finalizes blocks as alice would: build, sign a
// precommit, commit with the certificate.
import { createCommitCertificate, encodeCommitCertificate, signVote, type CommitCertificate } from '../../../consensus/types.ts'
import type { Ed25519KeyPair } from '../../../runtime/crypto/ed25519.ts'
import { createRuntime } from '../../../runtime/index.ts'
import { accountInfo } from '../../../runtime/modules/system/index.ts'
import { lockedOf } from '../../../runtime/modules/balances/ledger.ts'
import { devValidatorKey } from '../../../genesis/devAccounts.ts'
import { devChainSpec } from '../../../genesis/devSpec.ts'
import type { ChainSpec } from '../../../genesis/spec.ts'
import { beaconSeed, hashChain } from '../../../runtime/modules/staking/beacon.ts'
import { BeaconReveals } from '../../../node/consensus/beaconReveals.ts'
import { Chain } from '../../../node/chain/chain.ts'
import { createEvidenceVerifier } from '../../../node/consensus/evidence.ts'
import { EvidencePool } from '../../../node/consensus/evidencePool.ts'
import { NodeConsensusChain, validatorSetFromState } from '../../../node/consensus/consensusChain.ts'
import { MemoryStore } from '../../../node/db/memoryStore.ts'
import type { WriteBatch } from '../../../node/db/store.ts'
import { silentLogger } from '../../../lib/logger.ts'
import { Mempool } from '../../../node/mempool/mempool.ts'
import { InlineVerifier } from '../../../node/workers/signatureVerifier.ts'

export const spec = devChainSpec()
export const validatorKey: Ed25519KeyPair = devValidatorKey('alice')

/** A MemoryStore whose writes fail while `failWrites` is set (a full disk, an I/O error). */
export class FailingStore extends MemoryStore {
  failWrites = false
  writesFailed = 0

  override async write(batch: WriteBatch): Promise<void> {
    if (this.failWrites) {
      this.writesFailed++
      throw new Error('EIO: simulated write failure')
    }
    return super.write(batch)
  }
}

export interface ConsensusParts {
  store: FailingStore
  chain: Chain
  mempool: Mempool
  consensusChain: NodeConsensusChain
}

/** values of alice's beacon chain in `beaconSpec` (short: the node hashes it once) */
export const BEACON_TEST_LENGTH = 4096

/** The dev chain with alice's randomness beacon chain registered at genesis. */
export function beaconSpec(): ChainSpec {
  const staking = spec.staking ?? { params: undefined, validators: [] }
  const tip = hashChain(beaconSeed(validatorKey.secretKey), BEACON_TEST_LENGTH)
  return { ...spec, staking: { ...staking, validators: staking.validators.map((v) => ({ ...v, beacon: { tip, remaining: BEACON_TEST_LENGTH } })) } }
}

/** `beacon`: alice's beacon chain registered at genesis. */
export async function consensusParts(options: { beacon?: boolean } = {}): Promise<ConsensusParts> {
  const store = new FailingStore()
  const runtime = createRuntime({ verifyEvidence: createEvidenceVerifier() })
  const chain = new Chain({ store, runtime, logger: silentLogger })
  await chain.open(options.beacon === true ? beaconSpec() : spec)
  const mempool = new Mempool({}, {
    runtime,
    accounts: {
      account: (account) => accountInfo(chain.state, account),
      locked: (account) => lockedOf(chain.state, account, chain.head.header.timestamp),
      baseFeePerGas: () => 0n,
      chainId: () => spec.chainId,
    },
  })
  const verifier = new InlineVerifier()
  verifier.start()
  const evidence = new EvidencePool({}, {
    verify: createEvidenceVerifier(),
    chainId: spec.chainId,
    nextHeight: () => chain.head.header.height + 1,
    isValidator: () => Promise.resolve(true),
  })
  // the node holds its reveals as a validator's does (node.ts): whether it has a chain is the state's
  const consensusChain = new NodeConsensusChain({ chain, mempool, verifier, evidence, logger: silentLogger, beacon: new BeaconReveals(validatorKey.secretKey) })
  return { store, chain, mempool, consensusChain }
}

/** The certificate alice's precommit makes for a block (or one signed by `signer` instead). */
export async function certify(parts: ConsensusParts, height: number, blockHash: Uint8Array, signer: Ed25519KeyPair = validatorKey): Promise<CommitCertificate> {
  const set = await validatorSetFromState(parts.chain.state, height)
  const precommit = signVote(spec.chainId, { type: 'precommit', height, round: 0, blockHash, validator: validatorKey.publicKey }, signer.secretKey)
  return createCommitCertificate(set, height, 0, blockHash, [precommit])
}

/** Finalizes `count` blocks on the head; returns each one's wire bytes and encoded certificate. */
export async function produce(parts: ConsensusParts, count: number): Promise<Array<{ block: Uint8Array; certificate: Uint8Array }>> {
  const out: Array<{ block: Uint8Array; certificate: Uint8Array }> = []
  for (let i = 0; i < count; i++) {
    const height = parts.chain.head.header.height + 1
    const candidate = await parts.consensusChain.buildBlock(height, validatorKey.publicKey, Date.now())
    const certificate = await certify(parts, height, candidate.hash)
    await parts.consensusChain.commitBlock(candidate.hash, certificate)
    out.push({ block: candidate.bytes, certificate: encodeCommitCertificate(certificate) })
    // block timestamps are ms since the epoch and must grow: wait until the clock has moved on
    while (Date.now() <= parts.chain.head.header.timestamp) await new Promise((resolve) => setTimeout(resolve, 1))
  }
  return out
}
