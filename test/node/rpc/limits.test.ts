// Issue 21's limits on the RPC port, against a real RpcServer on loopback: connections (all and per
// address), header and request read timeouts, answers per call and per batch, the in-flight byte
// budget, the Host allowlist, calls per second per address, and WebSocket messages received a
// trickle at a time. Each refusal carries a stable code and is counted.
import { createHash, randomBytes } from 'node:crypto'
import { request } from 'node:http'
import { connect, type Socket } from 'node:net'
import t from 'tap'
import { WebSocket } from 'ws'
import { RateLimiter, ReadPacer, type PacedStream } from '../../../node/rpc/connections.ts'
import { eventually, post, startServer, WsProbe, type Fixture } from './fixtures.ts'

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

t.test('the read pacer: past a turn\'s allowance streams wait for a later turn, oldest first', async (t) => {
  const pacer = new ReadPacer(128 * 1024)
  const stream = (): PacedStream & { resumed: number } => {
    let paused = false
    return { resumed: 0, destroyed: false, pause: () => (paused = true), resume() { paused = false; this.resumed++ }, isPaused: () => paused }
  }
  const [a, b, c, d, e] = [stream(), stream(), stream(), stream(), stream()]
  pacer.onRead(a, 64 * 1024)
  pacer.onRead(b, 64 * 1024)
  t.notOk(a.isPaused() || b.isPaused(), 'within the allowance nothing waits')
  for (const late of [c, d, e]) pacer.onRead(late, 64 * 1024)
  t.ok(c.isPaused() && d.isPaused() && e.isPaused(), 'past it each stream that reads is paused')
  const first = stream()
  pacer.onRead(first, 64 * 1024, false)
  t.notOk(first.isPaused(), 'but not for a message\'s first chunk')
  t.equal(pacer.waiting, 3)
  ;(d as { destroyed: boolean }).destroyed = true
  pacer.forget(e)
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(c.resumed, 1, 'resumed a turn later')
  t.equal(d.resumed, 0, 'a destroyed stream is not resumed')
  t.equal(e.resumed, 0, 'nor a forgotten one')
  t.equal(pacer.waiting, 0)
  // a turn resumes only as many as its allowance covers (two 64 KiB reads here), oldest first
  const many = Array.from({ length: 5 }, stream)
  pacer.onRead(a, 128 * 1024)
  for (const s of many) pacer.onRead(s, 1)
  await new Promise((resolve) => setImmediate(resolve))
  t.same(many.map((s) => s.resumed), [1, 1, 0, 0, 0])
  await new Promise((resolve) => setImmediate(resolve))
  t.same(many.map((s) => s.resumed), [1, 1, 1, 1, 0])
})

t.test('bodies uploaded at once are read a bounded amount per event-loop turn, and arrive whole', async (t) => {
  const perTurn = 128 * 1024
  const fixture = await startServer(t, { readBytesPerTurn: perTurn })
  // the most bytes any one turn read (the turn ends at the next check phase)
  let turnBytes = 0
  let mostInATurn = 0
  let mostWaiting = 0
  const onRead = fixture.server.pacer.onRead.bind(fixture.server.pacer)
  fixture.server.pacer.onRead = (stream, bytes) => {
    turnBytes += bytes
    mostInATurn = Math.max(mostInATurn, turnBytes)
    onRead(stream, bytes)
    mostWaiting = Math.max(mostWaiting, fixture.server.pacer.waiting)
  }
  let counting = true
  const turns = (): void => {
    turnBytes = 0
    if (counting) setImmediate(turns)
  }
  turns()
  const texts = Array.from({ length: 12 }, () => randomBytes(500_000).toString('hex'))
  const answers = await Promise.all(texts.map((text, i) => post(fixture.url, { jsonrpc: '2.0', id: i, method: 'test_digest', params: [text] })))
  counting = false
  for (const [i, answer] of answers.entries()) t.equal((answer.json as { result?: string }).result, `${1_000_000}:${createHash('sha256').update(texts[i] as string).digest('hex')}`, `body ${i} arrived whole`)
  t.ok(mostWaiting > 0, `streams waited for a later turn (at most ${mostWaiting} at once)`)
  // a body's first chunk is never held back, and a stream is paused after the chunk that passed the
  // allowance: two 64 KiB reads per stream beyond it at worst
  t.ok(mostInATurn <= perTurn + 2 * 12 * 64 * 1024, `at most ${mostInATurn} bytes read in one turn`)
  await eventually(() => fixture.server.pacer.waiting === 0 && fixture.server.budget.used === 0)
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

t.test('the rate limiter: a bucket per address, refilled in time, loopback spared by default', (t) => {
  const clock = { now: 0 }
  const limiter = new RateLimiter({ rateLimitPerSecond: 10, rateLimitBurst: 20, rateLimitExempt: ['loopback', '10.0.0.9'] }, () => clock.now)
  t.equal(limiter.take('192.0.2.1', 20), 0, 'a burst up to the bucket passes')
  t.equal(limiter.take('192.0.2.1', 1), 100, 'the next call waits 100 ms (10/s)')
  t.equal(limiter.take('192.0.2.2', 5), 0, 'another address has its own bucket')
  clock.now += 500
  t.equal(limiter.take('192.0.2.1', 5), 0, 'half a second refills five')
  t.equal(limiter.take('192.0.2.1', 40), 2_000, 'more than the bucket: the wait for a full one')
  for (const address of ['127.0.0.1', '::1', '::ffff:127.0.0.5', '10.0.0.9']) t.equal(limiter.take(address, 1_000), 0, `${address} is exempt`)
  const off = new RateLimiter({ rateLimitPerSecond: 0, rateLimitBurst: 0, rateLimitExempt: [] })
  t.equal(off.take('192.0.2.1', 1_000), 0, '0 turns it off')
  t.end()
})

t.test('calls past an address’s rate are refused with RATE_LIMITED, HTTP and WebSocket together', async (t) => {
  // loopback is exempt by default: this test's client is the stranger. One token a second: a
  // loaded machine's pauses between these calls refill none (at 5/s a 200 ms pause did)
  const fixture = await startServer(t, { rateLimitPerSecond: 1, rateLimitBurst: 6, rateLimitExempt: [] })
  const echo = (id: number) => ({ jsonrpc: '2.0', id, method: 'test_echo', params: ['hi'] })
  t.equal((await post(fixture.url, [echo(1), echo(2), echo(3), echo(4), echo(5)])).status, 200, 'a batch of five within the burst')
  const ws = await WsProbe.open(fixture.wsUrl)
  t.teardown(() => ws.close())
  t.match(await ws.call('test_echo', ['ws'], 6), { result: 'ws' }, 'the sixth, over a WebSocket')
  const limited = await post(fixture.url, echo(7))
  t.equal(limited.status, 429)
  t.ok(Number(limited.headers.get('retry-after')) >= 1, 'Retry-After in seconds')
  t.match(limited.json, { error: { code: -32012, data: { code: 'RATE_LIMITED', retryAfterMs: Number } } })
  t.match(await ws.call('test_echo', ['ws'], 8), { error: { code: -32012, data: { code: 'RATE_LIMITED' } } }, 'the WebSocket shares the address’s bucket')
  t.equal(await refusals(fixture, 'RATE_LIMITED'), 2)
  const wait = (limited.json as { error: { data: { retryAfterMs: number } } }).error.data.retryAfterMs
  await new Promise((resolve) => setTimeout(resolve, wait + 50))
  t.match((await post(fixture.url, echo(9))).json, { result: 'hi' }, 'served again after the wait it named')
})

/** A client's WebSocket frame header (masked, as clients must send): text, FIN unless `more`. */
function frameHeader(length: number, options: { opcode?: number; more?: boolean } = {}): Buffer {
  const first = ((options.more === true ? 0 : 0x80) | (options.opcode ?? 1))
  const head = length < 126 ? Buffer.from([first, 0x80 | length]) : Buffer.alloc(10)
  if (length >= 126) {
    head[0] = first
    head[1] = 0x80 | 127
    head.writeBigUInt64BE(BigInt(length), 2)
  }
  return Buffer.concat([head, Buffer.alloc(4)]) // a zero mask: the payload goes as is
}

async function rawWebSocket(url: string): Promise<{ socket: Socket; closed: Promise<number> }> {
  const ws = new WebSocket(url)
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  ws.on('error', () => {})
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))
  return { socket: (ws as unknown as { _socket: Socket })._socket, closed }
}

t.test('a WebSocket message received a trickle at a time is held in the budget and cut at the request timeout', async (t) => {
  const fixture = await startServer(t, { maxRequestBytes: 256 * 1024, maxInFlightBytes: 300 * 1024, headersTimeoutMs: 1_000, requestTimeoutMs: 1_500 })
  const budget = fixture.server.budget
  // half of a 600 kB frame, then a byte every 200 ms: ws would hold it whole, up to its maxPayload
  const trickler = await rawWebSocket(fixture.wsUrl)
  trickler.socket.write(Buffer.concat([frameHeader(600_000), Buffer.alloc(200_000, 0x20)]))
  await eventually(() => budget.used >= 200_000)
  t.pass('the partial frame is counted in the in-flight budget')
  // a second socket's partial frame that the budget cannot take: closed 1013, try again later
  const second = await rawWebSocket(fixture.wsUrl)
  second.socket.write(Buffer.concat([frameHeader(600_000), Buffer.alloc(150_000, 0x20)]))
  t.equal(await second.closed, 1013)
  t.equal(await refusals(fixture, 'SERVER_BUSY'), 1)
  const started = Date.now()
  const timer = setInterval(() => trickler.socket.write(' '), 200)
  t.teardown(() => clearInterval(timer))
  t.equal(await trickler.closed, 1008, 'closed for not completing its message in time')
  clearInterval(timer)
  t.ok(Date.now() - started < 4_000, 'within the request timeout (and the check interval)')
  t.equal(await refusals(fixture, 'REQUEST_TIMEOUT'), 1)
  await eventually(() => budget.used === 0)
  t.pass('everything they held is returned')

  // control frames between a message's fragments do not release what the fragments hold
  const fragmented = await rawWebSocket(fixture.wsUrl)
  fragmented.socket.write(Buffer.concat([frameHeader(100_000, { more: true }), Buffer.alloc(100_000, 0x20)]))
  await eventually(() => budget.used >= 100_000)
  const pong = randomBytes(4)
  fragmented.socket.write(Buffer.concat([frameHeader(pong.length, { opcode: 0xa }), pong]))
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.ok(budget.used >= 100_000, 'a pong amid a fragmented message releases nothing')
  t.equal(await fragmented.closed, 1008)
  await eventually(() => budget.used === 0)

  // a whole message is answered and its bytes returned; an idle socket that answers pings stays
  const probe = await WsProbe.open(fixture.wsUrl)
  t.teardown(() => probe.close())
  t.match(await probe.call('test_echo', ['x'.repeat(90)], 1), { result: 'x'.repeat(90) })
  await eventually(() => budget.used === 0)
})
