// The Ethereum JSON-RPC subset driven by viem, a real wallet library, against a dev chain process:
// chain id, 18-decimal balances, EIP-1559 and legacy transfers with receipts, logs (eth_getLogs
// with topics and eth_subscribe over WebSocket), a runtime module call at its module address, and
// the refusals wallets expect in geth's words.
import t from 'tap'
import {
  createPublicClient, createWalletClient, decodeErrorResult, defineChain, http, keccak256, padHex, parseEther, serializeTransaction, stringToHex, webSocket,
  type Hex,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { devAccount } from '../../genesis/devAccounts.ts'
import { encode } from '../../runtime/codec/canonical.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import { moduleAddress } from '../../runtime/ethereumTransaction.ts'
import { create as createDatanet } from '../../runtime/modules/datanets/calls.ts'
import { ModuleIndex } from '../../runtime/modules/indices.ts'
import { found, startDevNode, stopNode, tempHome, waitFor } from './harness.ts'

const CHAIN_ID = 1337
const alice = privateKeyToAccount(toHex(devAccount('alice').privateKey) as Hex)
const fresh = privateKeyToAccount(`0x${'42'.repeat(32)}`)
const bob = toHex(devAccount('bob').address) as Hex

async function rpcError(url: string, method: string, params: unknown[]): Promise<{ code: number; message: string; data?: unknown }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })
  const body = (await response.json()) as { error?: { code: number; message: string; data?: unknown } }
  if (body.error === undefined) throw new Error(`${method} did not fail`)
  return body.error
}

t.test('viem against the dev chain', async (t) => {
  const home = await tempHome()
  t.teardown(home.remove)
  const node = await startDevNode(home.path, ['--block-time', '250'])
  t.teardown(() => stopNode(node, 'SIGKILL'))
  const chain = defineChain({ id: CHAIN_ID, name: 'OpenLedger Dev', nativeCurrency: { name: 'OPEN', symbol: 'OPEN', decimals: 18 }, rpcUrls: { default: { http: [node.rpcUrl] } } })
  const client = createPublicClient({ chain, transport: http(node.rpcUrl), pollingInterval: 100 })
  const wallet = createWalletClient({ chain, transport: http(node.rpcUrl), account: alice })
  const wsUrl = node.rpcUrl.replace(/^http/, 'ws')
  const wsClient = createPublicClient({ chain, transport: webSocket(wsUrl) })
  t.teardown(async () => (await wsClient.transport.getRpcClient()).close())

  t.equal(await client.getChainId(), CHAIN_ID, 'eth_chainId')
  t.equal(await client.request({ method: 'net_version' }), String(CHAIN_ID))
  t.match(await client.request({ method: 'web3_clientVersion' }), /^openledger\//)
  const native = BigInt(await node.rpc.call('openledger_getBalance', [alice.address]))
  t.equal(await client.getBalance({ address: alice.address }), native, 'eth_getBalance is the chain balance in base units (18 decimals)')
  t.ok(native > parseEther('1000'), 'alice holds OPEN with 18 decimals')

  // live feeds over the WebSocket, opened before anything is sent
  const heads: bigint[] = []
  const unwatchHeads = await wsClient.transport.subscribe({ params: ['newHeads'], onData: (data) => void heads.push(BigInt((data.result as { number: Hex }).number)), onError: () => {} })
  const transferTopic = keccak256(stringToHex('balances.Transferred'))
  const pushedLogs: Array<{ transactionHash: Hex | null }> = []
  const unwatchLogs = await wsClient.transport.subscribe({
    params: ['logs', { address: toHex(moduleAddress(ModuleIndex.balances)) as Hex, topics: [transferTopic, null, padHex(fresh.address, { size: 32 })] }],
    onData: (data) => void pushedLogs.push(data.result as { transactionHash: Hex | null }),
    onError: () => {},
  })

  // EIP-1559 transfer: viem fills nonce, fees and gas from eth_getTransactionCount, eth_getBlockByNumber, eth_maxPriorityFeePerGas and eth_estimateGas
  const hash1559 = await wallet.sendTransaction({ to: fresh.address, value: parseEther('2.5') })
  const receipt1559 = await client.waitForTransactionReceipt({ hash: hash1559, timeout: 30_000 })
  t.equal(receipt1559.status, 'success')
  t.equal(receipt1559.type, 'eip1559')
  t.equal(receipt1559.from, alice.address.toLowerCase())
  t.equal(await client.getBalance({ address: fresh.address }), parseEther('2.5'))
  const tx1559 = await client.getTransaction({ hash: hash1559 })
  t.equal(tx1559.value, parseEther('2.5'))
  t.equal(tx1559.to, fresh.address.toLowerCase())
  t.equal(tx1559.blockNumber, receipt1559.blockNumber)
  t.equal(receipt1559.logs.length, 2, 'the fee event and the transfer event')
  const transferLog = receipt1559.logs.find((log) => log.topics[0] === transferTopic)
  t.same(transferLog?.topics.slice(1), [padHex(alice.address.toLowerCase() as Hex, { size: 32 }), padHex(fresh.address.toLowerCase() as Hex, { size: 32 })], 'from and to are indexed')
  const fee = receipt1559.gasUsed * receipt1559.effectiveGasPrice
  t.equal(BigInt(await node.rpc.call('openledger_getReceipt', [hash1559]).then((r) => found(r, 'the receipt').fee)), fee, 'the same receipt on the native API')

  // the fresh account, funded over Ethereum, sends back with a legacy (EIP-155) transaction
  const freshWallet = createWalletClient({ chain, transport: http(node.rpcUrl), account: fresh })
  const gasPrice = await client.getGasPrice()
  const hashLegacy = await freshWallet.sendTransaction({ type: 'legacy', to: bob, value: parseEther('1'), gasPrice })
  const receiptLegacy = await client.waitForTransactionReceipt({ hash: hashLegacy, timeout: 30_000 })
  t.equal(receiptLegacy.status, 'success')
  t.equal(receiptLegacy.type, 'legacy')
  t.equal(await client.getTransactionCount({ address: fresh.address }), 1, 'the legacy transaction used nonce 0')
  t.equal(await client.getBalance({ address: fresh.address }), parseEther('1.5') - receiptLegacy.gasUsed * receiptLegacy.effectiveGasPrice, 'value and fee taken, nothing else')

  // blocks and logs
  const block = await client.getBlock({ blockNumber: receipt1559.blockNumber, includeTransactions: true })
  t.equal(block.hash, receipt1559.blockHash)
  t.ok(block.transactions.some((tx) => tx.hash === hash1559), 'the block holds the transaction')
  t.ok(block.baseFeePerGas !== null && block.baseFeePerGas > 0n)
  const logs = await client.getLogs({ address: toHex(moduleAddress(ModuleIndex.balances)) as Hex, fromBlock: 0n, toBlock: 'latest' })
  t.ok(logs.some((log) => log.transactionHash === hash1559 && log.topics[0] === transferTopic), 'eth_getLogs by address')
  const toFresh = await client.request({ method: 'eth_getLogs', params: [{ fromBlock: '0x0', topics: [transferTopic, null, padHex(fresh.address, { size: 32 })] }] })
  t.equal(toFresh.length, 1, 'topics select transfers to the fresh account only')
  const fromFresh = await client.request({ method: 'eth_getLogs', params: [{ fromBlock: '0x0', topics: [transferTopic, padHex(fresh.address, { size: 32 })] }] })
  t.equal(fromFresh.length, 1)
  t.equal(fromFresh[0]?.transactionHash, hashLegacy)
  await waitFor(async () => (pushedLogs.length >= 1 ? true : undefined), 'the transfer log over eth_subscribe')
  t.equal(pushedLogs[0]?.transactionHash, hash1559, 'eth_subscribe logs: the filtered transfer')
  t.equal(pushedLogs.length, 1, 'and nothing the filter excludes')
  await waitFor(async () => (heads.length >= 2 ? true : undefined), 'new heads over eth_subscribe')
  t.ok((heads[1] as bigint) > (heads[0] as bigint), 'newHeads: increasing numbers')
  await unwatchHeads.unsubscribe()
  await unwatchLogs.unsubscribe()

  // a runtime module call: datanets.create at 0x…0804, calldata = call index || msgpack(args)
  const datanetArgs = createDatanet.args.encode({ name: 'eth-made', description: 'created over eth_sendRawTransaction', tags: ['viem'], licence: 'CC0-1.0', visibility: 0, rules: { deposit: 0n, feePerByte: 0n, formats: [0], maxBytes: 4096 }, curators: [] })
  const calldata = toHex(Uint8Array.of(createDatanet.index, ...encode(datanetArgs))) as Hex
  const datanetsAddress = toHex(moduleAddress(ModuleIndex.datanets)) as Hex
  t.equal(await client.getCode({ address: datanetsAddress }), '0x60006000fd', 'a module address shows code')
  t.equal(await client.call({ account: alice, to: datanetsAddress, data: calldata }).then((r) => r.data), undefined, 'eth_call dry-runs the call')
  const hashCall = await wallet.sendTransaction({ to: datanetsAddress, data: calldata })
  const receiptCall = await client.waitForTransactionReceipt({ hash: hashCall, timeout: 30_000 })
  t.equal(receiptCall.status, 'success')
  const created = receiptCall.logs.find((log) => log.topics[0] === keccak256(stringToHex('datanets.DatanetCreated')))
  t.ok(created, 'DatanetCreated log')
  t.equal(created?.address, datanetsAddress)
  const datanetId = Number(BigInt(created?.topics[1] ?? '0x0'))
  const view = found(await node.rpc.call('openledger_getDatanet', [datanetId]), 'the datanet')
  t.equal(view.name, 'eth-made', 'the datanet exists on chain')
  t.equal(view.owner.toLowerCase(), alice.address.toLowerCase(), 'owned by the Ethereum signer')

  // a failing module call is a revert in eth_call and eth_estimateGas, with the module's error
  const badArgs = createDatanet.args.encode({ name: '', description: '', tags: [], licence: '', visibility: 9, rules: { deposit: 0n, feePerByte: 0n, formats: [], maxBytes: 0 }, curators: [] })
  const revert = await rpcError(node.rpcUrl, 'eth_estimateGas', [{ from: alice.address, to: datanetsAddress, data: toHex(Uint8Array.of(createDatanet.index, ...encode(badArgs))) }])
  t.equal(revert.code, 3)
  t.match(revert.message, /^execution reverted: datanets\./)
  const reason = decodeErrorResult({ abi: [], data: (revert.data as { data: Hex }).data })
  t.equal(reason.errorName, 'Error', 'data is a Solidity revert reason viem decodes')
  t.match(String(reason.args?.[0]), /^datanets\./)
})

t.test('refusals as geth words them', async (t) => {
  const home = await tempHome()
  t.teardown(home.remove)
  const node = await startDevNode(home.path, ['--block-time', '250'])
  t.teardown(() => stopNode(node, 'SIGKILL'))
  const url = node.rpcUrl
  const base = { to: bob, value: 1n, gas: 100_000n, maxFeePerGas: 100_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n, type: 'eip1559' } as const
  const nonce = await createPublicClient({ transport: http(url) }).getTransactionCount({ address: alice.address })
  const send = async (tx: Parameters<typeof alice.signTransaction>[0]) => rpcError(url, 'eth_sendRawTransaction', [await alice.signTransaction(tx)])

  const wrongChain = await send({ ...base, chainId: 1, nonce })
  t.same([wrongChain.code, wrongChain.message], [-32000, `invalid chain id for signer: have 1 want ${CHAIN_ID}`])
  const underpriced = await send({ ...base, chainId: CHAIN_ID, nonce, maxFeePerGas: 1n, maxPriorityFeePerGas: 1n })
  t.equal(underpriced.code, -32000)
  t.match(underpriced.message, /^max fee per gas less than block base fee: address 0x[0-9a-f]{40}, maxFeePerGas: 1, baseFee: \d+$/)
  const tooFar = await send({ ...base, chainId: CHAIN_ID, nonce: nonce + 10_000 })
  t.same([tooFar.code, tooFar.message], [-32000, `nonce too high: next nonce ${nonce}, tx nonce ${nonce + 10_000}`])
  const ok = await createWalletClient({ transport: http(url), account: alice, chain: defineChain({ id: CHAIN_ID, name: 'dev', nativeCurrency: { name: 'OPEN', symbol: 'OPEN', decimals: 18 }, rpcUrls: { default: { http: [url] } } }) }).sendTransaction({ ...base, nonce })
  t.match(ok, /^0x[0-9a-f]{64}$/)
  const again = await rpcError(url, 'eth_sendRawTransaction', [await alice.signTransaction({ ...base, chainId: CHAIN_ID, nonce })])
  t.same([again.code, again.message], [-32000, 'already known'])
  await waitFor(async () => ((await createPublicClient({ transport: http(url) }).getTransactionCount({ address: alice.address })) > nonce ? true : undefined), 'the transfer to be included')
  const low = await send({ ...base, chainId: CHAIN_ID, nonce, maxFeePerGas: 200_000_000_000n })
  t.same([low.code, low.message], [-32000, `nonce too low: next nonce ${nonce + 1}, tx nonce ${nonce}`])

  // a bad signature: the signed bytes with s changed recover another key or none
  const raw = await alice.signTransaction({ ...base, chainId: CHAIN_ID, nonce: nonce + 1 })
  const tampered = (raw.slice(0, -2) + (raw.endsWith('00') ? '01' : '00')) as Hex
  const badSig = await rpcError(url, 'eth_sendRawTransaction', [tampered])
  t.equal(badSig.code, -32000)
  t.match(badSig.message, /^(invalid sender|insufficient funds for gas \* price \+ value)/, 'no valid signer, or a stranger with no funds')

  const oversized = await rpcError(url, 'eth_sendRawTransaction', [`0x02${'00'.repeat(200 * 1024)}`])
  t.same([oversized.code, oversized.message], [-32000, 'oversized data: transaction size 204801, limit 131072'])
  const preEip155 = serializeTransaction({ type: 'legacy', nonce: 0, gas: 21_000n, gasPrice: 1n, to: bob, value: 1n }, { r: `0x${'7f'.repeat(32)}`, s: `0x${'3f'.repeat(32)}`, v: 27n })
  const unprotected = await rpcError(url, 'eth_sendRawTransaction', [preEip155])
  t.same([unprotected.code, unprotected.message], [-32000, 'only replay-protected (EIP-155) transactions allowed over RPC'])

  const tag = await rpcError(url, 'eth_getBlockByNumber', ['newest', false])
  t.same([tag.code, tag.message], [-32602, 'invalid argument 0: hex string without 0x prefix'])
  const zeros = await rpcError(url, 'eth_getBalance', [alice.address, '0x01'])
  t.same([zeros.code, zeros.message], [-32602, 'invalid argument 1: hex number with leading zero digits'])
  const future = await rpcError(url, 'eth_getBalance', [alice.address, '0xffffff'])
  t.same([future.code, future.message], [-32000, 'header not found'])
  t.equal(await createPublicClient({ transport: http(url) }).request({ method: 'eth_getBlockByNumber', params: ['0xffffff', false] }), null, 'an unknown block is null')
  const missing = await rpcError(url, 'eth_newFilter', [{}])
  t.equal(missing.code, -32601)
  t.equal(missing.message, 'the method eth_newFilter does not exist/is not available')
})
