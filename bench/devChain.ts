// End-to-end finalized transfer throughput on the dev chain: a real node process, transfers
// pre-signed by many senders, submitted over JSON-RPC (HTTP batches), counted as they appear in
// finalized blocks. RPC → signature recovery → mempool → block → state commit → finalized.
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chainSpecToJson } from '../genesis/spec.ts'
import { toHex } from '../runtime/crypto/hash.ts'
import { RpcClient, WsRpcClient } from '../node/rpc/client.ts'
import { benchAccounts, signTransfers, specWithSenders } from './fixtures.ts'

const BIN = fileURLToPath(new URL('../bin/openledger.js', import.meta.url))

export interface DevChainResult {
  finalizedPerSecond: number
}

export async function benchDevChain(options: { log: (line: string) => void; quick?: boolean; nodeArgs?: string[] }): Promise<DevChainResult> {
  const { log } = options
  const senders = benchAccounts(options.quick === true ? 250 : 1000)
  const perSender = options.quick === true ? 8 : 20
  const spec = specWithSenders(senders)
  const home = await mkdtemp(join(tmpdir(), 'openledger-bench-'))
  await writeFile(join(home, 'spec.json'), chainSpecToJson(spec))
  const args = options.nodeArgs ?? ['--block-time', '500']
  const child = spawn(process.execPath, [BIN, 'dev', '--home', home, '--spec', join(home, 'spec.json'), '--rpc-port', '0', '--no-metrics', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
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
    const fees = await rpc.call<{ suggestedMaxFeePerGas: string }>('openledger_estimateFee')
    const txs = signTransfers(spec.chainId, senders, perSender, BigInt(fees.suggestedMaxFeePerGas) * 4n)
    const hexes = txs.map((tx) => toHex(tx.bytes))

    const ws = await WsRpcClient.connect(url.replace('http', 'ws'))
    let finalized = 0
    let lastAt = 0
    let blocks = 0
    const done = new Promise<void>((resolve) => {
      void ws.subscribe<{ hash: string }>('chain_subscribeFinalizedHeads', [], (head) => {
        void rpc.call<{ block: { extrinsics: string[] } }>('chain_getBlock', [head.hash]).then((block) => {
          if (block.block.extrinsics.length === 0) return
          finalized += block.block.extrinsics.length
          blocks++
          lastAt = performance.now()
          if (finalized >= txs.length) resolve()
        })
      })
    })
    const started = performance.now()
    const BATCH = 100
    const CONCURRENCY = 4
    let next = 0
    let rejected = 0
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < hexes.length) {
          const chunk = hexes.slice(next, next + BATCH)
          next += BATCH
          const results = await rpc.batch(chunk.map((hex) => ({ method: 'author_submitExtrinsic', params: [hex] })))
          rejected += results.filter((r) => !r.ok).length
        }
      }),
    )
    const submittedMs = performance.now() - started
    if (rejected > 0) throw new Error(`${rejected} submissions were rejected`)
    await Promise.race([done, new Promise((_, reject) => setTimeout(() => reject(new Error('transfers not finalized within 120 s')), 120_000))])
    const ms = lastAt - started
    await ws.close()
    const perSecond = (txs.length / ms) * 1000
    if (process.env['BENCH_VERBOSE'] === '1') log(output.split('\n').filter((l) => l.includes('sealed')).join('\n'))
    log(`dev chain end to end (${args.join(' ')}): ${txs.length} transfers from ${senders.length} senders`)
    log(`  submitted over RPC           ${Math.round((txs.length / submittedMs) * 1000).toLocaleString('en-US').padStart(9)}/s`)
    log(`  finalized                    ${Math.round(perSecond).toLocaleString('en-US').padStart(9)}/s   (${blocks} blocks)`)
    return { finalizedPerSecond: perSecond }
  } finally {
    child.kill('SIGTERM')
    await new Promise((resolve) => child.once('exit', resolve))
    await rm(home, { recursive: true, force: true })
  }
}

if (import.meta.main) await benchDevChain({ log: (line) => console.log(line), quick: process.argv.includes('--quick') })
