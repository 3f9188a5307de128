// `openledger testnet init|run`: a local multi-validator network on this machine.
//
//   DIR/genesis.json           the chain spec every node shares
//   DIR/node<i>/config.json    ports, bootnodes (every other node), key paths
//   DIR/node<i>/*.json         validator, operator and node keys (0600)
//   DIR/full<i>/               full nodes (no validator key), with --full-nodes
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, readdir, stat, writeFile, copyFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { randomBytes } from 'node:crypto'
import { chainSpecToJson } from '../../genesis/spec.ts'
import { testnetChainSpec } from '../../genesis/testnetSpec.ts'
import { generateEd25519FromSeed } from '../../runtime/crypto/ed25519.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import { privateKeyToAddress, isValidPrivateKey } from '../../runtime/crypto/secp256k1.ts'
import { genesisBlock } from '../../node/chain/chain.ts'
import { writeOperatorKey, writeValidatorKey } from '../../node/keyFiles.ts'
import { bootnodeAddress, generateNodeKey, nodeKeyToHex } from '../../p2p/nodeKey.ts'
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
    validators: nodes.filter((n) => n.validator).map((n) => ({ operator: privateKeyToAddress(n.operatorKey), consensusKey: n.consensusKey.publicKey })),
    genesisTime: Date.now(),
    chainId: values['chain-id'] === undefined ? 4242 : parsePositiveInt(values['chain-id'], '--chain-id'),
  })
  await writeFile(join(out, 'genesis.json'), chainSpecToJson(spec))
  for (const node of nodes) {
    const home = join(out, node.name)
    await mkdir(home, { recursive: true })
    await copyFile(join(out, 'genesis.json'), join(home, 'genesis.json'))
    await writeFile(join(home, 'node_key.json'), nodeKeyToHex(node.nodeKey) + '\n', { mode: 0o600 })
    await writeOperatorKey(join(home, 'operator_key.json'), { privateKey: node.operatorKey, address: privateKeyToAddress(node.operatorKey) })
    if (node.validator) await writeValidatorKey(join(home, 'validator_key.json'), node.consensusKey)
    const config = {
      moniker: node.name,
      chainSpec: 'genesis.json',
      rpc: { host: '127.0.0.1', port: node.rpcPort },
      metrics: { host: '127.0.0.1', port: node.metricsPort },
      p2p: { listen: [node.listen], bootnodes: nodes.filter((other) => other !== node && other.validator).map((other) => other.bootnode) },
      validatorKey: node.validator ? 'validator_key.json' : null,
      operatorKey: 'operator_key.json',
      nodeKey: 'node_key.json',
      consensus: { blockTimeMs, timeoutProposeMs },
    }
    await writeFile(join(home, 'config.json'), JSON.stringify(config, null, 2) + '\n')
  }
  const genesis = await genesisBlock(spec)
  io.out(`wrote a ${validators}-validator testnet${fullNodes > 0 ? ` and ${fullNodes} full node(s)` : ''} to ${out}`)
  io.out(`  chain id ${spec.chainId}, genesis ${toHex(genesis.hash)}`)
  for (const node of nodes) io.out(`  ${node.name.padEnd(6)} rpc http://127.0.0.1:${node.rpcPort}  p2p ${node.bootnode}`)
  io.out(`start one:  npx openledger start --home ${join(out, nodes[0]?.name ?? 'node0')}`)
  io.out(`start all:  npx openledger testnet run --out ${out}`)
  return 0
}

async function run(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args: argv, strict: true, options: { out: { type: 'string' }, 'log-level': { type: 'string' } } })
  if (values.out === undefined) throw new CliError('USAGE', 'testnet run needs --out DIR')
  const out = resolve(values.out)
  const homes: string[] = []
  for (const name of (await readdir(out)).sort()) {
    const home = join(out, name)
    if ((await stat(home)).isDirectory() && (await stat(join(home, 'config.json')).catch(() => undefined)) !== undefined) homes.push(home)
  }
  if (homes.length === 0) throw new CliError('NOT_FOUND', `no node homes in ${out} (run testnet init first)`)
  const children: ChildProcess[] = homes.map((home) => {
    const child = spawn(process.execPath, [BIN, 'start', '--home', home, '--log-level', values['log-level'] ?? 'info'], { stdio: ['ignore', 'inherit', 'inherit'] })
    child.on('exit', (code, signal) => io.err(`${home} exited (${signal ?? code})`))
    return child
  })
  io.out(`started ${children.length} nodes; Ctrl-C stops them`)
  await new Promise<void>((resolveStop) => {
    const stop = () => {
      for (const child of children) child.kill('SIGTERM')
      resolveStop()
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
  await Promise.all(children.map((child) => (child.exitCode !== null ? undefined : new Promise((r) => child.once('exit', r)))))
  return 0
}

export const testnetCommand: Command = {
  name: 'testnet',
  summary: 'Create and run a local multi-validator testnet',
  usage: [
    'openledger testnet init --validators N --out DIR [--full-nodes N] [--p2p-port BASE] [--rpc-port BASE] [--metrics-port BASE] [--block-time MS] [--chain-id N]',
    '       openledger testnet run --out DIR',
  ].join('\n'),
  async run(argv, io) {
    const [sub, ...rest] = argv
    if (sub === 'init') return init(rest, io)
    if (sub === 'run') return run(rest, io)
    throw new CliError('USAGE', `unknown testnet subcommand '${sub ?? ''}': use init or run`)
  },
}
