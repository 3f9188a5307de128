import t from 'tap'
import { silentLogger } from '../../../lib/logger.ts'
import { createMetrics } from '../../../node/metrics/metrics.ts'
import { MetricsServer } from '../../../node/metrics/server.ts'
import { RpcClient, WsRpcClient } from '../../../node/rpc/client.ts'
import { eventually, post, startServer } from '../rpc/fixtures.ts'

interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** A strict reader of the Prometheus text format: every line is a comment or a valid sample. */
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = []
  const types = new Map<string, string>()
  for (const line of text.split('\n')) {
    if (line === '') continue
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line)
    if (type !== null) {
      types.set(type[1] as string, type[2] as string)
      continue
    }
    if (/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$/.test(line)) continue
    // Values are Go floats: NaN and Inf in any case (prom-client writes 'Nan').
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.]+(?:e[+-]?[0-9]+)?|nan|[+-]inf)(?: [0-9]+)?$/i.exec(line)
    if (sample === null) throw new Error(`not a valid exposition line: ${line}`)
    const labels: Record<string, string> = {}
    for (const pair of (sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g)) labels[pair[1] as string] = pair[2] as string
    samples.push({ name: sample[1] as string, labels, value: /^nan$/i.test(sample[3] as string) ? NaN : Number((sample[3] as string).replace(/inf/i, 'Infinity')) })
  }
  return { samples, types }
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value
}

t.test('createMetrics: private registries with every node metric', async (t) => {
  const a = createMetrics({ labels: { chain: 'dev' } })
  const b = createMetrics({ defaultMetrics: false })
  a.chainHeadHeight.set(12)
  a.chainFinalizedHeight.set(10)
  a.blocksImported.inc()
  a.blocksProduced.inc(2)
  a.transactionsIncluded.inc(30)
  a.blockBuildDuration.observe(0.02)
  a.blockImportDuration.observe(0.03)
  a.stateCommitDuration.observe(0.004)
  a.mempoolSize.set({ queue: 'ready' }, 5)
  a.mempoolSize.set({ queue: 'future' }, 1)
  a.mempoolRejections.inc({ reason: 'NONCE_TOO_LOW' })
  const { samples, types } = parseExposition(await a.registry.metrics())
  t.equal(value(samples, 'openledger_chain_head_height', { chain: 'dev' }), 12)
  t.equal(value(samples, 'openledger_chain_finalized_height'), 10)
  t.equal(value(samples, 'openledger_blocks_produced_total'), 2)
  t.equal(value(samples, 'openledger_transactions_included_total'), 30)
  t.equal(value(samples, 'openledger_block_import_duration_seconds_count'), 1)
  t.equal(value(samples, 'openledger_state_commit_duration_seconds_bucket', { le: '0.005' }), 1)
  t.equal(value(samples, 'openledger_mempool_transactions', { queue: 'future' }), 1)
  t.equal(value(samples, 'openledger_mempool_rejections_total', { reason: 'NONCE_TOO_LOW' }), 1)
  t.equal(types.get('openledger_rpc_request_duration_seconds'), 'histogram')
  t.equal(types.get('openledger_rpc_requests_total'), 'counter')
  t.ok(types.has('nodejs_eventloop_lag_seconds'), 'event-loop lag comes with the default metrics')
  t.ok(types.has('process_cpu_user_seconds_total'))

  const other = parseExposition(await b.registry.metrics())
  t.equal(value(other.samples, 'openledger_chain_head_height'), 0, 'registries do not share values')
  t.notOk(other.types.has('nodejs_eventloop_lag_seconds'))
})

t.test('MetricsServer serves /metrics and nothing else', async (t) => {
  const metrics = createMetrics({ defaultMetrics: false })
  metrics.chainHeadHeight.set(7)
  const server = new MetricsServer({ port: 0 }, { logger: silentLogger, registry: metrics.registry })
  await server.start()
  t.teardown(() => server.stop())
  const base = `http://${server.address.host}:${server.address.port}`
  const response = await fetch(`${base}/metrics`)
  t.equal(response.status, 200)
  t.match(response.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
  t.equal(value(parseExposition(await response.text()).samples, 'openledger_chain_head_height'), 7)
  t.equal((await fetch(`${base}/`)).status, 404)
  t.equal((await fetch(`${base}/metrics/x`)).status, 404)
  t.equal((await fetch(`${base}/metrics`, { method: 'POST' })).status, 405)
  await server.stop()
  await t.rejects(fetch(`${base}/metrics`), 'stopped')
})

t.test('RPC metrics move with calls, and method labels stay bounded', async (t) => {
  const { url, wsUrl, metrics } = await startServer(t)
  const client = new RpcClient(url)
  await client.call('test_echo', ['a'])
  await client.call('test_echo', ['b'])
  await client.call('test_fail').catch(() => {})
  for (let i = 0; i < 5; i++) await client.call(`made_up_${i}`).catch(() => {})
  await post(url, 'not json')

  const ws = await WsRpcClient.connect(wsUrl)
  await ws.subscribe('test_subscribeTicks', [], () => {})
  await ws.call('test_echo', ['c'])

  const { samples } = parseExposition(await metrics.registry.metrics())
  t.equal(value(samples, 'openledger_rpc_requests_total', { method: 'test_echo', transport: 'http', code: 'OK' }), 2)
  t.equal(value(samples, 'openledger_rpc_requests_total', { method: 'test_echo', transport: 'ws', code: 'OK' }), 1)
  t.equal(value(samples, 'openledger_rpc_requests_total', { method: 'test_fail', code: 'NONCE_TOO_LOW' }), 1)
  t.equal(value(samples, 'openledger_rpc_requests_total', { method: 'unknown', code: 'METHOD_NOT_FOUND' }), 5, 'unknown names share one label')
  t.equal(value(samples, 'openledger_rpc_requests_total', { method: 'unknown', code: 'PARSE_ERROR' }), 1)
  t.notOk(samples.some((s) => s.labels['method']?.startsWith('made_up')), 'no label per made-up name')
  t.equal(value(samples, 'openledger_rpc_request_duration_seconds_count', { method: 'test_echo', transport: 'http' }), 2)
  t.equal(value(samples, 'openledger_rpc_ws_connections'), 1)
  t.equal(value(samples, 'openledger_rpc_subscriptions', { method: 'test_subscribeTicks' }), 1)

  await ws.close()
  await eventually(async () => value(parseExposition(await metrics.registry.metrics()).samples, 'openledger_rpc_ws_connections') === 0)
  const after = parseExposition(await metrics.registry.metrics()).samples
  t.equal(value(after, 'openledger_rpc_subscriptions', { method: 'test_subscribeTicks' }), 0, 'closing the socket ended its subscription')
})
