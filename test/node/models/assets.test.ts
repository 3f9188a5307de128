// Shipped base models: the manifest, tokenizer and weights load and verify; a changed byte, a
// wrong size or a missing file is refused with a stable code, and so is a manifest entry without a
// well-formed content id. Runs on a small model written to a temporary folder, and on the
// package's own assets/models when they are there (whose manifest names each file's content id).
import t from 'tap'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { hexHash, keccakHex, MANIFEST_FORMAT, parseManifest, type ModelsManifest } from '../../../ml/data/assets.ts'
import { paramShapes, type ModelConfig } from '../../../ml/model/config.ts'
import { encodeTensors, initParams, tensorsHash } from '../../../ml/model/params.ts'
import { buildVocabularyTable, encodeTable, TOKENIZER_NAME, Tokenizer } from '../../../ml/tokenizer.ts'
import { contentId } from '../../../node/blobs/contentId.ts'
import { loadBaseModel, loadOnnx, loadTokenizer, PACKAGE_MODELS_DIR, readManifest } from '../../../node/models/assets.ts'

const config: ModelConfig = { kind: 'classifier', vocab: 300, context: 8, dim: 8, layers: 1, heads: 2, hidden: 16, classes: 2 }

async function writeAssets(dir: string): Promise<{ manifest: ModelsManifest; weights: Uint8Array; table: Uint8Array }> {
  const tableIds = buildVocabularyTable(['the whale, the sea and the ship'], 300)
  const tokenizer = Tokenizer.fromTable(tableIds)
  const table = encodeTable(tableIds)
  const params = initParams(config, 5)
  const weights = encodeTensors(paramShapes(config), params)
  const tokenizerHash = hexHash(tokenizer.hash())
  const onnx = new TextEncoder().encode('not really onnx')
  const manifest: ModelsManifest = {
    format: MANIFEST_FORMAT,
    tokenizer: { file: 'tokenizer.bin', name: TOKENIZER_NAME, vocab: tableIds.length, hash: tokenizerHash, bytes: table.length, corpus: 'a test sentence' },
    models: [{
      name: 'tiny', kind: 'classifier', config, parameters: 0,
      weights: { file: 'tiny/weights.bin', hash: hexHash(tensorsHash(paramShapes(config), params)), bytes: weights.length, cid: hexHash(contentId(weights)) },
      onnx: { file: 'tiny/model.onnx', hash: keccakHex(onnx), bytes: onnx.length, cid: hexHash(contentId(onnx)) },
      tokenizerHash,
      heldOut: { lossBefore: 1, loss: 1, size: 0 },
      training: { data: 'none', steps: 0, tokens: 0, batch: 1, learningRate: 0.001, warmupSteps: 0, weightDecay: 0, seed: 5, engineVersion: 'test' },
    }],
  }
  await mkdir(join(dir, 'tiny'), { recursive: true })
  await writeFile(join(dir, 'tokenizer.bin'), table)
  await writeFile(join(dir, 'tiny', 'weights.bin'), weights)
  await writeFile(join(dir, 'tiny', 'model.onnx'), onnx)
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest))
  return { manifest, weights, table }
}

t.test('a model folder loads and every file is checked', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ol-assets-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const { manifest, weights, table } = await writeAssets(dir)
  const loaded = await loadBaseModel('tiny', { dir })
  t.equal(loaded.entry.name, 'tiny')
  t.same(Array.from(loaded.weights.get('cls.b')!), Array.from(initParams(config, 5).get('cls.b')!))
  t.equal(loaded.tokenizer.vocabSize, manifest.tokenizer.vocab)
  t.equal((await loadOnnx('tiny', { dir })).length, manifest.models[0]!.onnx!.bytes)
  await t.rejects(loadBaseModel('huge', { dir }), { code: 'UNKNOWN_MODEL' })

  // one flipped bit in the weights: same size, other hash
  const flipped = weights.slice()
  flipped[flipped.length - 1]! ^= 1
  await writeFile(join(dir, 'tiny', 'weights.bin'), flipped)
  await t.rejects(loadBaseModel('tiny', { dir }), { code: 'HASH_MISMATCH' })
  await writeFile(join(dir, 'tiny', 'weights.bin'), weights.subarray(0, weights.length - 4))
  await t.rejects(loadBaseModel('tiny', { dir }), { code: 'SIZE_MISMATCH' })
  await writeFile(join(dir, 'tiny', 'weights.bin'), weights)

  // a tokenizer table with two ids swapped
  const swapped = table.slice()
  swapped.set(table.subarray(1032, 1036), 1028)
  swapped.set(table.subarray(1028, 1032), 1032)
  await writeFile(join(dir, 'tokenizer.bin'), swapped)
  await t.rejects(loadTokenizer(manifest, { dir }), { code: 'HASH_MISMATCH' })
  await writeFile(join(dir, 'tokenizer.bin'), table)

  await writeFile(join(dir, 'tiny', 'model.onnx'), 'not really onnY')
  await t.rejects(loadOnnx('tiny', { dir }), { code: 'HASH_MISMATCH' })
  await rm(join(dir, 'tiny', 'model.onnx'))
  await t.rejects(loadOnnx('tiny', { dir }), { code: 'FILE_MISSING' })
  await t.rejects(readManifest({ dir: join(dir, 'nowhere') }), { code: 'FILE_MISSING' })
})

t.test('malformed manifests are refused', async (t) => {
  t.throws(() => parseManifest('{'), { code: 'INVALID_MANIFEST' })
  t.throws(() => parseManifest('{"format":2}'), { code: 'INVALID_MANIFEST' })
  const dir = await mkdtemp(join(tmpdir(), 'ol-assets-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const { manifest } = await writeAssets(dir)
  const escape = { ...manifest, models: [{ ...manifest.models[0]!, weights: { ...manifest.models[0]!.weights, file: '../etc/passwd' } }] }
  t.throws(() => parseManifest(JSON.stringify(escape)), { code: 'INVALID_MANIFEST' })
  const otherTokenizer = { ...manifest, models: [{ ...manifest.models[0]!, tokenizerHash: '0x' + '00'.repeat(32) }] }
  t.throws(() => parseManifest(JSON.stringify(otherTokenizer)), { code: 'INVALID_MANIFEST' })

  // the weights and ONNX entries name their content id: 0x and 64 lowercase hex digits
  t.same(parseManifest(JSON.stringify(manifest)), manifest, 'the well-formed manifest parses')
  const model = manifest.models[0]!
  const { cid, ...withoutCid } = model.weights
  t.throws(() => parseManifest(JSON.stringify({ ...manifest, models: [{ ...model, weights: withoutCid }] })), { code: 'INVALID_MANIFEST', details: { field: 'models[0].weights.cid' } }, 'weights without a cid')
  for (const bad of [cid.slice(2), cid.slice(0, -2), cid.toUpperCase().replace('0X', '0x'), cid + '00', 7, null]) {
    t.throws(() => parseManifest(JSON.stringify({ ...manifest, models: [{ ...model, weights: { ...model.weights, cid: bad } }] })), { code: 'INVALID_MANIFEST', details: { field: 'models[0].weights.cid' } }, `weights cid ${String(bad)}`)
    t.throws(() => parseManifest(JSON.stringify({ ...manifest, models: [{ ...model, onnx: { ...model.onnx!, cid: bad } }] })), { code: 'INVALID_MANIFEST', details: { field: 'models[0].onnx.cid' } }, `onnx cid ${String(bad)}`)
  }
})

t.test('the shipped base models verify', { skip: existsSync(join(PACKAGE_MODELS_DIR, 'manifest.json')) ? false : 'no assets/models yet' }, async (t) => {
  const manifest = await readManifest()
  t.same(manifest.models.map((m) => m.name).sort(), ['ol-lm-sotu-2m', 'ol-spam-cls'])
  for (const entry of manifest.models) {
    const loaded = await loadBaseModel(entry.name, { manifest })
    t.equal(keccakHex(loaded.weightsBytes), entry.weights.hash)
    t.equal(hexHash(contentId(loaded.weightsBytes)), entry.weights.cid, `${entry.name}: the manifest names weights.bin's content id`)
    t.equal(loaded.tokenizer.vocabSize, entry.config.vocab)
    t.ok(entry.onnx, `${entry.name} ships an ONNX export`)
    if (entry.onnx !== undefined) {
      const onnx = await loadOnnx(entry.name, { manifest })
      t.equal(onnx.length, entry.onnx.bytes)
      t.equal(hexHash(contentId(onnx)), entry.onnx.cid, `${entry.name}: the manifest names model.onnx's content id`)
    }
  }
})
