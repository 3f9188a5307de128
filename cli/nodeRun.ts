// What `dev` and `start` share around a running node: the storage thresholds and running it until
// a signal (exit 0) or a storage fault (exit EXIT_STORAGE_FAULT, so a supervisor restarts it —
// and a restart recovers from the last durable write or refuses a damaged store), or an enacted
// upgrade this version is too old for (exit EXIT_UPGRADE_REQUIRED: the operator installs the new
// version, which goes on from the same home).
import { rm, stat } from 'node:fs/promises'
import type { Logger } from '../lib/logger.ts'
import { MetricsServerError } from '../node/metrics/server.ts'
import type { OpenLedgerNode } from '../node/node.ts'
import { RpcServerError } from '../node/rpc/server.ts'
import { ServingHttpError } from '../node/serving/http/server.ts'
import { DEFAULT_MIN_FREE_BYTES, DEFAULT_WARN_FREE_BYTES } from '../node/storage/storageHealth.ts'
import { P2pError } from '../p2p/errors.ts'
import { CliError } from './io.ts'
import { untilSignal } from './logging.ts'
import { parsePositiveInt } from './parse.ts'

/** sysexits' EX_IOERR: the node stopped because it could not write */
export const EXIT_STORAGE_FAULT = 74

/** sysexits' EX_CONFIG: an enacted upgrade needs a newer version of the node on this home */
export const EXIT_UPGRADE_REQUIRED = 78

const MIB = 1024 * 1024

export const storageOptions = {
  'min-free-disk': { type: 'string' },
  'disk-warn-free': { type: 'string' },
} as const

export const STORAGE_USAGE = [
  `--min-free-disk MB    shut down cleanly when the home's filesystem has less free (default ${DEFAULT_MIN_FREE_BYTES / MIB}; 0 = never)`,
  `--disk-warn-free MB   warn when it has less free (default ${DEFAULT_WARN_FREE_BYTES / MIB})`,
]

export function storageFrom(values: { 'min-free-disk'?: string | undefined; 'disk-warn-free'?: string | undefined }): { minFreeBytes?: number; warnFreeBytes?: number } {
  return {
    ...(values['min-free-disk'] === undefined ? {} : { minFreeBytes: parsePositiveInt(values['min-free-disk'], '--min-free-disk', 0) * MIB }),
    ...(values['disk-warn-free'] === undefined ? {} : { warnFreeBytes: parsePositiveInt(values['disk-warn-free'], '--disk-warn-free', 0) * MIB }),
  }
}

/** Where each listening port of a node is chosen: a flag (`dev`) or a config key (`start`). */
export interface PortSettings {
  rpc: string
  metrics: string
  p2p: string
  serve: string
}

export const DEV_PORT_FLAGS: PortSettings = { rpc: '--rpc-port', metrics: '--metrics-port (or --no-metrics)', p2p: 'p2p.listen', serve: '--serve-port' }

const ERRNO_WORDS: Record<string, string> = { EADDRINUSE: 'the address is already in use (another node running?)', EACCES: 'permission denied (ports below 1024 need privileges)', EADDRNOTAVAIL: 'this machine has no such address' }

/**
 * A server of the node that could not listen, said as a user can act on it: which address, why
 * (the errno in words) and the setting that changes it (LISTEN_FAILED, as before). Other errors
 * pass through.
 */
export function explainListenFailure(error: unknown, settings: PortSettings): unknown {
  const setting = error instanceof RpcServerError ? settings.rpc
    : error instanceof MetricsServerError ? settings.metrics
      : error instanceof P2pError ? settings.p2p
        : error instanceof ServingHttpError ? settings.serve
          : undefined
  if (setting === undefined || (error as { code?: unknown }).code !== 'LISTEN_FAILED') return error
  const errno = (error as Error).cause as { code?: unknown } | undefined
  const why = typeof errno?.code === 'string' ? ERRNO_WORDS[errno.code] ?? errno.code : undefined
  return new CliError('LISTEN_FAILED', `${(error as Error).message}${why === undefined ? '' : `: ${why}`}; choose another with ${setting}`, { cause: error })
}

/**
 * Starts the node; if it fails and `home` did not exist before, removes what the attempt wrote
 * there, so a failed first start (a port in use, say) leaves no half-made home behind. The error
 * comes back explained (explainListenFailure).
 */
export async function startNode(node: OpenLedgerNode, home: string, settings: PortSettings): Promise<void> {
  const existed = await stat(home).then(() => true, () => false)
  try {
    await node.start()
  } catch (error) {
    if (!existed) await rm(home, { recursive: true, force: true })
    throw explainListenFailure(error, settings)
  }
}

/**
 * Runs a started node until SIGINT/SIGTERM or a storage fault; stops what runs on it
 * (`beforeStop`), then the node; returns the exit code.
 */
/** `stopRequested`: an untilSignal() made before node.start(), so a stop during start-up is kept. */
export async function runUntilStopped(node: OpenLedgerNode, logger: Logger, beforeStop?: () => Promise<void> | undefined, stopRequested: Promise<void> = untilSignal(logger)): Promise<number> {
  const fault = await Promise.race([stopRequested.then(() => undefined), node.fatal, node.upgradeRequired])
  await beforeStop?.()
  await node.stop()
  if (fault === undefined) return 0
  if (fault.code === 'UPGRADE_REQUIRED') {
    logger.error(fault.message, { code: fault.code, ...fault.details })
    return EXIT_UPGRADE_REQUIRED
  }
  logger.error('stopped on a storage fault', { code: fault.code, error: fault.message })
  return EXIT_STORAGE_FAULT
}
