// `openledger light`: a client that trusts only the genesis and checks everything an untrusted
// full node tells it. Headers are followed with commit certificates across validator-set changes
// (consensus/lightClient.ts: adjacent, skipping with the 1/3 trust rule, bisection); answers are
// state proofs checked against the state root of a verified header. A tampered header,
// certificate, validator set or proof is a LightClientError, never an answer.
import { bytesEqual } from '../../runtime/codec/canonical.ts'
import type { BlockHeader } from '../../runtime/block.ts'
import { fromHex, toHex } from '../../runtime/crypto/hash.ts'
import { accounts } from '../../runtime/modules/system/state.ts'
import { decodeStateProof, verifyStateProof } from '../../runtime/state/proof.ts'
import { checkLightBlock, LightClientError, verifyTo, type LightBlock, type TrustedBlock } from '../../consensus/lightClient.ts'
import type { RpcClient } from '../rpc/client.ts'
import { validatorsHashFromState } from '../consensus/consensusChain.ts'

/** What the light client reads from a full node: raw light blocks and read proofs. */
export interface LightSource {
  /** the light block at `height` (the node's finalized one when undefined); null when it has none */
  lightBlock(height?: number): Promise<{ height: number; header: Uint8Array; commit: Uint8Array; validators: Uint8Array } | null>
  readProof(key: Uint8Array, at: Uint8Array): Promise<{ value: Uint8Array | undefined; proof: Uint8Array }>
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
      const block = await rpc.call<{ height: number; header: string; commit: string; validators: string } | null>('openledger_getLightBlock', [height ?? null])
      if (block === null) return null
      return { height: block.height, header: hexBytes(block.header, 'header'), commit: hexBytes(block.commit, 'commit'), validators: hexBytes(block.validators, 'validators') }
    },
    async readProof(key, at) {
      const answer = await rpc.call<{ proofs: Array<{ value: string | null; proof: string }> }>('state_getReadProof', [[toHex(key)], toHex(at)])
      const entry = answer.proofs[0]
      if (entry === undefined) throw new LightClientError('MALFORMED', 'read proof: no entry for the key')
      return { value: entry.value === null ? undefined : hexBytes(entry.value, 'proof value'), proof: hexBytes(entry.proof, 'proof') }
    },
  }
}

export class LightClient {
  readonly chainId: number
  readonly #source: LightSource
  #trusted: TrustedBlock

  /** `anchor`: the one block trusted without checking, and the hash of the set it schedules next. */
  constructor(anchor: { hash: Uint8Array; header: BlockHeader; nextValidatorsHash: Uint8Array }, source: LightSource) {
    this.chainId = anchor.header.chainId
    this.#source = source
    this.#trusted = { hash: anchor.hash, header: anchor.header, validators: undefined, nextValidatorsHash: anchor.nextValidatorsHash }
  }

  /**
   * A client anchored on the genesis the user holds (genesisBlock of their chain spec): its hash,
   * and the first validator set, which the genesis header leaves zero, from the genesis state.
   */
  static async fromGenesis(genesis: { hash: Uint8Array; header: BlockHeader; changes: ReadonlyArray<{ key: Uint8Array; value: Uint8Array | undefined }> }, source: LightSource): Promise<LightClient> {
    const values = new Map(genesis.changes.map(({ key, value }) => [toHex(key), value]))
    const state = { get: async (key: Uint8Array) => values.get(toHex(key)) }
    return new LightClient({ hash: genesis.hash, header: genesis.header, nextValidatorsHash: await validatorsHashFromState(state, 1) }, source)
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

  /** Verifies up to `target` (default: the node's finalized height); returns the heights it checked. */
  async sync(target?: number): Promise<number[]> {
    let height = target
    if (height === undefined) {
      const latest = await this.#source.lightBlock()
      if (latest === null) throw new LightClientError('UNAVAILABLE', 'the node reports no finalized block')
      height = latest.height
    }
    if (height <= this.#trusted.header.height) return []
    const { trusted, verified } = await verifyTo(this.chainId, this.#trusted, height, (h) => this.#fetch(h))
    this.#trusted = trusted
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

  /** Whether `hash` is the verified block at the trusted height (for callers that pin a block). */
  isTrusted(hash: Uint8Array): boolean {
    return bytesEqual(hash, this.#trusted.hash)
  }
}
