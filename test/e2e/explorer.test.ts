// The explorer the node serves, in a real headless Chromium (@sparticuz/chromium, driven by
// playwright-core; both arrive with `npm install`): a new block and a transfer appear by
// themselves within seconds, search finds an account, a datanet and a model, a paid inference
// shows on the inference page with its provider, fee split and attribution, and a phone-sized
// viewport never scrolls sideways. Screenshots go to .tap/screenshots/explorer/.
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import t from 'tap'
import { createWalletClient, defineChain, http, parseEther, type Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { devAccount } from '../../genesis/devAccounts.ts'
import { encode } from '../../runtime/codec/canonical.ts'
import type { Kind } from '../../runtime/codec/schema.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import { moduleAddress } from '../../runtime/ethereumTransaction.ts'
import { create as createDatanet } from '../../runtime/modules/datanets/calls.ts'
import { fulfil, registerProvider, request } from '../../runtime/modules/inference/calls.ts'
import { keccak256, utf8 } from '../../runtime/crypto/hash.ts'
import { ModuleIndex } from '../../runtime/modules/indices.ts'
import type { ReceiptView } from '../../node/rpc/contract.ts'
import { launchChromium } from './browser.ts'
import { found, ROOT, startDevNode, stopNode, tempHome, waitFor } from './harness.ts'

const SCREENSHOTS = join(ROOT, '.tap', 'screenshots', 'explorer')
const SECONDS = 1000
const alice = privateKeyToAccount(toHex(devAccount('alice').privateKey) as Hex)
const bob = toHex(devAccount('bob').address)
const charlie = privateKeyToAccount(toHex(devAccount('charlie').privateKey) as Hex)
const dave = privateKeyToAccount(toHex(devAccount('dave').privateKey) as Hex)
const OPEN = 10n ** 18n

/** calldata of a runtime call sent to its module's address: the call index, then its canonical arguments */
function calldata<T>(call: { index: number; args: Kind<T> }, args: unknown): Hex {
  return toHex(Uint8Array.of(call.index, ...encode(call.args.encode(call.args.fromJson(args, 'args'))))) as Hex
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true })
}

async function noHorizontalScroll(page: Page): Promise<{ scrollWidth: number; innerWidth: number }> {
  // a string runs in the page (the test's own TypeScript has no DOM types)
  return page.evaluate('({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth })')
}

t.test('the explorer in headless Chromium', async (t) => {
  await mkdir(SCREENSHOTS, { recursive: true })
  const home = await tempHome()
  t.teardown(home.remove)
  const node = await startDevNode(home.path, ['--block-time', '500'])
  t.teardown(() => stopNode(node, 'SIGKILL'))
  const chain = defineChain({ id: 1337, name: 'OpenLedger Dev', nativeCurrency: { name: 'OPEN', symbol: 'OPEN', decimals: 18 }, rpcUrls: { default: { http: [node.rpcUrl] } } })
  const wallet = createWalletClient({ chain, transport: http(node.rpcUrl), account: alice })

  // a datanet to find by name
  const args = createDatanet.args.encode({ name: 'explorer-sonnets', description: 'for the browser test', tags: ['poetry'], licence: 'CC0-1.0', visibility: 0, rules: { deposit: 0n, feePerByte: 0n, formats: [0], maxBytes: 4096 }, curators: [] })
  await wallet.sendTransaction({ to: toHex(moduleAddress(ModuleIndex.datanets)) as Hex, data: toHex(Uint8Array.of(createDatanet.index, ...encode(args))) as Hex })
  const bases = await node.rpc.call('openledger_listBaseModels', [null, 10])
  const base = bases[0]
  t.ok(base, 'the dev chain ships a base model')

  // a paid inference: charlie registers as a provider, dave requests, charlie answers (the output's
  // bytes need not be served: a base model without lineage is not attributed, its pool goes to the treasury)
  const inference = toHex(moduleAddress(ModuleIndex.inference)) as Hex
  const send = async (from: typeof charlie, data: Hex): Promise<ReceiptView> => {
    const hash = await createWalletClient({ chain, transport: http(node.rpcUrl), account: from }).sendTransaction({ to: inference, data })
    const receipt = await waitFor(async () => (await node.rpc.call('openledger_getReceipt', [hash])) ?? undefined, 'the receipt', 30 * SECONDS, 100)
    if (receipt.status !== 'success') throw new Error(`inference call failed: ${receipt.error}`)
    return receipt
  }
  const eventField = (receipt: ReceiptView, event: string, field: string) => Number(receipt.events.find((e) => e.event === event)?.data?.[field])
  await send(charlie, calldata(registerProvider, { bond: (1_000n * OPEN).toString(), endpoint: 'http://127.0.0.1:9', priceIn: (OPEN / 100n).toString(), priceOut: (OPEN / 100n).toString(), models: [base?.id ?? 1], capacity: 4 }))
  const requested = await send(dave, calldata(request, {
    provider: charlie.address.toLowerCase(), base: base?.id ?? 1, adapters: [], prompt: 'Call me', promptTokens: 2, maxTokens: 24,
    sampling: { temperatureMilli: 0, topK: 0, topPMilli: 1000, seed: 0 }, escrow: OPEN.toString(),
  }))
  const output = utf8('Ishmael')
  const fulfilled = await send(charlie, calldata(fulfil, { request: eventField(requested, 'RequestCreated', 'request'), outputHash: toHex(keccak256(output)), outputCid: toHex(keccak256(output)), inputTokens: 2, outputTokens: 24 }))
  const record = eventField(fulfilled, 'InferenceRecorded', 'record')
  t.ok(record > 0, `inference record ${record}`)
  await waitFor(async () => ((await node.rpc.call('openledger_getAttribution', [record]))?.status === 'unattributed' ? true : undefined), 'the record\'s attribution decided', 30 * SECONDS, 100)

  const started = Date.now()
  const browser = await launchChromium()
  t.teardown(() => browser.close())
  t.comment(`chromium up in ${Date.now() - started} ms`)
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
  const errors: string[] = []
  page.on('pageerror', (error) => errors.push(error.message))

  const response = await page.goto(`${node.rpcUrl}/`)
  t.equal(response?.status(), 200, 'the node serves the explorer at /')
  t.match(response?.headers()['content-type'] ?? '', /^text\/html/)
  // polled from the test, not with waitForFunction: the page's CSP forbids the eval that needs
  const height = async (): Promise<number | undefined> => {
    const text = await page.locator('#height').textContent({ timeout: 1000 }).catch(() => null)
    return text !== null && /^\d+$/.test(text) ? Number(text) : undefined
  }
  const first = await waitFor(height, 'the overview to show the height', 20 * SECONDS, 100)
  await waitFor(async () => ((await height()) ?? 0) > first ? true : undefined, 'a new block on the page', 10 * SECONDS, 100)
  t.pass('a new block appears without a reload')
  t.equal(await page.locator('#status').textContent(), 'live', 'over the WebSocket subscription')

  const hash = await wallet.sendTransaction({ to: bob as Hex, value: parseEther('3') })
  const sentAt = Date.now()
  await page.waitForSelector(`#latest-txs a[href="#/tx/${hash}"]`, { timeout: 10 * SECONDS })
  t.comment(`transfer shown ${Date.now() - sentAt} ms after sending`)
  t.pass('the transfer appears in the latest transactions within seconds')
  await page.waitForSelector('#activity svg.chart', { timeout: 10 * SECONDS })
  const listed = await page.locator('#latest-blocks a[href^="#/block/"]').allTextContents()
  t.ok(listed.length >= 2, 'the latest blocks are listed')
  t.same(listed, [...new Set(listed)].sort((a, b) => Number(b.slice(1)) - Number(a.slice(1))), 'each block once, newest first')
  await shot(page, 'overview-desktop')

  await page.click(`#latest-txs a[href="#/tx/${hash}"]`)
  await page.waitForSelector('text=balances.transfer', { timeout: 10 * SECONDS })
  await shot(page, 'transaction')

  const search = async (query: string): Promise<void> => {
    await page.fill('#search-input', query)
    await page.press('#search-input', 'Enter')
  }
  await search(bob)
  await page.waitForSelector('#balance', { timeout: 10 * SECONDS })
  t.match(await page.textContent('#balance'), /OPEN$/, 'search by address opens the account with its balance')
  t.match(await page.textContent('h1'), new RegExp(bob, 'i'))
  await shot(page, 'account')

  await search('sonnets')
  await page.waitForSelector('#results a[href^="#/datanet/"]', { timeout: 10 * SECONDS })
  t.match(await page.textContent('#results'), /explorer-sonnets/, 'search by name finds the datanet')
  await page.click('#results a[href^="#/datanet/"]')
  await page.waitForSelector('#versions-chart', { timeout: 10 * SECONDS })
  await shot(page, 'datanet')

  await search(base?.name ?? 'model')
  await page.waitForSelector('#results a[href^="#/base/"]', { timeout: 10 * SECONDS })
  t.match(await page.textContent('#results'), new RegExp(`Base model${base?.name ?? ''}`), 'search by name finds the model')
  await page.click('#results a[href^="#/base/"]')
  await page.waitForSelector('h1:has-text("Base model")', { timeout: 10 * SECONDS })

  await page.goto(`${node.rpcUrl}/#/validators`)
  await page.waitForSelector('#stake svg.chart', { timeout: 10 * SECONDS })
  await shot(page, 'validators')

  // the inference market: the record in the latest list, its provider, fee split and attribution
  await page.click('nav a[href="#/inference"]')
  await page.waitForSelector(`#records a[href="#/inference/${record}"]`, { timeout: 10 * SECONDS })
  t.match(await page.textContent('#providers'), /active/, 'the provider listed as active')
  await page.waitForSelector('#fee-split svg.chart', { timeout: 10 * SECONDS })
  await shot(page, 'inference')
  await page.click(`#records a[href="#/inference/${record}"]`)
  await page.waitForSelector('#attribution-status', { timeout: 10 * SECONDS })
  t.equal(await page.textContent('#attribution-status'), 'unattributed', 'the record page shows its attribution')
  t.match(await page.textContent('#record'), new RegExp(`${base?.name ?? ''}`), 'and the model it ran')
  const split = found(await node.rpc.call('openledger_getInferenceRecord', [record]), `record ${record}`)
  t.ok(BigInt(split.price) > 0n, 'a paid record')
  t.match(await page.textContent('#split'), /Provider/, 'the fee split')
  await shot(page, 'inference-record')
  await search(charlie.address)
  await page.waitForSelector('#provider', { timeout: 10 * SECONDS })
  t.match(await page.textContent('#provider'), /served\s*1/, 'the account page of a provider shows what it served')
  await search(`record ${record}`)
  await page.waitForSelector('#attribution-status', { timeout: 10 * SECONDS })
  t.pass('search finds an inference record by its id')

  // a phone: every page fits its width
  const phone = await browser.newPage({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 })
  phone.on('pageerror', (error) => errors.push(error.message))
  const pages: Array<[string, string]> = [
    ['overview', '#activity svg.chart'], [`account/${bob}`, '#balance'], ['validators', '#stake svg.chart'], ['datanets', 'table'],
    ['datanet/1', '#versions-chart'], ['models', 'table'], [`tx/${hash}`, 'text=balances.transfer'], ['block/1', 'table.kv'],
    ['inference', `#records a[href="#/inference/${record}"]`], [`inference/${record}`, '#attribution-status'], ['providers', '#bonds svg.chart'],
    [`provider/${charlie.address}`, '#provider'], ['attribution', '#attribution-list table'],
  ]
  for (const [path, ready] of pages) {
    await phone.goto(`${node.rpcUrl}/#/${path}`)
    await phone.waitForSelector(ready, { timeout: 10 * SECONDS }).catch(async (error: unknown) => {
      await shot(phone, `failed-${path.split('/')[0]}`)
      throw new Error(`${path}: ${String(error)}\n${await phone.locator('main').textContent()}`)
    })
    const { scrollWidth, innerWidth } = await noHorizontalScroll(phone)
    const name = path.replace(/0x[0-9a-fA-F]{64}$/, 'hash').replace(/0x[0-9a-fA-F]{40}$/, 'address').replaceAll('/', '-')
    t.ok(scrollWidth <= innerWidth, `phone: no horizontal scroll on ${name} (${scrollWidth} <= ${innerWidth})`)
    await shot(phone, `phone-${name}`)
  }
  t.same(errors, [], 'no script errors on any page')
})
