// The attribution service on an in-process dev node (alice validates, so she is every record's
// attributor; with no other validator no re-check is drawn): a Moby Dick datanet is seeded, a tiny
// LoRA job trained and published on it, charlie registers as a provider and answers dave's paid
// request on the adapter with an output quoting one chapter (its bytes in the node's blob store by
// the content id the record names). The service reads the output, builds the span index of the
// lineage's version (trying again at each block while the output is not in its store yet),
// submits the receipt; once final the quoted chapter's contributor has accrued
// exactly the record's contributors' pool, sees it with `openledger rewards show` and takes it with
// `openledger rewards claim` (its key imported into a keystore), and `openledger attribution show`
// prints the receipt. Before that, a receipt reporting harm (written by the test as the drawn
// attributor: spans never harm) cuts one chapter off: `openledger attribution penalties` shows
// the datanet owner each harmed contribution's score, contributor, cut-off and slashed deposit,
// and the cut-off chapter earns nothing from the later record.
import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { seedDatanet } from '../../../cli/commands/datanetSeed.ts'
import type { CliIo } from '../../../cli/io.ts'
import { eventData, TxBatch } from '../../../cli/txBatch.ts'
import { devAccount, devKey } from '../../../genesis/devAccounts.ts'
import { fromHex, keccak256, toHex, utf8 } from '../../../runtime/crypto/hash.ts'
import { createRuntime } from '../../../runtime/index.ts'
import type { Hyperparameters } from '../../../runtime/modules/models/state.ts'
import { DEFAULT_ATTRIBUTION_PARAMS, SCORE_TOTAL } from '../../../runtime/modules/attribution/index.ts'
import type { BlobStore } from '../../../node/blobs/blobStore.ts'
import { contentId } from '../../../node/blobs/contentId.ts'
import { found, runCli, waitFor } from '../../e2e/harness.ts'
import { startDevNode, TINY_HYPER } from '../models/fixtures.ts'

const runtime = createRuntime()
const quiet: CliIo = { out: () => {}, err: () => {}, secret: async () => '' }
const OPEN = 10n ** 18n
const fee = (hyper: Hyperparameters) => (10n ** 15n * BigInt(hyper.steps) * BigInt(hyper.batchSize)).toString()

t.test('a paid inference on an adapter is attributed by the node, and its contributor claims the reward with the CLI', async (t) => {
  const home = await mkdtemp(join(tmpdir(), 'openledger-attribution-'))
  const wallet = await mkdtemp(join(tmpdir(), 'openledger-attribution-wallet-'))
  // a contribution is cut off once its harmful scores reach one full share (SCORE_TOTAL)
  const dev = await startDevNode(home, { attribution: { params: { ...DEFAULT_ATTRIBUTION_PARAMS, penaltyThreshold: SCORE_TOTAL } } })
  t.teardown(async () => {
    await dev.node.stop()
    await rm(home, { recursive: true, force: true })
    await rm(wallet, { recursive: true, force: true })
  })
  const batch = new TxBatch(dev.rpc, runtime)
  const send = async (signer: { address: Uint8Array; privateKey: Uint8Array }, module: string, call: string, args: unknown) => {
    const [receipt] = await batch.wait([await batch.submit(signer, module, call, args)])
    if (receipt?.status !== 'success') throw new Error(`${module}.${call}: ${receipt?.error ?? 'no receipt'}`)
    return receipt
  }

  const { datanet, version } = await seedDatanet(quiet, dev.rpc, runtime, devAccount('bob'), { corpus: 'moby', contributors: 2, limit: 3 })
  const created = await send(devAccount('bob'), 'models', 'createJob', { base: 1, datanets: [{ datanet, version }], hyper: TINY_HYPER, fee: fee(TINY_HYPER) })
  const job = Number(eventData(created, 'models', 'JobCreated')?.['job'])
  const published = await waitFor(async () => {
    const record = found(await dev.rpc.call('openledger_getTrainingJob', [job]), `job ${job}`)
    return record.status === 'published' ? record : undefined
  }, 'the adapter published', 120_000, 100)
  const adapter = Number(published.modelVersion)

  // the quoted chapter: the second contribution of the version
  const contributions = await dev.rpc.call('openledger_listVersionContributions', [datanet, version])
  const quoted = found(contributions[1], 'a second contribution')
  const store = dev.node.blobs as BlobStore
  const chapter = new TextDecoder().decode(await store.read(fromHex(quoted.cid) as Uint8Array))
  const text = (JSON.parse(chapter.split('\n')[0] as string) as { text: string }).text
  const words = text.split(/\s+/).filter((w) => w !== '')
  const quote = words.slice(20, 60).join(' ')
  t.ok(text.includes(quote), 'the quote is verbatim from the chapter')
  const output = `And so the sailor said: ${quote}`

  // what a user of the serving API sees beside the completion: the quote cited, with its source
  const cited = await dev.rpc.call('openledger_getCitations', [1, [adapter], output])
  t.same(cited.lineage, [{ datanet, version }])
  const main = cited.citations.find((c) => c.sources.some((s) => s.contribution === quoted.index))
  t.ok(main !== undefined && main.end - main.start >= 30 && quote.includes(main.text.trim().slice(0, 40)), `the quote is cited from contribution ${quoted.index}: ${JSON.stringify(main?.text)}`)
  t.same(main?.sources[0], { datanet, version, contribution: quoted.index, occurrences: 1 }, 'its source: datanet, version, contribution')
  t.same((await dev.rpc.call('openledger_getCitations', [1, [adapter], 'zebra quantum xylophone'])).citations, [], 'nothing quoted, nothing cited')
  await t.rejects(dev.rpc.call('openledger_getCitations', [1, [adapter + 100], output]), /UNKNOWN_MODEL|not a published adapter/, 'an unknown adapter is refused')

  // charlie answers dave's request as a provider would: the output in the blob store, fulfil on chain
  const charlie = devAccount('charlie')
  await send(charlie, 'inference', 'registerProvider', { bond: (1_000n * OPEN).toString(), endpoint: 'http://127.0.0.1:9', priceIn: (OPEN / 100n).toString(), priceOut: (OPEN / 100n).toString(), models: [1], capacity: 4 })
  const paidRequest = async (prompt: string) => Number(eventData(await send(devAccount('dave'), 'inference', 'request', {
    provider: toHex(charlie.address), base: 1, adapters: [{ id: adapter, weightMilli: 1000 }], prompt, promptTokens: 2, maxTokens: 24,
    sampling: { temperatureMilli: 0, topK: 0, topPMilli: 1000, seed: 0 }, escrow: OPEN.toString(),
  }), 'inference', 'RequestCreated')?.['request'])

  // Penalties, as a datanet owner sees them. Spans credit and never harm (harm comes from a
  // classifier's negative Shapley values), so alice, the drawn attributor, reports harm herself on a
  // record whose output this node never holds (its service computes nothing for it): the other
  // chapter reaches the threshold and is cut off, part of its deposit slashed; the quoted one gets a
  // penalty score below it and keeps earning.
  const cut = found(contributions.find((c) => c.index !== quoted.index), 'another contribution')
  const harmedLess = quoted
  const depositBefore = BigInt(found(await dev.rpc.call('openledger_getContribution', [datanet, cut.index]), 'the contribution').deposit)
  const harmOutput = utf8('an output this node never stores')
  const harmRecord = Number(eventData(await send(charlie, 'inference', 'fulfil', {
    request: await paidRequest('Harm'), outputHash: toHex(keccak256(harmOutput)), outputCid: toHex(contentId(harmOutput)), inputTokens: 2, outputTokens: 24,
  }), 'inference', 'InferenceRecorded')?.['record'])
  await waitFor(async () => ((await dev.rpc.call('openledger_getAttribution', [harmRecord]))?.status === 'assigned' ? true : undefined), 'the harmful record assigned', 60_000, 100)
  await send(devAccount('alice'), 'attribution', 'submitReceipt', {
    chainId: dev.node.chain.spec.chainId, record: harmRecord, method: 0, datanets: [{ datanet, version }], outputHash: toHex(keccak256(harmOutput)), contributions: [],
    harmful: [{ datanet, index: cut.index, score: SCORE_TOTAL }, { datanet, index: harmedLess.index, score: 400_000 }],
  })
  await waitFor(async () => ((await dev.rpc.call('openledger_getAttribution', [harmRecord]))?.status === 'final' ? true : undefined), 'the harmful receipt final', 60_000, 100)
  const penalties = await runCli(['attribution', 'penalties', '--datanet', String(datanet), '--rpc', dev.url])
  t.equal(penalties.code, 0, penalties.stderr)
  const view = JSON.parse(penalties.stdout) as { penaltyThreshold: number; penaltySlashBps: number; cutOff: number; contributions: Array<{ contribution: number; contributor: string; score: number; cutOff: boolean; slashed?: string; depositLeft: string }> }
  const slashed = (depositBefore * BigInt(view.penaltySlashBps)) / 10_000n
  t.equal(view.penaltyThreshold, SCORE_TOTAL, 'attribution penalties: the threshold in force')
  t.same(view.contributions.map((c) => [c.contribution, c.contributor, c.score, c.cutOff, c.slashed ?? null, c.depositLeft]), [
    [cut.index, cut.contributor, SCORE_TOTAL, true, slashed.toString(), (depositBefore - slashed).toString()],
    [harmedLess.index, harmedLess.contributor, 400_000, false, null, found(await dev.rpc.call('openledger_getContribution', [datanet, harmedLess.index]), 'the contribution').deposit],
  ].sort((a, b) => (a[0] as number) - (b[0] as number)), 'each harmed contribution with its contributor and score; the one past the threshold cut off, penaltySlashBps of its deposit slashed')
  t.ok(slashed > 0n, `the cut-off contribution lost ${slashed} of its ${depositBefore} deposit`)
  t.equal(view.cutOff, 1, 'one contribution cut off')

  const request = await paidRequest('Call me')
  // the output reaches the node's store only after the record was assigned: the service tries again at each finalized block
  const bytes = utf8(output)
  const cid = contentId(bytes)
  const fulfilled = await send(charlie, 'inference', 'fulfil', { request, outputHash: toHex(keccak256(bytes)), outputCid: toHex(cid), inputTokens: 2, outputTokens: 24 })
  const recordId = Number(eventData(fulfilled, 'inference', 'InferenceRecorded')?.['record'])
  await waitFor(async () => ((await dev.rpc.call('openledger_getAttribution', [recordId]))?.status === 'assigned' ? true : undefined), 'the record assigned', 60_000, 100)
  const assignedAt = found(await dev.rpc.call('chain_getHeader'), 'the head').number
  await waitFor(async () => (((await dev.rpc.call('chain_getHeader'))?.number ?? 0) >= assignedAt + 2 ? true : undefined), 'two blocks without the output', 60_000, 100)
  t.equal((await dev.rpc.call('openledger_getAttribution', [recordId]))?.status, 'assigned', 'no receipt while the output is missing')
  t.same(await store.put(bytes), cid, 'the output arrives')
  const record = found(await dev.rpc.call('openledger_getInferenceRecord', [recordId]), `record ${recordId}`)
  const pool = BigInt(record.split.contributors)
  t.ok(pool > 0n, `the record holds a contributors' pool of ${pool}`)

  const final = await waitFor(async () => {
    const entry = await dev.rpc.call('openledger_getAttribution', [recordId])
    return entry?.status === 'final' || entry?.status === 'unattributed' ? entry : undefined
  }, 'the attribution final', 120_000, 100) as unknown as {
    status: string; attributor: string; receipt: { method: string; datanets: unknown; contributions: Array<{ datanet: number; index: number; score: number }> }; payouts: Array<{ index: number; contributor: string; amount: string }>; paid: string
  }
  t.equal(final.status, 'final', 'the receipt the node submitted is final')
  t.equal(final.attributor, toHex(devAccount('alice').address), 'alice, the only validator, attributed it')
  t.equal(final.receipt.method, 'spans')
  t.same(final.receipt.datanets, [{ datanet, version }], 'the adapter\'s lineage')
  t.equal(final.receipt.contributions[0]?.index, quoted.index, 'the quoted chapter holds the top score')
  t.ok((final.receipt.contributions[0]?.score ?? 0) > 900_000, `nearly all the credit: ${JSON.stringify(final.receipt.contributions)}`)
  t.equal(final.payouts.reduce((sum, p) => sum + BigInt(p.amount), 0n), pool, 'the payouts are exactly the pool')
  const owed = final.payouts.filter((p) => p.contributor === quoted.contributor).reduce((sum, p) => sum + BigInt(p.amount), 0n)
  t.ok(owed > 0n, 'the quoted chapter\'s contributor was paid')
  t.notOk(final.payouts.some((p) => p.index === cut.index), 'the cut-off contribution is paid nothing, credited or not')

  // the contributor, with the CLI
  const contributor = quoted.contributor
  const shown = await runCli(['rewards', 'show', '--address', contributor, '--rpc', dev.url])
  t.equal(shown.code, 0, shown.stderr)
  const rewards = JSON.parse(shown.stdout) as { accrued: string; claimed: string; credits: Array<{ record: number; contribution: number; score: number; amount: string }> }
  t.equal(BigInt(rewards.accrued), owed, 'rewards show: accrued is what the record paid it')
  t.ok(rewards.credits.some((c) => c.record === recordId && c.contribution === quoted.index && c.score === final.receipt.contributions[0]?.score), 'rewards show lists the inference that credited it, with its contribution and score')
  t.equal(rewards.credits.reduce((sum, c) => sum + BigInt(c.amount), 0n), owed, 'and the OPEN it earned')
  const shownReceipt = await runCli(['attribution', 'show', String(recordId), '--rpc', dev.url])
  t.equal(shownReceipt.code, 0, shownReceipt.stderr)
  t.match(shownReceipt.stdout, new RegExp(`"index": ${quoted.index}`), 'attribution show prints the credited contribution')

  // `datanet seed` gives its contributors the dev keys moby/contributor-N
  const seedKey = found([1, 2].map((i) => devKey(`moby/contributor-${i}`)).find((k) => toHex(k.address) === contributor), 'the contributor\'s dev key')
  const env = { OPENLEDGER_PASSPHRASE: 'attribution-test' }
  const imported = await runCli(['keys', 'import', '--name', 'contributor', '--private-key', toHex(seedKey.privateKey), '--home', wallet], env)
  t.equal(imported.code, 0, imported.stderr)
  const before = BigInt(await dev.rpc.call('openledger_getBalance', [contributor]))
  const claimed = await runCli(['rewards', 'claim', '--from', 'contributor', '--home', wallet, '--json', '--rpc', dev.url], env)
  t.equal(claimed.code, 0, `rewards claim: ${claimed.stderr}`)
  const claimFee = BigInt((JSON.parse(claimed.stdout) as { fee: string }).fee)
  t.equal(BigInt(await dev.rpc.call('openledger_getBalance', [contributor])), before + owed - claimFee, 'the claim paid exactly the accrued reward (less its fee)')
  const after = await dev.rpc.call('openledger_getRewards', [contributor])
  t.same(after, { address: contributor, accrued: '0', claimed: owed.toString() })
})
