// Hostile input against a running dev node: every bad request gets a clear, stable error code,
// changes nothing, and the node keeps serving.
import t from 'tap'
import { devAccount } from '../../genesis/devAccounts.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import { ModuleIndex } from '../../runtime/modules/indices.ts'
import { signTransaction, type UnsignedTransaction } from '../../runtime/transaction.ts'
import { RpcClientError, WsRpcClient } from '../../node/rpc/client.ts'
import { startDevNode, stopNode, tempHome, waitFor } from './harness.ts'

const alice = devAccount('alice')
const bob = devAccount('bob')

t.test('bad input over JSON-RPC', async (t) => {
  const home = await tempHome()
  t.teardown(home.remove)
  const node = await startDevNode(home.path, ['--block-time', '100'])
  t.teardown(() => stopNode(node, 'SIGKILL'))
  const { rpc, rpcUrl } = node

  const post = async (body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) => {
    const response = await fetch(rpcUrl, { method: 'POST', body, headers })
    return { status: response.status, json: (await response.json().catch(() => null)) as { error?: { code: number; data?: { code: string } } } | Array<unknown> | null }
  }
  const errorOf = async (method: string, params: unknown): Promise<{ code: number | undefined; data: string }> => {
    try {
      await rpc.call(method, params as unknown[])
    } catch (error) {
      if (error instanceof RpcClientError) return { code: error.rpcCode, data: error.code }
      throw error
    }
    throw new Error(`${method} did not fail`)
  }

  // transport-level garbage
  const malformed = await post('{"jsonrpc":"2.0","id":1,"method":')
  t.equal((malformed.json as { error: { code: number } }).error.code, -32700, 'malformed JSON → -32700')
  const wrongVersion = await post(JSON.stringify({ jsonrpc: '1.0', id: 1, method: 'system_name' }))
  t.equal((wrongVersion.json as { error: { code: number } }).error.code, -32600, 'wrong jsonrpc version → -32600')
  const emptyBatch = await post('[]')
  t.equal((emptyBatch.json as { error: { code: number } }).error.code, -32600, 'empty batch → -32600')
  const hugeBatch = await post(JSON.stringify(Array.from({ length: 101 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'system_name' }))))
  t.equal((hugeBatch.json as { error: { code: number } }).error.code, -32005, 'batch over 100 → -32005 LIMIT_EXCEEDED')
  const oversized = await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'author_submitExtrinsic', params: ['0x' + '00'.repeat(3 * 1024 * 1024)] }))
  t.equal(oversized.status, 413, 'oversized payload → HTTP 413')

  t.same(await errorOf('no_suchMethod', []), { code: -32601, data: 'METHOD_NOT_FOUND' })
  t.same(await errorOf('openledger_getBalance', [12]), { code: -32602, data: 'INVALID_PARAMS' }, 'wrong parameter type')
  t.same(await errorOf('openledger_getBalance', ['0x1234']), { code: -32602, data: 'INVALID_PARAMS' }, 'short address')
  t.same(await errorOf('chain_getBlockHash', [-1]), { code: -32602, data: 'INVALID_PARAMS' }, 'negative height')
  t.same(await errorOf('chain_subscribeNewHeads', []), { code: -32007, data: 'SUBSCRIPTIONS_NEED_WEBSOCKET' })

  // transactions
  const { chainId } = await rpc.call('system_properties')
  const fees = await rpc.call('openledger_estimateFee')
  const maxFeePerGas = BigInt(fees.suggestedMaxFeePerGas)
  const transfer = (overrides: Partial<UnsignedTransaction> = {}): UnsignedTransaction => ({
    chainId, nonce: 0, gasLimit: 5_000, maxFeePerGas, maxPriorityFeePerGas: 1n,
    call: { module: ModuleIndex.balances, call: 0, args: [bob.address, 1_000n] }, ...overrides,
  })
  const submit = (bytes: Uint8Array) => errorOf('author_submitExtrinsic', [toHex(bytes)])

  t.same(await submit(Uint8Array.of(0x93, 1, 2)), { code: -32010, data: 'INVALID_ENCODING' }, 'garbage bytes')
  // a codec error is the caller's on every path (issue 21): estimateFee answered -32603 and logged a bug
  t.same(await errorOf('openledger_estimateFee', [toHex(Uint8Array.of(0x93, 1, 2))]), { code: -32010, data: 'INVALID_ENCODING' }, 'estimateFee on garbage bytes')
  const good = signTransaction(transfer(), alice.privateKey)
  // gasLimit 5000 (msgpack cd 13 88) rewritten as u64 max (cf ff×8): refused naming the integer limit, not "floats"
  const u64Gas = Buffer.from(Buffer.from(good.bytes).toString('hex').replace('cd1388', 'cf' + 'ff'.repeat(8)), 'hex')
  for (const method of ['author_submitExtrinsic', 'openledger_estimateFee']) {
    try {
      await rpc.call(method, [toHex(u64Gas)])
      t.fail(`${method} accepted a u64-max gas limit`)
    } catch (error) {
      t.equal((error as RpcClientError).code, 'INVALID_ENCODING', `${method}: u64-max gas limit`)
      t.match((error as Error).message, /integer above 2\^53 − 1/, `${method}: the message names the integer limit`)
      t.notMatch((error as Error).message, /float/)
    }
  }
  const badSignature = good.bytes.slice()
  badSignature[badSignature.length - 10] = (badSignature.at(-10) ?? 0) ^ 0xff
  const sigResult = await submit(badSignature)
  t.ok(sigResult.data === 'INVALID_SIGNATURE' || sigResult.data === 'INSUFFICIENT_FUNDS', `forged signature rejected (${sigResult.data})`)
  const highS = good.bytes.slice()
  highS.set(new Uint8Array(32).fill(0xff), highS.length - 33)
  t.same(await submit(highS), { code: -32010, data: 'INVALID_SIGNATURE' }, 'out-of-range s')
  t.same(await submit(signTransaction(transfer({ chainId: chainId + 1 }), alice.privateKey).bytes), { code: -32010, data: 'WRONG_CHAIN_ID' })
  t.same(await submit(signTransaction(transfer({ nonce: 10_000 }), alice.privateKey).bytes), { code: -32010, data: 'NONCE_TOO_HIGH' }, 'gapped nonce far ahead')
  t.same(await submit(signTransaction(transfer({ gasLimit: 10 }), alice.privateKey).bytes), { code: -32010, data: 'GAS_LIMIT_TOO_LOW' })
  t.same(await submit(signTransaction(transfer({ maxFeePerGas: 1n, maxPriorityFeePerGas: 1n }), alice.privateKey).bytes), { code: -32010, data: 'FEE_BELOW_BASE_FEE' })
  const pauper = signTransaction(transfer(), Uint8Array.from({ length: 32 }, (_, i) => i + 1))
  t.same(await submit(pauper.bytes), { code: -32010, data: 'INSUFFICIENT_FUNDS' }, 'unpayable fee from an empty account')
  t.same(await submit(signTransaction(transfer({ call: { module: 42, call: 0, args: [] } }), alice.privateKey).bytes), { code: -32010, data: 'UNKNOWN_CALL' })

  // a good one goes through; replaying it fails
  const bobBefore = BigInt(await rpc.call('openledger_getBalance', [toHex(bob.address)]))
  t.equal(await rpc.call('author_submitExtrinsic', [toHex(good.bytes)]), toHex(good.hash))
  t.same(await submit(good.bytes), { code: -32010, data: 'ALREADY_KNOWN' }, 'resubmitted while pooled')
  await waitFor(async () => (await rpc.call('openledger_getReceipt', [toHex(good.hash)])) ?? undefined, 'the transfer to be included')
  t.same(await submit(good.bytes), { code: -32010, data: 'NONCE_TOO_LOW' }, 'replay after inclusion')
  t.equal(BigInt(await rpc.call('openledger_getBalance', [toHex(bob.address)])), bobBefore + 1_000n, 'exactly one transfer applied')

  // watched submission reports every status until finalized
  const ws = await WsRpcClient.connect(rpcUrl.replace('http', 'ws'))
  t.teardown(() => ws.close())
  const statuses: unknown[] = []
  const next = signTransaction(transfer({ nonce: 1 }), alice.privateKey)
  await ws.subscribe('author_submitAndWatchExtrinsic', [toHex(next.bytes)], (status) => void statuses.push(status), { unsubscribe: 'author_unwatchExtrinsic' })
  await waitFor(async () => (statuses.some((s) => typeof s === 'object' && s !== null && 'finalized' in s) ? true : undefined), 'finalized status')
  t.equal(statuses[0], 'ready')
  t.match(statuses.at(-1), { finalized: String })

  t.equal(await rpc.call('system_name'), 'openledger', 'the node still serves')
  t.notMatch(node.log(), /rpc method failed/, 'no hostile input was logged as a bug of ours')
})
