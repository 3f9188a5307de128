// End-to-end finalized transfer throughput on the dev chain: a real node process, transfers
// pre-signed by many senders, submitted over JSON-RPC (HTTP batches), counted as they appear in
// finalized blocks. RPC → signature recovery → mempool → block → state commit → finalized.
import { spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { Agent, request } from 'node:http'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chainSpecToJson } from '../genesis/spec.ts'
import { toHex } from '../runtime/crypto/hash.ts'
import { RpcClient, WsRpcClient } from '../node/rpc/client.ts'
import { benchAccounts, FinalizedCount, gasPerTransfer, signTransfers, specWithSenders, withTimeout } from './fixtures.ts'
import { diffCpu, threadCpuSeconds } from './cpu.ts'

const BIN = fileURLToPath(new URL('../bin/openledger.js', import.meta.url))
/**
 * Transfers per sender finalized before the clock starts (one round with --quick). V8 keeps
 * optimizing the node's hot functions for the first ~10,000 transfers: after 5,000 its compiler
 * threads still spent ~15 µs per transfer inside the measured window (perf: two thirds of the
 * helper threads' samples in TurboFan), after 20,000 they are done.
 */
const WARM_UP_ROUNDS = 20
const BATCH = 100
const CONCURRENCY = 4

export interface DevChainResult {
  finalizedPerSecond: number
  /** CPU seconds per finalized transfer, node (every thread) and this client; undefined off Linux */
  cpuPerTransfer: { node: number; client: number } | undefined
}

export async function benchDevChain(options: { log: (line: string) => void; quick?: boolean; nodeArgs?: string[] }): Promise<DevChainResult> {
  const { log } = options
  const senders = benchAccounts(options.quick === true ? 250 : 1000)
  const perSender = options.quick === true ? 8 : 20
  const spec = specWithSenders(senders)
  const home = await mkdtemp(join(tmpdir(), 'openledger-bench-'))
  await writeFile(join(home, 'spec.json'), chainSpecToJson(spec))
  const args = options.nodeArgs ?? ['--block-time', '500']
  // BENCH_NODE_FLAGS passes Node flags to the dev node only, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
  const nodeFlags = (process.env['BENCH_NODE_FLAGS'] ?? '').split(' ').filter((flag) => flag !== '')
  const child = spawn(process.execPath, [...nodeFlags, BIN, 'dev', '--home', home, '--spec', join(home, 'spec.json'), '--rpc-port', '0', '--no-metrics', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  // the node's stdout (e.g. --trace-gc from BENCH_NODE_FLAGS) goes to BENCH_NODE_STDOUT when set
  const stdoutFile = process.env['BENCH_NODE_STDOUT']
  if (stdoutFile !== undefined) child.stdout.pipe(createWriteStream(stdoutFile))
  else child.stdout.resume()
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`dev node did not start:\n${output}`)), 60_000)
      const poll = setInterval(() => {
        const match = /JSON-RPC listening url=(http:\/\/[\d.:]+)/.exec(output)
        if (match?.[1] !== undefined) {
          clearTimeout(timer)
          clearInterval(poll)
          resolve(match[1])
        }
      }, 20)
    })
    const rpc = new RpcClient(url)
    const fees = await rpc.call('openledger_estimateFee')
    // The first rounds warm the node up (JIT compilation, caches, the pool's and the database's
    // steady state) and are finalized before the clock starts: the figure is the sustained rate
    // of a running node, not the first seconds of a cold one.
    const warmUpRounds = options.quick === true ? 1 : WARM_UP_ROUNDS
    const signed = signTransfers(spec.chainId, senders, warmUpRounds + perSender, BigInt(fees.suggestedMaxFeePerGas) * 4n)
    const warmUp = signed.slice(0, warmUpRounds * senders.length).map((tx) => toHex(tx.bytes))
    const txs = signed.slice(warmUp.length)
    const hexes = txs.map((tx) => toHex(tx.bytes))

    const ws = await WsRpcClient.connect(url.replace('http', 'ws'))
    const count = new FinalizedCount(gasPerTransfer(signed, spec.chainId))
    void ws.subscribe<{ hash: string; gasUsed: number }>('chain_subscribeFinalizedHeads', [], (head) => count.addHead(head))
    // A load generator's client: transfers signed and request bodies (JSON-RPC batches of the
    // server's largest size) encoded before the clock starts, sent over a few keep-alive
    // connections. The client shares the machine's cores with the node, so it must cost little.
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY })
    let rejected = 0
    let firstRejection = ''
    const batches = (all: readonly string[]): string[] => {
      const bodies: string[] = []
      for (let i = 0; i < all.length; i += BATCH) {
        bodies.push(JSON.stringify(all.slice(i, i + BATCH).map((hex, j) => ({ jsonrpc: '2.0', id: i + j, method: 'author_submitExtrinsic', params: [hex] }))))
      }
      return bodies
    }
    const submitAll = async (bodies: readonly string[]) => {
      let next = 0
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < bodies.length) {
            const body = bodies[next++] as string
            const results = JSON.parse(await postJson(agent, url, body)) as Array<{ error?: unknown }>
            for (const result of results) {
              if (result.error === undefined) continue
              rejected++
              firstRejection ||= JSON.stringify(result.error)
            }
          }
        }),
      )
    }
    const measured = batches(hexes)
    await submitAll(batches(warmUp))
    await withTimeout(count.atLeast(warmUp.length), 120_000, 'the warm-up transfers were not finalized within 120 s')
    const warmUpBlocks = count.blocks
    const done = count.atLeast(warmUp.length + txs.length)
    const nodeCpuBefore = await threadCpuSeconds(child.pid)
    const clientCpuBefore = process.cpuUsage()
    const started = performance.now()
    await submitAll(measured)
    agent.destroy()
    const submittedMs = performance.now() - started
    if (rejected > 0) throw new Error(`${rejected} submissions were rejected, the first with ${firstRejection}`)
    await withTimeout(done, 120_000, 'transfers not finalized within 120 s')
    const ms = count.lastAt - started
    const blocks = count.blocks - warmUpBlocks
    const nodeCpu = diffCpu(await threadCpuSeconds(child.pid), nodeCpuBefore)
    const clientCpu = process.cpuUsage(clientCpuBefore)
    await ws.close()
    await count.verify((hash) => rpc.call('chain_getBlock', [hash]))
    const perSecond = (txs.length / ms) * 1000
    if (process.env['BENCH_VERBOSE'] === '1') log(output.split('\n').filter((l) => l.includes('sealed')).join('\n'))
    log(`dev chain end to end (${args.join(' ')}): ${txs.length} transfers from ${senders.length} senders`)
    log(`  submitted over RPC           ${Math.round((txs.length / submittedMs) * 1000).toLocaleString('en-US').padStart(9)}/s`)
    log(`  finalized                    ${Math.round(perSecond).toLocaleString('en-US').padStart(9)}/s   (${blocks} blocks)`)
    if (nodeCpu !== undefined) {
      // CPU time, unlike throughput, hardly depends on what else runs on the machine: the per
      // transaction cost of each part of the node (and of this client), for where-the-time-goes
      const perTx = (seconds: number) => `${((seconds * 1e6) / txs.length).toFixed(0).padStart(4)} µs`
      const total = [...nodeCpu.values()].reduce((a, b) => a + b, 0)
      const parts = [...nodeCpu].sort((a, b) => b[1] - a[1]).map(([name, seconds]) => `${name} ${perTx(seconds).trim()}`)
      log(`  CPU per transfer: node ${perTx(total)} (${parts.join(', ')}); this client ${perTx((clientCpu.user + clientCpu.system) / 1e6)}`)
    }
    const nodeTotal = nodeCpu === undefined ? undefined : [...nodeCpu.values()].reduce((a, b) => a + b, 0)
    const cpuPerTransfer = nodeTotal === undefined ? undefined : { node: nodeTotal / txs.length, client: (clientCpu.user + clientCpu.system) / 1e6 / txs.length }
    return { finalizedPerSecond: perSecond, cpuPerTransfer }
  } finally {
    child.kill('SIGTERM')
    await new Promise((resolve) => child.once('exit', resolve))
    await rm(home, { recursive: true, force: true })
  }
}

/** POSTs a JSON body on a keep-alive connection; resolves to the response text. */
function postJson(agent: Agent, url: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks).toString('utf8')) : reject(new Error(`HTTP ${res.statusCode}`))))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

if (import.meta.main) await benchDevChain({ log: (line) => console.log(line), quick: process.argv.includes('--quick') })
