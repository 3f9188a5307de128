import t from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { RpcClient, RpcClientError, WsRpcClient } from '../../../node/rpc/client.ts'
import { eventually, startServer, type Teardown } from './fixtures.ts'

async function failure(promise: Promise<unknown>): Promise<RpcClientError> {
  try {
    await promise
  } catch (error) {
    if (error instanceof RpcClientError) return error
    throw error
  }
  throw new Error('expected the call to fail')
}

/** A port nothing listens on: one the OS just handed out and took back. */
async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** An HTTP server that never answers, or answers with `body`. */
async function fakeServer(t: Teardown, body?: string): Promise<string> {
  const server = createServer((req, res) => {
    req.resume()
    if (body !== undefined) res.writeHead(200, { 'content-type': 'text/html' }).end(body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
}

t.test('RpcClient over HTTP', async (t) => {
  const { url } = await startServer(t)
  const client = new RpcClient(url)
  t.equal(await client.call<number>('test_add', [2, 3]), 5)
  t.equal(await client.call<number>('test_add', { a: 1, b: 1 }), 2)
  t.same(await client.call('test_positional', [true, 10n ** 20n]), { flag: true, amount: '100000000000000000000' }, 'bigint params go as decimal strings')
  t.same(await client.call('test_balance', [new Uint8Array(20).fill(1)]), { address: '0x' + '01'.repeat(20), at: null, free: '1000000000000000000000000000' }, 'byte params go as hex')

  const domain = await failure(client.call('test_fail'))
  t.equal(domain.code, 'NONCE_TOO_LOW')
  t.equal(domain.rpcCode, -32010)
  t.equal(domain.message, 'nonce too low: expected 5')
  t.same(domain.details, { code: 'NONCE_TOO_LOW', expected: 5, amount: '7' })

  const params = await failure(client.call('test_balance', ['0x00']))
  t.equal(params.code, 'INVALID_PARAMS')
  t.equal(params.rpcCode, -32602)
  t.equal(params.message, 'invalid params: address: expected 0x-prefixed 20-byte hex')

  const missing = await failure(client.call('nope_nothing'))
  t.equal(missing.code, 'METHOD_NOT_FOUND')
  t.equal(missing.rpcCode, -32601)

  const results = await client.batch([{ method: 'test_echo', params: ['a'] }, { method: 'test_fail' }, { method: 'test_add', params: [1, 2] }])
  t.same(results.map((r) => (r.ok ? r.result : r.error.code)), ['a', 'NONCE_TOO_LOW', 3])
})

t.test('RpcClient surfaces limits', async (t) => {
  const { url } = await startServer(t, { maxRequestBytes: 512, maxBatchSize: 2 })
  const client = new RpcClient(url)
  const tooLarge = await failure(client.call('test_echo', ['x'.repeat(1000)]))
  t.equal(tooLarge.code, 'PAYLOAD_TOO_LARGE')
  t.equal(tooLarge.rpcCode, -32006)
  const batch = await failure(client.batch([{ method: 'test_echo', params: ['a'] }, { method: 'test_echo', params: ['b'] }, { method: 'test_echo', params: ['c'] }]))
  t.equal(batch.code, 'LIMIT_EXCEEDED')
})

t.test('RpcClient failures of its own', async (t) => {
  const closedPort = await freePort()
  const unreachable = await failure(new RpcClient(`http://127.0.0.1:${closedPort}/`).call('system_health'))
  t.equal(unreachable.code, 'RPC_UNREACHABLE')
  t.equal(unreachable.rpcCode, undefined)
  t.equal(unreachable.message, `cannot reach http://127.0.0.1:${closedPort}/: ECONNREFUSED`)

  const silent = await fakeServer(t)
  const timeout = await failure(new RpcClient(silent, { timeoutMs: 100 }).call('system_health'))
  t.equal(timeout.code, 'RPC_TIMEOUT')

  const controller = new AbortController()
  const aborted = failure(new RpcClient(silent).call('system_health', [], { signal: controller.signal }))
  controller.abort()
  t.equal((await aborted).code, 'RPC_ABORTED')

  const html = await fakeServer(t, '<html>hello</html>')
  const bad = await failure(new RpcClient(html).call('system_health'))
  t.equal(bad.code, 'RPC_BAD_RESPONSE')
  t.match(bad.message, /HTTP 200: the answer is not JSON/)
})

t.test('WsRpcClient calls and subscriptions', async (t) => {
  const { wsUrl, ticker } = await startServer(t)
  const client = await WsRpcClient.connect(wsUrl)
  t.teardown(() => client.close())
  t.equal(await client.call<number>('test_add', [20, 22]), 42)
  const error = await failure(client.call('test_fail'))
  t.equal(error.code, 'NONCE_TOO_LOW')
  t.equal(error.rpcCode, -32010)

  const seen: unknown[] = []
  // The first notification is emitted before the id is even sent: the client must not miss it.
  const subscription = await client.subscribe('test_subscribeTicks', [7], (result) => seen.push(result))
  t.match(subscription.id, /^0x[0-9a-f]{32}$/)
  ticker.emit(8)
  ticker.emit(9)
  await eventually(() => seen.length === 3)
  t.same(seen, [7, 8, 9])
  t.equal(await subscription.unsubscribe(), true)
  t.equal(ticker.active, 0)
  ticker.emit(10)
  t.equal(await client.call('test_echo', ['sync']), 'sync')
  t.same(seen, [7, 8, 9], 'nothing after unsubscribe')
  t.equal(await subscription.unsubscribe(), false)

  const broken = await failure(client.subscribe('test_subscribeBroken', [], () => {}))
  t.equal(broken.code, 'NOT_READY')
  await t.rejects(client.subscribe('author_submitAndWatchExtrinsic', [], () => {}), { code: 'RPC_ERROR' }, 'unsubscribe name must be given when it cannot be guessed')
})

t.test('WsRpcClient when the server goes away', async (t) => {
  const { server, wsUrl, seen } = await startServer(t, { stopTimeoutMs: 100 })
  const client = await WsRpcClient.connect(wsUrl)
  const pending = failure(client.call('test_wait'))
  await eventually(() => seen.waiting === 1)
  await server.stop()
  t.equal((await pending).code, 'RPC_CLOSED')
  t.equal((await client.closed).code, 1001)
  t.equal((await failure(client.call('test_echo', ['x']))).code, 'RPC_CLOSED')

  const refused = await failure(WsRpcClient.connect(wsUrl))
  t.equal(refused.code, 'RPC_UNREACHABLE')
})

t.test('WsRpcClient times out and reports refused upgrades', async (t) => {
  const { wsUrl } = await startServer(t, { maxConnections: 1 })
  const client = await WsRpcClient.connect(wsUrl, { timeoutMs: 100 })
  t.teardown(() => client.close())
  t.equal((await failure(client.call('test_wait'))).code, 'RPC_TIMEOUT')
  const refused = await failure(WsRpcClient.connect(wsUrl))
  t.equal(refused.code, 'RPC_UNREACHABLE')
  t.same(refused.details, { status: 503 })
})
