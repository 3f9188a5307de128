import t from 'tap'
import fc from 'fast-check'
import { request } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { silentLogger } from '../../../lib/logger.ts'
import { RpcServer } from '../../../node/rpc/server.ts'
import { eventually, post, startServer } from './fixtures.ts'

const ADDRESS = '0x' + 'ab'.repeat(20)

t.test('single calls: result, params by position and by name', async (t) => {
  const { url } = await startServer(t)
  t.same((await post(url, { jsonrpc: '2.0', id: 1, method: 'test_add', params: [2, '0x3'] })).json, { jsonrpc: '2.0', id: 1, result: 5 })
  t.same((await post(url, { jsonrpc: '2.0', id: 'a', method: 'test_add', params: { b: 3, a: 4 } })).json, { jsonrpc: '2.0', id: 'a', result: 7 })
  t.same((await post(url, { jsonrpc: '2.0', id: null, method: 'test_echo', params: ['hi'] })).json, { jsonrpc: '2.0', id: null, result: 'hi' })
  t.same((await post(url, { jsonrpc: '2.0', id: 2, method: 'test_undefined' })).json, { jsonrpc: '2.0', id: 2, result: null }, 'no params, undefined result → null')
  const balance = await post(url, { jsonrpc: '2.0', id: 3, method: 'test_balance', params: { address: ADDRESS } })
  t.equal(balance.status, 200)
  t.match(balance.headers.get('content-type'), /^application\/json/)
  t.same(balance.json, { jsonrpc: '2.0', id: 3, result: { address: ADDRESS, at: null, free: '1000000000000000000000000000' } }, 'bytes as 0x-hex, bigints as decimal strings')
  t.same((await post(url, { jsonrpc: '2.0', id: 4, method: 'test_positional', params: [true, '12'] })).json, { jsonrpc: '2.0', id: 4, result: { flag: true, amount: '12' } })
})

t.test('invalid params name the parameter', async (t) => {
  const { url } = await startServer(t)
  const error = async (params: unknown, method = 'test_balance'): Promise<unknown> => ((await post(url, { jsonrpc: '2.0', id: 1, method, params })).json as { error: unknown }).error
  t.same(await error(['0x1234']), { code: -32602, message: 'invalid params: address: expected 0x-prefixed 20-byte hex', data: { code: 'INVALID_PARAMS', param: 'address' } })
  t.same(await error([]), { code: -32602, message: 'invalid params: address: missing (expected 0x-prefixed 20-byte hex)', data: { code: 'INVALID_PARAMS', param: 'address' } })
  t.same(await error([ADDRESS, '0x00']), { code: -32602, message: 'invalid params: at: expected 0x-prefixed 32-byte hex', data: { code: 'INVALID_PARAMS', param: 'at' } })
  t.match(await error([ADDRESS, null, 3]), { code: -32602, message: 'invalid params: expected at most 2 params, got 3' })
  t.match(await error({ address: ADDRESS, block: 1 }), { code: -32602, message: 'invalid params: unknown param "block"' })
  t.match(await error({ flag: true }, 'test_positional'), { code: -32602, message: 'invalid params: this method takes params by position (an array)' })
  t.match(await error(['yes'], 'test_positional'), { code: -32602, message: 'invalid params: params[0]: expected boolean' })
  t.match(await error([true, '-5'], 'test_positional'), { code: -32602, message: 'invalid params: params[1]: expected decimal string of a non-negative integer' })
  t.match(await error([-1, 2], 'test_add'), { code: -32602, message: 'invalid params: a: expected non-negative integer (number or 0x-hex)' })
  t.match(await error(['x'.repeat(101)], 'test_echo'), { code: -32602, message: 'invalid params: text: expected string of at most 100 characters' })
  t.match(await error('text', 'test_echo'), { code: -32600, message: 'invalid request: params must be an array or an object' })
})

t.test('invalid requests', async (t) => {
  const { url } = await startServer(t)
  const answer = async (body: unknown): Promise<unknown> => (await post(url, body)).json
  t.same(await answer({ jsonrpc: '1.0', id: 1, method: 'test_echo', params: ['x'] }),
    { jsonrpc: '2.0', id: 1, error: { code: -32600, message: 'invalid request: jsonrpc must be "2.0"', data: { code: 'INVALID_REQUEST' } } })
  t.match(await answer({ id: 1, method: 'test_echo' }), { id: 1, error: { code: -32600 } }, 'jsonrpc missing')
  t.match(await answer({ jsonrpc: '2.0', id: 1 }), { id: 1, error: { code: -32600, message: 'invalid request: method must be a non-empty string' } })
  t.match(await answer({ jsonrpc: '2.0', id: 1, method: 5 }), { id: 1, error: { code: -32600 } })
  t.match(await answer({ jsonrpc: '2.0', id: { x: 1 }, method: 'test_echo' }), { id: null, error: { code: -32600, message: 'invalid request: id must be a string, a number or null' } })
  t.match(await answer(42), { id: null, error: { code: -32600, message: 'invalid request: expected a JSON-RPC request object' } })
  t.match(await answer({ jsonrpc: '2.0', method: 'test_echo', params: ['x'], id: 7, extra: 1 }), { id: 7, result: 'x' }, 'unknown members are ignored')
  t.same(await answer({ jsonrpc: '2.0', id: 9, method: 'nope_nothing' }),
    { jsonrpc: '2.0', id: 9, error: { code: -32601, message: 'the method nope_nothing does not exist/is not available', data: { code: 'METHOD_NOT_FOUND' } } })
  t.match(await answer({ jsonrpc: '2.0', id: 9, method: 'x'.repeat(500) }), { error: { code: -32601, message: `the method ${'x'.repeat(64)}… does not exist/is not available` } }, 'long names are cut in messages')
})

t.test('malformed JSON → -32700, and the server keeps serving', async (t) => {
  const { url } = await startServer(t)
  for (const body of ['{"jsonrpc":"2.0",', 'nonsense', '', '[{"jsonrpc":"2.0","id":1,"method":"test_echo"']) {
    const answer = await post(url, body)
    t.equal(answer.status, 200)
    t.same(answer.json, { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error: the message is not valid JSON', data: { code: 'PARSE_ERROR' } } }, JSON.stringify(body))
  }
  t.same((await post(url, { jsonrpc: '2.0', id: 1, method: 'test_echo', params: ['still here'] })).json, { jsonrpc: '2.0', id: 1, result: 'still here' })
})

t.test('batches', async (t) => {
  const { url, seen } = await startServer(t, { maxBatchSize: 5 })
  const answer = await post(url, [
    { jsonrpc: '2.0', id: 1, method: 'test_add', params: [1, 1] },
    { jsonrpc: '2.0', method: 'test_notify', params: ['in batch'] },
    { jsonrpc: '2.0', id: 2, method: 'nope_nothing' },
    5,
    { jsonrpc: '2.0', id: 3, method: 'test_echo', params: ['z'] },
  ])
  t.equal(answer.status, 200)
  t.same(answer.json, [
    { jsonrpc: '2.0', id: 1, result: 2 },
    { jsonrpc: '2.0', id: 2, error: { code: -32601, message: 'the method nope_nothing does not exist/is not available', data: { code: 'METHOD_NOT_FOUND' } } },
    { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'invalid request: expected a JSON-RPC request object', data: { code: 'INVALID_REQUEST' } } },
    { jsonrpc: '2.0', id: 3, result: 'z' },
  ], 'one answer per call with an id, in order; the notification gets none')
  t.same(seen.notified, ['in batch'])

  t.same((await post(url, [])).json, { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'invalid request: empty batch', data: { code: 'INVALID_REQUEST' } } })
  const six = Array.from({ length: 6 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'test_echo', params: ['x'] }))
  t.same((await post(url, six)).json, { jsonrpc: '2.0', id: null, error: { code: -32005, message: 'batch of 6 calls exceeds the limit of 5', data: { code: 'LIMIT_EXCEEDED', limit: 5 } } })
  t.same((await post(url, [[]])).json, [{ jsonrpc: '2.0', id: null, error: { code: -32600, message: 'invalid request: expected a JSON-RPC request object', data: { code: 'INVALID_REQUEST' } } }], 'nested batches are invalid requests')

  const onlyNotifications = await post(url, [{ jsonrpc: '2.0', method: 'test_notify', params: ['a'] }, { jsonrpc: '2.0', method: 'test_notify', params: ['b'] }])
  t.equal(onlyNotifications.status, 204)
  t.equal(onlyNotifications.text, '')
  t.same(seen.notified, ['in batch', 'a', 'b'])
})

t.test('notifications get no response', async (t) => {
  const { url, seen } = await startServer(t)
  const answer = await post(url, { jsonrpc: '2.0', method: 'test_notify', params: ['hello'] })
  t.equal(answer.status, 204)
  t.equal(answer.text, '')
  t.same(seen.notified, ['hello'])
  t.equal((await post(url, { jsonrpc: '2.0', method: 'nope_nothing' })).status, 204, 'not even an error')
})

t.test('domain errors vs bugs', async (t) => {
  const { url, logs } = await startServer(t)
  t.same((await post(url, { jsonrpc: '2.0', id: 1, method: 'test_fail' })).json,
    { jsonrpc: '2.0', id: 1, error: { code: -32010, message: 'nonce too low: expected 5', data: { code: 'NONCE_TOO_LOW', expected: 5, amount: '7' } } })
  const bug = await post(url, { jsonrpc: '2.0', id: 2, method: 'test_bug' })
  t.same(bug.json, { jsonrpc: '2.0', id: 2, error: { code: -32603, message: 'internal error', data: { code: 'INTERNAL_ERROR' } } })
  t.notMatch(bug.text, /secret|TypeError|at /, 'nothing of the error reaches the client')
  const logged = logs.find((record) => record['msg'] === 'rpc method failed')
  t.ok(logged, 'the bug is logged')
  t.equal(logged?.['level'], 'error')
  t.equal(logged?.['method'], 'test_bug')
  t.match(logged?.['stack'], /TypeError: secret internal detail\n\s+at /, 'with its stack')
})

t.test('subscriptions need a WebSocket', async (t) => {
  const { url, ticker } = await startServer(t)
  t.same((await post(url, { jsonrpc: '2.0', id: 1, method: 'test_subscribeTicks', params: [] })).json,
    { jsonrpc: '2.0', id: 1, error: { code: -32007, message: 'test_subscribeTicks needs a WebSocket connection', data: { code: 'SUBSCRIPTIONS_NEED_WEBSOCKET' } } })
  t.match((await post(url, { jsonrpc: '2.0', id: 2, method: 'test_unsubscribeTicks', params: ['0x00'] })).json, { error: { code: -32007 } })
  t.equal(ticker.started, 0)
})

t.test('rpc_methods lists every method', async (t) => {
  const { url, registry } = await startServer(t)
  const answer = (await post(url, { jsonrpc: '2.0', id: 1, method: 'rpc_methods' })).json as { result: { methods: string[] } }
  t.same(answer.result.methods, [...registry.names(), 'rpc_methods'].sort())
})

t.test('body over the limit → HTTP 413 with a JSON-RPC error', async (t) => {
  const { url } = await startServer(t, { maxRequestBytes: 1024 })
  const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'test_echo', params: ['x'.repeat(2000)] })
  const answer = await post(url, big)
  t.equal(answer.status, 413)
  t.same(answer.json, { jsonrpc: '2.0', id: null, error: { code: -32006, message: 'request body exceeds 1024 bytes', data: { code: 'PAYLOAD_TOO_LARGE', limit: 1024 } } })
  t.same((await post(url, { jsonrpc: '2.0', id: 2, method: 'test_echo', params: ['ok'] })).json, { jsonrpc: '2.0', id: 2, result: 'ok' }, 'the server keeps serving')

  // Far beyond the limit the body is not read at all; the client still gets its 413.
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': 1024 * 1024 } }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('error', reject)
    req.write('[')
  })
  t.equal(status, 413)
})

t.test('content type, paths, HTTP methods, health', async (t) => {
  const { url } = await startServer(t)
  const wrongType = await post(url, { jsonrpc: '2.0', id: 1, method: 'test_echo', params: ['x'] }, { 'content-type': 'text/plain' })
  t.equal(wrongType.status, 415)
  t.match(wrongType.json, { error: { code: -32600, message: 'content-type must be application/json' } })
  t.equal((await post(url, { jsonrpc: '2.0', id: 1, method: 'test_echo', params: ['x'] }, { 'content-type': 'application/json; charset=utf-8' })).status, 200)

  const health = await fetch(new URL('/health', url))
  t.equal(health.status, 200)
  t.same(await health.json(), { status: 'ok' })
  t.equal((await fetch(new URL('/elsewhere', url))).status, 404)
  t.equal((await post(new URL('/elsewhere', url).href, {})).status, 404)
  const get = await fetch(url)
  t.equal(get.status, 405)
  t.equal(get.headers.get('allow'), 'POST, OPTIONS')
})

t.test('CORS', async (t) => {
  const { url } = await startServer(t, { corsOrigins: ['https://wallet.example'] })
  const call = { jsonrpc: '2.0', id: 1, method: 'test_echo', params: ['x'] }
  const allowed = await post(url, call, { origin: 'https://wallet.example' })
  t.equal(allowed.status, 200)
  t.equal(allowed.headers.get('access-control-allow-origin'), 'https://wallet.example')
  const preflight = await fetch(url, { method: 'OPTIONS', headers: { origin: 'https://wallet.example', 'access-control-request-method': 'POST' } })
  t.equal(preflight.status, 204)
  t.match(preflight.headers.get('access-control-allow-methods'), /POST/)
  t.equal(preflight.headers.get('access-control-allow-headers'), 'content-type')
  const refused = await post(url, call, { origin: 'https://evil.example' })
  t.equal(refused.status, 403)
  t.match(refused.json, { error: { code: -32600, message: 'origin not allowed' } })
  t.equal((await post(url, call)).headers.get('access-control-allow-origin'), null, 'no Origin (not a browser): served, no CORS headers')

  const open = await startServer(t, { corsOrigins: '*' })
  t.equal((await post(open.url, call, { origin: 'https://any.example' })).headers.get('access-control-allow-origin'), 'https://any.example')
})

t.test('a handler sees its signal abort when the HTTP client goes away', async (t) => {
  const { url, seen } = await startServer(t)
  const controller = new AbortController()
  const pending = fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'test_wait' }), signal: controller.signal })
  pending.catch(() => {})
  await eventually(() => seen.waiting === 1)
  controller.abort()
  await eventually(() => seen.aborted === 1)
  t.pass('aborted')
})

t.test('any JSON gets a well-formed answer (or none for notifications), and the server survives', async (t) => {
  const { url } = await startServer(t)
  const methods = fc.constantFrom('test_echo', 'test_add', 'test_balance', 'test_positional', 'test_fail', 'nope_x', 'test_subscribeTicks', 'rpc_methods')
  const request = fc.record({
    jsonrpc: fc.oneof(fc.constant('2.0'), fc.jsonValue()),
    id: fc.oneof(fc.integer(), fc.string(), fc.constant(null), fc.jsonValue()),
    method: fc.oneof(methods, fc.jsonValue()),
    params: fc.oneof(fc.array(fc.jsonValue(), { maxLength: 4 }), fc.dictionary(fc.constantFrom('a', 'b', 'text', 'address', 'at'), fc.jsonValue()), fc.jsonValue()),
  }, { requiredKeys: [] })
  const message = fc.oneof(request, fc.array(request, { maxLength: 4 }), fc.jsonValue())
  await fc.assert(fc.asyncProperty(message, async (body) => {
    const answer = await post(url, JSON.stringify(body))
    if (answer.status === 204) return
    if (answer.status !== 200) throw new Error(`status ${answer.status}`)
    const responses = Array.isArray(answer.json) ? answer.json : [answer.json]
    for (const response of responses as Array<Record<string, unknown>>) {
      if (response['jsonrpc'] !== '2.0' || !('id' in response)) throw new Error(`not a response: ${answer.text}`)
      const error = response['error'] as { code?: unknown; data?: { code?: unknown } } | undefined
      if (error !== undefined && (typeof error.code !== 'number' || typeof error.data?.code !== 'string')) throw new Error(`bad error: ${answer.text}`)
      if (error?.code === -32603) throw new Error(`internal error for ${JSON.stringify(body)}`)
    }
  }), { seed: 2024, numRuns: 300 })
  await sleep(0)
  t.same((await post(url, { jsonrpc: '2.0', id: 1, method: 'test_echo', params: ['alive'] })).json, { jsonrpc: '2.0', id: 1, result: 'alive' })
})

t.test('lifecycle: address, port in use, restart', async (t) => {
  const { server, registry } = await startServer(t)
  const { port } = server.address
  const clash = new RpcServer({ port }, { logger: silentLogger, methods: registry })
  await t.rejects(clash.start(), { code: 'LISTEN_FAILED' })
  t.throws(() => clash.address, { code: 'NOT_STARTED' })
  await Promise.all([server.stop(), server.stop()])
  t.throws(() => server.address, { code: 'NOT_STARTED' })
  await server.start()
  const url = `http://127.0.0.1:${server.address.port}/`
  t.same((await post(url, { jsonrpc: '2.0', id: 1, method: 'test_echo', params: ['again'] })).json, { jsonrpc: '2.0', id: 1, result: 'again' })
})
