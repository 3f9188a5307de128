// Stopping worker threads at random moments must never abort the process (issue 26: V8's
// "Check failed: (location_) != nullptr" when a thread was terminated while its module graph,
// with hash.ts's top-level await, was still settling). Two loops, each sized by an environment
// variable so CI runs a short one and a soak run the full one:
// - the signature pool alone, started and stopped OPENLEDGER_POOL_STOP_CYCLES times (default 12;
//   the issue's bar is 2,000) at random moments of its threads' life (poolStopLoop.ts, in a plain
//   node process: see there why);
// - the whole `openledger dev` process, SIGTERM at a random moment of its first seconds,
//   OPENLEDGER_NODE_STOP_CYCLES times (default 3; the bar is 200), each exiting 0.
import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { seededRandom } from '../../consensus/fixtures.ts'
import { BIN, ROOT, tempHome } from '../../e2e/harness.ts'

const POOL_CYCLES = Number(process.env['OPENLEDGER_POOL_STOP_CYCLES'] ?? 12)
const NODE_CYCLES = Number(process.env['OPENLEDGER_NODE_STOP_CYCLES'] ?? 3)

/** Node's own process environment: no test-runner hooks (tap's NODE_OPTIONS import) in the process or its threads. */
function plainEnv(): NodeJS.ProcessEnv {
  const { NODE_OPTIONS: _runnerHooks, ...inherited } = process.env
  return { ...inherited, NODE_NO_WARNINGS: '1' }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

t.test(`the signature pool started and stopped ${POOL_CYCLES} times at random moments of its threads' life`, async (t) => {
  t.setTimeout(Math.max(300_000, POOL_CYCLES * 5_000)) // a soak run's size, on a loaded machine
  const child = spawn(process.execPath, [fileURLToPath(new URL('./poolStopLoop.ts', import.meta.url)), String(POOL_CYCLES)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: plainEnv() })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const { code, signal } = await new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  t.equal(code, 0, `the loop's process exited 0 (signal ${signal})`, { output: output.slice(-3000) })
  t.notMatch(output, /Fatal error|Check failed/, 'no V8 abort')
  const summary = JSON.parse(output.trim().split('\n').at(-1) ?? '{}') as { cycles?: number; answered?: number; stopped?: number; idleStops?: number; ms?: number; msPerCycle?: number; scaleMs?: number }
  t.comment(`pool: ${JSON.stringify(summary)}`)
  t.equal((summary.answered ?? 0) + (summary.stopped ?? 0), POOL_CYCLES, `every call answered (${summary.answered}) or failed STOPPED (${summary.stopped})`)
  t.ok((summary.stopped ?? 0) > 0, 'some stops landed while threads were starting or busy')
})

t.test(`the dev node stopped by SIGTERM at random moments of its first seconds, ${NODE_CYCLES} times`, async (t) => {
  t.setTimeout(Math.max(300_000, NODE_CYCLES * 60_000))
  const random = seededRandom(2026)
  const began = performance.now()
  for (let cycle = 0; cycle < NODE_CYCLES; cycle++) {
    const home = await tempHome('openledger-stop-')
    const child = spawn(process.execPath, [BIN, 'dev', '--home', home.path, '--rpc-port', '0', '--no-metrics', '--log-level', 'debug'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: plainEnv(),
    })
    let output = ''
    const firstLine = new Promise<void>((resolve) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString()
        if (output.includes('\n')) resolve()
      }
      child.stdout.on('data', onData)
      child.stderr.on('data', onData)
    })
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
    // its first log line: the CLI is loaded and listens for signals; the node is starting
    await Promise.race([firstLine, exited])
    await sleep(random() * 3000)
    child.kill('SIGTERM')
    const { code, signal } = await exited
    await home.remove()
    if (code !== 0) {
      t.fail(`cycle ${cycle}: exit ${code} signal ${signal}`, { output: output.slice(-3000) })
      return
    }
    t.notMatch(output, /Fatal error|Check failed/, `cycle ${cycle}: no V8 abort`)
  }
  t.comment(`${NODE_CYCLES} node cycles in ${((performance.now() - began) / 1000).toFixed(0)} s`)
  t.pass(`${NODE_CYCLES} stops, each exiting 0`)
})
