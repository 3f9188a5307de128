// Fail-stop for the node's storage and the watch on its free space. Owns the decision that a
// failed write of the chain store, the consensus WAL, the sign guard or the blob store stops the
// node (the kernel may already have dropped what failed; PostgreSQL's fsync lesson), and geth's
// `--datadir.minfreedisk`: under `minFreeBytes` the node shuts down cleanly before a write can
// fail, under `warnFreeBytes` it warns. It reports through one callback, `onFatal`, which the
// composition root answers by stopping the node; the CLI then exits non-zero.
import { OpenLedgerError } from '../../runtime/errors.ts'
import type { Logger } from '../../lib/logger.ts'
import { formatBytes, freeBytes, ioCause, rootMessage } from './ioCause.ts'

export type StorageErrorCode = 'STORAGE_WRITE_FAILED' | 'DISK_SPACE_LOW'
export class StorageError extends OpenLedgerError<StorageErrorCode> {}

/** bytes: warn when less is free in the home (default 1 GiB) */
export const DEFAULT_WARN_FREE_BYTES = 1024 * 1024 * 1024
/** bytes: shut down cleanly when less is free (default 256 MiB) */
export const DEFAULT_MIN_FREE_BYTES = 256 * 1024 * 1024
/** ms between free-space checks */
const DEFAULT_CHECK_INTERVAL_MS = 5_000

export interface StorageHealthOptions {
  /** the node's home: free space is measured on its filesystem */
  home: string
  warnFreeBytes?: number
  /** 0 disables the clean shutdown */
  minFreeBytes?: number
  checkIntervalMs?: number
}

export interface StorageHealthComponents {
  logger: Logger
  /** gauge of the free bytes of the home's filesystem */
  freeBytesGauge?: { set(value: number): void }
  /** the node must stop: called once */
  onFatal: (error: StorageError) => void
  /** free bytes of a path; tests pass their own */
  freeBytes?: (path: string) => number | undefined
}

export type StorageStatus = 'ok' | 'low' | 'failed'

export class StorageHealth {
  readonly home: string
  readonly warnFreeBytes: number
  readonly minFreeBytes: number
  readonly #intervalMs: number
  readonly #log: Logger
  readonly #components: StorageHealthComponents
  readonly #freeBytes: (path: string) => number | undefined
  #timer: NodeJS.Timeout | undefined
  #fatal: StorageError | undefined
  #low = false
  #lastFree: number | undefined

  constructor(options: StorageHealthOptions, components: StorageHealthComponents) {
    this.home = options.home
    this.warnFreeBytes = options.warnFreeBytes ?? DEFAULT_WARN_FREE_BYTES
    this.minFreeBytes = options.minFreeBytes ?? DEFAULT_MIN_FREE_BYTES
    this.#intervalMs = options.checkIntervalMs ?? DEFAULT_CHECK_INTERVAL_MS
    this.#log = components.logger
    this.#components = components
    this.#freeBytes = components.freeBytes ?? freeBytes
  }

  get status(): StorageStatus {
    return this.#fatal !== undefined ? 'failed' : this.#low ? 'low' : 'ok'
  }

  /** The fault that stopped the node, if one did. */
  get fatal(): StorageError | undefined {
    return this.#fatal
  }

  get lastFreeBytes(): number | undefined {
    return this.#lastFree
  }

  /** Checks once now (a home already under the minimum does not start), then every interval. */
  start(): void {
    this.check()
    if (this.#fatal !== undefined) throw this.#fatal
    this.#timer = setInterval(() => this.check(), this.#intervalMs)
    this.#timer.unref()
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** Measures the free space, updates the gauge, warns or stops; returns the free bytes. */
  check(): number | undefined {
    const free = this.#freeBytes(this.home)
    this.#lastFree = free
    if (free === undefined) return undefined
    this.#components.freeBytesGauge?.set(free)
    if (this.minFreeBytes > 0 && free < this.minFreeBytes) {
      this.#stop(
        new StorageError('DISK_SPACE_LOW', `only ${formatBytes(free)} free for ${this.home}, under the minimum of ${formatBytes(this.minFreeBytes)} (--min-free-disk): shutting down before a write fails`, {
          details: { path: this.home, cause: 'LOW_DISK_SPACE', freeBytes: free },
        }),
      )
      return free
    }
    const low = free < this.warnFreeBytes
    if (low && !this.#low) this.#log.warn('disk space low', { path: this.home, free: formatBytes(free), warnUnder: formatBytes(this.warnFreeBytes), stopUnder: formatBytes(this.minFreeBytes) })
    if (!low && this.#low) this.#log.info('disk space recovered', { path: this.home, free: formatBytes(free) })
    this.#low = low
    return free
  }

  /**
   * A write of `path` failed: the node stops. Every storage component reports here (or through
   * a callback that does) instead of carrying on.
   */
  writeFailed(path: string, error: unknown): StorageError {
    const free = this.#freeBytes(path) ?? this.#freeBytes(this.home)
    const cause = (error as { details?: { cause?: unknown } }).details?.cause
    const why = typeof cause === 'string' ? cause : ioCause(error)
    return this.#stop(new StorageError('STORAGE_WRITE_FAILED', `writing ${path} failed: ${rootMessage(error)} (${why}; ${formatBytes(free)} free)`, { cause: error, details: { path, cause: why, freeBytes: free } }))
  }

  #stop(error: StorageError): StorageError {
    if (this.#fatal !== undefined) return this.#fatal
    this.#fatal = error
    this.stop()
    this.#log.error('storage fault: stopping the node', { code: error.code, path: error.details?.['path'], cause: error.details?.['cause'], free: formatBytes(error.details?.['freeBytes'] as number | undefined), error: error.message })
    this.#components.onFatal(error)
    return error
  }
}

/** Stand-in for writeFailed's path when a component reports only the error. */
export function pathOf(error: unknown, fallback: string): string {
  const path = (error as { details?: { path?: unknown } } | null)?.details?.path
  return typeof path === 'string' ? path : fallback
}
