// `npm run chaos -- --cycles N --seed S`: the chaos soak of issue 21 (CometBFT's perturbation
// runner, Jepsen's Tendermint test). A 4-validator testnet of real `openledger start` processes on
// loopback under a steady load of transfers; each cycle injects one fault drawn from the seed —
// kill -9 of one or two validators, SIGSTOP/SIGCONT, a kill -9 and restart of all, a partition cut
// with the operators' peer-blocking RPC — heals it, and requires the chain to pass the highest
// height seen before the fault by 2 within 45 s. At the end, clock-free checks: the same block hash
// at every height on every node, every transfer any node reported included present in the same
// block on every node, no validator that signed two different votes for one step (the vote logs),
// equal supply everywhere. Prints a report and exits 1 on any violation.
//
// Not part of `npm test`: 200 cycles take about an hour. It starts four node processes: run it
// through the machine's e2e semaphore on a shared machine.
import { parseArgs } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import { devAccount } from '../genesis/devAccounts.ts'
import { toHex } from '../runtime/crypto/hash.ts'
import { ModuleIndex } from '../runtime/modules/indices.ts'
import { signTransaction } from '../runtime/transaction.ts'
import { assertSameChain, createTestnet, doubleSigns, headHeight, peerIdOf, type Testnet, type TestnetNode } from '../test/e2e/testnet.ts'

const HEAL_DEADLINE_MS = 45_000
const SENDERS = ['alice', 'bob', 'charlie', 'dave'] as const
const RECIPIENT = '0x' + 'c4'.repeat(20)

type FaultKind = 'kill-one' | 'kill-two' | 'pause' | 'restart-all' | 'partition'
const FAULTS: readonly FaultKind[] = ['kill-one', 'kill-two', 'pause', 'restart-all', 'partition']

/** A seeded generator (mulberry32): the same seed draws the same schedule. */
function random(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let x = state
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

interface Report {
  seed: number
  cycles: number
  faults: Record<FaultKind, number>
  heightsChecked: number
  transactionsChecked: number
  transactionsIncluded: number
  violations: string[]
}

/** The highest head any reachable node reports. */
async function highest(nodes: readonly TestnetNode[]): Promise<number> {
  const heights = await Promise.all(nodes.map((node) => (node.running === undefined ? -1 : headHeight(node).catch(() => -1))))
  return Math.max(...heights)
}

/** Waits until every running node is at `height` or `deadline` passes; false when it passed. */
async function reach(nodes: readonly TestnetNode[], height: number, deadlineMs: number): Promise<boolean> {
  const until = Date.now() + deadlineMs
  while (Date.now() < until) {
    const heights = await Promise.all(nodes.map((node) => headHeight(node).catch(() => -1)))
    if (heights.every((h) => h >= height)) return true
    await sleep(200)
  }
  return false
}

/** Transfers from the dev accounts to whichever validator is up, round robin; keeps the hashes acknowledged. */
function startLoad(net: Testnet, chainId: number, acknowledged: Set<string>): () => Promise<void> {
  let stopped = false
  const loops = SENDERS.map(async (name, i) => {
    const account = devAccount(name)
    let target = i
    while (!stopped) {
      const node = net.nodes[target++ % net.nodes.length] as TestnetNode
      try {
        if (node.running === undefined) throw new Error('down')
        const nonce = await node.rpc.call('system_accountNextIndex', [toHex(account.address)])
        const fees = await node.rpc.call('openledger_estimateFee')
        const tx = signTransaction({ chainId, nonce, gasLimit: 10_000, maxFeePerGas: BigInt(fees.suggestedMaxFeePerGas) * 2n, maxPriorityFeePerGas: 1n, call: { module: ModuleIndex.balances, call: 0, args: [Uint8Array.from(Buffer.from(RECIPIENT.slice(2), 'hex')), 1n] } }, account.privateKey)
        acknowledged.add(await node.rpc.call('author_submitExtrinsic', [toHex(tx.bytes)]))
      } catch {
        // a node down, paused or cut off, or a nonce taken meanwhile: the next node, later
      }
      await sleep(150)
    }
  })
  return async () => {
    stopped = true
    await Promise.all(loops)
  }
}

async function peerIds(nodes: readonly TestnetNode[]): Promise<Map<TestnetNode, string>> {
  return new Map(await Promise.all(nodes.map(async (node) => [node, await peerIdOf(node)] as const)))
}

async function cut(sides: readonly [TestnetNode[], TestnetNode[]], ids: Map<TestnetNode, string>, method: 'system_blockPeer' | 'system_unblockPeer'): Promise<void> {
  const [a, b] = sides
  for (const [here, there] of [[a, b], [b, a]] as const) {
    for (const node of here) for (const other of there) await node.rpc.call(method, [ids.get(other)])
  }
}

/** Injects one fault and heals it; returns what was done, for the log. */
async function inject(net: Testnet, kind: FaultKind, draw: () => number, start: (node: TestnetNode) => Promise<void>): Promise<string> {
  const nodes = net.nodes
  const pick = (count: number): TestnetNode[] => {
    const pool = [...nodes]
    const out: TestnetNode[] = []
    while (out.length < count) out.push(pool.splice(Math.floor(draw() * pool.length), 1)[0] as TestnetNode)
    return out
  }
  const hold = 1_000 + Math.floor(draw() * 4_000)
  switch (kind) {
    case 'kill-one':
    case 'kill-two': {
      const victims = pick(kind === 'kill-one' ? 1 : 2)
      await Promise.all(victims.map((node) => net.kill(node, 'SIGKILL')))
      await sleep(hold)
      await Promise.all(victims.map(start))
      return `kill -9 ${victims.map((n) => n.name).join(',')} for ${hold} ms`
    }
    case 'pause': {
      const victims = pick(draw() < 0.5 ? 1 : 2)
      for (const node of victims) node.running?.process.kill('SIGSTOP')
      await sleep(hold)
      for (const node of victims) node.running?.process.kill('SIGCONT')
      return `SIGSTOP ${victims.map((n) => n.name).join(',')} for ${hold} ms`
    }
    case 'restart-all': {
      await Promise.all(nodes.map((node) => net.kill(node, 'SIGKILL')))
      await sleep(Math.min(hold, 2_000))
      await Promise.all(nodes.map(start))
      return 'kill -9 of all, restarted'
    }
    case 'partition': {
      const ids = await peerIds(nodes)
      const shuffled = pick(nodes.length)
      const split = draw() < 0.5 ? 1 : 2
      const sides: [TestnetNode[], TestnetNode[]] = [shuffled.slice(0, split), shuffled.slice(split)]
      await cut(sides, ids, 'system_blockPeer')
      await sleep(hold)
      await cut(sides, ids, 'system_unblockPeer')
      return `partition ${sides.map((side) => side.map((n) => n.name).join(',')).join(' | ')} for ${hold} ms`
    }
  }
}

export async function runChaos(options: { cycles: number; seed: number; log: (line: string) => void }): Promise<Report> {
  const { log } = options
  const draw = random(options.seed)
  const report: Report = {
    seed: options.seed,
    cycles: 0,
    faults: { 'kill-one': 0, 'kill-two': 0, pause: 0, 'restart-all': 0, partition: 0 },
    heightsChecked: 0,
    transactionsChecked: 0,
    transactionsIncluded: 0,
    violations: [],
  }
  const net = await createTestnet({ validators: 4, blockTimeMs: 500, startTimeoutMs: 240_000 })
  // interrupted: the validators and their homes go with the program
  const interrupted = (): void => void net.remove().finally(() => process.exit(130))
  process.once('SIGINT', interrupted)
  process.once('SIGTERM', interrupted)
  const start = async (node: TestnetNode): Promise<void> => {
    await net.start(node, ['--rpc-methods', 'unsafe'])
  }
  try {
    await Promise.all(net.nodes.map(start))
    const first = net.nodes[0] as TestnetNode
    const { chainId } = await first.rpc.call('system_properties')
    if (!(await reach(net.nodes, 2, 120_000))) throw new Error('the testnet did not reach height 2')
    const acknowledged = new Set<string>()
    const stopLoad = startLoad(net, chainId, acknowledged)
    try {
      for (let cycle = 1; cycle <= options.cycles; cycle++) {
        const kind = FAULTS[Math.floor(draw() * FAULTS.length)] as FaultKind
        const before = await highest(net.nodes)
        let what: string
        try {
          what = await inject(net, kind, draw, start)
        } catch (error) {
          // a validator that will not start again (a store it calls damaged, …) ends the run
          report.faults[kind]++
          report.cycles = cycle
          report.violations.push(`cycle ${cycle} (${kind}): ${String((error as Error).message).split('\n').filter((line) => /error|exited/i.test(line)).join(' / ')}`)
          log(`cycle ${cycle}/${options.cycles}: ${kind} FAILED: ${(error as Error).message}`)
          break
        }
        report.faults[kind]++
        report.cycles = cycle
        const healedAt = Date.now()
        const ok = await reach(net.nodes, before + 2, HEAL_DEADLINE_MS)
        const heights = await Promise.all(net.nodes.map((node) => headHeight(node).catch(() => -1)))
        log(`cycle ${cycle}/${options.cycles}: ${what}; heights ${heights.join(',')} (${ok ? `past ${before} + 2 in ${Date.now() - healedAt} ms` : 'STUCK'})`)
        if (!ok) report.violations.push(`cycle ${cycle} (${what}): the chain did not pass height ${before} + 2 within ${HEAL_DEADLINE_MS / 1000} s of healing (heights ${heights.join(',')})`)
      }
    } finally {
      await stopLoad()
    }

    // the chain settles: everything submitted had its chance, every node at one height (the
    // checks read the nodes that run: one that would not start again is a violation already)
    const live = net.nodes.filter((node) => node.running !== undefined)
    const settled = (await highest(live)) + 3
    if (!(await reach(live, settled, HEAL_DEADLINE_MS))) report.violations.push(`the nodes did not all reach height ${settled} after the load stopped`)
    const upTo = Math.min(...(await Promise.all(live.map((node) => headHeight(node).catch(() => 0)))))
    const chain = await assertSameChain(live, upTo)
    report.heightsChecked = chain.heights
    report.violations.push(...chain.problems.map((problem) => `fork at ${problem}`))

    for (const hash of acknowledged) {
      const seen = await Promise.all(live.map((node) => node.rpc.call('openledger_getTransaction', [hash]).catch(() => null)))
      report.transactionsChecked++
      const blocks = seen.map((status) => (status?.status === 'included' && status.blockNumber <= upTo ? status.blockHash : null))
      if (blocks.every((block) => block === null)) continue
      report.transactionsIncluded++
      if (new Set(blocks).size !== 1) report.violations.push(`transaction ${hash} included as ${live.map((n, i) => `${n.name}=${blocks[i] ?? 'absent'}`).join(' ')}`)
    }

    const signs = await doubleSigns(net.nodes)
    report.violations.push(...signs.conflicts.map((conflict) => `double sign ${conflict}`))
    const supplies = await Promise.all(live.map((node) => node.rpc.call('openledger_getSupply')))
    const issuance = new Set(supplies.map((supply) => `${supply.totalIssuance}/${supply.burned}`))
    if (issuance.size !== 1) report.violations.push(`supply differs: ${live.map((n, i) => `${n.name}=${supplies[i]?.totalIssuance}`).join(' ')}`)
    return report
  } finally {
    process.off('SIGINT', interrupted)
    process.off('SIGTERM', interrupted)
    await net.remove()
  }
}

if (import.meta.main) {
  // a terminal program: its report goes straight to stdout, its usage error to stderr
  const print = (line: string): void => void process.stdout.write(`${line}\n`)
  const { values } = parseArgs({ options: { cycles: { type: 'string', default: '10' }, seed: { type: 'string', default: '1' } } })
  const cycles = Number(values.cycles)
  const seed = Number(values.seed)
  if (!Number.isSafeInteger(cycles) || cycles < 1 || !Number.isSafeInteger(seed)) {
    process.stderr.write('usage: npm run chaos -- --cycles N --seed S\n')
    process.exit(2)
  }
  const startedAt = Date.now()
  const report = await runChaos({ cycles, seed, log: print })
  print('\nchaos report')
  print(`  seed ${report.seed}, cycles ${report.cycles}, ${Math.round((Date.now() - startedAt) / 1000)} s`)
  print(`  faults injected: ${Object.entries(report.faults).map(([kind, count]) => `${kind} ${count}`).join(', ')}`)
  print(`  heights checked on every node: 1..${report.heightsChecked}`)
  print(`  transactions checked: ${report.transactionsChecked} acknowledged, ${report.transactionsIncluded} included (each in the same block on every node)`)
  print(`  violations: ${report.violations.length}`)
  for (const violation of report.violations) print(`    ${violation}`)
  process.exit(report.violations.length === 0 ? 0 : 1)
}
