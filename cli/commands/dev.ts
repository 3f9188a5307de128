// `openledger dev`: a single-validator dev chain on an embedded LevelDB, with prefunded dev accounts.
import { parseArgs } from 'node:util'
import { join } from 'node:path'
import { readFile } from 'node:fs/promises'
import { devChainSpec } from '../../genesis/devSpec.ts'
import { shippedBaseModels } from '../../node/models/baseModels.ts'
import { blockTimeMsOf, parseChainSpec } from '../../genesis/spec.ts'
import { devAccount, devKey } from '../../genesis/devAccounts.ts'
import { OpenLedgerNode } from '../../node/node.ts'
import { resolveHome } from '../home.ts'
import { CliError, type Command } from '../io.ts'
import { LOG_LEVELS } from '../../lib/logger.ts'
import { loggerFrom, loggingOptions, untilSignal } from '../logging.ts'
import { parsePort, parsePositiveInt } from '../parse.ts'
import { EMBEDDED_SERVE_USAGE, embeddedServeOptions, providerOptionsFrom, startEmbeddedServing } from './serve.ts'
import { DEV_PORT_FLAGS, runUntilStopped, startNode, STORAGE_USAGE, storageFrom, storageOptions } from '../nodeRun.ts'
import { RPC_USAGE, rpcFlagsFrom, rpcOptions } from '../rpcFlags.ts'
import { DEFAULT_PRUNE_WINDOW } from '../../node/state/stateDb.ts'

/** every option `dev` takes; its help describes each (test/cli/help.test.ts) */
export const devOptions = {
  home: { type: 'string' },
  spec: { type: 'string' },
  'rpc-port': { type: 'string' },
  'rpc-host': { type: 'string' },
  'metrics-port': { type: 'string' },
  'no-metrics': { type: 'boolean' },
  'block-time': { type: 'string' },
  'instant-seal': { type: 'boolean' },
  'prune-window': { type: 'string' },
  'verifier-threads': { type: 'string' },
  'training-threads': { type: 'string' },
  ...rpcOptions,
  'test-software-version': { type: 'string' },
  ...loggingOptions,
  ...embeddedServeOptions,
  ...storageOptions,
} as const

const DEV_USAGE = [
  '--home DIR            the chain\'s data (default ~/.openledger/dev, or $OPENLEDGER_HOME/dev; npm start: ./data/dev)',
  '--spec FILE           a chain spec to start from (default: the built-in dev spec, alice the one validator)',
  '--rpc-port PORT       JSON-RPC over HTTP and WebSocket (default 9944; 0 picks a free one)',
  '--rpc-host HOST       the address RPC listens on (default 127.0.0.1)',
  '--metrics-port PORT   Prometheus metrics at /metrics (default 9615); --no-metrics: none',
  '--block-time MS       a block every MS milliseconds, final at once (default 1000)',
  '--instant-seal        also seal a block as soon as a transaction enters the pool, without waiting for the next tick',
  `--prune-window N      state versions kept for historical reads and proofs (default ${DEFAULT_PRUNE_WINDOW})`,
  '--training-threads N  threads for ModelFactory training jobs (default: all cores)',
  '--verifier-threads N  signature verification worker threads (0: on the main thread)',
  `--log-level LEVEL     ${Object.keys(LOG_LEVELS).join('|')} (default info); --log-format text|json`,
]

export const devCommand: Command = {
  usage: 'openledger dev [--home DIR] [--spec CHAIN_SPEC.json] [--rpc-port PORT] [--rpc-host HOST] [--metrics-port PORT|--no-metrics] [--block-time MS] [--instant-seal] [--prune-window N] [--log-level LEVEL] [--log-format text|json] [--min-free-disk MB] [--disk-warn-free MB] [RPC limits…] [--serve [--serve-port N] …] [--test-software-version X.Y.Z]\n\n' + [...DEV_USAGE, '--test-software-version X.Y.Z  TEST ONLY: run as that version (an enacted upgrade stops older versions at its height)', ...RPC_USAGE, ...STORAGE_USAGE, ...EMBEDDED_SERVE_USAGE].join('\n'),
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      options: devOptions,
    })
    const logger = loggerFrom(values)
    const home = resolveHome(values.home ?? join(resolveHome(undefined), 'dev'))
    const rpcFlags = rpcFlagsFrom(values)
    const spec = values.spec === undefined ? devChainSpec({ baseModels: await shippedBaseModels() }) : parseChainSpec(await readSpecFile(values.spec))
    const node = new OpenLedgerNode(
      {
        home,
        spec,
        rpc: { ...rpcFlags.options, host: values['rpc-host'] ?? '127.0.0.1', port: parsePort(values['rpc-port'] ?? '9944', '--rpc-port') },
        rpcMethods: rpcFlags.methods,
        unsafeRpcExternal: rpcFlags.unsafeExternal,
        blobs: rpcFlags.blobs,
        metrics: values['no-metrics'] === true ? false : { port: parsePort(values['metrics-port'] ?? '9615', '--metrics-port') },
        storage: storageFrom(values),
        ...providerOptionsFrom(values),
        ...(values['test-software-version'] === undefined ? {} : { softwareVersion: values['test-software-version'] }),
        dev: { blockTime: values['block-time'] === undefined ? blockTimeMsOf(spec) : parsePositiveInt(values['block-time'], '--block-time'), instantSeal: values['instant-seal'] === true, author: devAccount('alice').address, operator: devKey('alice') },
        ...(values['prune-window'] === undefined ? {} : { pruneWindow: parsePositiveInt(values['prune-window'], '--prune-window') }),
        ...(values['verifier-threads'] === undefined ? {} : { verifierThreads: parsePositiveInt(values['verifier-threads'], '--verifier-threads', 0) }),
        ...(values['training-threads'] === undefined ? {} : { models: { threads: parsePositiveInt(values['training-threads'], '--training-threads') } }),
      },
      { logger },
    )
    // listening before start(): a stop asked for during start-up waits for it, then stops cleanly
    const stopRequested = untilSignal(logger)
    await startNode(node, home, DEV_PORT_FLAGS)
    logger.info('dev chain running', { home, accounts: 'alice bob charlie dave eve ferdie' })
    let serving
    try {
      serving = await startEmbeddedServing(values, node, home, logger)
    } catch (error) {
      await node.stop()
      throw error
    }
    return runUntilStopped(node, logger, () => serving?.stop(), stopRequested)
  },
}

async function readSpecFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (cause) {
    throw new CliError('NOT_FOUND', `cannot read chain spec ${path}`, { cause })
  }
}
