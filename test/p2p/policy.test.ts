// The pieces both networks share, on a fake clock: scores and bans, token buckets, option checks,
// wire names, response frames and the node key format.
import t from 'tap'
import { P2pError } from '../../p2p/errors.ts'
import { ReqRespProtocol, Topic } from '../../p2p/interface.ts'
import { bootnodeAddress, generateNodeKey, nodeKeyFromHex, nodeKeyToHex, peerIdFromNodeKey } from '../../p2p/nodeKey.ts'
import { DEFAULT_SCORING, DEFAULT_TOPIC_MAX_BYTES, namespaced, PENALTY_POINTS, resolvePolicy } from '../../p2p/options.ts'
import { PeerScoreBook } from '../../p2p/peerScore.ts'
import { RateLimiter } from '../../p2p/rateLimiter.ts'
import { decodeResponse, encodeResponse, ResponseStatus } from '../../p2p/reqResp.ts'

function clock(): { now: () => number; advance(ms: number): void } {
  let time = 1_000_000
  return { now: () => time, advance: (ms) => void (time += ms) }
}

t.test('scores: penalties add up, decay with the half-life, ban at the threshold until it ends', (t) => {
  const time = clock()
  const scores = new PeerScoreBook({ banThreshold: -100, banDurationMs: 60_000, halfLifeMs: 10_000 }, time.now)
  t.equal(scores.score('p'), 0)
  t.equal(scores.penalize('p', 'invalidMessage'), false)
  t.equal(scores.score('p'), -PENALTY_POINTS.invalidMessage)
  time.advance(10_000)
  t.equal(scores.score('p'), -PENALTY_POINTS.invalidMessage / 2, 'halved after one half-life')
  scores.penalize('p', 'invalidBlock')
  t.equal(scores.score('p'), -55)
  t.equal(scores.penalize('p', 'invalidBlock'), true, 'crossing the threshold bans')
  t.ok(scores.isBanned('p'))
  t.equal(scores.penalize('p', 'invalidBlock'), false, 'a banned peer is not banned again')
  t.notOk(scores.isBanned('q'))
  time.advance(59_999)
  t.ok(scores.isBanned('p'))
  time.advance(1)
  t.notOk(scores.isBanned('p'), 'the ban ends')
  t.equal(scores.score('p'), 0, 'with a clean score')

  scores.penalize('q', 'rateLimited')
  time.advance(200_000)
  scores.prune()
  t.equal(scores.score('q'), 0, 'negligible scores are forgotten')
  t.end()
})

t.test('token buckets: burst, refill, per key', (t) => {
  const time = clock()
  const limiter = new RateLimiter({ perSecond: 2, burst: 3 }, time.now)
  t.same([1, 2, 3, 4].map(() => limiter.tryTake('a')), [true, true, true, false])
  t.ok(limiter.tryTake('b'), 'another key has its own bucket')
  time.advance(499)
  t.notOk(limiter.tryTake('a'))
  time.advance(1)
  t.ok(limiter.tryTake('a'), 'one token after half a second at 2/s')
  time.advance(10_000)
  t.same([1, 2, 3, 4].map(() => limiter.tryTake('a')), [true, true, true, false], 'refills up to the burst only')
  t.end()
})

t.test('options: defaults, overrides, and every bad value named', (t) => {
  const policy = resolvePolicy()
  t.same(policy.topicMaxBytes, DEFAULT_TOPIC_MAX_BYTES)
  t.equal(policy.topicMaxBytes[Topic.transactions], 512 * 1024)
  t.equal(policy.topicMaxBytes[Topic.votes], 1024)
  t.equal(policy.topicMaxBytes[Topic.blocks], 16 * 1024 * 1024)
  t.same(policy.scoring, DEFAULT_SCORING)
  t.equal(policy.chainTag, undefined)
  const custom = resolvePolicy({
    genesisHash: Uint8Array.from({ length: 32 }, (_, i) => i),
    topicMaxBytes: { [Topic.votes]: 2048 },
    protocolLimits: { [ReqRespProtocol.blob]: { timeoutMs: 1000 } },
  })
  t.equal(custom.chainTag, '0001020304050607')
  t.equal(custom.topicMaxBytes[Topic.votes], 2048)
  t.equal(custom.protocolLimits[ReqRespProtocol.blob].timeoutMs, 1000)
  t.equal(custom.protocolLimits[ReqRespProtocol.blob].maxResponseBytes, 16 * 1024 * 1024, 'the rest stays')

  const bad = (options: Parameters<typeof resolvePolicy>[0], message: RegExp): void => {
    t.throws(() => resolvePolicy(options), { code: 'INVALID_OPTION', message })
  }
  bad({ topicMaxBytes: { [Topic.votes]: 0 } }, /topicMaxBytes\[openledger\/votes\/1\]/)
  bad({ topicMaxBytes: { ['nope' as Topic]: 10 } }, /unknown topic nope/)
  bad({ protocolLimits: { [ReqRespProtocol.status]: { timeoutMs: -1 } } }, /timeoutMs/)
  bad({ protocolLimits: { ['/nope/1' as ReqRespProtocol]: {} } }, /unknown protocol/)
  bad({ gossipRateLimit: { burst: 0.5 } }, /gossipRateLimit.burst/)
  bad({ scoring: { banThreshold: 10 } }, /scoring.banThreshold/)
  bad({ genesisHash: new Uint8Array(4) }, /genesisHash/)
  t.end()
})

t.test('wire names carry the chain tag after the project segment', (t) => {
  t.equal(namespaced(Topic.transactions, undefined), 'openledger/txs/2')
  t.equal(namespaced(Topic.transactions, 'aabb'), 'openledger/aabb/txs/2')
  t.equal(namespaced(ReqRespProtocol.blocksByRange, 'aabb'), '/openledger/aabb/blocks-by-range/1')
  t.end()
})

t.test('response frames', (t) => {
  t.same(decodeResponse(encodeResponse(ResponseStatus.ok, Uint8Array.of(1, 2)), ReqRespProtocol.status, 'p'), Uint8Array.of(1, 2))
  t.same(decodeResponse(encodeResponse(ResponseStatus.ok, new Uint8Array(0)), ReqRespProtocol.status, 'p'), new Uint8Array(0))
  const failure = (frame: Uint8Array): P2pError => {
    try {
      decodeResponse(frame, ReqRespProtocol.status, 'p')
    } catch (error) {
      if (error instanceof P2pError) return error
    }
    throw new Error('expected a P2pError')
  }
  t.equal(failure(encodeResponse(ResponseStatus.invalidRequest, Buffer.from('bad'))).code, 'INVALID_REQUEST')
  t.match(failure(encodeResponse(ResponseStatus.invalidRequest, Buffer.from('bad\n\u0000'))).message, /: bad\?\?$/, 'control characters never reach logs')
  t.equal(failure(encodeResponse(ResponseStatus.serverError, new Uint8Array(0))).code, 'REMOTE_ERROR')
  t.equal(failure(encodeResponse(ResponseStatus.rateLimited, new Uint8Array(0))).code, 'RATE_LIMITED')
  t.equal(failure(encodeResponse(ResponseStatus.resourceUnavailable, new Uint8Array(0))).code, 'RESOURCE_UNAVAILABLE')
  t.equal(failure(Uint8Array.of(9)).code, 'INVALID_RESPONSE')
  t.equal(failure(new Uint8Array(0)).code, 'INVALID_RESPONSE')
  t.end()
})

t.test('node keys: hex round trip, peer ids, bootnode addresses, bad input', (t) => {
  const key = generateNodeKey()
  t.equal(key.length, 32)
  t.same(nodeKeyFromHex(nodeKeyToHex(key)), key)
  t.same(nodeKeyFromHex(`0x${nodeKeyToHex(key)}\n`), key, 'prefix and newline tolerated')
  // RFC 8032 test 1 secret key → its libp2p peer id (as libp2p's own generateKeyPairFromSeed gives it)
  const vector = nodeKeyFromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60')
  t.equal(peerIdFromNodeKey(vector), '12D3KooWQK1wnefoLrcVHbbnf5tLzbopUd3K3bFAoJpA7YJgL5pV')
  t.not(peerIdFromNodeKey(key), peerIdFromNodeKey(vector))
  t.equal(bootnodeAddress('/ip4/127.0.0.1/tcp/30333', vector), `/ip4/127.0.0.1/tcp/30333/p2p/${peerIdFromNodeKey(vector)}`)
  t.throws(() => nodeKeyFromHex('abcd'), { code: 'INVALID_NODE_KEY' })
  t.throws(() => nodeKeyFromHex('zz'.repeat(32)), { code: 'INVALID_NODE_KEY' })
  t.throws(() => peerIdFromNodeKey(new Uint8Array(31)), { code: 'INVALID_NODE_KEY' })
  t.throws(() => bootnodeAddress('not an address', key), { code: 'INVALID_MULTIADDR' })
  t.throws(() => bootnodeAddress(`/ip4/127.0.0.1/tcp/1/p2p/${peerIdFromNodeKey(key)}`, key), { code: 'INVALID_MULTIADDR' })
  t.end()
})
