// The inference market on a 4-validator testnet of real `openledger start` processes. node0 runs
// the serving engine (`--serve`) and the provider service (`--provider`); node1 tampers with its
// outputs; node2 is a provider that takes requests and never answers (`--provider-test-fault
// silent`). All three register with their operator keys. A user (bob) pays node0 on chain with `openledger infer --onchain`: the output
// comes back, its hash and content id are in the record, and every balance moves by exactly the
// split the runtime's own arithmetic gives (bob by the price and his transaction fee; the provider,
// the treasury (the genesis base model's owner share goes there) and the contributors' pool by
// their parts, read from the fulfilment's transfers). bob's request to node2 expires: the escrow
// comes back whole and node2 loses missedDeadlineSlashBps of its bond. Every on-chain record is
// re-checked (sample rate 100 %): node0's honest output stands; node1 (`--provider-test-fault
// tamper`, serving through node0's engine) changes its output after serving it: the validators
// drawn to check fetch it from node1, find it wrong, the dispute agrees, node1 loses
// wrongOutputSlashBps of its bond and bob gets the price back. dave opens a channel and pays
// node0 over it: three requests answered at once through the provider's paid API, each with a
// cumulative voucher, redeemed on demand (`openledger provider settle`) in one transaction with a
// record per inference and one payment per recipient; closing refunds the rest after the
// challenge period.
import t from 'tap'
import { keccak256, toHex, utf8, fromHex } from '../../runtime/crypto/hash.ts'
import { createRuntime } from '../../runtime/index.ts'
import { TREASURY_ACCOUNT } from '../../runtime/modules/accounts.ts'
import { INFERENCE_ACCOUNT, splitFee } from '../../runtime/modules/inference/index.ts'
import type { InferenceParams } from '../../runtime/modules/inference/state.ts'
import { inferenceParams } from '../../runtime/modules/inference/state.ts'
import { decodeTransaction, signTransaction } from '../../runtime/transaction.ts'
import { devAccount } from '../../genesis/devAccounts.ts'
import type { RpcClient } from '../../node/rpc/client.ts'
import type { ReceiptView } from '../../node/rpc/contract.ts'
import { found, runCli, tempHome, waitFor } from './harness.ts'
import { createTestnet, nodeKeys, type TestnetNode } from './testnet.ts'

t.setTimeout(20 * 60_000)
const OPEN = 10n ** 18n
const LM = 'ol-lm-sotu-2m'
const runtime = createRuntime()

type Receipt = ReceiptView

/** Signs `inference.call(args)` with a raw key, submits it to `rpc` and waits for its receipt. */
async function send(rpc: RpcClient, privateKey: Uint8Array, address: string, call: string, args: unknown): Promise<Receipt> {
  const module = runtime.moduleByName('inference')
  const definition = module?.calls.find((c) => c.name === call)
  if (module === undefined || definition === undefined) throw new Error(call)
  const { chainId } = await rpc.call('system_properties')
  const nonce = await rpc.call('system_accountNextIndex', [address])
  const signed = signTransaction({
    chainId, nonce, gasLimit: 200_000, maxFeePerGas: 100_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n,
    call: { module: module.index, call: definition.index, args: definition.args.encode(definition.args.fromJson(args, 'args')) as never },
  }, privateKey)
  const hash = await rpc.call('author_submitExtrinsic', [toHex(signed.bytes)])
  return waitFor(async () => (await rpc.call('openledger_getReceipt', [hash])) ?? undefined, `${call} included`, 120_000, 200)
}

const balance = async (rpc: RpcClient, address: string): Promise<bigint> => BigInt(await rpc.call('openledger_getBalance', [address]))

/** The receipt of the transaction in block `height` whose events hold `event` of the inference module. */
async function receiptWith(rpc: RpcClient, height: number, event: string): Promise<Receipt> {
  const hash = await rpc.call('chain_getBlockHash', [height])
  const block = await rpc.call('chain_getBlock', [hash])
  if (block === null) throw new Error(`no block at height ${height}`)
  for (const bytes of block.block.extrinsics) {
    const receipt = await rpc.call('openledger_getReceipt', [toHex(decodeTransaction(fromHex(bytes) as Uint8Array).hash)])
    if (receipt?.events.some((e) => e.module === 'inference' && e.event === event)) return receipt
  }
  throw new Error(`no ${event} in block ${height}`)
}

const transfersFrom = (receipt: Receipt, from: Uint8Array) =>
  receipt.events.filter((e) => e.module === 'balances' && e.event === 'Transferred' && e.data?.['from'] === toHex(from)).map((e) => ({ to: String(e.data?.['to']), amount: BigInt(String(e.data?.['amount'])) }))

t.test('providers serve paid on-chain requests; balances move by the split; a missed deadline is refunded and slashed', async (t) => {
  // every on-chain record re-checked, so the tampering provider is caught on its one request
  const net = await createTestnet({ validators: 4, blockTimeMs: 500, audit: false, startTimeoutMs: 240_000, inferenceSampleRateBps: 10_000 })
  t.teardown(() => net.remove())
  const [node0, node1, node2, node3] = net.nodes as [TestnetNode, TestnetNode, TestnetNode, TestnetNode]
  const servePort = String(20_000 + Math.floor(Math.random() * 10_000))
  const paidPort = String(Number(servePort) + 1)
  const daveHome = await tempHome('openledger-market-client-')
  t.teardown(() => daveHome.remove())
  await Promise.all([
    net.start(node0, ['--serve', '--serve-port', servePort, '--serve-threads', '1', '--provider', '--provider-port', paidPort, '--provider-settle-blocks', '100000', '--rpc-methods', 'unsafe', '--training-threads', '1']),
    net.start(node1, ['--provider', '--provider-serving', `http://127.0.0.1:${servePort}`, '--provider-test-fault', 'tamper', '--training-threads', '1']),
    net.start(node2, ['--provider', '--provider-serving', 'http://127.0.0.1:9', '--provider-test-fault', 'silent', '--training-threads', '1']),
    net.start(node3, ['--training-threads', '1']),
  ])
  const rpc = node0.rpc
  await waitFor(async () => (((await rpc.call('chain_getHeader'))?.number ?? 0) >= 2 ? true : undefined), 'blocks', 120_000, 500)
  const params = inferenceParams.kind.fromJson(await rpc.call('openledger_getInferenceParams'), 'params') as InferenceParams
  const [keys0, keys1, keys2] = [await nodeKeys(node0), await nodeKeys(node1), await nodeKeys(node2)]
  const offer = { endpoint: `http://127.0.0.1:${paidPort}`, priceIn: (OPEN / 100n).toString(), priceOut: (3n * OPEN / 100n).toString(), models: [1], capacity: 4 }
  const bond = 2_000n * OPEN
  for (const keys of [keys0, keys1, keys2]) {
    const registered = await send(rpc, fromHex(keys.operatorPrivateKey) as Uint8Array, keys.operator, 'registerProvider', { bond: bond.toString(), ...offer })
    t.equal(registered.status, 'success', `${keys.operator} registered: ${registered.error ?? ''}`)
  }
  const status = await runCli(['provider', 'status', keys0.operator, '--rpc', node0.rpcUrl])
  t.match(JSON.parse(status.stdout), { operator: keys0.operator, status: 'active', bond: bond.toString() }, 'provider status over the CLI')

  // ---- the on-chain paid path
  const bob = toHex(devAccount('bob').address)
  const bobBefore = await balance(rpc, bob)
  const paid = await runCli(['infer', '--onchain', '--from', 'bob', '--provider', keys0.operator, '--model', LM, '--max-fee', '1', '--max-tokens', '8', '--json', '--rpc', node0.rpcUrl, 'The state of the union is'])
  t.equal(paid.code, 0, `infer --onchain: ${paid.stderr}`)
  const answer = JSON.parse(paid.stdout) as { request: number; requestTx: { fee: string }; record: Record<string, unknown> & { id: number; price: string; split: Record<string, string>; outputHash: string; height: number; outputTokens: number }; output: string }
  t.ok(answer.output.length > 0, `the provider's output came back: ${JSON.stringify(answer.output)}`)
  t.equal(answer.record.outputHash, toHex(keccak256(utf8(answer.output))), 'the record holds the output\'s hash')
  t.ok(answer.record.outputTokens >= 1 && answer.record.outputTokens <= 8)
  const price = BigInt(answer.record.price)
  const split = splitFee(price, params)
  t.same(answer.record.split, { provider: split.provider.toString(), modelOwner: split.modelOwner.toString(), contributors: split.contributors.toString(), treasury: split.treasury.toString() }, 'the record\'s split is the runtime\'s arithmetic')
  t.equal(split.provider + split.modelOwner + split.contributors + split.treasury, price)
  t.equal(await balance(rpc, bob), bobBefore - price - BigInt(answer.requestTx.fee), 'bob paid exactly the price and his transaction fee')
  const fulfilment = await receiptWith(rpc, answer.record.height, 'RequestFulfilled')
  const paidOut = transfersFrom(fulfilment, INFERENCE_ACCOUNT)
  t.same(paidOut.sort((a, b) => a.to.localeCompare(b.to)), [
    { to: keys0.operator, amount: split.provider },
    { to: toHex(TREASURY_ACCOUNT), amount: split.modelOwner + split.treasury },
    { to: bob, amount: OPEN - price },
  ].sort((a, b) => a.to.localeCompare(b.to)), 'provider, treasury (treasury share and the genesis model\'s owner share) and bob\'s refund, exactly')
  const escrowed = OPEN
  t.equal(escrowed - paidOut.reduce((sum, p) => sum + p.amount, 0n), split.contributors, 'the module keeps exactly the contributors\' pool of the escrow')
  // held per record until the attribution module pays it out (to contributors, or the treasury when nothing is credited)
  const pending = BigInt((await rpc.call('openledger_getInferenceRecord', [answer.record.id]))?.contributorsPending ?? -1)
  t.ok(pending >= 0n && pending <= split.contributors, 'the record\'s pool is what attribution has not paid out yet')
  // the output is in node0's blob store, by the content id the record names
  const info = await rpc.call('openledger_getBlobInfo', [answer.record['outputCid'] as string])
  t.equal(info?.size, utf8(answer.output).length, 'the output blob is stored under the record\'s content id')

  // ---- a provider that misses the deadline
  const provider2Before = found(await rpc.call('openledger_getProvider', [keys2.operator]), 'provider 2')
  const bobBefore2 = await balance(rpc, bob)
  const missed = await runCli(['infer', '--onchain', '--from', 'bob', '--provider', keys2.operator, '--model', LM, '--max-fee', '1', '--max-tokens', '8', '--json', '--rpc', node0.rpcUrl, 'Hello'])
  t.equal(missed.code, 1, 'the request expired')
  const expired = JSON.parse(missed.stdout) as { status: string; requestTx: { fee: string } }
  t.equal(expired.status, 'expired')
  t.equal(await balance(rpc, bob), bobBefore2 - BigInt(expired.requestTx.fee), 'the escrow came back whole')
  const provider2After = found(await rpc.call('openledger_getProvider', [keys2.operator]), 'provider 2')
  const slash = (BigInt(provider2Before.bond) * BigInt(params.missedDeadlineSlashBps)) / 10_000n
  t.equal(BigInt(provider2After.bond), BigInt(provider2Before.bond) - slash, 'the silent provider lost missedDeadlineSlashBps of its bond')
  t.equal(provider2After.slashedTotal, slash.toString())

  // ---- re-checks: validators drawn after each record re-score its output fetched from the provider
  const settledCheck = (record: number, label: string) => waitFor(async () => {
    const check = await rpc.call('openledger_getInferenceCheck', [record])
    return check !== null && (check.status === 'upheld' || check.status === 'disproved') ? check : undefined
  }, `the re-check of the ${label} record`, 300_000, 1_000)
  const honestCheck = await settledCheck(answer.record.id, 'honest')
  t.equal(honestCheck.status, 'upheld', 'the honest output stands')
  t.ok(honestCheck.votes.length >= 1 && honestCheck.votes.every((v) => v.verdict === 'ok' && v.worker !== keys0.operator), `checked by others, all ok: ${JSON.stringify(honestCheck.votes)}`)
  t.equal(found(await rpc.call('openledger_getProvider', [keys0.operator]), 'provider 0').bond, bond.toString(), 'the honest provider keeps its bond')
  t.equal(found(await rpc.call('openledger_getInferenceRecord', [answer.record.id]), 'record').status, 'settled')

  // a provider that changes its output after serving it: caught, slashed, the user refunded
  const bobBefore3 = await balance(rpc, bob)
  const tampered = await runCli(['infer', '--onchain', '--from', 'bob', '--provider', keys1.operator, '--model', LM, '--max-fee', '1', '--max-tokens', '8', '--json', '--rpc', node0.rpcUrl, 'We the people'])
  t.equal(tampered.code, 0, `infer --onchain from the tampering provider: ${tampered.stderr}`)
  const bad = JSON.parse(tampered.stdout) as { requestTx: { fee: string }; record: { id: number; price: string } }
  const badCheck = await settledCheck(bad.record.id, 'tampered')
  t.equal(badCheck.status, 'disproved', `the tampered output is proven wrong: ${JSON.stringify(badCheck.votes)}`)
  t.equal(badCheck.round, 1, 'after a dispute')
  t.ok(badCheck.votes.filter((v) => v.verdict !== 'ok').length > badCheck.votes.length / 2)
  t.equal(found(await rpc.call('openledger_getInferenceRecord', [bad.record.id]), 'record').status, 'disproved')
  const penalty = (bond * BigInt(params.wrongOutputSlashBps)) / 10_000n
  const provider1 = found(await rpc.call('openledger_getProvider', [keys1.operator]), 'provider 1')
  t.equal(BigInt(provider1.bond), bond - penalty, 'the tampering provider lost wrongOutputSlashBps of its bond')
  t.equal(await balance(rpc, bob), bobBefore3 - BigInt(bad.requestTx.fee), 'bob got the price back: he paid only his transaction fee')

  // ---- the off-chain path: a channel, three requests paid by cumulative vouchers, redeemed in a batch
  const opened = await runCli(['channel', 'open', '--from', 'dave', '--provider', keys0.operator, '--deposit', '5', '--rpc', node0.rpcUrl])
  t.equal(opened.code, 0, opened.stderr)
  const channel = JSON.parse((await runCli(['channel', 'status', '1', '--rpc', node0.rpcUrl])).stdout) as { status: string; balance: string }
  t.match(channel, { status: 'open', balance: (5n * OPEN).toString() })
  const unpaid = await fetch(`http://127.0.0.1:${paidPort}/v1/completions`, { method: 'POST', body: JSON.stringify({ model: LM, prompt: 'x', max_tokens: 4, temperature: 0, top_p: 1, seed: 0 }) })
  t.equal(unpaid.status, 402, 'no voucher, no answer')
  t.equal(((await unpaid.json()) as { error: { code: string } }).error.code, 'VOUCHER_MISSING')
  const dave = toHex(devAccount('dave').address)
  const daveAfterOpen = await balance(rpc, dave)
  let cumulative = 0n
  for (const prompt of ['We the people', 'In order to form', 'a more perfect union']) {
    const session = await runCli(['infer', '--provider', keys0.operator, '--channel', '1', '--from', 'dave', '--home', daveHome.path, '--model', LM, '--max-tokens', '6', '--json', '--rpc', node0.rpcUrl, prompt])
    t.equal(session.code, 0, `channel request: ${session.stderr}`)
    const paidOver = JSON.parse(session.stdout) as { price: string; cumulative: string; output: string }
    cumulative += BigInt(paidOver.price)
    t.equal(paidOver.cumulative, cumulative.toString(), 'the voucher carries the cumulative amount')
    t.ok(paidOver.output.length > 0, `answered at once: ${JSON.stringify(paidOver.output)}`)
  }
  // settled on demand (the periodic settlement is set beyond the test's length)
  const settle = await runCli(['provider', 'settle', '--rpc', node0.rpcUrl])
  t.equal(settle.code, 0, `provider settle: ${settle.stderr}`)
  t.match(JSON.parse(settle.stdout), { channels: 1, inferences: 3, finalized: true }, 'one redeem of the three vouchers\' inferences')
  const settled = await waitFor(async () => {
    const c = found(await rpc.call('openledger_getChannel', [1]), 'channel 1')
    return BigInt(c.redeemed) === cumulative ? c : undefined
  }, 'the provider to redeem its vouchers', 180_000, 500)
  t.equal(settled.inferences, 3, 'three inferences redeemed')
  const channelRecords = (await rpc.call('openledger_listInferenceRecords')).filter((r) => r.source === 'channel' && r.sourceId === 1)
  t.equal(channelRecords.length, 3, 'a record per inference')
  let [toProvider, toTreasury] = [0n, 0n]
  for (const record of channelRecords) {
    const part = splitFee(BigInt(record.price), params)
    t.same(record.split, { provider: part.provider.toString(), modelOwner: part.modelOwner.toString(), contributors: part.contributors.toString(), treasury: part.treasury.toString() })
    toProvider += part.provider
    toTreasury += part.modelOwner + part.treasury
  }
  t.equal(channelRecords.reduce((sum, r) => sum + BigInt(r.price), 0n), cumulative, 'the records\' prices sum to the voucher')
  // one redeem here; the check holds for settlements in several batches too
  const owed = new Map<string, bigint>()
  for (const height of new Set(channelRecords.map((r) => r.height))) {
    const redemption = await receiptWith(rpc, height, 'VoucherRedeemed')
    const payments = transfersFrom(redemption, INFERENCE_ACCOUNT)
    t.equal(new Set(payments.map((p) => p.to)).size, payments.length, 'one payment per recipient per batch')
    for (const { to, amount } of payments) owed.set(to, (owed.get(to) ?? 0n) + amount)
  }
  t.same(Object.fromEntries(owed), { [keys0.operator]: toProvider, [toHex(TREASURY_ACCOUNT)]: toTreasury }, 'the provider and the treasury got exactly the split of every inference')
  t.equal(await balance(rpc, dave), daveAfterOpen, 'the user paid nothing on chain per request')

  // ---- close with the challenge period
  const daveBefore = await balance(rpc, dave)
  const closing = await runCli(['channel', 'close', '--from', 'dave', '--channel', '1', '--json', '--rpc', node0.rpcUrl])
  const closeFee = BigInt((JSON.parse(closing.stdout) as { fee: string }).fee)
  await waitFor(async () => ((await rpc.call('openledger_getChannel', [1]))?.status === 'closed' ? true : undefined), 'the challenge period', 180_000, 500)
  t.equal(await balance(rpc, dave), daveBefore - closeFee + 5n * OPEN - cumulative, 'the unredeemed deposit came back')
})
