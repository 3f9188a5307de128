// The provider's voucher journal (node/market/voucherJournal.ts) and ChannelGate.resume: vouchers
// accepted before a restart are read back and redeemed on chain (the runtime's own redeem over the
// inference harness); what the chain already redeemed, a line journaled twice and a torn last line
// are dropped; a corrupt line in the middle is refused. The API key's served inferences the same:
// journaled with their ordinal, charged once across restarts.
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import type { VoucherArgs } from '../../../runtime/modules/inference/calls.ts'
import { ChannelGate } from '../../../node/market/channelGate.ts'
import { JsonlJournal, VoucherJournal } from '../../../node/market/voucherJournal.ts'
import { apiKeyHash, keyChargeKind, KeyGate, newApiKey } from '../../../node/market/keyGate.ts'
import { inferenceCost } from '../../../runtime/modules/inference/pricing.ts'
import { apiKeys, channels } from '../../../runtime/modules/inference/state.ts'
import { addressOfDev, market, OPEN, output, PRICE_IN, PRICE_OUT, PROVIDER, Session } from '../../runtime/modules/inference/harness.ts'

async function setting(t: Test) {
  const dir = await mkdtemp(join(tmpdir(), 'openledger-journal-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const h = await market()
  await h.ok('dave', 'openChannel', { provider: addressOfDev(PROVIDER), deposit: 10n * OPEN }, 'inference')
  const session = new Session(h.spec.chainId, 1, 'dave')
  // what the gate journals per served request: its voucher and its one inference
  const entries: VoucherArgs[] = []
  for (let i = 0; i < 3; i++) {
    const voucher = session.pay(1_000n)
    const { terms, tag } = session.pending[i]!
    entries.push({ ...voucher, inferences: [{ terms, ...output(tag), inputTokens: terms.promptTokens, outputTokens: terms.maxTokens }] })
  }
  return { h, path: join(dir, 'provider', 'vouchers.jsonl'), entries }
}

t.test('journaled vouchers survive a restart and are redeemed on chain', async (t) => {
  const { h, path, entries } = await setting(t)
  const journal = new VoucherJournal(path)
  t.same(await journal.load(), [], 'no journal yet: nothing')
  for (const entry of entries) await journal.append(entry)
  t.same(await journal.load(), entries, 'read back as written')
  const gate = new ChannelGate(addressOfDev(PROVIDER), h.spec.chainId)
  t.equal(await gate.resume(h.state, await journal.load()), 3)
  t.same(gate.unredeemed().map((v) => [v.channel, v.cumulative, v.inferences.length]), [[1, 3_000n, 3]], 'compacted: one entry per channel')
  await h.ok(PROVIDER, 'redeem', { vouchers: gate.take(64) }, 'inference')
  t.equal((await channels.get(h.state, 1))?.redeemed, 3_000n, 'the resumed voucher redeemed all three')
})

t.test('what the chain redeemed, a duplicated line and a torn last line are dropped; a corrupt line is refused', async (t) => {
  const { h, path, entries } = await setting(t)
  const journal = new VoucherJournal(path)
  // the first two redeemed before the restart
  const first = new ChannelGate(addressOfDev(PROVIDER), h.spec.chainId)
  await first.resume(h.state, entries.slice(0, 2))
  await h.ok(PROVIDER, 'redeem', { vouchers: first.take(64) }, 'inference')
  await journal.rewrite([entries[0]!, entries[1]!, entries[2]!, entries[2]!])
  await appendFile(path, '{"channel": 1, "cumu')
  const gate = new ChannelGate(addressOfDev(PROVIDER), h.spec.chainId)
  t.equal(await gate.resume(h.state, await journal.load()), 1, 'only the third is left')
  await h.ok(PROVIDER, 'redeem', { vouchers: gate.take(64) }, 'inference')
  t.equal((await channels.get(h.state, 1))?.redeemed, 3_000n)
  await writeFile(path, 'not json\n{}\n')
  await t.rejects(journal.load(), { code: 'JOURNAL_CORRUPT' })
})

t.test('an append called while a rewrite runs lands in the rewritten journal, once', async (t) => {
  const { path, entries } = await setting(t)
  const journal = new VoucherJournal(path)
  const [first, second, third] = entries as [VoucherArgs, VoucherArgs, VoucherArgs]
  await journal.append(first)
  await journal.append(second)
  // a settlement's rewrite (the first two redeemed) while the third request is served: neither waits for the other
  await Promise.all([journal.rewrite([]), journal.append(third)])
  t.same(await journal.load(), [third], 'the voucher served during the rewrite is kept')
  // and the other order: served first, then a rewrite whose list already holds it
  const fourth = { ...third, cumulative: third.cumulative + 1n }
  await Promise.all([journal.append(fourth), journal.rewrite([third, fourth])])
  t.same(await journal.load(), [third, fourth], 'an append called before the rewrite is in it once, not twice')
})

t.test('API-key charges journaled before a restart are charged once: those the chain charged meanwhile are dropped', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'openledger-journal-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const h = await market()
  const key = newApiKey()
  await h.ok('dave', 'createApiKey', { provider: addressOfDev(PROVIDER), keyHash: apiKeyHash(key), cap: OPEN, expiresAt: 0 }, 'inference')
  const journal = new JsonlJournal(join(dir, 'keycharges.jsonl'), keyChargeKind)
  const prices = { priceIn: PRICE_IN, priceOut: PRICE_OUT }
  const serve = async (gate: KeyGate, tag: string) => {
    const reservation = await gate.reserve(h.state, h.height, `Bearer ${key}`, { model: 'tiny-lm', prompt: `prompt ${tag}`, max_tokens: 10, temperature: 0, top_p: 1, seed: 0 })
    await journal.append(gate.served(reservation, { ...output(tag), inputTokens: 4, outputTokens: 10 }, prices))
  }
  const charge = async (gate: KeyGate) => {
    for (const { key: id, items } of gate.take(64)) await h.ok(PROVIDER, 'chargeApiKey', { key: id, first: items[0]!.ordinal, inferences: items.map((i) => i.inference) }, 'inference')
  }
  const first = new KeyGate(addressOfDev(PROVIDER))
  for (const tag of ['a', 'b', 'c']) await serve(first, tag)
  // charged on chain, then a crash before the journal was compacted
  await charge(first)
  const second = new KeyGate(addressOfDev(PROVIDER))
  t.equal(await second.resume(h.state, await journal.load()), 0, 'the charged three are not charged again')
  await journal.rewrite(second.uncharged())
  // two more served, a crash before their charge was included
  for (const tag of ['d', 'e']) await serve(second, tag)
  const third = new KeyGate(addressOfDev(PROVIDER))
  t.equal(await third.resume(h.state, await journal.load()), 2, 'the two uncharged ones wait')
  await charge(third)
  const charged = await apiKeys.get(h.state, 1)
  t.equal(charged?.inferences, 5, 'five inferences charged in all')
  t.equal(charged?.spent, 5n * inferenceCost(prices, 4, 10), 'each once')
})
