// `openledger light`: a client that trusts only the genesis and checks everything an untrusted
// full node tells it. Headers are followed with commit certificates across validator-set changes
// (consensus/lightClient.ts: adjacent, skipping with the 1/3 trust rule, bisection); answers are
// state proofs checked against the state root of a verified header: a balance, a contribution's
// inclusion in a datanet version, what an attribution paid a contributor. A trusted header older
// than the trusting period (from the unbonding period in force at it) anchors nothing. A tampered
// header, certificate, validator set or proof is a LightClientError, never an answer.
import { bytesEqual } from '../../runtime/codec/canonical.ts'
import * as k from '../../runtime/codec/schema.ts'
import type { BlockHeader } from '../../runtime/block.ts'
import { fromHex, toHex } from '../../runtime/crypto/hash.ts'
import { accounts } from '../../runtime/modules/system/index.ts'
import { stakingParams } from '../../runtime/modules/staking/index.ts'
import { contributionLeaf, Format, type LeafFields, verifyInclusionProof, versions } from '../../runtime/modules/datanets/index.ts'
import { ATTRIBUTION_STATUS_NAMES, attributions } from '../../runtime/modules/attribution/index.ts'
import { sameAddress } from '../../runtime/modules/accounts.ts'
import type { StateReader } from '../../runtime/state/overlay.ts'
import { decodeStateProof, verifyStateProof } from '../../runtime/state/proof.ts'
import {
  checkLightBlock, checkTrustingPeriod, LightClientError, trustedBlock, trustingPeriodMs, verifyTo, type LightBlock, type TrustedBlock,
} from '../../consensus/lightClient.ts'
import { RpcClientError, type RpcClient } from '../rpc/client.ts'
import { validatorsHashFromState } from '../consensus/consensusChain.ts'

/** What the light client reads from a full node: raw light blocks and read proofs. */
export interface LightSource {
  /** the light block at `height` (the node's finalized one when undefined); null when it has none */
  lightBlock(height?: number): Promise<{ height: number; header: Uint8Array; commit: Uint8Array; validators: Uint8Array } | null>
  readProof(key: Uint8Array, at: Uint8Array): Promise<{ value: Uint8Array | undefined; proof: Uint8Array }>
  /** where a contribution sits in a version's tree (the node's latest version when undefined); null when it is in none */
  contributionProof(datanet: number, index: number, version?: number): Promise<ContributionPath | null>
}

/** A contribution's leaf fields and its path in a version's tree, as an untrusted node states them. */
export interface ContributionPath {
  readonly version: number
  readonly position: number
  readonly siblings: readonly Uint8Array[]
  readonly leaf: LeafFields
}

const leafFieldsKind = k.struct({ datanet: k.uint, index: k.uint, contributor: k.address, cid: k.hash, size: k.uint, rows: k.uint, format: k.uint })

function leafFields(record: unknown): LeafFields {
  if (typeof record !== 'object' || record === null) throw new LightClientError('MALFORMED', 'contribution proof: no record')
  const r = record as Record<string, unknown>
  // the view names the format; the leaf hashes its code
  const format = typeof r['format'] === 'string' ? (Format as Record<string, number>)[r['format']] : r['format']
  try {
    return leafFieldsKind.fromJson({ datanet: r['datanet'], index: r['index'], contributor: r['contributor'], cid: r['cid'], size: r['size'], rows: r['rows'], format }, 'record')
  } catch (cause) {
    throw new LightClientError('MALFORMED', `contribution proof: ${(cause as Error).message}`, { cause })
  }
}

function hexBytes(value: unknown, what: string): Uint8Array {
  const bytes = typeof value === 'string' ? fromHex(value) : undefined
  if (bytes === undefined) throw new LightClientError('MALFORMED', `${what}: expected 0x-hex`)
  return bytes
}

/** The LightSource of a full node's JSON-RPC. */
export function rpcLightSource(rpc: Pick<RpcClient, 'call'>): LightSource {
  return {
    async lightBlock(height) {
      const block = await rpc.call('openledger_getLightBlock', [height ?? null])
      if (block === null) return null
      return { height: block.height, header: hexBytes(block.header, 'header'), commit: hexBytes(block.commit, 'commit'), validators: hexBytes(block.validators, 'validators') }
    },
    async readProof(key, at) {
      const answer = await rpc.call('state_getReadProof', [[toHex(key)], toHex(at)])
      const entry = answer.proofs[0]
      if (entry === undefined) throw new LightClientError('MALFORMED', 'read proof: no entry for the key')
      return { value: entry.value === null ? undefined : hexBytes(entry.value, 'proof value'), proof: hexBytes(entry.proof, 'proof') }
    },
    async contributionProof(datanet, index, version) {
      let answer
      try {
        answer = await rpc.call('openledger_getContributionProof', [datanet, index, version ?? null])
      } catch (error) {
        // the node's own word that the contribution is in no such version: nothing to prove
        if (error instanceof RpcClientError && error.code === 'NOT_IN_VERSION') return null
        throw error
      }
      const { version: number, position, siblings } = answer
      if (!Number.isSafeInteger(number) || !Number.isSafeInteger(position) || !Array.isArray(siblings) || siblings.length > 64) {
        throw new LightClientError('MALFORMED', 'contribution proof: version, position or siblings malformed')
      }
      return { version: number as number, position: position as number, siblings: siblings.map((s) => hexBytes(s, 'sibling')), leaf: leafFields(answer.record) }
    },
  }
}

export interface LightClientOptions {
  /** ms a trusted header anchors skips; default 2/3 of the unbonding period at blockTimeMs per block */
  readonly trustingPeriodMs?: number
  /** ms per block, to turn the unbonding period's blocks into time (default 1000, the node's default block time) */
  readonly blockTimeMs?: number
  /** the clock, ms since the epoch */
  readonly now?: () => number
}

/** A contribution proven to be in a datanet version (its leaf under the version's proven root). */
export interface ProvenContribution extends LeafFields {
  readonly version: number
  readonly position: number
  readonly root: Uint8Array
  readonly height: number
}

/** What an attribution paid one contributor, proven; `status` is the attribution's (paid only when final). */
export interface ProvenPayout {
  readonly record: number
  readonly status: string
  readonly amount: bigint
  readonly contributions: ReadonlyArray<{ datanet: number; index: number; amount: bigint }>
  readonly height: number
}

export class LightClient {
  readonly chainId: number
  readonly #source: LightSource
  readonly #options: LightClientOptions
  #trusted: TrustedBlock
  /** blocks, in force at the trusted block */
  #unbondingPeriod: number

  /**
   * `anchor`: the one block trusted without checking, the set that signed it (none for a genesis),
   * the hash of the set it schedules next and the unbonding period in force at it.
   */
  constructor(anchor: TrustedBlock & { unbondingPeriod: number }, source: LightSource, options: LightClientOptions = {}) {
    this.chainId = anchor.header.chainId
    this.#source = source
    this.#options = options
    this.#trusted = { hash: anchor.hash, header: anchor.header, validators: anchor.validators, nextValidatorsHash: anchor.nextValidatorsHash }
    this.#unbondingPeriod = anchor.unbondingPeriod
  }

  /**
   * A client anchored on the genesis the user holds (genesisBlock of their chain spec): its hash,
   * and the first validator set, which the genesis header leaves zero, from the genesis state.
   */
  static async fromGenesis(genesis: { hash: Uint8Array; header: BlockHeader; changes: ReadonlyArray<{ key: Uint8Array; value: Uint8Array | undefined }> }, source: LightSource, options: LightClientOptions = {}): Promise<LightClient> {
    const values = new Map(genesis.changes.map(({ key, value }) => [toHex(key), value]))
    const state = { get: async (key: Uint8Array) => values.get(toHex(key)) }
    const anchor = { hash: genesis.hash, header: genesis.header, validators: undefined, nextValidatorsHash: await validatorsHashFromState(state, 1), unbondingPeriod: (await stakingParams.storage.get(state)).unbondingPeriod }
    return new LightClient(anchor, source, options)
  }

  /**
   * A client anchored on a block the user trusts by its hash (from a node or an explorer they
   * trust): the way in when the genesis is older than the trusting period. The block's set must
   * hash to its header's, and the unbonding period in force is proven against its state root.
   */
  static async fromTrustedBlock(chainId: number, trusted: { height: number; hash: Uint8Array }, source: LightSource, options: LightClientOptions = {}): Promise<LightClient> {
    const raw = await source.lightBlock(trusted.height)
    if (raw === null) throw new LightClientError('UNAVAILABLE', `the node has no light block at height ${trusted.height}`)
    const block = checkLightBlock(chainId, raw)
    if (block.header.height !== trusted.height || !bytesEqual(block.hash, trusted.hash)) {
      throw new LightClientError('HEADER_MISMATCH', `the node's block ${block.header.height} is ${toHex(block.hash)}, not the trusted ${toHex(trusted.hash)} at ${trusted.height}`)
    }
    const client = new LightClient({ ...trustedBlock(block), unbondingPeriod: 0 }, source, options)
    await client.#readUnbondingPeriod()
    return client
  }

  get trusted(): TrustedBlock {
    return this.#trusted
  }

  async #fetch(height: number): Promise<LightBlock> {
    const raw = await this.#source.lightBlock(height)
    if (raw === null) throw new LightClientError('UNAVAILABLE', `the node has no light block at height ${height}`)
    const block = checkLightBlock(this.chainId, raw)
    if (block.header.height !== height) throw new LightClientError('HEADER_MISMATCH', `asked for height ${height}, got ${block.header.height}`)
    return block
  }

  /** ms the trusted block anchors skips (the option, or from the unbonding period in force at it). */
  get trustingPeriodMs(): number {
    return this.#options.trustingPeriodMs ?? trustingPeriodMs(this.#unbondingPeriod, this.#options.blockTimeMs ?? 1000)
  }

  async #readUnbondingPeriod(): Promise<void> {
    this.#unbondingPeriod = (await stakingParams.storage.get(this.#provenState())).unbondingPeriod
  }

  /** The state of the trusted block, every read proven. */
  #provenState(): StateReader {
    return { get: (key) => this.provenValue(key) }
  }

  /**
   * Verifies up to `target` (default: the node's finalized height); returns the heights it checked.
   * TRUST_EXPIRED when the trusted block is past the trusting period (checked before any skip).
   */
  async sync(target?: number): Promise<number[]> {
    let height = target
    if (height === undefined) {
      const latest = await this.#source.lightBlock()
      if (latest === null) throw new LightClientError('UNAVAILABLE', 'the node reports no finalized block')
      height = latest.height
    }
    if (height <= this.#trusted.header.height) return []
    checkTrustingPeriod(this.#trusted, (this.#options.now ?? Date.now)(), this.trustingPeriodMs)
    const { trusted, verified } = await verifyTo(this.chainId, this.#trusted, height, (h) => this.#fetch(h))
    this.#trusted = trusted
    // governance may have changed it since the last trusted block
    await this.#readUnbondingPeriod()
    return verified
  }

  /** The value at `key` in the state of the trusted header, proven against its state root. */
  async provenValue(key: Uint8Array): Promise<Uint8Array | undefined> {
    const { value, proof } = await this.#source.readProof(key, this.#trusted.hash)
    let decoded
    try {
      decoded = decodeStateProof(proof)
    } catch (cause) {
      throw new LightClientError('BAD_PROOF', `the state proof does not decode: ${(cause as Error).message}`, { cause })
    }
    if (!verifyStateProof(this.#trusted.header.stateRoot, key, value, decoded)) {
      throw new LightClientError('BAD_PROOF', `the proof for key ${toHex(key)} does not match the state root of verified block ${this.#trusted.header.height}`)
    }
    return value
  }

  /** An account's balance (base units) and nonce at the trusted header, proven. */
  async account(address: Uint8Array): Promise<{ free: bigint; nonce: number; height: number }> {
    const value = await this.provenValue(accounts.key(address))
    const info = value === undefined ? { free: 0n, nonce: 0 } : accounts.decodeValue(value)
    return { free: info.free, nonce: info.nonce, height: this.#trusted.header.height }
  }

  /**
   * A contribution's inclusion in a datanet version (`version` default: the node's latest): the
   * version record proven in the trusted state, and the contribution's leaf, computed here from
   * the fields the node states, on the node's path up to that record's root. Null when the node
   * says it is in no such version (an absence this does not prove).
   */
  async contribution(datanet: number, index: number, version?: number): Promise<ProvenContribution | null> {
    const path = await this.#source.contributionProof(datanet, index, version)
    if (path === null) return null
    if (path.leaf.datanet !== datanet || path.leaf.index !== index || (version !== undefined && path.version !== version)) {
      throw new LightClientError('BAD_PROOF', `asked for contribution ${index} of datanet ${datanet}${version === undefined ? '' : ` in version ${version}`}, got ${path.leaf.index} of ${path.leaf.datanet} in version ${path.version}`)
    }
    const record = await this.provenValue(versions.key({ datanet, version: path.version }))
    if (record === undefined) throw new LightClientError('BAD_PROOF', `datanet ${datanet} has no version ${path.version} in the state of verified block ${this.#trusted.header.height}`)
    const { root } = versions.decodeValue(record)
    if (!verifyInclusionProof(root, contributionLeaf(path.leaf), path.position, path.siblings)) {
      throw new LightClientError('BAD_PROOF', `contribution ${index} of datanet ${datanet} is not at position ${path.position} under version ${path.version}'s root ${toHex(root)}`)
    }
    return { ...path.leaf, version: path.version, position: path.position, root, height: this.#trusted.header.height }
  }

  /**
   * What attribution `record` paid `contributor` (its payouts to them, summed), from the
   * attribution proven in the trusted state; an absent attribution is proven absent (status 'none').
   */
  async payout(record: number, contributor: Uint8Array): Promise<ProvenPayout> {
    const value = await this.provenValue(attributions.key(record))
    const height = this.#trusted.header.height
    if (value === undefined) return { record, status: 'none', amount: 0n, contributions: [], height }
    const entry = attributions.decodeValue(value)
    const paid = entry.payouts.filter((p) => sameAddress(p.contributor, contributor))
    return {
      record, status: ATTRIBUTION_STATUS_NAMES[entry.status] ?? String(entry.status), height,
      amount: paid.reduce((sum, p) => sum + p.amount, 0n), contributions: paid.map((p) => ({ datanet: p.datanet, index: p.index, amount: p.amount })),
    }
  }

  /** Whether `hash` is the verified block at the trusted height (for callers that pin a block). */
  isTrusted(hash: Uint8Array): boolean {
    return bytesEqual(hash, this.#trusted.hash)
  }
}
