// Base models as a node holds them: the shipped assets as genesis registrations (from the manifest
// alone) and blobs (files read only when the store lacks them, then checked against the manifest's
// hash and content id), and the resolver the training workers use (shipped weights by hash, else
// the artifact blob, hash-checked), with its stable refusal codes.
import t from 'tap'
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ENGINE_VERSION } from '../../../ml/index.ts'
import { paramShapes, type ModelConfig } from '../../../ml/model/config.ts'
import { encodeTensors, initParams, tensorsHash } from '../../../ml/model/params.ts'
import { fromHex, toHex } from '../../../runtime/crypto/hash.ts'
import { BaseModelKind, canonicalArchitecture, type BaseModel, type GenesisBaseModel } from '../../../runtime/modules/models/index.ts'
import type { BlobFetcher } from '../../../node/blobs/blobExchange.ts'
import { contentId } from '../../../node/blobs/contentId.ts'
import { loadBaseModel, PACKAGE_MODELS_DIR, readManifest } from '../../../node/models/assets.ts'
import { BaseModelResolver, publishShippedModels, shippedBaseModels } from '../../../node/models/baseModels.ts'
import { createBlobStore, type Teardown } from '../blobs/fixtures.ts'

const manifest = await readManifest()
const shipped = await shippedBaseModels()

function registered(entry: GenesisBaseModel, id: number): BaseModel {
  return { id, owner: new Uint8Array(20), ...entry, deposit: 0n, registeredHeight: 0 }
}

/** A small language model nobody ships, registered with the shipped tokenizer. */
function customModel(seed: number): { config: ModelConfig; bytes: Uint8Array; entry: GenesisBaseModel } {
  const config: ModelConfig = { kind: 'lm', vocab: manifest.tokenizer.vocab, context: 16, dim: 8, layers: 1, heads: 2, hidden: 16, classes: 0 }
  const params = initParams(config, seed)
  const bytes = encodeTensors(paramShapes(config), params)
  return {
    config,
    bytes,
    entry: {
      name: `custom-${seed}`, kind: BaseModelKind.lm, architecture: canonicalArchitecture(config), artifact: contentId(bytes), weightsHash: tensorsHash(paramShapes(config), params),
      onnx: new Uint8Array(32), tokenizer: manifest.tokenizer.name, tokenizerHash: fromHex(manifest.tokenizer.hash) as Uint8Array, engineVersion: ENGINE_VERSION,
    },
  }
}

t.test('shippedBaseModels: one genesis registration per shipped model', async (t) => {
  t.same(shipped.map((m) => m.name), ['ol-lm-sotu-2m', 'ol-spam-cls'])
  for (const [i, model] of shipped.entries()) {
    const entry = manifest.models[i]!
    const weightsFile = await readFile(join(PACKAGE_MODELS_DIR, entry.weights.file))
    t.same(model.artifact, contentId(new Uint8Array(weightsFile)), `${model.name}: artifact is the content id of weights.bin`)
    t.equal(toHex(model.weightsHash), entry.weights.hash, `${model.name}: the manifest's weights hash`)
    const loaded = await loadBaseModel(entry.name)
    t.same(model.weightsHash, tensorsHash(paramShapes(entry.config), loaded.weights), 'which is the tensors hash of the weights')
    t.equal(model.architecture, canonicalArchitecture(entry.config), 'canonical architecture')
    t.equal(model.kind, entry.kind === 'lm' ? BaseModelKind.lm : BaseModelKind.classifier)
    t.same([model.tokenizer, toHex(model.tokenizerHash)], [manifest.tokenizer.name, manifest.tokenizer.hash])
    t.equal(model.engineVersion, ENGINE_VERSION)
    const onnx = await readFile(join(PACKAGE_MODELS_DIR, entry.onnx!.file))
    t.same(model.onnx, contentId(new Uint8Array(onnx)), 'onnx is the content id of the export')
  }
  const empty = await mkdtemp(join(tmpdir(), 'openledger-no-models-'))
  t.teardown(() => rm(empty, { recursive: true, force: true }))
  t.same(await shippedBaseModels({ dir: empty }), [], 'a checkout without built models registers none')
})

/** A copy of the package's assets/models that a test may damage. */
async function copyAssets(t: Teardown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'openledger-models-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await cp(PACKAGE_MODELS_DIR, dir, { recursive: true })
  return dir
}

t.test('shippedBaseModels reads the manifest, not the model files', async (t) => {
  const dir = await copyAssets(t)
  for (const entry of manifest.models) {
    await rm(join(dir, entry.weights.file))
    await rm(join(dir, entry.onnx!.file))
  }
  t.same(await shippedBaseModels({ dir }), shipped)
})

t.test('publishShippedModels puts every weights and ONNX file in the blob store, pinned', async (t) => {
  const { store } = await createBlobStore(t)
  t.equal(await publishShippedModels(store), 4)
  for (const model of shipped) {
    for (const cid of [model.artifact, model.onnx]) t.equal((await store.info(cid))?.refs, 1, `${model.name} ${toHex(cid).slice(0, 10)} pinned`)
  }
  t.equal(await publishShippedModels(store), 4, 'again: idempotent')
  t.equal((await store.info(shipped[0]!.artifact))?.refs, 1, 'pinned once per owner')
})

t.test('publishShippedModels reads no file the store already holds, and refuses a file unlike the manifest', async (t) => {
  const dir = await copyAssets(t)
  const lm = manifest.models[0]!
  const weights = new Uint8Array(await readFile(join(dir, lm.weights.file)))
  const { store } = await createBlobStore(t)
  t.equal(await publishShippedModels(store, { dir }), 4)

  // every model file damaged or gone: a later start pins what the store holds, reading nothing
  const flipped = weights.slice()
  flipped[flipped.length - 1]! ^= 1
  await writeFile(join(dir, lm.weights.file), flipped)
  await rm(join(dir, lm.onnx!.file))
  for (const entry of manifest.models.slice(1)) {
    await rm(join(dir, entry.weights.file))
    await rm(join(dir, entry.onnx!.file))
  }
  t.equal(await publishShippedModels(store, { dir }), 4, 'published again from the store')
  for (const model of shipped) {
    for (const cid of [model.artifact, model.onnx]) t.equal((await store.info(cid))?.refs, 1, `${model.name} ${toHex(cid).slice(0, 10)} pinned once`)
  }
  t.same(await store.read(shipped[0]!.artifact), weights, 'the stored weights are the shipped ones')

  // a store without them reads the files: the damaged one does not have the manifest's content id,
  // so it is refused and nothing is kept for it
  const { store: empty } = await createBlobStore(t)
  await t.rejects(publishShippedModels(empty, { dir }), { name: 'ModelAssetError', code: 'CID_MISMATCH', details: { file: lm.weights.file, cid: toHex(contentId(flipped)), expected: lm.weights.cid } })
  t.equal(await empty.has(shipped[0]!.artifact), false)
  t.equal(await empty.has(contentId(flipped)), false)
  // with the weights repaired they are stored and pinned; the deleted ONNX export is missing
  await writeFile(join(dir, lm.weights.file), weights)
  await t.rejects(publishShippedModels(empty, { dir }), { name: 'ModelAssetError', code: 'FILE_MISSING', details: { file: lm.onnx!.file } })
  t.equal((await empty.info(shipped[0]!.artifact))?.refs, 1)
})

t.test("publishShippedModels stores a file only under the manifest's content id", async (t) => {
  const dir = await copyAssets(t)
  const text = await readFile(join(dir, 'manifest.json'), 'utf8')
  const lm = manifest.models[0]!
  const wrongCid = '0x' + '11'.repeat(32)
  // the file has its manifest hash, but the manifest names another content id (a broken build)
  await writeFile(join(dir, 'manifest.json'), text.replace(lm.weights.cid, wrongCid))
  const { store } = await createBlobStore(t)
  await t.rejects(publishShippedModels(store, { dir }), { name: 'ModelAssetError', code: 'CID_MISMATCH', details: { file: lm.weights.file, cid: lm.weights.cid, expected: wrongCid } })
  t.equal(await store.has(fromHex(wrongCid)!), false)
  t.equal(await store.has(shipped[0]!.artifact), false, 'nor under its own content id')
})

t.test('BaseModelResolver: shipped weights by hash, else the artifact blob checked against its hash', async (t) => {
  const { store } = await createBlobStore(t)
  const resolver = new BaseModelResolver({ store })
  const lm = registered(shipped[0]!, 1)
  const resolved = await resolver.resolve(lm)
  t.same(resolved.config, manifest.models[0]!.config)
  t.same(resolved.weights, (await loadBaseModel('ol-lm-sotu-2m')).weights, 'the shipped weights')
  t.equal(resolved.tokenizer.vocabSize, manifest.tokenizer.vocab)
  t.equal(await store.has(lm.artifact), false, 'no blob needed for a shipped model')
  t.equal(await resolver.resolve(lm), resolved, 'cached')

  const custom = customModel(1)
  const model = registered(custom.entry, 3)
  await t.rejects(resolver.resolve(model), { code: 'ARTIFACT_UNAVAILABLE' }, 'not stored and no network')
  await store.put(custom.bytes)
  const fromBlob = await resolver.resolve(model)
  t.same(fromBlob.config, custom.config)
  t.same(tensorsHash(paramShapes(custom.config), fromBlob.weights), custom.entry.weightsHash, 'the registered weights')
  t.equal((await store.info(model.artifact))?.refs, 1, 'the artifact is pinned for the base model')

  // fetched from peers when not stored here
  const other = customModel(2)
  const fetched: string[] = []
  const fetcher = { fetch: async (cid: Uint8Array) => void fetched.push(toHex(await store.put(other.bytes, cid))) } as unknown as BlobFetcher
  const withNetwork = new BaseModelResolver({ store, fetcher })
  t.same(tensorsHash(paramShapes(other.config), (await withNetwork.resolve(registered(other.entry, 4))).weights), other.entry.weightsHash)
  t.same(fetched, [toHex(other.entry.artifact)])
})

t.test('BaseModelResolver refuses with stable codes', async (t) => {
  const { store } = await createBlobStore(t)
  const resolver = new BaseModelResolver({ store })
  const custom = customModel(5)
  const impostor = customModel(6)
  await store.put(impostor.bytes)
  // the registration names weights hash 5 but its artifact holds other weights
  await t.rejects(resolver.resolve(registered({ ...custom.entry, artifact: impostor.entry.artifact }, 7)), { name: 'BaseModelError', code: 'WEIGHTS_MISMATCH' })
  await t.rejects(resolver.resolve(registered({ ...custom.entry, tokenizer: 'other-bpe', tokenizerHash: new Uint8Array(32).fill(7) }, 8)), { code: 'UNSUPPORTED_TOKENIZER', message: /other-bpe/ })
  await t.rejects(resolver.resolve(registered({ ...shipped[0]!, tokenizerHash: new Uint8Array(32).fill(7) }, 9)), { code: 'UNSUPPORTED_TOKENIZER' }, 'even for shipped weights')
  await t.rejects(resolver.resolve(registered({ ...custom.entry, engineVersion: 'openledger-ml/999' }, 10)), { code: 'UNSUPPORTED_ENGINE', message: /openledger-ml\/999/ })
  await t.rejects(resolver.resolve(registered({ ...custom.entry, architecture: canonicalArchitecture(custom.config).replace('"dim":8', '"dim":7') }, 11)), { code: 'INVALID_ARCHITECTURE' })
  // a failure is not cached: the same registration resolves once its artifact is there
  await t.rejects(resolver.resolve(registered(custom.entry, 12)), { code: 'ARTIFACT_UNAVAILABLE' })
  await store.put(custom.bytes)
  t.same((await resolver.resolve(registered(custom.entry, 12))).config, custom.config)
})
