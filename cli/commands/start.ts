// `openledger start --home DIR`: run a validator or full node from a home made by `testnet init`.
import { join } from 'node:path'
import { appendFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { toHex } from '../../runtime/crypto/hash.ts'
import type { SignedVote } from '../../consensus/types.ts'
import { parseArgs } from 'node:util'
import { blockTimeMsOf, parseChainSpec } from '../../genesis/spec.ts'
import { loadNodeConfig } from '../../node/config.ts'
import { readOperatorKey, readValidatorKey } from '../../node/keyFiles.ts'
import { OpenLedgerNode } from '../../node/node.ts'
import { systemClock } from '../../node/clock.ts'
import { loadOrCreateNodeKey } from '../../p2p/nodeKey.ts'
import { resolveHome } from '../home.ts'
import { CliError, type Command } from '../io.ts'
import { parsePositiveInt } from '../parse.ts'
import { RPC_USAGE, rpcFlagsFrom, rpcOptions } from '../rpcFlags.ts'
import { LOG_LEVELS } from '../../lib/logger.ts'
import { loggerFrom, loggingOptions, untilSignal } from '../logging.ts'
import { EMBEDDED_SERVE_USAGE, embeddedServeOptions, providerOptionsFrom, startEmbeddedServing } from './serve.ts'
import { runUntilStopped, startNode, STORAGE_USAGE, storageFrom, storageOptions } from '../nodeRun.ts'

/** every option `start` takes; its help describes each (test/cli/help.test.ts) */
export const startOptions = {
  home: { type: 'string' }, 'test-equivocate': { type: 'boolean' }, 'test-model-fault': { type: 'string' }, 'test-attribution-fault': { type: 'string' }, 'test-check-fault': { type: 'string' }, 'training-threads': { type: 'string' }, 'vote-log': { type: 'string' }, ...rpcOptions, 'clock-offset': { type: 'string' }, 'test-software-version': { type: 'string' }, ...embeddedServeOptions, ...loggingOptions, ...storageOptions,
} as const

export const startCommand: Command = {
  usage: [
    'openledger start --home DIR [--rpc-methods safe|unsafe] [RPC limits…] [--log-level LEVEL] [--log-format text|json] [--vote-log FILE]',
    '',
    '--home DIR            the node\'s home, made by testnet init or testnet add-node (config.json, keys, genesis, data)',
    `--log-level LEVEL     ${Object.keys(LOG_LEVELS).join('|')} (default info); --log-format text|json`,
    '--vote-log FILE       append every validly signed vote seen to FILE (JSON lines), for audits',
    '--training-threads N  threads for ModelFactory training jobs (default: all cores)',
    '--clock-offset=MS     TEST ONLY: run as if this machine\'s clock were MS ms ahead (--clock-offset=-MS: behind)',
    ...RPC_USAGE,
    '--test-check-fault lie  TEST ONLY: vote against what this validator\'s inference re-checks find',
    '--test-equivocate     TEST ONLY: sign two different votes for one step (to show double-sign slashing)',
    '--test-model-fault wrong-attestation|skip-training  TEST ONLY: a ModelFactory worker that lies or never trains',
    '--test-attribution-fault wrong-receipt  TEST ONLY: submit wrong attribution receipts (or OPENLEDGER_ATTRIBUTION_FAULTY=1)',
    '--test-software-version X.Y.Z  TEST ONLY: run as that version (an enacted upgrade stops older versions at its height)',
    ...EMBEDDED_SERVE_USAGE,
    ...STORAGE_USAGE,
  ].join('\n'),
  async run(argv) {
    const { values } = parseArgs({ args: argv, strict: true, options: startOptions })
    const fault = values['test-model-fault']
    if (fault !== undefined && fault !== 'wrong-attestation' && fault !== 'skip-training') throw new CliError('BAD_ARGUMENT', '--test-model-fault must be wrong-attestation or skip-training')
    // TEST ONLY: a node that submits wrong attribution receipts (the flag, or OPENLEDGER_ATTRIBUTION_FAULTY=1)
    const attributionFault = values['test-attribution-fault'] ?? (process.env['OPENLEDGER_ATTRIBUTION_FAULTY'] === '1' ? 'wrong-receipt' : undefined)
    if (attributionFault !== undefined && attributionFault !== 'wrong-receipt') throw new CliError('BAD_ARGUMENT', '--test-attribution-fault must be wrong-receipt')
    const checkFault = values['test-check-fault']
    if (checkFault !== undefined && checkFault !== 'lie') throw new CliError('BAD_ARGUMENT', '--test-check-fault must be lie')
    const rpcFlags = rpcFlagsFrom(values)
    const home = resolveHome(values.home)
    const config = await loadNodeConfig(home)
    let specText: string
    try {
      specText = await readFile(config.chainSpecPath, 'utf8')
    } catch (cause) {
      throw new CliError('NOT_FOUND', `cannot read the chain spec ${config.chainSpecPath}`, { cause })
    }
    const spec = parseChainSpec(specText)
    const logger = loggerFrom(values).child(config.moniker)
    const clockOffsetMs = values['clock-offset'] === undefined ? 0 : parseClockOffset(values['clock-offset'])
    if (clockOffsetMs !== 0) logger.warn('TEST ONLY: running with a shifted clock', { clockOffsetMs })
    const validatorKey = config.validatorKeyPath === undefined ? undefined : await readValidatorKey(config.validatorKeyPath)
    const operator = config.operatorKeyPath === undefined ? undefined : await readOperatorKey(config.operatorKeyPath)
    const node = new OpenLedgerNode(
      {
        home,
        spec,
        nodeName: config.moniker,
        clock: systemClock(clockOffsetMs),
        rpc: { ...rpcFlags.options, ...config.rpc },
        rpcMethods: rpcFlags.methods,
        unsafeRpcExternal: rpcFlags.unsafeExternal,
        blobs: rpcFlags.blobs,
        metrics: config.metrics,
        storage: storageFrom(values),
        ...providerOptionsFrom(values),
        ...(values['test-software-version'] === undefined ? {} : { softwareVersion: values['test-software-version'] }),
        ...(config.pruneWindow === undefined ? {} : { pruneWindow: config.pruneWindow }),
        models: {
          ...(values['training-threads'] === undefined ? {} : { threads: parsePositiveInt(values['training-threads'], '--training-threads') }),
          ...(fault === undefined ? {} : { fault }),
        },
        ...(attributionFault === undefined ? {} : { attribution: { fault: attributionFault } }),
        ...(checkFault === undefined ? {} : { recheck: { fault: checkFault } }),
        network: { nodeKey: await loadOrCreateNodeKey(config.nodeKeyPath), listen: config.p2p.listen, bootnodes: config.p2p.bootnodes },
        consensus: {
          validatorKey,
          operator,
          // config.json may pace this node otherwise; by default it keeps the chain's target
          blockTimeMs: config.consensus.blockTimeMs ?? blockTimeMsOf(spec),
          timeouts: {
            proposeMs: config.consensus.timeoutProposeMs,
            proposeDeltaMs: config.consensus.timeoutDeltaMs,
            prevoteMs: config.consensus.timeoutVoteMs,
            prevoteDeltaMs: config.consensus.timeoutDeltaMs,
            precommitMs: config.consensus.timeoutVoteMs,
            precommitDeltaMs: config.consensus.timeoutDeltaMs,
          },
          ...(values['test-equivocate'] === true ? { equivocate: true } : {}),
          ...(values['vote-log'] === undefined ? {} : { observeVote: voteLogger(values['vote-log']) }),
        },
      },
      { logger },
    )
    // listening before start(): a stop asked for during start-up waits for it, then stops cleanly
    const stopRequested = untilSignal(logger)
    const inConfig = (key: string) => `"${key}" in ${join(home, 'config.json')}`
    await startNode(node, home, { rpc: inConfig('rpc.port'), metrics: inConfig('metrics.port'), p2p: inConfig('p2p.listen'), serve: '--serve-port' })
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

/** ms: at most ±10,000 days, an integer */
function parseClockOffset(text: string): number {
  const value = Number(text)
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(value) || Math.abs(value) > 864_000_000_000) throw new CliError('BAD_ARGUMENT', '--clock-offset must be an integer number of ms within ±10,000 days')
  return value
}

/** Appends each vote as a JSON line: validator, height, round, type, block hash (null = nil). */
function voteLogger(path: string): (vote: SignedVote) => void {
  return (vote) => {
    appendFileSync(path, JSON.stringify({ validator: toHex(vote.validator), height: vote.height, round: vote.round, type: vote.type, blockHash: vote.blockHash === undefined ? null : toHex(vote.blockHash) }) + '\n')
  }
}
