import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { WebSocket } from 'ws'
import { eventually, post, startServer, WsProbe } from './fixtures.ts'

type Message = Record<string, unknown>

t.test('calls, batches and notifications over one socket', async (t) => {
  const { wsUrl, seen } = await startServer(t)
  const ws = await WsProbe.open(wsUrl)
  t.teardown(() => ws.close())
  t.same(await ws.call('test_add', [1, 2], 1), { jsonrpc: '2.0', id: 1, result: 3 })
  t.same(await ws.call('test_add', { a: 5, b: 6 }, 'named'), { jsonrpc: '2.0', id: 'named', result: 11 })
  t.match(await ws.call('test_balance', ['0x12'], 2), { id: 2, error: { code: -32602, message: 'invalid params: address: expected 0x-prefixed 20-byte hex' } })
  t.match(await ws.call('nope_nothing', [], 3), { id: 3, error: { code: -32601 } })

  ws.send({ jsonrpc: '2.0', method: 'test_notify', params: ['over ws'] })
  ws.send([{ jsonrpc: '2.0', id: 4, method: 'test_echo', params: ['a'] }, { jsonrpc: '2.0', id: 5, method: 'test_fail' }])
  t.same(await ws.next(), [
    { jsonrpc: '2.0', id: 4, result: 'a' },
    { jsonrpc: '2.0', id: 5, error: { code: -32010, message: 'nonce too low: expected 5', data: { code: 'NONCE_TOO_LOW', expected: 5, amount: '7' } } },
  ])
  t.same(seen.notified, ['over ws'], 'the notification ran and got no answer')
  ws.send([])
  t.match(await ws.next(), { id: null, error: { code: -32600, message: 'invalid request: empty batch' } })
  t.ok(await ws.quiet(30), 'nothing else was sent')
})

t.test('malformed messages get errors and the connection stays', async (t) => {
  const { wsUrl } = await startServer(t, { maxRequestBytes: 1024 })
  const ws = await WsProbe.open(wsUrl)
  t.teardown(() => ws.close())
  ws.send('{"not json')
  t.same(await ws.next(), { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error: the message is not valid JSON', data: { code: 'PARSE_ERROR' } } })
  ws.send({ jsonrpc: '2.1', id: 8, method: 'test_echo', params: ['x'] })
  t.match(await ws.next(), { id: 8, error: { code: -32600, message: 'invalid request: jsonrpc must be "2.0"' } })
  ws.send({ jsonrpc: '2.0', id: 9, method: 'test_echo', params: ['x'.repeat(2000)] })
  t.same(await ws.next(), { jsonrpc: '2.0', id: null, error: { code: -32006, message: 'message exceeds 1024 bytes', data: { code: 'PAYLOAD_TOO_LARGE', limit: 1024 } } })
  t.same(await ws.call('test_echo', ['still open'], 10), { jsonrpc: '2.0', id: 10, result: 'still open' })

  // Far beyond the limit the peer is abusive: the socket is closed with 1009 (message too big).
  ws.send('x'.repeat(10_000))
  t.equal((await ws.closed).code, 1009)
})

t.test('subscription lifecycle', async (t) => {
  const { wsUrl, ticker, metrics } = await startServer(t)
  const ws = await WsProbe.open(wsUrl)
  t.teardown(() => ws.close())

  // `first` is emitted inside start(), before the id is sent: it must follow the id, not precede it.
  ws.send({ jsonrpc: '2.0', id: 1, method: 'test_subscribeTicks', params: [41] })
  const confirmation = (await ws.next()) as Message
  t.equal(confirmation['id'], 1)
  const id = confirmation['result']
  t.match(id, /^0x[0-9a-f]{32}$/, 'a random subscription id')
  t.same(await ws.next(), { jsonrpc: '2.0', method: 'test_tick', params: { subscription: id, result: 41 } })
  t.equal(ticker.active, 1)
  t.equal((await metrics.rpcSubscriptions.get()).values.find((v) => v.labels['method'] === 'test_subscribeTicks')?.value, 1)

  ticker.emit({ height: 1, hash: Uint8Array.of(0xaa) })
  ticker.emit({ height: 2, amount: 5n })
  t.same(await ws.next(), { jsonrpc: '2.0', method: 'test_tick', params: { subscription: id, result: { height: 1, hash: '0xaa' } } })
  t.same(await ws.next(), { jsonrpc: '2.0', method: 'test_tick', params: { subscription: id, result: { height: 2, amount: '5' } } })

  t.match(await ws.call('test_unsubscribeBroken', [id], 2), { result: false }, 'another kind of subscription cannot end it')
  t.same(await ws.call('test_unsubscribeTicks', [id], 3), { jsonrpc: '2.0', id: 3, result: true })
  t.equal(ticker.active, 0)
  t.equal(ticker.stopped, 1)
  ticker.emit('after')
  t.ok(await ws.quiet(50), 'notifications stop')
  t.same(await ws.call('test_unsubscribeTicks', [id], 4), { jsonrpc: '2.0', id: 4, result: false }, 'a second unsubscribe is false')
  t.match(await ws.call('test_unsubscribeTicks', [], 5), { error: { code: -32602, message: 'invalid params: subscription: missing (expected string of at most 128 characters)' } })
  t.equal((await metrics.rpcSubscriptions.get()).values.find((v) => v.labels['method'] === 'test_subscribeTicks')?.value, 0)
})

t.test('subscriptions are private to their socket and end when it closes', async (t) => {
  const { wsUrl, ticker } = await startServer(t)
  const a = await WsProbe.open(wsUrl)
  const b = await WsProbe.open(wsUrl)
  t.teardown(() => b.close())
  const idA = (await a.call('test_subscribeTicks', [], 1))['result']
  const idB = (await b.call('test_subscribeTicks', [], 1))['result']
  t.not(idA, idB)
  t.same(await b.call('test_unsubscribeTicks', [idA], 2), { jsonrpc: '2.0', id: 2, result: false }, 'b cannot end a\'s subscription')
  ticker.emit(1)
  t.match(await a.next(), { params: { subscription: idA, result: 1 } })
  t.match(await b.next(), { params: { subscription: idB, result: 1 } })
  await a.close()
  await eventually(() => ticker.active === 1)
  t.equal(ticker.stopped, 1, 'closing the socket stopped its subscription')
  ticker.emit(2)
  t.match(await b.next(), { params: { subscription: idB, result: 2 } })
})

t.test('a subscription whose start fails is not kept', async (t) => {
  const { wsUrl } = await startServer(t, { maxSubscriptionsPerConnection: 1 })
  const ws = await WsProbe.open(wsUrl)
  t.teardown(() => ws.close())
  t.same(await ws.call('test_subscribeBroken', [], 1), { jsonrpc: '2.0', id: 1, error: { code: -32010, message: 'the chain is not ready', data: { code: 'NOT_READY' } } })
  t.match(await ws.call('test_subscribeTicks', [], 2), { result: String }, 'the failed one did not take the only slot')
  t.match(await ws.call('test_subscribeTicks', ['x'], 3), { error: { code: -32602, message: 'invalid params: first: expected non-negative integer (number or 0x-hex)' } })
})

t.test('too many subscriptions', async (t) => {
  const { wsUrl, ticker } = await startServer(t, { maxSubscriptionsPerConnection: 3 })
  const ws = await WsProbe.open(wsUrl)
  t.teardown(() => ws.close())
  const ids: unknown[] = []
  for (let i = 0; i < 3; i++) ids.push((await ws.call('test_subscribeTicks', [], i))['result'])
  t.same(await ws.call('test_subscribeTicks', [], 'four'),
    { jsonrpc: '2.0', id: 'four', error: { code: -32005, message: 'too many subscriptions on this connection (limit 3)', data: { code: 'LIMIT_EXCEEDED', limit: 3 } } })
  t.equal(ticker.active, 3)
  t.same(await ws.call('test_unsubscribeTicks', [ids[0]], 'un'), { jsonrpc: '2.0', id: 'un', result: true })
  t.match(await ws.call('test_subscribeTicks', [], 'again'), { result: String }, 'a freed slot can be used again')
  const other = await WsProbe.open(wsUrl)
  t.match(await other.call('test_subscribeTicks', [], 1), { result: String }, 'the limit is per connection')
  await other.close()
})

t.test('too many connections → upgrade refused with 503', async (t) => {
  const { wsUrl, metrics } = await startServer(t, { maxConnections: 2 })
  const a = await WsProbe.open(wsUrl)
  const b = await WsProbe.open(wsUrl)
  t.teardown(() => b.close())
  const status = await new Promise<number>((resolve, reject) => {
    const ws = new WebSocket(wsUrl)
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0)
      ws.terminate()
    })
    ws.once('open', () => reject(new Error('a third connection was accepted')))
    ws.on('error', () => {})
  })
  t.equal(status, 503)
  t.same(await a.call('test_echo', ['a'], 1), { jsonrpc: '2.0', id: 1, result: 'a' }, 'the open ones still work')
  await a.close()
  await eventually(async () => (await metrics.rpcWsConnections.get()).values[0]?.value === 1)
  const c = await WsProbe.open(wsUrl)
  t.same(await c.call('test_echo', ['c'], 1), { jsonrpc: '2.0', id: 1, result: 'c' }, 'a freed slot accepts a new socket')
  await c.close()
})

t.test('WebSocket upgrades check path and origin', async (t) => {
  const { wsUrl } = await startServer(t, { corsOrigins: ['https://wallet.example'] })
  const refused = (url: string, origin?: string): Promise<number> => new Promise((resolve, reject) => {
    const ws = new WebSocket(url, origin === undefined ? {} : { origin })
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0)
      ws.terminate()
    })
    ws.once('open', () => reject(new Error('accepted')))
    ws.on('error', () => {})
  })
  t.equal(await refused(wsUrl + 'other'), 404)
  t.equal(await refused(wsUrl, 'https://evil.example'), 403)
  const allowed = await WsProbe.open(wsUrl, { origin: 'https://wallet.example' })
  await allowed.close()
})

t.test('too many calls in flight on one socket', async (t) => {
  const { wsUrl } = await startServer(t, { maxPendingPerConnection: 2 })
  const ws = await WsProbe.open(wsUrl)
  t.teardown(() => ws.close())
  ws.send({ jsonrpc: '2.0', id: 1, method: 'test_sleep', params: [200] })
  ws.send({ jsonrpc: '2.0', id: 2, method: 'test_sleep', params: [200] })
  ws.send({ jsonrpc: '2.0', id: 3, method: 'test_sleep', params: [1] })
  ws.send([{ jsonrpc: '2.0', id: 4, method: 'test_echo', params: ['x'] }])
  t.same(await ws.next(), { jsonrpc: '2.0', id: 3, error: { code: -32005, message: 'too many calls in flight on this connection (limit 2)', data: { code: 'LIMIT_EXCEEDED', limit: 2 } } })
  t.match(await ws.next(), { id: null, error: { code: -32005 } }, 'a batch is refused as a whole')
  t.match(await ws.next(), { id: 1, result: 200 })
  t.match(await ws.next(), { id: 2, result: 200 })
  t.same(await ws.call('test_sleep', [1], 5), { jsonrpc: '2.0', id: 5, result: 1 }, 'capacity is back once they finish')
})

t.test('a slow consumer is disconnected instead of buffering without bound', async (t) => {
  const { wsUrl, ticker, logs } = await startServer(t, { maxBufferedBytesPerConnection: 256 * 1024 })
  const ws = await WsProbe.open(wsUrl)
  await ws.call('test_subscribeTicks', [], 1)
  ws.ws.pause() // stop reading: the kernel buffers fill, then the server's
  const chunk = 'y'.repeat(64 * 1024)
  for (let i = 0; i < 400 && ticker.active > 0; i++) {
    ticker.emit(chunk)
    await sleep(0)
  }
  await eventually(() => ticker.active === 0)
  t.equal(ticker.stopped, 1, 'its subscription ended')
  t.ok(logs.some((record) => record['msg'] === 'dropping slow websocket consumer'))
  ws.ws.resume()
  t.not((await ws.closed).code, 1000)
})

t.test('one large answer is not mistaken for a slow consumer', async (t) => {
  const { wsUrl } = await startServer(t, { maxBufferedBytesPerConnection: 64 * 1024 })
  const ws = await WsProbe.open(wsUrl)
  t.teardown(() => ws.close())
  const answer = await ws.call('test_big', [1_000_000], 1)
  t.equal((answer['result'] as string).length, 1_000_000)
  t.same(await ws.call('test_echo', ['after'], 2), { jsonrpc: '2.0', id: 2, result: 'after' })
})

t.test('a socket that stops answering pings is dropped', async (t) => {
  const { wsUrl, ticker } = await startServer(t, { pingIntervalMs: 30 })
  const ws = await WsProbe.open(wsUrl)
  await ws.call('test_subscribeTicks', [], 1)
  const healthy = await WsProbe.open(wsUrl)
  t.teardown(() => healthy.close())
  ws.ws.pause() // reads nothing, so answers no ping
  await eventually(() => ticker.active === 0)
  t.equal(ticker.stopped, 1, 'its subscription ended')
  await sleep(100)
  t.same(await healthy.call('test_echo', ['alive'], 1), { jsonrpc: '2.0', id: 1, result: 'alive' }, 'a socket that answers pings stays')
  ws.ws.resume()
  t.equal((await ws.closed).code, 1006)
})

t.test('the handler signal aborts when the socket closes', async (t) => {
  const { wsUrl, seen } = await startServer(t)
  const ws = await WsProbe.open(wsUrl)
  ws.send({ jsonrpc: '2.0', id: 1, method: 'test_wait' })
  await eventually(() => seen.waiting === 1)
  await ws.close()
  await eventually(() => seen.aborted === 1)
  t.pass('aborted')
})

t.test('graceful stop', async (t) => {
  const { server, url, wsUrl, ticker, metrics, seen } = await startServer(t)
  const ws = await WsProbe.open(wsUrl)
  await ws.call('test_subscribeTicks', [], 1)
  const slow = post(url, { jsonrpc: '2.0', id: 'slow', method: 'test_sleep', params: [150] })
  await eventually(() => seen.sleeping === 1) // the call is in flight before the stop begins
  const stopping = server.stop()
  const closed = await ws.closed
  t.equal(closed.code, 1001, 'sockets are closed as "going away"')
  t.equal(closed.reason, 'server shutting down')
  t.equal(ticker.active, 0, 'subscriptions ended')
  t.same((await slow).json, { jsonrpc: '2.0', id: 'slow', result: 150 }, 'the call in flight finished')
  await stopping
  await t.rejects(fetch(url), 'no longer listening')
  t.equal((await metrics.rpcWsConnections.get()).values[0]?.value, 0)
  await server.stop()
  t.pass('stop twice is fine')
})

t.test('stop aborts calls that outlive the grace period', async (t) => {
  const { server, url, seen } = await startServer(t, { stopTimeoutMs: 100 })
  const waiting = post(url, { jsonrpc: '2.0', id: 1, method: 'test_wait' }).catch(() => undefined)
  await eventually(() => seen.waiting === 1)
  await server.stop()
  t.equal(seen.aborted, 1)
  await waiting
})
