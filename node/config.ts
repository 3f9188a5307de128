// A node's home folder and its config file, read and checked at the edge.
//
//   <home>/config.json          this file (below)
//   <home>/genesis.json         the chain spec (path configurable)
//   <home>/validator_key.json   ed25519 consensus key of a validator (mode 0600), absent on full nodes
//   <home>/node_key.json        the libp2p identity (mode 0600)
//   <home>/db/                  LevelDB
//   <home>/consensus/           WAL and the double-sign guard
//
// {
//   "moniker": "node0",
//   "chainSpec": "genesis.json",
//   "rpc": { "host": "127.0.0.1", "port": 9944 },
//   "metrics": { "host": "127.0.0.1", "port": 9615 },          // or false
//   "p2p": { "listen": ["/ip4/127.0.0.1/tcp/30333"], "bootnodes": ["/ip4/…/tcp/…/p2p/12D3…"] },
//   "validatorKey": "validator_key.json",                      // or null for a full node
//   "nodeKey": "node_key.json",
//   "operatorKey": "operator_key.json",                        // optional: tips, evidence submission
//   "pruneWindow": 256,
//   "consensus": { "timeoutProposeMs": 1000, "timeoutVoteMs": 500, "timeoutDeltaMs": 500 }  // "blockTimeMs": overrides the spec's
// }
import { readFile } from 'node:fs/promises'
import { isAbsolute, join } from 'node:path'
import { OpenLedgerError } from '../runtime/errors.ts'

export type ConfigErrorCode = 'CONFIG_NOT_FOUND' | 'CONFIG_INVALID'
export class ConfigError extends OpenLedgerError<ConfigErrorCode> {}

export interface ConsensusTimeouts {
  /** ms to wait for a proposal in round 0 */
  timeoutProposeMs: number
  /** ms to wait for more votes after 2/3 of any votes (prevote and precommit) in round 0 */
  timeoutVoteMs: number
  /** ms added to every timeout per round */
  timeoutDeltaMs: number
  /** ms between a commit and the next height's proposal: absent, the chain spec's target block time (blockTimeMsOf) */
  blockTimeMs: number | undefined
}

export const DEFAULT_CONSENSUS_TIMEOUTS: ConsensusTimeouts = { timeoutProposeMs: 1000, timeoutVoteMs: 500, timeoutDeltaMs: 500, blockTimeMs: undefined }

export interface NodeConfig {
  moniker: string
  /** absolute paths */
  chainSpecPath: string
  validatorKeyPath: string | undefined
  operatorKeyPath: string | undefined
  nodeKeyPath: string
  rpc: { host: string; port: number }
  metrics: { host: string; port: number } | false
  p2p: { listen: string[]; bootnodes: string[] }
  pruneWindow: number | undefined
  consensus: ConsensusTimeouts
}

function fail(message: string): never {
  throw new ConfigError('CONFIG_INVALID', `config.json: ${message}`)
}

function record(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${field} must be an object`)
  return value as Record<string, unknown>
}

function str(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 4096) fail(`${field} must be a non-empty string`)
  return value
}

function port(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 65535) fail(`${field} must be a port number`)
  return value
}

function ms(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 600_000) fail(`${field} must be a number of milliseconds`)
  return value
}

function strings(value: unknown, field: string): string[] {
  if (value === undefined) return []
  if (!Array.isArray(value) || value.length > 256) fail(`${field} must be a list of strings`)
  return value.map((item, i) => str(item, `${field}[${i}]`))
}

const KNOWN = new Set(['moniker', 'chainSpec', 'rpc', 'metrics', 'p2p', 'validatorKey', 'operatorKey', 'nodeKey', 'pruneWindow', 'consensus'])

export function parseNodeConfig(text: string, home: string): NodeConfig {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (cause) {
    throw new ConfigError('CONFIG_INVALID', 'config.json is not valid JSON', { cause })
  }
  const c = record(raw, 'config')
  for (const key of Object.keys(c)) if (!KNOWN.has(key)) fail(`unknown field ${JSON.stringify(key)}`)
  const resolve = (path: string) => (isAbsolute(path) ? path : join(home, path))
  const rpc = record(c['rpc'] ?? {}, 'rpc')
  const p2p = record(c['p2p'] ?? {}, 'p2p')
  const consensus = record(c['consensus'] ?? {}, 'consensus')
  const metrics = c['metrics'] === false ? false : record(c['metrics'] ?? {}, 'metrics')
  const pruneWindow = c['pruneWindow']
  if (pruneWindow !== undefined && (typeof pruneWindow !== 'number' || !Number.isInteger(pruneWindow) || pruneWindow < 2)) fail('pruneWindow must be an integer of at least 2')
  return {
    moniker: c['moniker'] === undefined ? 'openledger' : str(c['moniker'], 'moniker'),
    chainSpecPath: resolve(c['chainSpec'] === undefined ? 'genesis.json' : str(c['chainSpec'], 'chainSpec')),
    validatorKeyPath: c['validatorKey'] === null || c['validatorKey'] === undefined ? undefined : resolve(str(c['validatorKey'], 'validatorKey')),
    operatorKeyPath: c['operatorKey'] === null || c['operatorKey'] === undefined ? undefined : resolve(str(c['operatorKey'], 'operatorKey')),
    nodeKeyPath: resolve(c['nodeKey'] === undefined ? 'node_key.json' : str(c['nodeKey'], 'nodeKey')),
    rpc: { host: rpc['host'] === undefined ? '127.0.0.1' : str(rpc['host'], 'rpc.host'), port: rpc['port'] === undefined ? 9944 : port(rpc['port'], 'rpc.port') },
    metrics: metrics === false ? false : { host: metrics['host'] === undefined ? '127.0.0.1' : str(metrics['host'], 'metrics.host'), port: metrics['port'] === undefined ? 9615 : port(metrics['port'], 'metrics.port') },
    p2p: { listen: strings(p2p['listen'], 'p2p.listen'), bootnodes: strings(p2p['bootnodes'], 'p2p.bootnodes') },
    pruneWindow: pruneWindow as number | undefined,
    consensus: {
      timeoutProposeMs: ms(consensus['timeoutProposeMs'], 'consensus.timeoutProposeMs', DEFAULT_CONSENSUS_TIMEOUTS.timeoutProposeMs),
      timeoutVoteMs: ms(consensus['timeoutVoteMs'], 'consensus.timeoutVoteMs', DEFAULT_CONSENSUS_TIMEOUTS.timeoutVoteMs),
      timeoutDeltaMs: ms(consensus['timeoutDeltaMs'], 'consensus.timeoutDeltaMs', DEFAULT_CONSENSUS_TIMEOUTS.timeoutDeltaMs),
      blockTimeMs: consensus['blockTimeMs'] === undefined ? undefined : ms(consensus['blockTimeMs'], 'consensus.blockTimeMs', 0),
    },
  }
}

export async function loadNodeConfig(home: string): Promise<NodeConfig> {
  let text: string
  try {
    text = await readFile(join(home, 'config.json'), 'utf8')
  } catch (cause) {
    throw new ConfigError('CONFIG_NOT_FOUND', `no config.json in ${home} (create one with \`openledger testnet init\`)`, { cause })
  }
  return parseNodeConfig(text, home)
}
