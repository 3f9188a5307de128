// What went wrong under a failed write, as a bounded code an operator can act on: the errno of a
// Node fs error (ENOSPC, EIO, …), or the errno LevelDB spelled out in its message ("IO error:
// <file>: No space left on device" carries no code of its own).
import { statfsSync } from 'node:fs'

const MESSAGE_CAUSES: ReadonlyArray<readonly [string, RegExp]> = [
  ['ENOSPC', /no space left on device/i],
  ['EDQUOT', /quota exceeded/i],
  ['EIO', /input\/output error/i],
  ['EROFS', /read-only file system/i],
  ['EACCES', /permission denied/i],
  ['EPERM', /operation not permitted/i],
  ['EMFILE', /too many open files/i],
  ['EFBIG', /file too large/i],
  ['ENOENT', /no such file or directory/i],
  ['CORRUPTION', /corrupt/i],
]

/** The errno-style cause of `error` (walking its causes), or 'UNKNOWN'. */
export function ioCause(error: unknown): string {
  for (let current: unknown = error, depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code
    const message = current instanceof Error ? current.message : typeof current === 'string' ? current : ''
    for (const [cause, pattern] of MESSAGE_CAUSES) if (pattern.test(message)) return cause
    current = (current as { cause?: unknown }).cause
  }
  return 'UNKNOWN'
}

/** The innermost message of an error chain: what the OS or LevelDB said. */
export function rootMessage(error: unknown): string {
  let current: unknown = error
  for (let depth = 0; depth < 8; depth++) {
    const cause = (current as { cause?: unknown } | null)?.cause
    if (cause === undefined || cause === null) break
    current = cause
  }
  return current instanceof Error ? current.message : String(current)
}

/** Bytes free for unprivileged writers on the filesystem holding `path`; undefined if it cannot be read. */
export function freeBytes(path: string): number | undefined {
  try {
    const stats = statfsSync(path)
    return stats.bavail * stats.bsize
  } catch {
    return undefined
  }
}

/** "1.5 MiB" */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined) return 'unknown'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`
}
