// What `dev` and `start` share around a running node: the storage thresholds and running it until
// a signal (exit 0) or a storage fault (exit EXIT_STORAGE_FAULT, so a supervisor restarts it —
// and a restart recovers from the last durable write or refuses a damaged store), or an enacted
// upgrade this version is too old for (exit EXIT_UPGRADE_REQUIRED: the operator installs the new
// version, which goes on from the same home).
import type { Logger } from '../lib/logger.ts'
import type { OpenLedgerNode } from '../node/node.ts'
import { DEFAULT_MIN_FREE_BYTES, DEFAULT_WARN_FREE_BYTES } from '../node/storage/storageHealth.ts'
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
