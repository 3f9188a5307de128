// The JSON-RPC server's limits and exposure as flags, shared by `dev` and `start`: each flag has the
// default of RPC_SERVER_DEFAULTS (node/rpc/server.ts), listed by RPC_USAGE in the commands' help.
import type { RpcServerOptions } from '../node/rpc/server.ts'
import { RPC_SERVER_DEFAULTS } from '../node/rpc/server.ts'
import { CliError } from './io.ts'
import { parsePositiveInt } from './parse.ts'

const MIB = 1024 * 1024
const D = RPC_SERVER_DEFAULTS

export const rpcOptions = {
  'rpc-methods': { type: 'string' },
  'unsafe-rpc-external': { type: 'boolean' },
  'rpc-cors': { type: 'string' },
  'rpc-hosts': { type: 'string' },
  'rpc-max-connections': { type: 'string' },
  'rpc-max-connections-per-ip': { type: 'string' },
  'rpc-max-ws-connections': { type: 'string' },
  'rpc-header-timeout': { type: 'string' },
  'rpc-request-timeout': { type: 'string' },
  'rpc-max-request-size': { type: 'string' },
  'rpc-max-response-size': { type: 'string' },
  'rpc-max-batch-response-size': { type: 'string' },
  'rpc-max-inflight': { type: 'string' },
  'rpc-max-batch': { type: 'string' },
  'rpc-rate-limit': { type: 'string' },
  'rpc-rate-limit-burst': { type: 'string' },
  'rpc-rate-limit-exempt': { type: 'string' },
  'blob-uploads-per-ip': { type: 'string' },
  'blob-upload-timeout': { type: 'string' },
  'blob-max-unreferenced': { type: 'string' },
} as const

export const RPC_USAGE = [
  '--rpc-methods safe|unsafe      unsafe also serves operator-only methods (peer blocking); on a non-loopback --rpc-host only with --unsafe-rpc-external',
  '--unsafe-rpc-external          allow --rpc-methods unsafe on an address others can reach',
  '--rpc-cors ORIGINS|all         browser origins allowed to call, comma-separated (default: none)',
  `--rpc-hosts NAMES|all          Host header names served, comma-separated (default: ${D.allowedHosts.join(',')} and the --rpc-host)`,
  `--rpc-max-connections N        open connections to the RPC port, HTTP and WebSocket (default ${D.maxHttpConnections})`,
  `--rpc-max-connections-per-ip N open connections from one address (default ${D.maxConnectionsPerAddress})`,
  `--rpc-max-ws-connections N     open WebSockets (default ${D.maxConnections})`,
  `--rpc-header-timeout MS        time to send a request's headers (default ${D.headersTimeoutMs})`,
  `--rpc-request-timeout MS       time to send a whole request, body included (default ${D.requestTimeoutMs})`,
  `--rpc-max-request-size MB      largest request body or WebSocket message (default ${D.maxRequestBytes / MIB})`,
  `--rpc-max-response-size MB     largest answer to one call (default ${D.maxResponseBytes / MIB})`,
  `--rpc-max-batch-response-size MB  largest answer to one batch (default ${D.maxBatchResponseBytes / MIB})`,
  `--rpc-max-inflight MB          bytes held for requests in flight on all connections (default ${D.maxInFlightBytes / MIB})`,
  `--rpc-max-batch N              calls in one batch (default ${D.maxBatchSize})`,
  `--rpc-rate-limit N             calls per second one address may make, HTTP and WebSocket together; 0 for none (default ${D.rateLimitPerSecond})`,
  `--rpc-rate-limit-burst N       calls one address may make at once after a pause (default ${D.rateLimitBurst})`,
  '--rpc-rate-limit-exempt ADDRS|none  addresses the rate limit spares, comma-separated; loopback names this machine\'s (default loopback)',
  '--blob-uploads-per-ip N        blob uploads one address may have open (default 8; 64 in all)',
  '--blob-upload-timeout S        seconds an upload may take beyond 4 s per 256 KiB chunk received (default 600)',
  '--blob-max-unreferenced MB     finished blobs nothing references plus open uploads (default 1024): BLOB_QUOTA_EXCEEDED past it',
]

type RpcFlagValues = { [K in keyof typeof rpcOptions]?: (typeof rpcOptions)[K]['type'] extends 'boolean' ? boolean | undefined : string | undefined }

export interface RpcFlags {
  options: RpcServerOptions
  blobs: { maxUploadsPerClient?: number; uploadIdleMs?: number; maxUnreferencedBytes?: number }
  methods: 'safe' | 'unsafe'
  unsafeExternal: boolean
}

export function rpcFlagsFrom(values: RpcFlagValues): RpcFlags {
  const methods = values['rpc-methods'] ?? 'safe'
  if (methods !== 'safe' && methods !== 'unsafe') throw new CliError('BAD_ARGUMENT', '--rpc-methods must be safe or unsafe')
  const int = (flag: keyof typeof rpcOptions, key: keyof RpcServerOptions, scale = 1, min = 1) => {
    const text = values[flag]
    return typeof text === 'string' ? { [key]: parsePositiveInt(text, `--${flag}`, min) * scale } : {}
  }
  const list = (text: string | undefined): readonly string[] | '*' | undefined =>
    text === undefined ? undefined : text === 'all' || text === '*' ? '*' : text.split(',').map((item) => item.trim()).filter((item) => item.length > 0)
  const cors = list(values['rpc-cors'])
  const hosts = list(values['rpc-hosts'])
  const exempt = values['rpc-rate-limit-exempt']
  return {
    blobs: {
      ...(values['blob-uploads-per-ip'] === undefined ? {} : { maxUploadsPerClient: parsePositiveInt(values['blob-uploads-per-ip'], '--blob-uploads-per-ip') }),
      ...(values['blob-upload-timeout'] === undefined ? {} : { uploadIdleMs: parsePositiveInt(values['blob-upload-timeout'], '--blob-upload-timeout') * 1000 }),
      ...(values['blob-max-unreferenced'] === undefined ? {} : { maxUnreferencedBytes: parsePositiveInt(values['blob-max-unreferenced'], '--blob-max-unreferenced') * MIB }),
    },
    methods,
    unsafeExternal: values['unsafe-rpc-external'] === true,
    options: {
      ...(cors === undefined ? {} : { corsOrigins: cors }),
      ...(hosts === undefined ? {} : { allowedHosts: hosts }),
      ...int('rpc-max-connections', 'maxHttpConnections'),
      ...int('rpc-max-connections-per-ip', 'maxConnectionsPerAddress'),
      ...int('rpc-max-ws-connections', 'maxConnections'),
      ...int('rpc-header-timeout', 'headersTimeoutMs'),
      ...int('rpc-request-timeout', 'requestTimeoutMs'),
      ...int('rpc-max-request-size', 'maxRequestBytes', MIB),
      ...int('rpc-max-response-size', 'maxResponseBytes', MIB),
      ...int('rpc-max-batch-response-size', 'maxBatchResponseBytes', MIB),
      ...int('rpc-max-inflight', 'maxInFlightBytes', MIB),
      ...int('rpc-max-batch', 'maxBatchSize'),
      ...int('rpc-rate-limit', 'rateLimitPerSecond', 1, 0),
      ...int('rpc-rate-limit-burst', 'rateLimitBurst'),
      ...(exempt === undefined ? {} : { rateLimitExempt: exempt === 'none' ? [] : exempt.split(',').map((item) => item.trim()).filter((item) => item.length > 0) }),
    },
  }
}
