// The behaviour every `NetworkPort` implementation shows: run by p2pNetwork.test.ts (real libp2p
// nodes on 127.0.0.1) and memoryNetwork.test.ts (one in-memory hub).
import type { Test } from 'tap'
import { P2pError } from '../../p2p/errors.ts'
import { ReqRespProtocol, Topic, type GossipVerdict, type PeerInfo } from '../../p2p/interface.ts'
import { PENALTY_POINTS } from '../../p2p/options.ts'
import { bytes, createConnected, eventually, isConnected, peerScore, recordingMetrics, text, waitForSubscribers, type NetworkHarness } from './helpers.ts'

interface Received {
  text: string
  from: string
}

function collector(verdict: (message: string) => GossipVerdict = () => 'accept'): { received: Received[]; handler: (message: { data: Uint8Array; from: string }) => GossipVerdict } {
  const received: Received[] = []
  return {
    received,
    handler: ({ data, from }) => {
      const message = text(data)
      received.push({ text: message, from })
      return verdict(message)
    },
  }
}

export function networkBehaviour(t: Test, harness: NetworkHarness): void {
  t.test('gossip reaches every subscribed node, once, never its author', async (t) => {
    const [a, b, c] = await createConnected(t, harness, 3)
    if (a === undefined || b === undefined || c === undefined) throw new Error('three nodes')
    const inboxes = [a, b, c].map((node) => {
      const inbox = collector()
      node.subscribe(Topic.votes, inbox.handler)
      return inbox
    })
    await waitForSubscribers(a, Topic.votes, [b, c])
    await waitForSubscribers(b, Topic.votes, [a, c])
    await a.publish(Topic.votes, bytes('vote from a'))
    await b.publish(Topic.votes, bytes('vote from b'))
    await eventually(() => inboxes[1]!.received.length >= 1 && inboxes[2]!.received.length >= 2 && inboxes[0]!.received.length >= 1, 'deliveries')
    await harness.settle?.()
    t.same(inboxes[0]!.received, [{ text: 'vote from b', from: b.peerId }], 'a hears b, not itself')
    t.same(inboxes[1]!.received, [{ text: 'vote from a', from: a.peerId }], 'b hears a, not itself')
    t.same(inboxes[2]!.received.map((m) => m.text).sort(), ['vote from a', 'vote from b'], 'c hears both')
  })

  t.test('the same bytes are one message: duplicates reach a handler once', async (t) => {
    const [a, b, c] = await createConnected(t, harness, 3)
    if (a === undefined || b === undefined || c === undefined) throw new Error('three nodes')
    const inbox = collector()
    c.subscribe(Topic.transactions, inbox.handler)
    a.subscribe(Topic.transactions, () => 'accept')
    b.subscribe(Topic.transactions, () => 'accept')
    await waitForSubscribers(a, Topic.transactions, [c])
    await waitForSubscribers(b, Topic.transactions, [c])
    await Promise.all([a.publish(Topic.transactions, bytes('tx 1')), b.publish(Topic.transactions, bytes('tx 1'))])
    await a.publish(Topic.transactions, bytes('tx 1'))
    await a.publish(Topic.transactions, bytes('marker a'))
    await b.publish(Topic.transactions, bytes('marker b'))
    await eventually(() => inbox.received.some((m) => m.text === 'marker a') && inbox.received.some((m) => m.text === 'marker b'), 'markers')
    await harness.settle?.()
    t.equal(inbox.received.filter((m) => m.text === 'tx 1').length, 1, 'tx 1 handled once')
  })

  t.test('a reject scores the sender down; repeated rejects disconnect and ban it', async (t) => {
    const [a, b] = await createConnected(t, harness, 2)
    if (a === undefined || b === undefined) throw new Error('two nodes')
    const inbox = collector((message) => (message.startsWith('bad') ? 'reject' : 'accept'))
    b.subscribe(Topic.votes, inbox.handler)
    await waitForSubscribers(a, Topic.votes, [b])
    const disconnected: string[] = []
    b.onPeerDisconnected((peer) => disconnected.push(peer))

    await a.publish(Topic.votes, bytes('good 0'))
    await a.publish(Topic.votes, bytes('bad 0'))
    await eventually(() => inbox.received.length === 2, 'first reject')
    t.equal(Math.round(peerScore(b, a.peerId) ?? 0), -PENALTY_POINTS.invalidMessage, 'one reject costs its points')

    for (let i = 1; i < 20 && isConnected(b, a.peerId); i++) {
      await a.publish(Topic.votes, bytes(`bad ${i}`))
      await eventually(() => inbox.received.length === i + 2 || !isConnected(b, a.peerId), `reject ${i}`)
    }
    await eventually(() => !isConnected(b, a.peerId) && !isConnected(a, b.peerId), 'disconnected')
    const rejects = inbox.received.filter((m) => m.text.startsWith('bad')).length
    // 10 rejects reach -100, unless the score decayed a hair in between: then it takes one more
    t.ok(rejects === 10 || rejects === 11, `banned at the threshold (${rejects} rejects)`)
    t.same(disconnected, [a.peerId], 'b heard the disconnect')
    await t.rejects(b.request(a.peerId, ReqRespProtocol.status, bytes('hi')), { code: 'PEER_BANNED' })
  })

  t.test('a handler that throws is our bug: ignored, logged, the sender keeps its score', async (t) => {
    const [a, b] = await createConnected(t, harness, 2)
    if (a === undefined || b === undefined) throw new Error('two nodes')
    const inbox = collector((message) => {
      if (message === 'boom') throw new Error('handler bug')
      return 'accept'
    })
    b.subscribe(Topic.evidence, inbox.handler)
    await waitForSubscribers(a, Topic.evidence, [b])
    await a.publish(Topic.evidence, bytes('boom'))
    await a.publish(Topic.evidence, bytes('after'))
    await eventually(() => inbox.received.length === 2, 'both handled')
    t.equal(peerScore(b, a.peerId), 0)
  })

  t.test('an oversized message never reaches the handler and costs its sender', async (t) => {
    // a allows itself bigger transactions than b accepts
    const [a, b] = await createConnected(t, harness, 2, [{ topicMaxBytes: { [Topic.transactions]: 64 * 1024 } }, { topicMaxBytes: { [Topic.transactions]: 1024 } }])
    if (a === undefined || b === undefined) throw new Error('two nodes')
    const inbox = collector()
    b.subscribe(Topic.transactions, inbox.handler)
    await waitForSubscribers(a, Topic.transactions, [b])
    await a.publish(Topic.transactions, bytes('big', 2048))
    await a.publish(Topic.transactions, bytes('small'))
    await eventually(() => inbox.received.length === 1, 'small one')
    t.same(inbox.received.map((m) => m.text), ['small'])
    t.equal(Math.round(peerScore(b, a.peerId) ?? 0), -PENALTY_POINTS.oversizedMessage)
    await t.rejects(b.publish(Topic.transactions, bytes('too big for b', 1025)), { code: 'MESSAGE_TOO_LARGE' }, 'refused before sending')
  })

  t.test('gossip beyond the rate limit is dropped and costs its sender', async (t) => {
    const [a, b] = await createConnected(t, harness, 2, [{}, { gossipRateLimit: { perSecond: 0.01, burst: 3 } }])
    if (a === undefined || b === undefined) throw new Error('two nodes')
    const inbox = collector()
    b.subscribe(Topic.transactions, inbox.handler)
    await waitForSubscribers(a, Topic.transactions, [b])
    for (let i = 0; i < 10; i++) await a.publish(Topic.transactions, bytes(`tx ${i}`))
    const dropped = (): number => Math.round(-(peerScore(b, a.peerId) ?? 0) / PENALTY_POINTS.rateLimited)
    await eventually(() => inbox.received.length + dropped() === 10, 'all ten handled or dropped')
    t.equal(inbox.received.length, 3, 'the burst went through')
    t.equal(dropped(), 7, 'the rest was dropped, each penalized')
  })

  t.test('request/response round trip', async (t) => {
    const [a, b] = await createConnected(t, harness, 2)
    if (a === undefined || b === undefined) throw new Error('two nodes')
    const seen: string[] = []
    b.handle(ReqRespProtocol.status, (request, from) => {
      seen.push(from)
      return Promise.resolve(bytes(`status for ${text(request)}`))
    })
    t.equal(text(await a.request(b.peerId, ReqRespProtocol.status, bytes('a'))), 'status for a')
    t.equal(text(await a.request(b.peerId, ReqRespProtocol.status, new Uint8Array(0))), 'status for ')
    t.same(seen, [a.peerId, a.peerId])
    await t.rejects(b.request(a.peerId, ReqRespProtocol.status, bytes('x')), { code: 'UNSUPPORTED_PROTOCOL' }, 'a serves nothing')
    await t.rejects(a.request(b.peerId, ReqRespProtocol.blob, bytes('x')), { code: 'UNSUPPORTED_PROTOCOL' }, 'b does not serve blobs')
    await t.rejects(a.request(b.peerId, ReqRespProtocol.status, new Uint8Array(1025)), { code: 'REQUEST_TOO_LARGE' }, 'refused before sending')
    t.throws(() => b.handle(ReqRespProtocol.status, () => Promise.resolve(new Uint8Array(0))), { code: 'ALREADY_HANDLED' })
  })

  t.test('request failures: timeout, abort, invalid request, server error', async (t) => {
    const [a, b] = await createConnected(t, harness, 2)
    if (a === undefined || b === undefined) throw new Error('two nodes')
    let release = (): void => {}
    const hanging = new Promise<Uint8Array>((resolve) => {
      release = () => resolve(new Uint8Array(0))
    })
    t.teardown(() => release())
    b.handle(ReqRespProtocol.blocksByRange, () => hanging)
    b.handle(ReqRespProtocol.status, (request) => {
      if (text(request) === 'malformed') return Promise.reject(new P2pError('INVALID_REQUEST', 'cannot decode'))
      if (text(request) === 'missing') return Promise.reject(new P2pError('RESOURCE_UNAVAILABLE', 'no such block'))
      return Promise.reject(new Error('bug in the handler'))
    })
    await t.rejects(a.request(b.peerId, ReqRespProtocol.blocksByRange, bytes('1..10'), { timeoutMs: 300 }), { code: 'REQUEST_TIMEOUT' })
    const controller = new AbortController()
    const aborted = a.request(b.peerId, ReqRespProtocol.blocksByRange, bytes('1..10'), { signal: controller.signal })
    setTimeout(() => controller.abort(), 50)
    await t.rejects(aborted, { code: 'ABORTED' })
    await t.rejects(a.request(b.peerId, ReqRespProtocol.status, bytes('malformed')), { code: 'INVALID_REQUEST', message: /cannot decode/ })
    t.equal(Math.round(peerScore(b, a.peerId) ?? 0), -PENALTY_POINTS.invalidRequest, 'a malformed request costs its sender')
    await t.rejects(a.request(b.peerId, ReqRespProtocol.status, bytes('missing')), { code: 'RESOURCE_UNAVAILABLE', message: /no such block/ })
    await t.rejects(a.request(b.peerId, ReqRespProtocol.status, bytes('other')), { code: 'REMOTE_ERROR', message: /internal error/ }, 'details stay on the server')
    t.equal(Math.round(peerScore(b, a.peerId) ?? 0), -PENALTY_POINTS.invalidRequest, 'our own failures cost the caller nothing')
  })

  t.test('an oversized response is refused and costs the peer that sent it', async (t) => {
    const [a, b] = await createConnected(t, harness, 2, [{ protocolLimits: { [ReqRespProtocol.blob]: { maxResponseBytes: 1024 } } }, {}])
    if (a === undefined || b === undefined) throw new Error('two nodes')
    b.handle(ReqRespProtocol.blob, (request) => Promise.resolve(new Uint8Array(Number(text(request)))))
    t.equal((await a.request(b.peerId, ReqRespProtocol.blob, bytes('1024'))).length, 1024, 'at the limit')
    await t.rejects(a.request(b.peerId, ReqRespProtocol.blob, bytes('4096')), { code: 'RESPONSE_TOO_LARGE' })
    t.equal(Math.round(peerScore(a, b.peerId) ?? 0), -PENALTY_POINTS.invalidResponse)
  })

  t.test('requests beyond the rate limit are refused and cost the caller', async (t) => {
    const [a, b] = await createConnected(t, harness, 2, [{}, { protocolLimits: { [ReqRespProtocol.status]: { requestsPerSecond: 0.01, burst: 2 } } }])
    if (a === undefined || b === undefined) throw new Error('two nodes')
    b.handle(ReqRespProtocol.status, () => Promise.resolve(bytes('ok')))
    await a.request(b.peerId, ReqRespProtocol.status, bytes('1'))
    await a.request(b.peerId, ReqRespProtocol.status, bytes('2'))
    await t.rejects(a.request(b.peerId, ReqRespProtocol.status, bytes('3')), { code: 'RATE_LIMITED' })
    t.equal(Math.round(peerScore(b, a.peerId) ?? 0), -PENALTY_POINTS.rateLimited)
  })

  t.test('peer events, peer info and penalize', async (t) => {
    const a = await harness.create(t)
    const b = await harness.create(t)
    await t.rejects(a.publish(Topic.votes, bytes('x')), { code: 'NOT_STARTED' })
    await t.rejects(a.request(b.peerId, ReqRespProtocol.status, bytes('x')), { code: 'NOT_STARTED' })
    const connected: PeerInfo[] = []
    const disconnected: string[] = []
    a.onPeerConnected((peer) => connected.push(peer))
    const off = a.onPeerDisconnected((peer) => disconnected.push(peer))
    const before = Date.now()
    await harness.connect([a, b])
    await eventually(() => connected.length === 1, 'connected event')
    t.equal(connected[0]?.id, b.peerId)
    const info = a.peers().find((peer) => peer.id === b.peerId)
    t.ok(info !== undefined && info.addresses.length > 0, 'has an address')
    t.ok(info !== undefined && info.connectedSince >= before - 1000 && info.connectedSince <= Date.now(), 'connected since')
    t.ok(info?.direction === 'inbound' || info?.direction === 'outbound')
    t.not(b.peers().find((peer) => peer.id === a.peerId)?.direction, info?.direction, 'one side dialled, the other accepted')
    a.penalize(b.peerId, 'invalidBlock')
    t.equal(Math.round(peerScore(a, b.peerId) ?? 0), -PENALTY_POINTS.invalidBlock)
    // two reach the threshold, unless the score decayed a hair in between
    for (let i = 1; i < 3 && isConnected(a, b.peerId); i++) a.penalize(b.peerId, 'invalidBlock')
    await eventually(() => !isConnected(a, b.peerId) && !isConnected(b, a.peerId), 'banned peer disconnected')
    t.same(disconnected, [b.peerId])
    off()
  })

  t.test("an operator's block disconnects a peer and refuses it until unblocked", async (t) => {
    const [a, b] = await createConnected(t, harness, 2)
    if (a === undefined || b === undefined) throw new Error('two nodes')
    a.blockPeer(b.peerId)
    t.same(a.blockedPeers(), [b.peerId])
    await eventually(() => !isConnected(a, b.peerId) && !isConnected(b, a.peerId), 'blocked peer disconnected')
    t.equal(a.unblockPeer(b.peerId), true, 'unblock reports the block it lifted')
    t.equal(a.unblockPeer(b.peerId), false, 'a second unblock lifts nothing')
    t.same(a.blockedPeers(), [])
    await harness.connect([a, b])
    await eventually(() => isConnected(a, b.peerId), 'connects again once unblocked')
  })

  t.test('stop() disconnects from every peer, on both sides', async (t) => {
    const [a, b, c] = await createConnected(t, harness, 3)
    if (a === undefined || b === undefined || c === undefined) throw new Error('three nodes')
    const heardByA: string[] = []
    const heardByB: string[] = []
    a.onPeerDisconnected((peer) => heardByA.push(peer))
    b.onPeerDisconnected((peer) => heardByB.push(peer))
    await a.stop()
    t.same(heardByA.sort(), [b.peerId, c.peerId].sort(), 'a heard both peers go')
    t.same(a.peers(), [])
    await eventually(() => heardByB.includes(a.peerId) && !isConnected(c, a.peerId), 'the others noticed')
    t.ok(isConnected(b, c.peerId), 'b and c stay connected')
    await t.rejects(a.publish(Topic.votes, bytes('x')), { code: 'NOT_STARTED' })
  })

  t.test('metrics: peers, gossip verdicts, requests by result, penalties', async (t) => {
    const recordA = recordingMetrics()
    const recordB = recordingMetrics()
    const a = await harness.create(t, {}, { metrics: recordA.metrics })
    const b = await harness.create(t, {}, { metrics: recordB.metrics })
    await harness.connect([a, b])
    await eventually(() => recordA.peers() === 1 && recordB.peers() === 1, 'peers gauge')
    const inbox = collector((message) => (message === 'bad' ? 'reject' : 'accept'))
    b.subscribe(Topic.votes, inbox.handler)
    b.handle(ReqRespProtocol.status, () => Promise.resolve(bytes('ok')))
    await waitForSubscribers(a, Topic.votes, [b])
    await a.publish(Topic.votes, bytes('good'))
    await a.publish(Topic.votes, bytes('bad'))
    await eventually(() => inbox.received.length === 2, 'both handled')
    await a.request(b.peerId, ReqRespProtocol.status, new Uint8Array(0))
    await t.rejects(a.request(b.peerId, ReqRespProtocol.blob, new Uint8Array(0)), { code: 'UNSUPPORTED_PROTOCOL' })
    const onB = recordB.events.filter((event) => !event.includes(' peers '))
    t.same(onB, ['gossip votes accept', 'penalty invalidMessage', 'gossip votes reject', 'inbound status OK'])
    const onA = recordA.events.filter((event) => !event.includes(' peers '))
    t.same(onA, ['outbound status OK', 'outbound blob UNSUPPORTED_PROTOCOL'])
  })
}
