// `openledger testnet init|add-node|run`: a local multi-validator network on this machine.
//
//   DIR/genesis.json           the chain spec every node shares
//   DIR/node<i>/config.json    ports, bootnodes (every other node), key paths
//   DIR/node<i>/*.json         validator, operator and node keys (0600)
//   DIR/full<i>/               full nodes (no validator key), with --full-nodes
//   DIR/<name>/                a node added later with `testnet add-node` (a validator key that
//                              is not in genesis: its operator registers it with create-validator)
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, readdir, readFile, stat, writeFile, copyFile } from 'node:fs/promises'
import { basename, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { randomBytes } from 'node:crypto'
import { chainSpecToJson, parseChainSpec } from '../../genesis/spec.ts'
import { DEV_INFERENCE_PARAMS, DEV_STAKING_PARAMS } from '../../genesis/devSpec.ts'
import { DEFAULT_GOVERNANCE_PARAMS } from '../../runtime/modules/governance/index.ts'
import { TESTNET_MODELS_PARAMS, testnetChainSpec } from '../../genesis/testnetSpec.ts'
import { shippedBaseModels } from '../../node/models/baseModels.ts'
import { DEFAULT_ATTRIBUTION_PARAMS } from '../../runtime/modules/attribution/index.ts'
import { generateEd25519FromSeed } from '../../runtime/crypto/ed25519.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import { privateKeyToAddress, isValidPrivateKey } from '../../runtime/crypto/secp256k1.ts'
import { genesisBlock } from '../../node/chain/chain.ts'
import { writeOperatorKey, writeValidatorKey } from '../../node/keyFiles.ts'
import { bootnodeAddress, generateNodeKey, nodeKeyFromHex, nodeKeyToHex } from '../../p2p/nodeKey.ts'
import { loadNodeConfig } from '../../node/config.ts'
import { BEACON_CHAIN_LENGTH, beaconSeed, hashChain } from '../../runtime/modules/staking/index.ts'
import { CliError, type CliIo, type Command } from '../io.ts'
import { parsePort, parsePositiveInt } from '../parse.ts'

const BIN = fileURLToPath(new URL('../../bin/openledger.js', import.meta.url))

function accountKey(): Uint8Array {
  for (;;) {
    const key = new Uint8Array(randomBytes(32))
    if (isValidPrivateKey(key)) return key
  }
}

async function init(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      validators: { type: 'string' },
      'full-nodes': { type: 'string' },
      out: { type: 'string' },
      'chain-id': { type: 'string' },
      'p2p-port': { type: 'string' },
      'rpc-port': { type: 'string' },
      'metrics-port': { type: 'string' },
      'block-time': { type: 'string' },
      'timeout-propose': { type: 'string' },
      'epoch-length': { type: 'string' },
      'max-validators': { type: 'string' },
      'unbonding-period': { type: 'string' },
      'train-blocks': { type: 'string' },
      'verify-blocks': { type: 'string' },
      'voting-period': { type: 'string' },
      timelock: { type: 'string' },
      'inference-sample-rate': { type: 'string' },
      'attribution-sample-rate': { type: 'string' },
    },
  })
  if (values.out === undefined) throw new CliError('USAGE', 'testnet init needs --out DIR')
  const validators = parsePositiveInt(values.validators ?? '4', '--validators')
  if (validators > 64) throw new CliError('BAD_ARGUMENT', '--validators must be at most 64')
  const fullNodes = parsePositiveInt(values['full-nodes'] ?? '0', '--full-nodes', 0)
  const p2pBase = parsePort(values['p2p-port'] ?? '30333', '--p2p-port')
  const rpcBase = parsePort(values['rpc-port'] ?? '9944', '--rpc-port')
  const metricsBase = parsePort(values['metrics-port'] ?? '9615', '--metrics-port')
  const blockTimeMs = parsePositiveInt(values['block-time'] ?? '1000', '--block-time')
  const timeoutProposeMs = parsePositiveInt(values['timeout-propose'] ?? '1000', '--timeout-propose')
  const stakingParams = {
    ...DEV_STAKING_PARAMS,
    epochLength: parsePositiveInt(values['epoch-length'] ?? String(DEV_STAKING_PARAMS.epochLength), '--epoch-length'),
    maxValidators: parsePositiveInt(values['max-validators'] ?? String(DEV_STAKING_PARAMS.maxValidators), '--max-validators'),
    // blocks; the light client trusts a block for 2/3 of it at the block time
    unbondingPeriod: parsePositiveInt(values['unbonding-period'] ?? String(DEV_STAKING_PARAMS.unbondingPeriod), '--unbonding-period'),
  }
  const modelsParams = {
    ...TESTNET_MODELS_PARAMS,
    trainBlocks: parsePositiveInt(values['train-blocks'] ?? String(TESTNET_MODELS_PARAMS.trainBlocks), '--train-blocks'),
    verifyBlocks: parsePositiveInt(values['verify-blocks'] ?? String(TESTNET_MODELS_PARAMS.verifyBlocks), '--verify-blocks'),
  }
  // governance's periods in blocks (default the runtime's, a week's vote): a local testnet votes in minutes
  const governanceParams = values['voting-period'] === undefined && values.timelock === undefined ? undefined : {
    ...DEFAULT_GOVERNANCE_PARAMS,
    votingPeriod: parsePositiveInt(values['voting-period'] ?? String(DEFAULT_GOVERNANCE_PARAMS.votingPeriod), '--voting-period'),
    timelockBlocks: parsePositiveInt(values.timelock ?? String(DEFAULT_GOVERNANCE_PARAMS.timelockBlocks), '--timelock'),
  }
  const sampleRate = values['inference-sample-rate'] === undefined ? undefined : parsePositiveInt(values['inference-sample-rate'], '--inference-sample-rate', 0)
  if (sampleRate !== undefined && sampleRate > 10_000) throw new CliError('BAD_ARGUMENT', '--inference-sample-rate is in basis points: at most 10000')
  const sampleBps = values['attribution-sample-rate']
  const attributionParams = sampleBps === undefined ? undefined : { ...DEFAULT_ATTRIBUTION_PARAMS, sampleRateBps: parsePositiveInt(sampleBps, '--attribution-sample-rate', 0) }
  if (attributionParams !== undefined && attributionParams.sampleRateBps > 10_000) throw new CliError('BAD_ARGUMENT', '--attribution-sample-rate must be at most 10000')
  if (stakingParams.maxValidators > 1_000) throw new CliError('BAD_ARGUMENT', '--max-validators must be at most 1000')
  const out = resolve(values.out)
  try {
    if ((await readdir(out)).length > 0) throw new CliError('BAD_ARGUMENT', `${out} is not empty`)
  } catch (error) {
    if (error instanceof CliError) throw error
  }
  await mkdir(out, { recursive: true })

  const total = validators + fullNodes
  const nodes = Array.from({ length: total }, (_, i) => {
    const validator = i < validators
    const nodeKey = generateNodeKey()
    const listen = `/ip4/127.0.0.1/tcp/${p2pBase + i}`
    return {
      name: validator ? `node${i}` : `full${i - validators}`,
      validator,
      nodeKey,
      listen,
      bootnode: bootnodeAddress(listen, nodeKey),
      consensusKey: generateEd25519FromSeed(new Uint8Array(randomBytes(32))),
      operatorKey: accountKey(),
      rpcPort: rpcBase + i,
      metricsPort: metricsBase + i,
    }
  })
  const spec = testnetChainSpec({
    validators: nodes.filter((n) => n.validator).map((n) => ({
      operator: privateKeyToAddress(n.operatorKey),
      consensusKey: n.consensusKey.publicKey,
      // the tip of the validator's beacon hash chain: its node derives the same seed from this key
      beacon: { tip: hashChain(beaconSeed(n.consensusKey.secretKey), BEACON_CHAIN_LENGTH), remaining: BEACON_CHAIN_LENGTH },
    })),
    genesisTime: Date.now(),
    chainId: values['chain-id'] === undefined ? 4242 : parsePositiveInt(values['chain-id'], '--chain-id'),
    stakingParams,
    modelsParams,
    ...(governanceParams === undefined ? {} : { governanceParams }),
    blockTimeMs,
    ...(sampleRate === undefined ? {} : { inferenceParams: { ...DEV_INFERENCE_PARAMS, checkSampleRateBps: sampleRate } }),
    ...(attributionParams === undefined ? {} : { attributionParams }),
    baseModels: await shippedBaseModels(),
  })
  await writeFile(join(out, 'genesis.json'), chainSpecToJson(spec))
  for (const node of nodes) {
    const home = join(out, node.name)
    await mkdir(home, { recursive: true })
    await copyFile(join(out, 'genesis.json'), join(home, 'genesis.json'))
    await writeFile(join(home, 'node_key.json'), nodeKeyToHex(node.nodeKey) + '\n', { mode: 0o600 })
    await writeOperatorKey(join(home, 'operator_key.json'), { privateKey: node.operatorKey, address: privateKeyToAddress(node.operatorKey) })
    if (node.validator) await writeValidatorKey(join(home, 'validator_key.json'), node.consensusKey)
    await writeConfig(home, {
      moniker: node.name,
      rpcPort: node.rpcPort,
      metricsPort: node.metricsPort,
      listen: node.listen,
      bootnodes: nodes.filter((other) => other !== node && other.validator).map((other) => other.bootnode),
      validator: node.validator,
      // the block time is the chain's (the spec's): every node paces itself by it
      consensus: { timeoutProposeMs },
    })
  }
  const genesis = await genesisBlock(spec)
  io.out(`wrote a ${validators}-validator testnet${fullNodes > 0 ? ` and ${fullNodes} full node(s)` : ''} to ${out}`)
  io.out(`  chain id ${spec.chainId}, genesis ${toHex(genesis.hash)}`)
  for (const node of nodes) io.out(`  ${node.name.padEnd(6)} rpc http://127.0.0.1:${node.rpcPort}  p2p ${node.bootnode}`)
  io.out(`start one:  npx openledger start --home ${join(out, nodes[0]?.name ?? 'node0')}`)
  io.out(`start all:  npx openledger testnet run --out ${out}`)
  return 0
}

interface HomeConfig {
  moniker: string
  rpcPort: number
  metricsPort: number
  listen: string
  bootnodes: string[]
  validator: boolean
  consensus: { blockTimeMs?: number | undefined; timeoutProposeMs: number }
}

async function writeConfig(home: string, node: HomeConfig): Promise<void> {
  const config = {
    moniker: node.moniker,
    chainSpec: 'genesis.json',
    rpc: { host: '127.0.0.1', port: node.rpcPort },
    metrics: { host: '127.0.0.1', port: node.metricsPort },
    p2p: { listen: [node.listen], bootnodes: node.bootnodes },
    validatorKey: node.validator ? 'validator_key.json' : null,
    operatorKey: 'operator_key.json',
    nodeKey: 'node_key.json',
    consensus: node.consensus,
  }
  await writeFile(join(home, 'config.json'), JSON.stringify(config, null, 2) + '\n', { flag: 'wx' })
}

/** The homes (folders with a config.json) directly under `out`, sorted by name. */
async function nodeHomes(out: string): Promise<string[]> {
  const homes: string[] = []
  for (const name of (await readdir(out)).sort()) {
    const home = join(out, name)
    if ((await stat(home)).isDirectory() && (await stat(join(home, 'config.json')).catch(() => undefined)) !== undefined) homes.push(home)
  }
  return homes
}

/**
 * A new node home next to the others: the testnet's genesis, fresh node, validator and operator
 * keys, bootnodes = every existing node, ports one past the highest in use. Its validator key is
 * not in genesis: until its operator runs `tx stake create-validator` (and the next epoch boundary
 * puts it in the active set) the node follows the chain as a full node.
 */
async function addNode(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: { out: { type: 'string' }, name: { type: 'string' }, 'p2p-port': { type: 'string' }, 'rpc-port': { type: 'string' }, 'metrics-port': { type: 'string' }, 'full-node': { type: 'boolean' } },
  })
  if (values.out === undefined || values.name === undefined) throw new CliError('USAGE', 'testnet add-node needs --out DIR and --name NAME')
  if (!/^[a-zA-Z0-9_-]{1,64}$/.test(values.name)) throw new CliError('BAD_ARGUMENT', '--name must be 1-64 letters, digits, - or _')
  const out = resolve(values.out)
  const spec = parseChainSpec(await readFile(join(out, 'genesis.json'), 'utf8').catch((cause: unknown) => {
    throw new CliError('NOT_FOUND', `no genesis.json in ${out} (run testnet init first)`, { cause })
  }))
  const home = join(out, values.name)
  if ((await stat(home).catch(() => undefined)) !== undefined) throw new CliError('BAD_ARGUMENT', `${home} already exists`)
  const peers = await Promise.all((await nodeHomes(out)).map(async (peerHome) => {
    const config = await loadNodeConfig(peerHome)
    const key = nodeKeyFromHex((await readFile(config.nodeKeyPath, 'utf8')).trim())
    return { config, bootnodes: config.p2p.listen.map((listen) => bootnodeAddress(listen, key)) }
  }))
  if (peers.length === 0) throw new CliError('NOT_FOUND', `no node homes in ${out}`)
  const p2pPorts = peers.flatMap((peer) => peer.config.p2p.listen.map((listen) => Number(/\/tcp\/(\d+)/.exec(listen)?.[1] ?? 0)))
  const rpcPorts = peers.map((peer) => peer.config.rpc.port)
  const metricsPorts = peers.map((peer) => (peer.config.metrics === false ? 0 : peer.config.metrics.port))
  const p2pPort = values['p2p-port'] === undefined ? Math.max(...p2pPorts) + 1 : parsePort(values['p2p-port'], '--p2p-port')
  const rpcPort = values['rpc-port'] === undefined ? Math.max(...rpcPorts) + 1 : parsePort(values['rpc-port'], '--rpc-port')
  const metricsPort = values['metrics-port'] === undefined ? Math.max(...metricsPorts) + 1 : parsePort(values['metrics-port'], '--metrics-port')
  const validator = values['full-node'] !== true
  const first = peers[0]?.config.consensus ?? { blockTimeMs: undefined, timeoutProposeMs: 1000 }

  const nodeKey = generateNodeKey()
  const consensusKey = generateEd25519FromSeed(new Uint8Array(randomBytes(32)))
  const operatorKey = accountKey()
  const operator = privateKeyToAddress(operatorKey)
  const listen = `/ip4/127.0.0.1/tcp/${p2pPort}`
  await mkdir(home, { recursive: true })
  await copyFile(join(out, 'genesis.json'), join(home, 'genesis.json'))
  await writeFile(join(home, 'node_key.json'), nodeKeyToHex(nodeKey) + '\n', { mode: 0o600 })
  await writeOperatorKey(join(home, 'operator_key.json'), { privateKey: operatorKey, address: operator })
  if (validator) await writeValidatorKey(join(home, 'validator_key.json'), consensusKey)
  await writeConfig(home, {
    moniker: values.name,
    rpcPort,
    metricsPort,
    listen,
    bootnodes: peers.flatMap((peer) => peer.bootnodes),
    validator,
    consensus: { blockTimeMs: first.blockTimeMs, timeoutProposeMs: first.timeoutProposeMs },
  })
  io.out(`added ${validator ? 'validator' : 'full'} node ${values.name} to the ${spec.name} testnet in ${home}`)
  io.out(`  rpc http://127.0.0.1:${rpcPort}  p2p ${bootnodeAddress(listen, nodeKey)}`)
  io.out(`  operator address ${toHex(operator)} (operator_key.json; fund it, or import it: keys import --type account)`)
  if (validator) {
    io.out(`  consensus key    ${toHex(consensusKey.publicKey)} (validator_key.json)`)
    io.out(`register it:  npx openledger tx stake create-validator --from OPERATOR --consensus-key ${join(home, 'validator_key.json')} --self-bond OPEN`)
  }
  io.out(`start it:     npx openledger start --home ${home}`)
  return 0
}

async function run(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args: argv, strict: true, options: { out: { type: 'string' }, 'log-level': { type: 'string' } } })
  if (values.out === undefined) throw new CliError('USAGE', 'testnet run needs --out DIR')
  const out = resolve(values.out)
  const homes = await nodeHomes(out)
  if (homes.length === 0) throw new CliError('NOT_FOUND', `no node homes in ${out} (run testnet init first)`)
  // one node failing (a port in use, a broken home) stops them all: a network missing a member
  // that keeps finalizing hides the error under the others' logs
  let stopping = false
  let failed: { home: string; reason: string } | undefined
  let stopAll: () => void = () => undefined
  const stopped = new Promise<void>((resolveStop) => {
    stopAll = () => {
      if (stopping) return
      stopping = true
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      resolveStop()
    }
  })
  const children: ChildProcess[] = homes.map((home) => {
    const child = spawn(process.execPath, [BIN, 'start', '--home', home, '--log-level', values['log-level'] ?? 'info'], { stdio: ['ignore', 'inherit', 'inherit'] })
    child.on('exit', (code, signal) => {
      const reason = signal === null ? `exit code ${code}` : `signal ${signal}`
      if (stopping) return io.err(`${home} stopped (${reason})`)
      failed = { home, reason }
      io.err(`${home} exited (${reason}): stopping the other nodes`)
      stopAll()
    })
    return child
  })
  io.out(`started ${children.length} nodes; Ctrl-C stops them`)
  process.once('SIGINT', stopAll)
  process.once('SIGTERM', stopAll)
  await stopped
  process.off('SIGINT', stopAll)
  process.off('SIGTERM', stopAll)
  await Promise.all(children.map((child) => (child.exitCode !== null || child.signalCode !== null ? undefined : new Promise((r) => child.once('exit', r)))))
  if (failed !== undefined) throw new CliError('FAILED', `node ${basename(failed.home)} (${failed.home}) failed (${failed.reason}); all nodes stopped — its error is above`)
  return 0
}

export const testnetCommand: Command = {
  usage: [
    'openledger testnet init --validators N --out DIR [--full-nodes N] [--p2p-port BASE] [--rpc-port BASE] [--metrics-port BASE] [--block-time MS]',
    '                                [--timeout-propose MS] [--chain-id N] [--epoch-length BLOCKS] [--max-validators N] [--unbonding-period BLOCKS]',
    '                                [--train-blocks BLOCKS] [--verify-blocks BLOCKS] [--voting-period BLOCKS] [--timelock BLOCKS]',
    '                                [--inference-sample-rate BPS] [--attribution-sample-rate BPS]',
    '       openledger testnet add-node --out DIR --name NAME [--full-node] [--p2p-port P] [--rpc-port P] [--metrics-port P]',
    '       openledger testnet run --out DIR',
  ].join('\n'),
  async run(argv, io) {
    const [sub, ...rest] = argv
    if (sub === 'init') return init(rest, io)
    if (sub === 'add-node') return addNode(rest, io)
    if (sub === 'run') return run(rest, io)
    throw new CliError('USAGE', `unknown testnet subcommand '${sub ?? ''}': use init, add-node or run`)
  },
}
