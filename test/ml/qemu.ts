// Running this Node binary under qemu-x86_64 user mode with an older CPU model, for the tests that
// check the engine's bits on CPUs other than the host's (crossMachine.test.ts, kernelFallback.test.ts).
import { execFile } from 'node:child_process'
import { accessSync, closeSync, constants, openSync, readSync, realpathSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { promisify } from 'node:util'

export const run = promisify(execFile)
/** the running Node binary, links resolved (node_modules/.bin/node → node_modules/node/bin/node) */
export const NODE = realpathSync(process.execPath)

export interface Qemu {
  binary: string
  cpu: string
}

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue
    const candidate = join(dir, name)
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // not in this folder
    }
  }
  return undefined
}

function isElf(path: string): boolean {
  const fd = openSync(path, 'r')
  try {
    const magic = Buffer.alloc(4)
    readSync(fd, magic, 0, 4, 0)
    return magic.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))
  } finally {
    closeSync(fd)
  }
}

/**
 * qemu-x86_64 and the first of `models` (qemu CPU model names, in order of preference) that it
 * offers and that our Node binary starts under, or why that cannot be done here.
 */
export async function findQemu(models: readonly string[]): Promise<Qemu | { skip: string }> {
  if (process.platform !== 'linux' || process.arch !== 'x64') return { skip: `qemu-x86_64 user mode needs an x86-64 Linux Node binary (this is ${process.platform}/${process.arch})` }
  if (!isElf(NODE)) return { skip: `${NODE} is not an ELF executable` }
  const binary = findOnPath('qemu-x86_64')
  if (binary === undefined) return { skip: 'qemu-x86_64 is not installed (apt-get install qemu-user)' }
  // qemu 7 prints the list and exits with status 1
  const stdout = await run(binary, ['-cpu', 'help']).then((out) => out.stdout, (error: { stdout?: string }) => error.stdout ?? '')
  const offered = new Set(stdout.split('\n').map((line) => line.trim().split(/\s+/)[1]))
  const cpu = models.find((model) => offered.has(model))
  if (cpu === undefined) return { skip: `${binary} offers none of ${models.join(', ')}` }
  const started = await run(binary, ['-cpu', cpu, NODE, '--version'], { timeout: 60_000 }).then(
    () => undefined,
    (error: { stderr?: string; message: string }) => (error.stderr ?? '').trim() || error.message,
  )
  if (started !== undefined) return { skip: `${NODE} does not start under ${binary} -cpu ${cpu}: ${started}` }
  return { binary, cpu }
}
