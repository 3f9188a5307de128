// Four validator processes on this machine (`openledger testnet init` + `start`): finality latency
// of single transfers (submit → finalized, p50/p99), sustained finalized transfer throughput, and
// how long the chain takes to finalize again after the next proposer is killed; and finality
// latency again with one validator's clock 30 s fast (`--clock-offset`): its proposals are refused
// as not timely, so the heights it leads need a second round.
import type { ConsensusStateView } from '../node/rpc/contract.ts'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { chainSpecToJson, parseChainSpec } from '../genesis/spec.ts'
import { readValidatorKey } from '../node/keyFiles.ts'
import { WsRpcClient } from '../node/rpc/client.ts'
import { fromHex, toHex } from '../runtime/crypto/hash.ts'
import { proposerFor } from '../consensus/proposer.ts'
import { createValidatorSet } from '../consensus/types.ts'
import { ModuleIndex } from '../runtime/modules/indices.ts'
import { signTransaction } from '../runtime/transaction.ts'
import { createTestnet, headHeight, waitForHeight, type TestnetNode } from '../test/e2e/testnet.ts'
import { diffCpu, sumCpu, threadCpuSeconds } from './cpu.ts'
import { benchAccounts, FinalizedCount, gasPerTransfer, signTransfers, withFundedSenders, withTimeout } from './fixtures.ts'

const BLOCK_TIME_MS = 1000
const TIMEOUT_PROPOSE_MS = 1000
/** transfers per sender finalized before the throughput clock starts (one round with --quick) */
const WARM_UP_ROUNDS = 3
/** ms: the skewed validator's clock offset in the last part */
const SKEW_MS = 30_000

export interface BftNetworkResult {
  latencyP50Ms: number
  latencyP99Ms: number
  finalizedPerSecond: number
  recoveryMs: number[]
  /** the same latency measurement with one validator's clock SKEW_MS fast */
  skewedLatencyP50Ms: number
  skewedLatencyP99Ms: number
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN
}

export async function benchBftNetwork(options: { log: (line: string) => void; quick?: boolean; devChainPerSecond?: number }): Promise<BftNetworkResult> {
  const { log } = options
  const quick = options.quick === true
  const senders = benchAccounts(quick ? 100 : 400, 'bft')
  const latencySender = benchAccounts(1, 'bft latency')
  const net = await createTestnet({ validators: 4, blockTimeMs: BLOCK_TIME_MS, timeoutProposeMs: TIMEOUT_PROPOSE_MS, audit: process.env['BENCH_NODE_LOGS'] === '1', startTimeoutMs: 360_000 })
  try {
    const spec = withFundedSenders(parseChainSpec(await readFile(join(net.dir, 'genesis.json'), 'utf8')), [...senders, ...latencySender])
    const specText = chainSpecToJson(spec)
    await writeFile(join(net.dir, 'genesis.json'), specText)
    for (const node of net.nodes) await writeFile(join(node.home, 'genesis.json'), specText)
    await Promise.all(net.nodes.map((node) => net.start(node)))
    await waitForHeight(net.nodes, 2)
    const fees = await net.nodes[0]?.rpc.call('openledger_estimateFee')
    const maxFee = BigInt(fees?.suggestedMaxFeePerGas ?? '0') * 4n

    // 1. latency: one transfer at a time, through each node in turn, watched until finalized
    const samples = quick ? 12 : 40
    const sender = latencySender[0] as (typeof latencySender)[number]
    let latencyNonce = 0
    /** `samples` latencies, sorted; the sender's nonces continue across calls */
    const measureLatency = async (): Promise<number[]> => {
      const latencies: number[] = []
      const sockets = await Promise.all(net.nodes.map((node) => WsRpcClient.connect(node.rpcUrl.replace('http', 'ws'))))
      for (let nonce = latencyNonce; nonce < latencyNonce + samples; nonce++) {
        // spread submissions over the block's phase
        await new Promise((resolve) => setTimeout(resolve, (nonce * 337) % BLOCK_TIME_MS))
        const tx = signTransaction({ chainId: spec.chainId, nonce, gasLimit: 10_000, maxFeePerGas: maxFee, maxPriorityFeePerGas: 1n, call: { module: ModuleIndex.balances, call: 0, args: [new Uint8Array(20).fill(7), 1n] } }, sender.privateKey)
        const socket = sockets[nonce % sockets.length] as WsRpcClient
        const started = performance.now()
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('a transfer was not finalized within 30 s')), 30_000)
          void socket
            .subscribe<Record<string, unknown> | string>('author_submitAndWatchExtrinsic', [toHex(tx.bytes)], (status) => {
              if (typeof status === 'object' && 'finalized' in status) {
                clearTimeout(timer)
                latencies.push(performance.now() - started)
                resolve()
              }
            }, { unsubscribe: 'author_unwatchExtrinsic' })
            .catch(reject)
        })
      }
      await Promise.all(sockets.map((socket) => socket.close()))
      latencyNonce += samples
      return latencies.sort((a, b) => a - b)
    }
    const latencies = await measureLatency()
    const p50 = percentile(latencies, 50)
    const p99 = percentile(latencies, 99)

    // 2. sustained throughput: pre-signed transfers into all four nodes, counted as they finalize.
    //    The first rounds warm the nodes up and are finalized before the clock starts, as in the
    //    dev-chain bench, so the two figures are both of running nodes.
    const perSender = quick ? 10 : 20
    const warmUpRounds = quick ? 1 : WARM_UP_ROUNDS
    const signed = signTransfers(spec.chainId, senders, warmUpRounds + perSender, maxFee)
    const warmUp = signed.slice(0, warmUpRounds * senders.length).map((tx) => toHex(tx.bytes))
    const txs = signed.slice(warmUp.length)
    const hexes = txs.map((tx) => toHex(tx.bytes))
    const watcher = await WsRpcClient.connect((net.nodes[0] as TestnetNode).rpcUrl.replace('http', 'ws'))
    const count = new FinalizedCount(gasPerTransfer(signed, spec.chainId))
    let started = 0
    void watcher.subscribe<{ hash: string; gasUsed: number }>('chain_subscribeFinalizedHeads', [], (head) => {
      const before = count.total
      count.addHead(head)
      if (process.env['BENCH_VERBOSE'] === '1') log(`    +${Math.round(performance.now() - started)} ms: block ${head.hash.slice(0, 10)} with ${count.total - before} transfers`)
    })
    const BATCH = 100
    const submitAll = async (all: readonly string[]) => {
      let next = 0
      let rejected = 0
      await Promise.all(
        net.nodes.map(async (node) => {
          while (next < all.length) {
            const chunk = all.slice(next, next + BATCH)
            next += BATCH
            const results = await node.rpc.batch(chunk.map((hex) => ({ method: 'author_submitExtrinsic', params: [hex] })))
            rejected += results.filter((result) => !result.ok).length
          }
        }),
      )
      if (rejected > 0) throw new Error(`${rejected} submissions were rejected`)
    }
    await submitAll(warmUp)
    await withTimeout(count.atLeast(warmUp.length), 180_000, 'the warm-up transfers were not finalized within 180 s')
    const nodesCpu = () => Promise.all(net.nodes.map((node) => threadCpuSeconds(node.running?.process.pid)))
    const cpuBefore = sumCpu(await nodesCpu())
    started = performance.now()
    await submitAll(hexes)
    await withTimeout(count.atLeast(warmUp.length + txs.length), 180_000, 'transfers not finalized within 180 s')
    const cpu = diffCpu(sumCpu(await nodesCpu()), cpuBefore)
    await watcher.close()
    await count.verify((hash) => (net.nodes[0] as TestnetNode).rpc.call('chain_getBlock', [hash]))
    const perSecond = (txs.length / (count.lastAt - started)) * 1000
    // BENCH_NODE_LOGS=1: nodes log at debug level (and keep vote logs); what each node's consensus
    // logged while the transfers went through: proposals (arrival, validation time), timeouts, heights
    if (process.env['BENCH_NODE_LOGS'] === '1') {
      for (const node of net.nodes) {
        const lines = (node.running?.log() ?? '').split('\n').filter((line) => /finalized|proposed block is invalid|warn|WARN|consensus\].*(timeout|proposal|proposing)/.test(line))
        log(`  ${node.name}:\n${lines.slice(-40).map((line) => `    ${line}`).join('\n')}`)
      }
    }

    // 3. the next proposer dies in the pause after a commit, before it can propose: time until the
    //    others finalize that height without it (a propose timeout, then the next round)
    const keys = new Map(await Promise.all(net.nodes.map(async (node) => [toHex((await readValidatorKey(join(node.home, 'validator_key.json'))).publicKey), node] as const)))
    const recoveries: number[] = []
    for (let i = 0; recoveries.length < (quick ? 1 : 3) && i < 20; i++) {
      const observer = net.nodes[i % net.nodes.length] as TestnetNode
      let state: ConsensusStateView
      do state = await observer.rpc.call('openledger_consensusState')
      while (state.step !== 'decided')
      const set = createValidatorSet((state.validators ?? []).map((v) => ({ publicKey: fromHex(v.publicKey) as Uint8Array, power: BigInt(v.power) })))
      const victim = keys.get(toHex(proposerFor(set, state.height + 1, 0).publicKey))
      if (victim === undefined || victim === observer) continue
      const killedAt = performance.now()
      await net.kill(victim)
      await waitForHeight([observer], state.height + 1, 30_000)
      recoveries.push(performance.now() - killedAt)
      await net.start(victim)
      await waitForHeight([victim], await headHeight(observer))
    }

    // 4. one validator's clock SKEW_MS fast: restarted with --clock-offset, then the same latency
    //    measurement (it leads one height in four; honest validators prevote nil on its blocks)
    const skewed = net.nodes[net.nodes.length - 1] as TestnetNode
    await net.kill(skewed, 'SIGTERM')
    await net.start(skewed, [`--clock-offset=${SKEW_MS}`])
    await waitForHeight([skewed], await headHeight(net.nodes[0] as TestnetNode), 60_000)
    const skewedLatencies = await measureLatency()
    const skewedP50 = percentile(skewedLatencies, 50)
    const skewedP99 = percentile(skewedLatencies, 99)

    const fmt = (n: number) => Math.round(n).toLocaleString('en-US')
    log(`4 validator processes on this machine (block time ${BLOCK_TIME_MS} ms, propose timeout ${TIMEOUT_PROPOSE_MS} ms)`)
    log(`  finality latency, ${samples} single transfers:  p50 ${fmt(p50)} ms  p99 ${fmt(p99)} ms   (targets <= 1000 / 2000 ms)`)
    const versus = options.devChainPerSecond === undefined ? '' : `   ${(perSecond / options.devChainPerSecond).toFixed(2)}x of the dev chain's ${fmt(options.devChainPerSecond)}/s (target >= 0.50)`
    log(`  sustained finalized transfers (${txs.length}): ${fmt(perSecond).padStart(7)}/s${versus}`)
    if (cpu !== undefined) {
      const micros = (seconds: number) => `${fmt((seconds / txs.length) * 1e6)} µs`
      const total = [...cpu.values()].reduce((a, b) => a + b, 0)
      const parts = [...cpu].sort((a, b) => b[1] - a[1]).map(([kind, seconds]) => `${kind} ${micros(seconds)}`)
      log(`  CPU per transfer, all four nodes: ${micros(total)} (${parts.join(', ')}); wall ${fmt((count.lastAt - started) / txs.length * 2000)} µs of 2 cores`)
    }
    log(`  finalizing again after the next proposer is killed: ${recoveries.map((ms) => `${fmt(ms)} ms`).join(', ')}   (target <= ${fmt(2000 + TIMEOUT_PROPOSE_MS)} ms: 2 s + one propose timeout)`)
    log(`  finality latency with one validator's clock ${SKEW_MS / 1000} s fast, ${samples} single transfers: p50 ${fmt(skewedP50)} ms  p99 ${fmt(skewedP99)} ms   (${(skewedP50 / p50).toFixed(2)}x / ${(skewedP99 / p99).toFixed(2)}x of all clocks in step, same run)`)
    return { latencyP50Ms: p50, latencyP99Ms: p99, finalizedPerSecond: perSecond, recoveryMs: recoveries, skewedLatencyP50Ms: skewedP50, skewedLatencyP99Ms: skewedP99 }
  } finally {
    await net.remove()
  }
}

if (import.meta.main) await benchBftNetwork({ log: (line) => console.log(line), quick: process.argv.includes('--quick') })
