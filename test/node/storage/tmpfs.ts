// A real, small filesystem for storage-fault tests: a tmpfs mounted under a temp folder (needs
// root, as CI runs), filled on command with a filler file until the kernel answers ENOSPC, and
// always unmounted in teardown.
import { execFileSync } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface Tmpfs {
  readonly path: string
  /** writes a filler file until the filesystem is full; returns the bytes written */
  fill(): number
  /** removes the filler */
  free(): void
}

/** Whether this process may mount (root on Linux); tests skip with a reason otherwise. */
export const canMount = process.platform === 'linux' && process.getuid?.() === 0

/**
 * Mounts a tmpfs of `sizeBytes` on a new temp folder (or on the existing folder `at`, whose files
 * it then hides); `teardown` registers its unmount.
 */
export function mountTmpfs(teardown: (fn: () => void | Promise<void>) => void, sizeBytes: number, at?: string): Tmpfs {
  const base = at ?? mkdtempSync(join(tmpdir(), 'openledger-tmpfs-'))
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', base])
  teardown(() => {
    try {
      execFileSync('umount', [base])
    } catch {
      execFileSync('umount', ['-l', base]) // a process still holds a file: detach it
    }
    if (at === undefined) rmSync(base, { recursive: true, force: true })
  })
  const filler = join(base, 'filler')
  return {
    path: base,
    fill(): number {
      const fd = openSync(filler, 'a')
      let written = 0
      try {
        // big writes, then smaller ones into what is left, down to the last byte
        for (const size of [64 * 1024, 4096, 1]) {
          const chunk = Buffer.alloc(size, 0x5a)
          try {
            for (;;) written += writeSync(fd, chunk)
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error
          }
        }
      } finally {
        closeSync(fd)
      }
      return written
    },
    free(): void {
      rmSync(filler, { force: true })
    },
  }
}
