// Multi-validator networks of real `openledger start` processes on loopback, made with
// `openledger testnet init` on free ports, and the checks every BFT e2e test shares.
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { RpcClient } from '../../node/rpc/client.ts'
import type { ValidatorsView } from '../../node/rpc/contract.ts'
import { found, runCli, type RunningNode, spawnNode, stopNode, tempHome, waitFor } from './harness.ts'

/**
 * `count` distinct TCP ports that were free a moment ago, spaced for `testnet init`'s base+i layout.
 * Drawn below Linux's ephemeral range (32768–60999 by default): outgoing connections — libp2p
 * dials, RPC clients of tests running beside this one — take their local ports from that range, so
 * a port probed there can be taken by a connection before the node binds it.
 */
export async function freePortBase(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 10_000 + Math.floor(Math.random() * (32_768 - 10_000 - count))
    const ok = await Promise.all(Array.from({ length: count }, (_, i) => isFree(base + i)))
    if (ok.every(Boolean)) return base
  }
  throw new Error('no free port range found')
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

export interface TestnetNode {
  name: string
  home: string
  rpcUrl: string
  rpc: RpcClient
  /** the file every validly signed vote this node sees is appended to (JSON lines) */
  voteLog: string
  running: RunningNode | undefined
}

export interface Testnet {
  dir: string
  nodes: TestnetNode[]
  start(node: TestnetNode, extraArgs?: string[]): Promise<RunningNode>
  kill(node: TestnetNode, signal?: NodeJS.Signals): Promise<void>
  stopAll(): Promise<void>
  remove(): Promise<void>
  /** `openledger testnet add-node`: a new validator home (not in genesis) on fresh ports */
  addNode(name: string): Promise<TestnetNode>
}

export interface TestnetOptions {
  validators: number
  fullNodes?: number
  blockTimeMs?: number
  timeoutProposeMs?: number
  /** debug logs and vote logs on every node (default true; benchmarks turn them off) */
  audit?: boolean
  /** blocks per staking epoch (default: the dev spec's 60) */
  epochLength?: number
  /** blocks from unbond to release (default: the dev spec's 600); the light client trusts a block for 2/3 of it */
  unbondingPeriod?: number
  /** the active set's size limit (default: the dev spec's 100) */
  maxValidators?: number
  /** models: blocks a trainer has to submit its result (default: the testnet spec's) */
  trainBlocks?: number
  /** models: blocks the verifiers have to attest (default: the testnet spec's) */
  verifyBlocks?: number
  /** governance: blocks a vote lasts and blocks from its end to enactment (default: the runtime's) */
  votingPeriod?: number
  timelockBlocks?: number
  /** inference: share of records re-checked, in basis points (default: the dev spec's) */
  inferenceSampleRateBps?: number
  /** attribution: share of receipts re-checked, in bps (default: the module's) */
  attributionSampleRateBps?: number
  /** ms a node may take to answer RPC after it was spawned (default 120 s; a fresh home stores the shipped models first) */
  startTimeoutMs?: number
}

export async function createTestnet(options: TestnetOptions): Promise<Testnet> {
  const home = await tempHome('openledger-bft-')
  const total = options.validators + (options.fullNodes ?? 0)
  const [p2p, rpc, metrics] = [await freePortBase(total), await freePortBase(total), await freePortBase(total)]
  const init = await runCli([
    'testnet', 'init',
    '--validators', String(options.validators),
    '--full-nodes', String(options.fullNodes ?? 0),
    '--out', home.path,
    '--p2p-port', String(p2p),
    '--rpc-port', String(rpc),
    '--metrics-port', String(metrics),
    '--block-time', String(options.blockTimeMs ?? 500),
    '--timeout-propose', String(options.timeoutProposeMs ?? 1000),
    ...(options.epochLength === undefined ? [] : ['--epoch-length', String(options.epochLength)]),
    ...(options.unbondingPeriod === undefined ? [] : ['--unbonding-period', String(options.unbondingPeriod)]),
    ...(options.maxValidators === undefined ? [] : ['--max-validators', String(options.maxValidators)]),
    ...(options.trainBlocks === undefined ? [] : ['--train-blocks', String(options.trainBlocks)]),
    ...(options.verifyBlocks === undefined ? [] : ['--verify-blocks', String(options.verifyBlocks)]),
    ...(options.votingPeriod === undefined ? [] : ['--voting-period', String(options.votingPeriod)]),
    ...(options.timelockBlocks === undefined ? [] : ['--timelock', String(options.timelockBlocks)]),
    ...(options.inferenceSampleRateBps === undefined ? [] : ['--inference-sample-rate', String(options.inferenceSampleRateBps)]),
    ...(options.attributionSampleRateBps === undefined ? [] : ['--attribution-sample-rate', String(options.attributionSampleRateBps)]),
  ])
  if (init.code !== 0) throw new Error(`testnet init failed: ${init.stderr}`)
  const names = [
    ...Array.from({ length: options.validators }, (_, i) => `node${i}`),
    ...Array.from({ length: options.fullNodes ?? 0 }, (_, i) => `full${i}`),
  ]
  const nodes: TestnetNode[] = await Promise.all(names.map((name) => openNode(home.path, name)))
  const testnet: Testnet = {
    dir: home.path,
    nodes,
    async start(node, extraArgs = []) {
      const audit = options.audit ?? true ? ['--vote-log', node.voteLog, '--log-level', 'debug'] : []
      const running = await spawnNode(['start', '--home', node.home, ...audit, ...extraArgs], options.startTimeoutMs ?? 120_000)
      node.running = running
      return running
    },
    async kill(node, signal = 'SIGKILL') {
      if (node.running !== undefined) await stopNode(node.running, signal)
      node.running = undefined
    },
    async stopAll() {
      await Promise.all(nodes.map((node) => testnet.kill(node, 'SIGTERM')))
    },
    async remove() {
      await testnet.stopAll()
      await home.remove()
    },
    async addNode(name) {
      const ports = await Promise.all([freePortBase(1), freePortBase(1), freePortBase(1)])
      const added = await runCli(['testnet', 'add-node', '--out', home.path, '--name', name, '--p2p-port', String(ports[0]), '--rpc-port', String(ports[1]), '--metrics-port', String(ports[2])])
      if (added.code !== 0) throw new Error(`testnet add-node failed: ${added.stderr}`)
      const node = await openNode(home.path, name)
      nodes.push(node)
      return node
    },
  }
  return testnet
}

async function openNode(dir: string, name: string): Promise<TestnetNode> {
  const nodeHome = join(dir, name)
  const config = JSON.parse(await readFile(join(nodeHome, 'config.json'), 'utf8')) as { rpc: { port: number } }
  const rpcUrl = `http://127.0.0.1:${config.rpc.port}`
  return { name, home: nodeHome, rpcUrl, rpc: new RpcClient(rpcUrl), voteLog: join(nodeHome, 'votes.jsonl'), running: undefined }
}

/** A node's keys as `testnet init`/`add-node` wrote them: consensus public key and operator address. */
export async function nodeKeys(node: TestnetNode): Promise<{ consensusKey: string; operator: string; operatorPrivateKey: string }> {
  const validator = JSON.parse(await readFile(join(node.home, 'validator_key.json'), 'utf8')) as { publicKey: string }
  const operator = JSON.parse(await readFile(join(node.home, 'operator_key.json'), 'utf8')) as { address: string; privateKey: string }
  return { consensusKey: validator.publicKey, operator: operator.address, operatorPrivateKey: operator.privateKey }
}


/** openledger_getValidators on each node at the same block (`height`, which every node must have). */
export async function validatorsAt(nodes: readonly TestnetNode[], height: number): Promise<ValidatorsView[]> {
  return Promise.all(nodes.map(async (node) => {
    const hash = await node.rpc.call('chain_getBlockHash', [height])
    if (hash === null) throw new Error(`${node.name} has no block ${height}`)
    return node.rpc.call('openledger_getValidators', [hash])
  }))
}

/** The height a node's consensus is deciding and the consensus keys of the set voting on it, sorted. */
export async function consensusValidators(node: TestnetNode): Promise<{ height: number; keys: string[] }> {
  const state = await node.rpc.call('openledger_consensusState')
  return { height: state.height, keys: (state.validators ?? []).map((v) => v.publicKey).sort() }
}

export interface Header {
  number: number
  hash: string
  parentHash: string
}

/** The node's libp2p peer id (every node of a testnet has a network). */
export async function peerIdOf(node: TestnetNode): Promise<string> {
  return found(await node.rpc.call('system_localPeerId'), `${node.name}'s peer id`)
}

export async function headHeight(node: TestnetNode): Promise<number> {
  return (found(await node.rpc.call('chain_getHeader'), 'the head')).number
}

/** Waits until every given node's finalized head is at least `height`; on timeout the error says where each node stood. */
export async function waitForHeight(nodes: readonly TestnetNode[], height: number, timeoutMs = 60_000): Promise<void> {
  try {
    await waitFor(
      async () => {
        const heights = await Promise.all(nodes.map((node) => headHeight(node).catch(() => -1)))
        return heights.every((h) => h >= height) ? true : undefined
      },
      `${nodes.map((n) => n.name).join(',')} at height ${height}`,
      timeoutMs,
      100,
    )
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${(await Promise.all(nodes.map(describeNode))).join('\n')}`, { cause: error })
  }
}

/** One node's head, peers and last log lines: what a failed wait needs to be diagnosed from CI output. */
async function describeNode(node: TestnetNode): Promise<string> {
  const head = await headHeight(node).catch((error: unknown) => `unreachable (${(error as Error).message})`)
  const health = await node.rpc.call('system_health').catch(() => null)
  const tail = node.running?.log().trimEnd().split('\n').slice(-12).map((line) => `    ${line}`).join('\n') ?? '    (not running)'
  return `  ${node.name}: head ${head}, peers ${health?.peers ?? '?'}, syncing ${health?.isSyncing ?? '?'}\n${tail}`
}

/** The block hash at every height 1..`upTo` on each node; fails on the first disagreement. */
export async function assertSameChain(nodes: readonly TestnetNode[], upTo: number): Promise<{ heights: number; problems: string[] }> {
  const problems: string[] = []
  for (let height = 1; height <= upTo; height++) {
    const hashes = await Promise.all(nodes.map((node) => node.rpc.call('chain_getBlockHash', [height])))
    if (new Set(hashes).size !== 1) problems.push(`height ${height}: ${nodes.map((n, i) => `${n.name}=${hashes[i]}`).join(' ')}`)
  }
  return { heights: upTo, problems }
}

/**
 * Heights 1..`upTo` whose block carries no beacon reveal on `node` (every genesis validator of
 * `testnet init` has a hash chain, so each of their blocks must reveal), and the head's mix.
 */
export async function blocksWithoutReveal(node: TestnetNode, upTo: number): Promise<{ missing: number[]; mix: string }> {
  const missing: number[] = []
  for (let height = 1; height <= upTo; height++) {
    const hash = await node.rpc.call('chain_getBlockHash', [height])
    const header = found(await node.rpc.call('chain_getHeader', [hash]), `block ${height}`)
    if (/^0x0+$/.test(header.randomnessReveal)) missing.push(height)
  }
  const { mix } = await node.rpc.call('openledger_getRandomness', [])
  return { missing, mix }
}

interface LoggedVote {
  validator: string
  height: number
  round: number
  type: string
  blockHash: string | null
}

/**
 * Reads every vote log and returns each (validator, height, round, type) for which two different
 * signed votes were seen anywhere: a double sign. `except` skips validators run to equivocate.
 */
export async function doubleSigns(nodes: readonly TestnetNode[], except: ReadonlySet<string> = new Set()): Promise<{ votes: number; conflicts: string[] }> {
  const seen = new Map<string, string | null>()
  const conflicts = new Set<string>()
  let votes = 0
  for (const node of nodes) {
    const text = await readFile(node.voteLog, 'utf8').catch(() => '')
    for (const line of text.split('\n')) {
      if (line === '') continue
      let vote: LoggedVote
      try {
        vote = JSON.parse(line) as LoggedVote
      } catch {
        continue // a line torn by kill -9
      }
      votes++
      if (except.has(vote.validator)) continue
      const key = `${vote.validator}/${vote.height}/${vote.round}/${vote.type}`
      const previous = seen.get(key)
      if (previous === undefined) seen.set(key, vote.blockHash)
      else if (previous !== vote.blockHash) conflicts.add(`${key}: ${previous} vs ${vote.blockHash}`)
    }
  }
  return { votes, conflicts: [...conflicts] }
}
