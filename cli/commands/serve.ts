// `openledger serve --rpc URL`: the OpenLoRA serving process beside a node (node/serving/service.ts):
// every base model registered on chain (or --models) and every adapter published by ModelFactory,
// over an OpenAI-compatible API.
import { parseArgs } from 'node:util'
// the service (engine, onnxruntime) is imported only when serving starts: `start` without --serve never loads it
import type { ServingService, ServingServiceOptions } from '../../node/serving/service.ts'
import type { ProviderServiceOptions } from '../../node/market/providerService.ts'
import { resolveHome } from '../home.ts'
import type { Logger } from '../../lib/logger.ts'
import { CliError, type Command } from '../io.ts'
import { loggerFrom, loggingOptions, untilSignal } from '../logging.ts'
import { DEFAULT_RPC_URL, parseBytes, parsePort, parsePositiveInt, parseRpcUrl } from '../parse.ts'

export const SERVE_USAGE = [
  '--host H                   address of the API (default 127.0.0.1)',
  '--port N                   port of the OpenAI-compatible API and /metrics (default 8000; 0 picks one)',
  '--models A,B               base models to serve (default: every one registered on chain)',
  '--adapter-memory SIZE      adapter tensors kept resident, LRU beyond (default 256MiB)',
  '--pin BASE:ID              an adapter loaded at start and never evicted (repeatable)',
  '--threads N                inference worker threads (default 1)',
  '--execution-provider EP    onnxruntime execution provider (default cpu; cuda where onnxruntime has it)',
  '--max-batch N              rows of one batch step (default 32)',
  '--max-queue N              requests waiting beyond the batch; more are answered 429 (default 256)',
]

export const serveOptions = {
  host: { type: 'string' },
  port: { type: 'string' },
  models: { type: 'string' },
  'adapter-memory': { type: 'string' },
  pin: { type: 'string', multiple: true },
  threads: { type: 'string' },
  'execution-provider': { type: 'string' },
  'max-batch': { type: 'string' },
  'max-queue': { type: 'string' },
} as const

type ServeValues = { [K in keyof typeof serveOptions]?: (typeof serveOptions)[K] extends { multiple: true } ? string[] : string }

/** The service options from the flags (shared with `start --serve`). */
export function servingOptionsFrom(values: ServeValues, rpcUrl: string, home: string | undefined): ServingServiceOptions {
  return {
    rpcUrl,
    ...(home === undefined ? {} : { home }),
    http: {
      ...(values.host === undefined ? {} : { host: values.host }),
      port: values.port === undefined ? 8000 : parsePort(values.port, '--port'),
    },
    ...(values.models === undefined ? {} : { models: values.models.split(',').map((m) => m.trim()).filter((m) => m !== '') }),
    ...(values['adapter-memory'] === undefined ? {} : { adapterMemoryBytes: parseBytes(values['adapter-memory'], '--adapter-memory') }),
    ...(values.pin === undefined ? {} : { pins: values.pin }),
    ...(values.threads === undefined ? {} : { threads: parsePositiveInt(values.threads, '--threads') }),
    ...(values['execution-provider'] === undefined ? {} : { executionProvider: values['execution-provider'] }),
    ...(values['max-batch'] === undefined ? {} : { maxBatch: parsePositiveInt(values['max-batch'], '--max-batch') }),
    ...(values['max-queue'] === undefined ? {} : { maxQueue: parsePositiveInt(values['max-queue'], '--max-queue') }),
  }
}

export const serveCommand: Command = {
  usage: [
    'openledger serve [--rpc URL] [--home DIR] [options]',
    '',
    '--rpc URL                  the node whose chain is served (default ' + DEFAULT_RPC_URL + ')',
    '--home DIR                 the node\'s home, when this machine holds it: artifacts are read from its',
    '                           blob files instead of downloaded over RPC',
    ...SERVE_USAGE,
  ].join('\n'),
  async run(argv) {
    const { values } = parseArgs({ args: argv, strict: true, options: { rpc: { type: 'string' }, home: { type: 'string' }, ...serveOptions, ...loggingOptions } })
    const logger = loggerFrom(values)
    const home = values.home === undefined ? undefined : resolveHome(values.home)
    const { ServingService } = await import('../../node/serving/service.ts')
    const service = new ServingService(servingOptionsFrom(values, parseRpcUrl(values.rpc), home), { logger })
    await service.start()
    await untilSignal(logger)
    await service.stop()
    return 0
  },
}

/** `start` and `dev` take the same options prefixed, `--serve-port`, `--serve-pin`, … beside `--serve`. */
export const embeddedServeOptions = {
  serve: { type: 'boolean' },
  'serve-host': { type: 'string' },
  'serve-port': { type: 'string' },
  'serve-models': { type: 'string' },
  'serve-adapter-memory': { type: 'string' },
  'serve-pin': { type: 'string', multiple: true },
  'serve-threads': { type: 'string' },
  'serve-execution-provider': { type: 'string' },
  'serve-max-batch': { type: 'string' },
  'serve-max-queue': { type: 'string' },
  provider: { type: 'boolean' },
  'provider-serving': { type: 'string' },
  'provider-test-fault': { type: 'string' },
  'provider-port': { type: 'string' },
  'provider-settle-blocks': { type: 'string' },
} as const

export const EMBEDDED_SERVE_USAGE = [
  '--provider                 serve the inference market\'s on-chain requests addressed to this node\'s operator key',
  '                           (register first: openledger provider register); with --serve, or --provider-serving URL;',
  '                           --provider-port N: the paid API for channel vouchers (register it as the endpoint),',
  '                           redeemed every --provider-settle-blocks N finalized blocks (default 10)',
  '--provider-test-fault tamper|silent  TEST ONLY: change outputs after serving them, or take requests and never fulfil them',
  '--serve                    also serve the chain\'s models over an OpenAI-compatible API (OpenLoRA) from this',
  '                           process: inference in worker threads, artifacts read from this home\'s blobs;',
  '                           the options of `openledger serve` with a serve- prefix: ' + SERVE_USAGE.map((line) => line.trim().split(' ')[0]?.replace('--', '--serve-')).join(' '),
]

/**
 * The node's inference-market provider (`--provider`): it answers the on-chain requests addressed
 * to the operator key through this process's serving API (`--serve`) or another (`--provider-serving URL`).
 */
export function providerOptionsFrom(values: Record<string, unknown>): { provider?: ProviderServiceOptions } {
  if (values['provider'] !== true) return {}
  const explicit = values['provider-serving']
  let servingUrl: string
  if (typeof explicit === 'string') servingUrl = parseRpcUrl(explicit, '--provider-serving')
  else if (values['serve'] === true) {
    const host = typeof values['serve-host'] === 'string' ? values['serve-host'] : '127.0.0.1'
    const port = typeof values['serve-port'] === 'string' ? parsePort(values['serve-port'], '--serve-port') : 8000
    servingUrl = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`
  } else throw new CliError('USAGE', '--provider answers requests through a serving API: add --serve, or --provider-serving URL')
  const fault = values['provider-test-fault']
  if (fault !== undefined && fault !== 'tamper' && fault !== 'silent') throw new CliError('BAD_ARGUMENT', '--provider-test-fault must be tamper or silent')
  const paidPort = values['provider-port']
  const settle = values['provider-settle-blocks']
  return {
    provider: {
      servingUrl,
      ...(typeof paidPort === 'string' ? { paidApi: { port: parsePort(paidPort, '--provider-port') } } : {}),
      ...(typeof settle === 'string' ? { settleEveryBlocks: parsePositiveInt(settle, '--provider-settle-blocks') } : {}),
      ...(fault === 'tamper' ? { tamper: true } : {}),
      ...(fault === 'silent' ? { silent: true } : {}),
    },
  }
}

/** Starts the embedded serving service when --serve was given, against the node's own RPC and home. */
export async function startEmbeddedServing(values: Record<string, unknown>, node: { rpcAddress: { host: string; port: number } | undefined }, home: string, logger: Logger): Promise<ServingService | undefined> {
  if (values['serve'] !== true) return undefined
  const address = node.rpcAddress
  if (address === undefined) throw new CliError('USAGE', '--serve needs the node\'s JSON-RPC (it reads the chain\'s models through it)')
  const unprefixed: Record<string, unknown> = {}
  for (const key of Object.keys(serveOptions)) unprefixed[key] = values[`serve-${key}`]
  const { ServingService } = await import('../../node/serving/service.ts')
  const service = new ServingService(servingOptionsFrom(unprefixed as ServeValues, `http://${address.host}:${address.port}`, home), { logger })
  await service.start()
  return service
}
