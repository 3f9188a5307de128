// ModelSources over an in-memory chain (the ChainModels port) and real blob files laid out as the
// node's store lays them out: adapters resolved by `<base>:<id>`, read from the home first and the
// next reader after, checked against the on-chain weights hash, decoded to the adapter's shapes.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { adapterShapes } from '../../../ml/model/config.ts'
import { encodeTensors, initAdapter } from '../../../ml/model/params.ts'
import { keccak256, toHex } from '../../../runtime/crypto/hash.ts'
import type { BaseModel, ModelVersion } from '../../../runtime/modules/models/index.ts'
import { contentId } from '../../../node/blobs/contentId.ts'
import { silentLogger } from '../../../lib/logger.ts'
import { shippedBaseModels } from '../../../node/models/baseModels.ts'
import { ServingError } from '../../../node/serving/errors.ts'
import { homeBlobReader, ModelSources, type BlobReader, type ChainModels } from '../../../node/serving/sources.ts'

const genesis = await shippedBaseModels()
const bases: BaseModel[] = genesis.map((g, i) => ({ ...g, id: i + 1, owner: new Uint8Array(20), deposit: 0n, registeredHeight: 0 }))
const lmBase = bases.find((b) => b.kind === 0) as BaseModel
const lmConfig = JSON.parse(lmBase.architecture) as Parameters<typeof adapterShapes>[0]

function version(id: number, base: number, bytes: Uint8Array, rank: number, weightsHash = keccak256(bytes)): ModelVersion {
  return {
    id, job: id, owner: new Uint8Array(20), base, baseWeightsHash: new Uint8Array(32), engineVersion: 'x', datanets: [],
    hyper: { rank, alpha: 2 * rank, steps: 1, batchSize: 1, length: 8, learningRateMicro: 1, seed: 1, checkpointEvery: 1 },
    adapter: contentId(bytes), weightsHash, checkpointRoot: new Uint8Array(32),
    metrics: { baseLossMicro: 0, adaptedLossMicro: 0, baseAccuracyBps: 0, adaptedAccuracyBps: 0 },
    trainer: new Uint8Array(20), verifiers: [], publishedHeight: 1, publishedAt: 1_700_000_000_000,
  }
}

t.test('adapters by base:id from the home blob files, hash-checked, decoded', async (t) => {
  const home = await mkdtemp(join(tmpdir(), 'serving-sources-'))
  t.teardown(() => rm(home, { recursive: true, force: true }))
  const store = async (bytes: Uint8Array) => {
    const hex = toHex(contentId(bytes)).slice(2)
    await mkdir(join(home, hex.slice(0, 2)), { recursive: true })
    await writeFile(join(home, hex.slice(0, 2), hex), bytes)
  }
  const lora = { rank: 4, alpha: 8 }
  const tensors = initAdapter(lmConfig, lora, 7)
  const good = encodeTensors(adapterShapes(lmConfig, lora), tensors)
  const other = encodeTensors(adapterShapes(lmConfig, lora), initAdapter(lmConfig, lora, 8))
  await store(good)
  const versions = new Map<number, ModelVersion>([
    [1, version(1, lmBase.id, good, 4)],
    [2, version(2, lmBase.id, other, 4, keccak256(good))], // bytes that are not the ones attested
    [3, version(3, lmBase.id + 1, good, 4)], // an adapter of the other base
  ])
  const chain: ChainModels = {
    baseModels: async () => bases,
    modelVersion: async (id) => versions.get(id),
    modelVersionsAfter: async (after) => [...versions.values()].filter((v) => v.id > after),
  }
  const rpcReads: string[] = []
  const fallback: BlobReader = {
    via: 'rpc',
    async read(cid) {
      rpcReads.push(toHex(cid))
      return toHex(cid) === toHex(contentId(other)) ? other : undefined
    },
  }
  const observed: string[] = []
  const sources = new ModelSources({ chain, readers: [homeBlobReader(home), fallback], logger: silentLogger, observeRead: (via) => observed.push(via) })
  await sources.refresh()
  t.same(sources.bases().map((b) => b.name), bases.map((b) => b.name))
  t.same(sources.adapters().map((a) => `${a.base}:${a.version.id}`), [`${lmBase.name}:1`, ...(bases.length > 1 ? [`${lmBase.name}:2`, `${bases[1]?.name}:3`] : [`${lmBase.name}:2`])])

  const weights = await sources.fetch(lmBase.name, '1')
  t.equal(weights.rank, 4)
  t.equal(weights.alpha, 8)
  t.same([...weights.tensors.keys()], adapterShapes(lmConfig, lora).map(([name]) => name))
  t.same(weights.tensors.get('l0.attn.wq.lora_a'), tensors.get('l0.attn.wq.lora_a'), 'the trained values')
  t.equal(weights.bytes, [...tensors.values()].reduce((n, a) => n + a.byteLength, 0))
  t.same(observed, ['home'], 'read from the home, not downloaded')
  t.same(rpcReads, [])

  const code = async (work: Promise<unknown>) => {
    try {
      await work
      return 'resolved'
    } catch (error) {
      return error instanceof ServingError ? error.code : String(error)
    }
  }
  t.equal(await code(sources.fetch(lmBase.name, '2')), 'ADAPTER_HASH_MISMATCH', 'bytes that differ from the chain\'s hash are refused')
  t.same(observed, ['home', 'rpc'], 'missing at home, downloaded')
  t.equal(await code(sources.fetch(lmBase.name, '3')), 'ADAPTER_NOT_FOUND', 'an adapter of another base')
  t.equal(await code(sources.fetch(lmBase.name, '99')), 'ADAPTER_NOT_FOUND', 'no such version')
  t.equal(await code(sources.fetch(lmBase.name, '01')), 'ADAPTER_NOT_FOUND', 'not a canonical id')
  t.equal(await code(sources.fetch('nope', '1')), 'MODEL_NOT_FOUND')

  versions.set(4, version(4, lmBase.id, new Uint8Array([1, 2, 3]), 4))
  t.equal(await code(sources.fetch(lmBase.name, '4')), 'ADAPTER_UNAVAILABLE', 'a version published after the refresh is looked up; no reader has its bytes')
  await sources.refresh()
  t.ok(sources.adapters().some((a) => a.version.id === 4), 'a refresh adds the newer versions')

  const loaded = await sources.loadBase(lmBase.name)
  t.equal(loaded.config.context, lmConfig.context)
  t.equal(loaded.weights.get('tok_emb')?.length, lmConfig.vocab * lmConfig.dim, 'the shipped weights, checked against the registered hash')
  t.ok(loaded.tokenizer.encode('hello').length > 0)
})
