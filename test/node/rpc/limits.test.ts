// Issue 21's limits on the RPC port, against a real RpcServer on loopback: connections (all and per
// address), header and request read timeouts, answers per call and per batch, the in-flight byte
// budget, and the Host allowlist. Each refusal carries a stable code and is counted.
import { request } from 'node:http'
import { connect, type Socket } from 'node:net'
import t from 'tap'
import { eventually, post, startServer, type Fixture } from './fixtures.ts'

/** A raw TCP connection that keeps what the server sends and tells when it closed. */
function rawConnection(port: number): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let text = ''
    socket.on('data', (chunk) => (text += chunk.toString()))
    socket.on('error', () => {})
    const closed = new Promise<void>((done) => socket.once('close', () => done()))
    socket.once('connect', () => resolve({ socket, received: () => text, closed }))
    socket.once('error', reject)
  })
}

async function refusals(fixture: Fixture, reason: string): Promise<number> {
  const metric = await fixture.metrics.rpcRefusals.get()
  return metric.values.find((v) => v.labels['reason'] === reason)?.value ?? 0
}

function withHost(url: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { host, 'content-type': 'application/json' } }, (res) => {
      let body = ''
      res.on('data', (chunk: Buffer) => (body += chunk.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'test_echo', params: ['hi'] }))
  })
}

t.test('connections are capped per address and in all, and idle half-requests are closed', async (t) => {
  const fixture = await startServer(t, { maxHttpConnections: 6, maxConnectionsPerAddress: 4, headersTimeoutMs: 1_000, requestTimeoutMs: 1_500 })
  const port = fixture.server.address.port
  // four connections that send half a request's headers and then nothing
  const held = await Promise.all(Array.from({ length: 4 }, () => rawConnection(port)))
  for (const { socket } of held) socket.write('POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n')
  const fifth = await rawConnection(port)
  await fifth.closed
  t.match(fifth.received(), /^HTTP\/1.1 503/, 'the fifth connection from one address is refused')
  t.match(fifth.received(), /TOO_MANY_CONNECTIONS_FROM_ADDRESS/)
  t.equal(await refusals(fixture, 'TOO_MANY_CONNECTIONS_FROM_ADDRESS'), 1)
  // a header timeout closes them, answered 408, without anything from the client
  await Promise.all(held.map((h) => h.closed))
  for (const { received } of held) t.match(received(), /^HTTP\/1.1 408[\s\S]*REQUEST_TIMEOUT/, 'closed by the header timeout with 408')
  t.equal(await refusals(fixture, 'REQUEST_TIMEOUT'), 4)

  // a body that trickles in is cut at the request timeout, however steadily it trickles
  const trickle = await rawConnection(port)
  trickle.socket.write('POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n')
  const timer = setInterval(() => trickle.socket.write(' '), 100)
  t.teardown(() => clearInterval(timer))
  const started = Date.now()
  await trickle.closed
  clearInterval(timer)
  t.ok(Date.now() - started < 5_000, 'a trickled body does not hold the connection past the request timeout')
  t.match(trickle.received(), /^HTTP\/1.1 408/)

  // the server serves again once they are gone
  const answer = await post(fixture.url, { jsonrpc: '2.0', id: 1, method: 'test_echo', params: ['still here'] })
  t.match(answer.json, { result: 'still here' })
})

t.test('the global connection cap', async (t) => {
  const fixture = await startServer(t, { maxHttpConnections: 3, maxConnectionsPerAddress: 100 })
  const port = fixture.server.address.port
  const held = await Promise.all(Array.from({ length: 3 }, () => rawConnection(port)))
  t.teardown(() => held.forEach((h) => h.socket.destroy()))
  const extra = await rawConnection(port)
  await extra.closed
  t.match(extra.received(), /^HTTP\/1.1 503[\s\S]*"TOO_MANY_CONNECTIONS"/)
  t.equal(await refusals(fixture, 'TOO_MANY_CONNECTIONS'), 1)
  for (const h of held) h.socket.destroy()
  await eventually(async () => (await post(fixture.url, { jsonrpc: '2.0', id: 1, method: 'test_echo', params: ['ok'] }).catch(() => undefined))?.status === 200)
})

t.test('answers are bounded per call and per batch', async (t) => {
  const fixture = await startServer(t, { maxResponseBytes: 10_000, maxBatchResponseBytes: 25_000 })
  const one = await post(fixture.url, { jsonrpc: '2.0', id: 1, method: 'test_big', params: [20_000] })
  t.match(one.json, { id: 1, error: { code: -32008, data: { code: 'RESPONSE_TOO_LARGE', limit: 10_000 } } })
  t.match((await post(fixture.url, { jsonrpc: '2.0', id: 2, method: 'test_big', params: [5_000] })).json, { id: 2, result: String })
  const batch = await post(fixture.url, Array.from({ length: 5 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'test_big', params: [8_000] })))
  const answers = batch.json as Array<{ id: number; result?: string; error?: { data: { code: string } } }>
  t.equal(answers.length, 5)
  t.equal(answers.filter((a) => a.result !== undefined).length, 3, 'answers fit until the batch limit')
  t.same(answers.filter((a) => a.error !== undefined).map((a) => a.error?.data.code), ['RESPONSE_TOO_LARGE', 'RESPONSE_TOO_LARGE'])
  t.ok(batch.text.length < 25_000 + 1_000, 'the batch answer stays within its limit')
  await eventually(() => fixture.server.budget.used === 0)
})

t.test('the in-flight byte budget refuses what would pass it, and is returned', async (t) => {
  const fixture = await startServer(t, { maxInFlightBytes: 50_000 })
  // a body alone over the budget
  const padded = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'test_echo', params: ['x'] }) + ' '.repeat(60_000)
  const busy = await post(fixture.url, padded)
  t.equal(busy.status, 503)
  t.match(busy.json, { error: { code: -32009, data: { code: 'SERVER_BUSY' } } })
  t.equal(await refusals(fixture, 'SERVER_BUSY'), 1)
  // answers held at once: 3 × 20 kB of slow answers pass the 50 kB budget
  const slow = await Promise.all(Array.from({ length: 3 }, (_, i) => post(fixture.url, [{ jsonrpc: '2.0', id: i, method: 'test_sleep', params: [200] }, { jsonrpc: '2.0', id: 100 + i, method: 'test_big', params: [20_000] }])))
  const codes = slow.flatMap((answer) => (answer.json as Array<{ result?: unknown; error?: { data: { code: string } } }>).map((a) => a.error?.data.code ?? 'OK'))
  t.ok(codes.includes('SERVER_BUSY'), `some answer was refused for the budget (${codes.join(' ')})`)
  await eventually(() => fixture.server.budget.used === 0)
  t.match((await post(fixture.url, { jsonrpc: '2.0', id: 9, method: 'test_big', params: [20_000] })).json, { result: String }, 'the budget is returned once answers are sent')
})

t.test('only allowed Host names are served (DNS rebinding)', async (t) => {
  const fixture = await startServer(t)
  const port = fixture.server.address.port
  const evil = await withHost(fixture.url, `attacker.example:${port}`)
  t.equal(evil.status, 403)
  t.match(JSON.parse(evil.body), { error: { data: { code: 'HOST_NOT_ALLOWED' } } })
  t.equal(await refusals(fixture, 'HOST_NOT_ALLOWED'), 1)
  for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, '[::1]', 'LOCALHOST']) t.equal((await withHost(fixture.url, host)).status, 200, host)
  const open = await startServer(t, { allowedHosts: ['node.example'] })
  t.equal((await withHost(open.url, 'node.example:80')).status, 200, 'a configured name')
  t.equal((await withHost(open.url, 'localhost')).status, 403, 'the list replaces the defaults')
  t.equal((await withHost(open.url, '127.0.0.1')).status, 200, 'the listening host is always served')
})
