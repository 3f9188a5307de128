// A validator's block times while it serves at full load (issue 16: "with `start --serve` on a
// validator, consensus keeps its timing under full serving load"). One `openledger dev --serve`
// process, block time 1 s: its block gaps (from the headers' proposer timestamps) over an idle
// window, then over a window in which `streams` clients keep the embedded OpenAI API saturated
// with streamed completions. Printed side by side, as ratios to the idle window of the same run.
import { request } from 'node:http'
import type { HeaderView } from '../node/rpc/contract.ts'
import { startDevNode, stopNode, tempHome, waitFor, type RunningNode } from '../test/e2e/harness.ts'

const LM = 'ol-lm-sotu-2m'

async function headerAt(node: RunningNode, height: number): Promise<HeaderView> {
  const hash = await node.rpc.call('chain_getBlockHash', [height])
  const header = hash === null ? null : await node.rpc.call('chain_getHeader', [hash])
  if (header === null) throw new Error(`no block at height ${height}`)
  return header
}

async function bestHeight(node: RunningNode): Promise<number> {
  const head = await node.rpc.call('chain_getHeader')
  if (head === null) throw new Error('the node has no head')
  return head.number
}

/** Gaps (ms) between consecutive blocks in (from, to]. */
async function gaps(node: RunningNode, from: number, to: number): Promise<number[]> {
  const out: number[] = []
  let previous = await headerAt(node, from)
  for (let h = from + 1; h <= to; h++) {
    const header = await headerAt(node, h)
    out.push(header.timestamp - previous.timestamp)
    previous = header
  }
  return out
}

function summary(values: readonly number[]): { p50: number; p99: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN
  return { p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? NaN }
}

/** One streamed completion; resolves with the tokens received (chunks). */
function streamCompletion(url: string, maxTokens: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ model: LM, prompt: 'My fellow citizens, the state of the union', max_tokens: maxTokens, temperature: 0.8, seed: Math.floor(Math.random() * 1e9), stream: true })
    const req = request(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let chunks = 0
      res.on('data', (data: Buffer) => (chunks += data.toString().match(/data: \{/g)?.length ?? 0))
      res.on('end', () => resolve(chunks))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

export async function benchServingJitter(options: { log: (line: string) => void; quick?: boolean }): Promise<void> {
  const { log } = options
  const windowMs = options.quick === true ? 15_000 : 45_000
  const streams = 32
  const home = await tempHome('openledger-bench-jitter-')
  const node = await startDevNode(home.path, ['--block-time', '1000', '--serve', '--serve-port', '0', '--serve-models', LM, '--no-metrics'], 120_000)
  try {
    const url = await waitFor(async () => /OpenAI-compatible API listening url=(http:\/\/[0-9.]+:\d+)/.exec(node.log())?.[1], 'the embedded API', 180_000, 100)
    // warm: the session built and one completion served before anything is measured
    await streamCompletion(url, 8)
    const idleFrom = await bestHeight(node)
    await new Promise((resolve) => setTimeout(resolve, windowMs))
    const idleTo = await bestHeight(node)

    let tokens = 0
    let stop = false
    const began = performance.now()
    const loadFrom = await bestHeight(node)
    const clients = Array.from({ length: streams }, async () => {
      while (!stop) tokens += await streamCompletion(url, 48)
    })
    await new Promise((resolve) => setTimeout(resolve, windowMs))
    const loadTo = await bestHeight(node)
    stop = true
    await Promise.all(clients)
    const seconds = (performance.now() - began) / 1000

    const idle = summary(await gaps(node, idleFrom, idleTo))
    const loaded = summary(await gaps(node, loadFrom, loadTo))
    log(`  block gaps, dev --serve, block time 1,000 ms (${idleTo - idleFrom} idle blocks, ${loadTo - loadFrom} under load):`)
    log(`    idle:                          p50 ${idle.p50} ms, p99 ${idle.p99} ms, max ${idle.max} ms`)
    log(`    ${streams} streams saturating the API: p50 ${loaded.p50} ms, p99 ${loaded.p99} ms, max ${loaded.max} ms (${(tokens / seconds).toFixed(0)} tokens/s served)`)
    log(`    ratio to idle:                 p50 ${(loaded.p50 / idle.p50).toFixed(2)}x, p99 ${(loaded.p99 / idle.p99).toFixed(2)}x, max ${(loaded.max / idle.max).toFixed(2)}x`)
  } finally {
    await stopNode(node)
    await home.remove()
  }
}
