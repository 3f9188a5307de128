// What a stranger with only the RPC port can make a dev node spend (issue 21): a real node process
// (block time 1,000 ms, no serving), measured idle, then under each attack of the issue in turn,
// with this process (the attacker) pinned to one core by `taskset`. For each: the node's peak RSS
// (sampled from /proc every 100 ms) against its idle RSS and the in-flight budget, its longest
// block gap (from the blocks' own timestamps, so the attacker's own lateness does not count)
// against the idle node's, and its RSS once the attack has ended (the memory it gives back).
//
//   npm run bench -- --only rpcAttack [--quick]
//   node bench/rpcAttack.ts --attack partialBodies,wsPartialFrames   (a subset)
//   BENCH_NODE_ENV="MALLOC_ARENA_MAX=8" …                             (environment for the node only)
//   BENCH_NODE_ARGS="--log-level debug" BENCH_NODE_LOG=/tmp/node.log … (its arguments, its log)
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { readFile, mkdtemp, rm } from 'node:fs/promises'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { WebSocket } from 'ws'
import { RpcClient } from '../node/rpc/client.ts'
import { uploadBlob } from '../node/blobs/blobClient.ts'
import { RPC_SERVER_DEFAULTS } from '../node/rpc/server.ts'

const BIN = fileURLToPath(new URL('../bin/openledger.js', import.meta.url))
const MIB = 1024 * 1024
const BLOCK_TIME_MS = 1_000

/** One attack: starts its clients, and stops them (closing everything it opened). */
interface Attack {
  name: string
  what: string
  start(url: string, rpc: RpcClient): Promise<() => Promise<void>>
}

interface Phase {
  peakRss: number
  longestGapMs: number
  blocks: number
  /** RSS 5 s after the attack stopped */
  afterRss: number
}

async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const match = /VmRSS:\s+(\d+) kB/.exec(status)
  return match === null ? 0 : Number(match[1]) * 1024
}

/** Loopback source addresses: the per-address connection cap is the stranger's to spread over. */
const SOURCES = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6', '127.0.0.7']

/** Keeps `count` raw connections open, each fed by `feed`; a closed one is opened again. */
function holdConnections(port: number, count: number, feed: (socket: Socket) => void): () => Promise<void> {
  let stopped = false
  const sockets = new Set<Socket>()
  const open = (i: number): void => {
    if (stopped) return
    const socket = connect({ port, host: '127.0.0.1', localAddress: SOURCES[i % SOURCES.length] as string })
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('data', () => {})
    socket.once('connect', () => feed(socket))
    socket.once('close', () => {
      sockets.delete(socket)
      setTimeout(() => open(i), 100)
    })
  }
  for (let i = 0; i < count; i++) open(i)
  return async () => {
    stopped = true
    for (const socket of sockets) socket.destroy()
  }
}

/** A masked client frame header (zero mask) for a text frame of `length` bytes. */
function frameHeader(length: number): Buffer {
  const head = Buffer.alloc(14)
  head[0] = 0x81
  head[1] = 0x80 | 127
  head.writeBigUInt64BE(BigInt(length), 2)
  return head
}

const ATTACKS: Attack[] = [
  {
    name: 'partialBodies',
    what: '1,200 HTTP connections each sending most of a 2 MiB body (defect 2)',
    async start(url) {
      const port = Number(new URL(url).port)
      const body = Buffer.alloc(2 * MIB - 64 * 1024, 0x20)
      return holdConnections(port, 1_200, (socket) => {
        socket.write(`POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${2 * MIB}\r\n\r\n`)
        socket.write(body)
      })
    },
  },
  {
    name: 'idleSockets',
    what: '18,000 TCP connections that send nothing (defect 2)',
    async start(url) {
      const port = Number(new URL(url).port)
      // 18,000 (the issue saw 18,070 held at once): at 20,000 this process passed a 20,000 open-file limit (EMFILE)
      return holdConnections(port, 18_000, () => {})
    },
  },
  {
    name: 'wsPartialFrames',
    what: '300 WebSockets each holding an unfinished 8 MiB frame (defect 5)',
    async start(url) {
      const wsUrl = url.replace('http', 'ws')
      let stopped = false
      const sockets = new Set<WebSocket>()
      const payload = Buffer.alloc(8 * MIB - 256 * 1024, 0x20)
      const open = (i: number): void => {
        if (stopped) return
        const ws = new WebSocket(wsUrl, { localAddress: SOURCES[i % SOURCES.length] as string })
        sockets.add(ws)
        ws.on('error', () => {})
        ws.once('open', () => {
          const raw = (ws as unknown as { _socket: Socket })._socket
          raw.write(frameHeader(8 * MIB - 1024))
          raw.write(payload)
        })
        ws.once('close', () => {
          sockets.delete(ws)
          setTimeout(() => open(i), 100)
        })
      }
      for (let i = 0; i < 300; i++) open(i)
      return async () => {
        stopped = true
        for (const ws of sockets) ws.terminate()
      }
    },
  },
  {
    name: 'blobChunkBatches',
    what: '30 clients at once, each a batch of 100 getBlobChunk calls (35 MB answers, defect 5)',
    async start(url, rpc) {
      const { cid } = await uploadBlob(rpc, randomBytes(4 * MIB))
      const body = JSON.stringify(Array.from({ length: 100 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'openledger_getBlobChunk', params: [cid, i % 16] })))
      let stopped = false
      const loops = Array.from({ length: 30 }, async () => {
        while (!stopped) {
          try {
            const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
            await response.arrayBuffer()
          } catch {
            await sleep(50)
          }
        }
      })
      return async () => {
        stopped = true
        await Promise.all(loops)
      }
    },
  },
  {
    name: 'listScans',
    what: '44 clients calling openledger_listTrainingJobs from 4294967295 in a loop (defect 1)',
    async start(url) {
      const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'openledger_listTrainingJobs', params: [4294967295] })
      let stopped = false
      const loops = Array.from({ length: 44 }, async () => {
        while (!stopped) {
          try {
            await (await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).arrayBuffer()
          } catch {
            await sleep(50)
          }
        }
      })
      return async () => {
        stopped = true
        await Promise.all(loops)
      }
    },
  },
]

async function startNode(home: string): Promise<{ child: ChildProcess; url: string }> {
  const extraEnv = Object.fromEntries((process.env['BENCH_NODE_ENV'] ?? '').split(' ').filter((item) => item.includes('=')).map((item) => item.split('=', 2) as [string, string]))
  // BENCH_NODE_FLAGS passes Node flags to the dev node only, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
  const nodeFlags = (process.env['BENCH_NODE_FLAGS'] ?? '').split(' ').filter((flag) => flag !== '')
  const child = spawn(process.execPath, [...nodeFlags, BIN, 'dev', '--home', home, '--rpc-port', '0', '--no-metrics', '--block-time', String(BLOCK_TIME_MS), ...(process.env['BENCH_NODE_ARGS'] ?? '').split(' ').filter((arg) => arg !== '')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...extraEnv },
  })
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)))
  child.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)))
  // BENCH_NODE_LOG names a file the node's whole log goes to (with BENCH_NODE_ARGS="--log-level debug": every sealed block's timings)
  const logFile = process.env['BENCH_NODE_LOG']
  if (logFile !== undefined) {
    const file = createWriteStream(logFile)
    child.stdout?.pipe(file)
    child.stderr?.pipe(file)
  }
  const started = Date.now()
  for (;;) {
    const match = /JSON-RPC listening url=(http:\/\/[\d.:]+)/.exec(output) ?? /"url":"(http:\/\/[\d.:]+)"/.exec(output)
    if (match?.[1] !== undefined) return { child, url: match[1] }
    if (child.exitCode !== null || Date.now() - started > 90_000) throw new Error(`dev node did not start:\n${output}`)
    await sleep(100)
  }
}

/** Runs `during` for `ms` while sampling the node's RSS; the longest gap between the blocks sealed meanwhile. */
async function measure(pid: number, rpc: RpcClient, ms: number): Promise<Omit<Phase, 'afterRss'>> {
  const from = (await rpc.call('chain_getHeader'))?.number ?? 0
  let peakRss = 0
  const until = Date.now() + ms
  while (Date.now() < until) {
    peakRss = Math.max(peakRss, await rssOf(pid))
    await sleep(100)
  }
  // and the first block after the window: a producer stalled at its end shows in that gap
  const last = (await rpc.call('chain_getHeader'))?.number ?? from
  const deadline = Date.now() + 60_000
  while (((await rpc.call('chain_getHeader'))?.number ?? last) <= last && Date.now() < deadline) await sleep(50)
  const to = last + 1
  let longestGapMs = 0
  let previous: number | undefined
  for (let height = from; height <= to; height++) {
    const hash = await rpc.call('chain_getBlockHash', [height])
    const header = hash === null ? null : await rpc.call('chain_getHeader', [hash])
    if (header === null) continue
    if (previous !== undefined) longestGapMs = Math.max(longestGapMs, header.timestamp - previous)
    previous = header.timestamp
  }
  return { peakRss, longestGapMs, blocks: last - from }
}

export async function benchRpcAttack(options: { log: (line: string) => void; quick?: boolean; attacks?: readonly string[] }): Promise<void> {
  const { log } = options
  const seconds = options.quick === true ? 8 : 20
  const attacks = ATTACKS.filter((attack) => options.attacks === undefined || options.attacks.includes(attack.name))
  // the attacker gets one core, as the measurement asks; the node was spawned before
  let pinned = false
  const home = await mkdtemp(join(tmpdir(), 'openledger-bench-attack-'))
  const { child, url } = await startNode(home)
  const pid = child.pid as number
  try {
    execFileSync('taskset', ['-a', '-cp', '0', String(process.pid)], { stdio: 'ignore' })
    pinned = true
  } catch {
    // no taskset: the figures are still measured, with the attacker on both cores
  }
  const rpc = new RpcClient(url)
  const budget = RPC_SERVER_DEFAULTS.maxInFlightBytes
  const mib = (bytes: number) => `${(bytes / MIB).toFixed(0).padStart(5)} MiB`
  try {
    await sleep(3_000) // past the start's own allocations
    const idle = await measure(pid, rpc, seconds * 1000)
    const idleRss = await rssOf(pid)
    log(`  dev node, block time ${BLOCK_TIME_MS} ms, ${seconds} s per phase; attacker ${pinned ? 'pinned to core 0 (taskset)' : 'NOT pinned (no taskset)'}; in-flight budget ${mib(budget).trim()}`)
    log(`  idle: peak RSS ${mib(idle.peakRss)}, longest block gap ${idle.longestGapMs} ms over ${idle.blocks} blocks`)
    log('  attack              peak RSS  (peak-idle)/budget  gap ms  gap/idle  gap-idle ms  RSS 5 s after  after/idle  blocks')
    for (const attack of attacks) {
      const stop = await attack.start(url, rpc)
      const during = await measure(pid, rpc, seconds * 1000)
      await stop()
      await sleep(5_000)
      const afterRss = await rssOf(pid)
      const line = [
        attack.name.padEnd(18),
        mib(during.peakRss),
        ((during.peakRss - idle.peakRss) / budget).toFixed(2).padStart(18),
        String(during.longestGapMs).padStart(7),
        (during.longestGapMs / Math.max(1, idle.longestGapMs)).toFixed(2).padStart(9),
        String(during.longestGapMs - idle.longestGapMs).padStart(12),
        mib(afterRss).padStart(14),
        (afterRss / idleRss).toFixed(2).padStart(11),
        String(during.blocks).padStart(7),
      ].join(' ')
      log(`  ${line}`)
      log(`    (${attack.what})`)
    }
    log('  targets (issue 21): peak RSS ≤ idle + budget ((peak-idle)/budget ≤ 1), longest gap ≤ 2,000 ms and ≤ idle + 1,000 ms')
  } finally {
    child.kill('SIGTERM')
    await new Promise((resolve) => child.once('exit', resolve))
    await rm(home, { recursive: true, force: true })
  }
}

if (import.meta.main) {
  const index = process.argv.indexOf('--attack')
  const attacks = index >= 0 ? (process.argv[index + 1] ?? '').split(',') : undefined
  await benchRpcAttack({ log: (line) => console.log(line), quick: process.argv.includes('--quick'), ...(attacks === undefined ? {} : { attacks }) })
}
