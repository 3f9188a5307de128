// A language model's receipt from real blobs: the span index of a datanet version built from the
// contributions' blobs (real BlobStore, real tokenizer), stored on disk and loaded lazily by a
// second cache without rebuilding; an output quoting one contribution credits it, and the runtime
// accepts the receipt and pays that contributor; the test-only faulty receipt credits another.
import t from 'tap'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spanIndexRoot } from '../../../attribution/spanIndex.ts'
import { buildVocabularyTable, tableHash, Tokenizer } from '../../../ml/tokenizer.ts'
import { utf8 } from '../../../runtime/crypto/hash.ts'
import { AttributionStatus, SCORE_TOTAL } from '../../../runtime/modules/attribution/state.ts'
import { records } from '../../../runtime/modules/inference/state.ts'
import { RANDOMNESS_LOOKAHEAD } from '../../../runtime/modules/system/randomness.ts'
import { devKey, type DevAccountName } from '../../../genesis/devAccounts.ts'
import { SpanIndexCache } from '../../../node/attribution/indexCache.ts'
import { faultyReceipt, spanReceipt } from '../../../node/attribution/spanReceipt.ts'
import { createBlobStore } from '../blobs/fixtures.ts'
import { attributionChain, attributionOf, CONTRIBUTORS, paidInference } from '../../runtime/modules/attribution/harness.ts'

const TEXTS = [
  'Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse, and nothing particular to interest me on shore, I thought I would sail about a little and see the watery part of the world.',
  'It is a way I have of driving off the spleen and regulating the circulation. Whenever I find myself growing grim about the mouth; whenever it is a damp, drizzly November in my soul, I account it high time to get to sea.',
  'Mr. Speaker, Mr. Vice President, members of Congress, distinguished guests, and fellow citizens: the state of our union is strong, and our economy is growing with new jobs in every part of the nation this year.',
  'We the people of the United States, in order to form a more perfect union, establish justice, insure domestic tranquility, provide for the common defence and promote the general welfare of the land.',
]

t.test('span index built from blobs, cached on disk, loaded lazily; the receipt credits the quoted contribution and the runtime pays it', async (t) => {
  const { store } = await createBlobStore(t)
  const cids = []
  for (const text of TEXTS) cids.push(await store.put(utf8(JSON.stringify({ text }) + '\n')))
  const h = await attributionChain({}, cids)
  const state = { get: (key: Uint8Array) => h.state.get(key), async *entries(prefix: Uint8Array) { for (const { key, value } of h.committed.withPrefix(prefix)) yield [key, value] as [Uint8Array, Uint8Array] } }
  const table = buildVocabularyTable(TEXTS, 600)
  const tokenizer = Tokenizer.fromTable(table)
  const dir = await mkdtemp(join(tmpdir(), 'openledger-spans-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))

  const cache = new SpanIndexCache({ dir, sources: { state, store } })
  const index = await cache.get(1, 1, tokenizer, tableHash(table))
  t.equal(cache.built, 1)
  t.same(Array.from(index.contributionIds), [0, 1, 2, 3], 'one entry per contribution, by tree position')
  t.equal((await readdir(dir)).filter((f) => f.endsWith('.olsx')).length, 1, 'stored on disk')
  t.equal(await cache.get(1, 1, tokenizer, tableHash(table)), index, 'kept in memory')
  const fresh = new SpanIndexCache({ dir, sources: { state, store } })
  const loaded = await fresh.get(1, 1, tokenizer, tableHash(table))
  t.equal(fresh.built, 0, 'a second cache loads the file instead of rebuilding')
  t.same(spanIndexRoot(loaded.bytes), spanIndexRoot(index.bytes))

  const record = await paidInference(h)
  const stored = await records.get(h.state, record)
  const quote = 'whenever it is a damp, drizzly November in my soul, I account it high time to get to sea.'
  const output = tokenizer.encode(`The model said: ${quote} And then it stopped.`)
  const versions = [{ datanet: 1, version: 1, index: loaded }]
  const receipt = spanReceipt({ chainId: h.spec.chainId, record, outputHash: stored!.outputHash, versions, output })
  t.same(receipt.contributions, [{ datanet: 1, index: 1, score: SCORE_TOTAL }], 'the quoted contribution gets the whole credit')
  t.same(receipt.datanets, [{ datanet: 1, version: 1 }])
  const none = spanReceipt({ chainId: h.spec.chainId, record, outputHash: stored!.outputHash, versions, output: tokenizer.encode('zebra quantum xylophone') })
  t.same(none.contributions, [], 'nothing quoted: no one credited')
  const faulty = faultyReceipt(receipt, versions)
  t.not(faulty.contributions[0]?.index, 1, 'the faulty receipt credits someone else')

  const entry = await attributionOf(h, record)
  await h.ok(entry.attributor, 'submitReceipt', receipt, 'attribution')
  await h.advanceTo(h.height + RANDOMNESS_LOOKAHEAD)
  const final = await attributionOf(h, record)
  t.equal(final.status, AttributionStatus.final)
  t.same(final.payouts.map((p) => [p.contributor, p.amount]), [[devKey(CONTRIBUTORS[1] as DevAccountName).address, stored!.split.contributors]])
})
