// A spending-capped API key used by the real `openai` npm client against a provider's paid API,
// on an in-process dev node (alice is its operator and registers as the provider; the serving
// engine runs in this process on the shipped LM). dave creates the key with `openledger apikey
// create` (only its hash on chain, his cap escrowed; `apikey status` shows it); the client completes with it as its Bearer key until the provider's
// reservation against the cap fails with OpenAI's quota error (429 insufficient_quota); the
// provider's settlement charges the key on chain (records of source apiKey, exactly what the
// answers said they cost, never past the cap); a key of nobody is 401 invalid_api_key; once dave
// revokes it (`apikey revoke`) it is 401 api_key_revoked.
import { createServer } from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import OpenAI from 'openai'
import t from 'tap'
import { TxBatch } from '../../../cli/txBatch.ts'
import { devAccount } from '../../../genesis/devAccounts.ts'
import { devChainSpec } from '../../../genesis/devSpec.ts'
import { silentLogger } from '../../../lib/logger.ts'
import { toHex } from '../../../runtime/crypto/hash.ts'
import { createRuntime } from '../../../runtime/index.ts'
import { apiKeyHash, newApiKey } from '../../../node/market/keyGate.ts'
import { shippedBaseModels } from '../../../node/models/baseModels.ts'
import { OpenLedgerNode } from '../../../node/node.ts'
import { RpcClient } from '../../../node/rpc/client.ts'
import { ServingService } from '../../../node/serving/service.ts'
import { runCli } from '../../e2e/harness.ts'

const LM = 'ol-lm-sotu-2m'
const OPEN = 10n ** 18n
const PRICE = OPEN / 1_000n // per 1,000 tokens, in and out
const runtime = createRuntime()
/** base units as the CLI's OPEN amount (18 decimals) */
const formatOpen = (units: bigint): string => `${units / OPEN}.${(units % OPEN).toString().padStart(18, '0')}`

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

t.test('an OpenAI client pays with a capped API key: served until the cap, charged on chain, refused when revoked', async (t) => {
  const home = await mkdtemp(join(tmpdir(), 'openledger-apikey-'))
  t.teardown(() => rm(home, { recursive: true, force: true }))
  const [servePort, paidPort] = [await freePort(), await freePort()]
  const node = new OpenLedgerNode({
    home, spec: devChainSpec({ baseModels: await shippedBaseModels() }), rpc: { host: '127.0.0.1', port: 0 }, rpcMethods: 'unsafe', metrics: false, verifierThreads: 0, models: false, attribution: false,
    dev: { blockTime: 1_000, instantSeal: true, author: devAccount('alice').address, operator: devAccount('alice') },
    provider: { servingUrl: `http://127.0.0.1:${servePort}`, paidApi: { port: paidPort }, settleEveryBlocks: 1_000_000 },
  }, { logger: silentLogger })
  await node.start()
  t.teardown(() => node.stop())
  const rpcUrl = `http://${node.rpcAddress?.host}:${node.rpcAddress?.port}`
  const serving = new ServingService({ rpcUrl, http: { host: '127.0.0.1', port: servePort }, threads: 1, models: [LM] }, { logger: silentLogger })
  await serving.start()
  t.teardown(() => serving.stop())
  const rpc = new RpcClient(rpcUrl)
  const batch = new TxBatch(rpc, runtime)
  const send = async (signer: { address: Uint8Array; privateKey: Uint8Array }, call: string, args: unknown) => {
    const [receipt] = await batch.wait([await batch.submit(signer, 'inference', call, args)])
    if (receipt?.status !== 'success') throw new Error(`inference.${call}: ${receipt?.error ?? 'no receipt'}`)
    return receipt
  }

  const alice = devAccount('alice')
  await send(alice, 'registerProvider', { bond: (1_000n * OPEN).toString(), endpoint: `http://127.0.0.1:${paidPort}`, priceIn: PRICE.toString(), priceOut: PRICE.toString(), models: [1], capacity: 4 })
  // the most a request may cost: the prompt's bytes and max_tokens at the price; the cap holds two of those
  const prompt = 'The state of the Union is'
  const reserve = (BigInt(prompt.length + 8) * PRICE + 999n) / 1_000n
  const cap = 2n * reserve
  const created = await runCli(['apikey', 'create', '--from', 'dave', '--provider', toHex(alice.address), '--cap', formatOpen(cap), '--rpc', rpcUrl])
  t.equal(created.code, 0, `apikey create: ${created.stderr}`)
  const { key, id } = JSON.parse(created.stdout.slice(created.stdout.lastIndexOf('{'))) as { key: string; id: number }
  t.match(key, /^olk_[0-9a-f]{64}$/, 'the key is printed once')
  const status = await runCli(['apikey', 'status', String(id), '--rpc', rpcUrl])
  t.match(JSON.parse(status.stdout), { id, user: toHex(devAccount('dave').address), provider: toHex(alice.address), keyHash: toHex(apiKeyHash(key)), cap: cap.toString(), spent: '0', status: 'active' }, 'on chain: its hash and the cap')

  const client = new OpenAI({ apiKey: key, baseURL: `http://127.0.0.1:${paidPort}/v1`, maxRetries: 0 })
  const costs: bigint[] = []
  let refusal: unknown
  for (let i = 0; i < 10 && refusal === undefined; i++) {
    try {
      const completion = await client.completions.create({ model: LM, prompt, max_tokens: 8 })
      t.ok((completion.choices[0]?.text ?? '').length > 0, `completion ${i}: ${JSON.stringify(completion.choices[0]?.text)}`)
      costs.push(BigInt((completion as unknown as { openledger: { cost: string } }).openledger.cost))
    } catch (error) {
      refusal = error
    }
  }
  t.ok(costs.length >= 2, `${costs.length} completions served within the cap`)
  t.ok(refusal instanceof OpenAI.RateLimitError, 'then OpenAI\'s rate-limit error class')
  t.match(refusal, { status: 429, code: 'insufficient_quota', type: 'insufficient_quota' }, 'with the quota code a client stops on')
  const served = costs.reduce((a, b) => a + b, 0n)
  t.ok(served <= cap, `served ${served} of a cap of ${cap}`)

  const settled = await rpc.call('openledger_settleVouchers', [])
  t.match(settled, { keys: 1, keyInferences: costs.length }, 'the settlement charged the key for every completion')
  const records = await rpc.call('openledger_listInferenceRecords', [null, 20])
  const charged = records.filter((r) => r.source === 'apiKey' && r.sourceId === id)
  t.equal(charged.length, costs.length, 'a record per completion')
  t.same(charged.map((r) => BigInt(r.price)).sort(), [...costs].sort(), 'each priced as its answer said')
  t.ok(charged.every((r) => r.user === toHex(devAccount('dave').address)), 'paid by dave')
  await t.rejects(client.completions.create({ model: LM, prompt, max_tokens: 8 }), { status: 429, code: 'insufficient_quota' }, 'still over the cap once charged')

  const stranger = new OpenAI({ apiKey: newApiKey(), baseURL: `http://127.0.0.1:${paidPort}/v1`, maxRetries: 0 })
  await t.rejects(stranger.completions.create({ model: LM, prompt, max_tokens: 1 }), { status: 401, code: 'invalid_api_key' }, 'a key nobody created')

  t.match(await rpc.call('openledger_getApiKey', [id]), { spent: served.toString(), left: (cap - served).toString(), inferences: costs.length }, 'the key on chain: spent and left')
  const revoked = await runCli(['apikey', 'revoke', '--from', 'dave', '--key', String(id), '--rpc', rpcUrl])
  t.equal(revoked.code, 0, `apikey revoke: ${revoked.stderr}`)
  const refused = await client.completions.create({ model: LM, prompt: 'Hi', max_tokens: 1 }).then(() => undefined, (error: unknown) => error)
  t.ok(refused instanceof OpenAI.AuthenticationError, 'a revoked key is an authentication error')
  t.match(refused, { status: 401, code: 'api_key_revoked' })
})
