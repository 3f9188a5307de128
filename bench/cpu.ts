// CPU time of other processes' threads, read from Linux /proc: what a benchmark charges to each
// transfer does not move with the machine's load the way wall-clock rates do.
import { readdir, readFile } from 'node:fs/promises'

/**
 * CPU seconds used by each thread of a process so far, summed by thread kind (Linux /proc; undefined
 * elsewhere): the main thread, the signature workers, the libuv pool (LevelDB reads and writes), V8's
 * helpers (GC, compiler) and the rest.
 */
export async function threadCpuSeconds(pid: number | undefined): Promise<Map<string, number> | undefined> {
  if (pid === undefined) return undefined
  try {
    const out = new Map<string, number>()
    for (const task of await readdir(`/proc/${pid}/task`)) {
      const stat = await readFile(`/proc/${pid}/task/${task}/stat`, 'utf8').catch(() => undefined)
      if (stat === undefined) continue
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      const seconds = (Number(fields[11]) + Number(fields[12])) / 100 // utime + stime, in USER_HZ ticks
      const kind = task === String(pid) ? 'main' : /signature/i.test(name) || name === 'WorkerThread' ? 'verifier' : /libuv|uv/i.test(name) ? 'libuv pool' : /V8/.test(name) ? 'V8 helpers' : 'other'
      out.set(kind, (out.get(kind) ?? 0) + seconds)
    }
    return out
  } catch {
    return undefined
  }
}

export function diffCpu(after: Map<string, number> | undefined, before: Map<string, number> | undefined): Map<string, number> | undefined {
  if (after === undefined || before === undefined) return undefined
  return new Map([...after].map(([kind, seconds]) => [kind, seconds - (before.get(kind) ?? 0)]))
}

/** The sum of several processes' per-kind CPU seconds (undefined when any is unknown). */
export function sumCpu(maps: ReadonlyArray<Map<string, number> | undefined>): Map<string, number> | undefined {
  const out = new Map<string, number>()
  for (const map of maps) {
    if (map === undefined) return undefined
    for (const [kind, seconds] of map) out.set(kind, (out.get(kind) ?? 0) + seconds)
  }
  return out
}
