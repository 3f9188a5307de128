// The README, followed in order, so that it cannot drift from what the commands do: the command
// blocks of the sections a new user follows (the walkthrough, the validator network with its
// light client, staking, governance, Datanets, ModelFactory and OpenLoRA) are read from README.md
// and run as written, `npx openledger` being this checkout's CLI. One dev chain serves the dev
// sections and one testnet (the README's own `testnet init` and `testnet run`, given free port
// bases) the validator-network and staking sections: the README's addresses (127.0.0.1:9944,
// :8000, ./data/dev) become theirs, a command that talks to a node without `--rpc` gets the one its
// section runs on, `0xYOUR_ADDRESS` is the key the walkthrough generated and /tmp the run's folder. Commands that keep
// running in a terminal (`testnet run`, `start`, `serve`) run in the background until their
// section's chain is left behind. Each command must exit 0, and the output lines the README shows
// under a command (its `# …` lines) must appear in what it printed (a command shown refused, with
// `# error [CODE]: …`, must exit non-zero with that error): `…` stands for anything, a
// block's number for any number; an annotation after three spaces and a parenthesis is the README
// talking, not the command. Shell variables a block sets (`OPERATOR=$(…)`) hold for the rest of it.
import { spawn, type ChildProcess } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { RpcClient } from '../../node/rpc/client.ts'
import { BIN, processEnv, ROOT, startDevNode, stopNode, tempHome, waitFor } from './harness.ts'
import { freePortBase } from './testnet.ts'

type Chain = 'dev' | 'testnet'
const SECTIONS: ReadonlyArray<{ heading: string; chain: Chain }> = [
  { heading: '### Walkthrough: send OPEN and watch the balance', chain: 'dev' },
  { heading: '## Run a validator network', chain: 'testnet' },
  { heading: '## Staking on a local testnet', chain: 'testnet' },
  { heading: '## Governance, the treasury and upgrades', chain: 'dev' },
  { heading: '## Datanets', chain: 'dev' },
  { heading: '## ModelFactory: LoRA fine-tuning that validators re-execute', chain: 'dev' },
  { heading: '## OpenLoRA: serve the published adapters over an OpenAI-compatible API', chain: 'dev' },
]
const TALKS_TO_NODE = /^npx openledger (tx|query|datanet|model|gov) /
/** commands a person leaves running in a terminal, and the log line that says they are up */
const KEEPS_RUNNING: ReadonlyArray<{ command: RegExp; ready: RegExp }> = [
  { command: /^npx openledger testnet run /, ready: /started \d+ nodes/ },
  { command: /^npx openledger start /, ready: /JSON-RPC listening/ },
  { command: /^npx openledger serve /, ready: /OpenAI-compatible API listening/ },
]

interface Step { command: string; expected: string[] }

/** The shell blocks of `section` (up to the next heading of its level or above), as commands and the output lines shown under each. */
function stepsOf(readme: string, section: string): Step[] {
  const start = readme.indexOf(`\n${section}\n`)
  if (start === -1) throw new Error(`README has no section '${section}'`)
  const level = section.split(' ')[0] as string
  // the section ends at the next heading of its level or above, outside a code block (where `# ` starts a shell comment)
  const lines = readme.slice(start + section.length + 1).split('\n')
  let fenced = false
  let end = lines.length
  for (const [i, line] of lines.entries()) {
    if (line.startsWith('```')) fenced = !fenced
    else if (!fenced && new RegExp(`^#{1,${level.length}} `).test(line)) {
      end = i
      break
    }
  }
  const body = lines.slice(0, end).join('\n')
  const steps: Step[] = []
  for (const block of body.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const line of (block[1] as string).replace(/\\\n\s*/g, '').split('\n')) {
      const trimmed = line.trim()
      if (trimmed.length === 0) continue
      if (trimmed.startsWith('#')) {
        const shown = trimmed.slice(1).trim().split(/ {3,}\(/)[0] as string
        steps.at(-1)?.expected.push(shown.trim())
        continue
      }
      steps.push({ command: trimmed.replace(/\s+#\s.*$/, ''), expected: [] })
    }
  }
  return steps
}

function shownAsPattern(shown: string): RegExp {
  const escaped = shown.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  return new RegExp(escaped.replace(/…/g, '.*?').replace(/block(\s+)#\d+/g, 'block$1#\\d+').replace(/\s+/g, '\\s+'))
}

function run(command: string, env: Record<string, string>, cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', command], { cwd, env: processEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.on('error', (error) => resolve({ code: -1, output: `${output}\n${String(error)}` }))
    child.on('exit', (code) => resolve({ code, output }))
  })
}

interface Background { chain: Chain; command: string; child: ChildProcess; output: () => string; exited: Promise<number | null> }

/** Starts a command a person leaves running, in its own process group, and resolves once it logs `ready`. */
async function runInBackground(chain: Chain, variables: string, command: string, ready: RegExp, env: Record<string, string>, cwd: string): Promise<Background> {
  const child = spawn('bash', ['-c', `${variables}exec ${command}`], { cwd, env: processEnv(env), stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  let gone = false
  void exited.then(() => (gone = true))
  await waitFor(async () => {
    if (gone) throw new Error(`'${command}' exited before it was ready:\n${output}`)
    return ready.test(output) ? true : undefined
  }, `'${command}' to be ready`, 180_000, 100)
  return { chain, command, child, output: () => output, exited }
}

async function stopBackground(process: Background): Promise<void> {
  if (process.child.exitCode !== null || process.child.signalCode !== null || process.child.pid === undefined) return
  // SIGTERM first (testnet run passes it to its nodes), then the whole group is killed
  process.child.kill('SIGTERM')
  const timer = setTimeout(() => {
    try {
      globalThis.process.kill(-(process.child.pid as number), 'SIGKILL')
    } catch {
      // already gone
    }
  }, 15_000)
  await process.exited
  clearTimeout(timer)
}

t.test('the README, followed top to bottom', async (t) => {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8')
  const home = await tempHome('openledger-readme-')
  t.teardown(home.remove)
  const devHome = join(home.path, 'node')
  const dev = await startDevNode(devHome, ['--block-time', '500'])
  t.teardown(() => stopNode(dev, 'SIGKILL'))
  const background: Background[] = []
  t.teardown(async () => {
    for (const process of background) await stopBackground(process)
  })
  // the testnet's port bases: p2p BASE.., RPC BASE+10.., metrics BASE+20.. (testnet add-node takes the next of each)
  const base = await freePortBase(30)
  const testnetRpc = `http://127.0.0.1:${base + 10}`
  const servePort = await freePortBase(1)
  const env = { HOME: home.path, OPENLEDGER_PASSPHRASE: 'readme walkthrough' }
  const cli = `"${process.execPath}" "${BIN}"`
  let yourAddress: string | undefined
  for (const { heading, chain } of SECTIONS) {
    // a person stops one chain before starting the other; here the other chain's processes stop
    for (const process of background.filter((p) => p.chain !== chain)) await stopBackground(process)
    const rpcUrl = chain === 'dev' ? dev.rpcUrl : testnetRpc
    const steps = stepsOf(readme, heading)
    t.ok(steps.length > 0, `${heading}: ${steps.length} commands`)
    let variables = ''
    for (const step of steps) {
      // the files the README puts in /tmp go to this run's folder
      let command = step.command.replaceAll('/tmp/', `${home.path}/`).replaceAll('http://127.0.0.1:9944', rpcUrl).replaceAll('127.0.0.1:8000', `127.0.0.1:${servePort}`).replaceAll('./data/dev', devHome)
      if (yourAddress !== undefined) command = command.replaceAll('0xYOUR_ADDRESS', yourAddress)
      if (TALKS_TO_NODE.test(command) && !command.includes('--rpc ')) command += ` --rpc ${rpcUrl}`
      if (/^npx openledger testnet init /.test(command)) command += ` --p2p-port ${base} --rpc-port ${base + 10} --metrics-port ${base + 20}`
      if (/^npx openledger serve /.test(command)) command += ` --port ${servePort}`
      if (/^npx openledger infer /.test(command)) command += ` --server http://127.0.0.1:${servePort}`
      command = command.replace(/^npx openledger /, `${cli} `)
      const expected = step.expected.map((shown) => shown.replaceAll('127.0.0.1:8000', `127.0.0.1:${servePort}`))
      if (/^[A-Z_]+=/.test(step.command)) {
        variables += `${command}; `
        continue
      }
      // a person reads `review` and waits for "available"; the test waits for the same state
      const accept = /datanet accept --datanet (\d+) --contribution (\d+)/.exec(command)
      if (accept !== null) {
        await waitFor(async () => ((await dev.rpc.call('openledger_getContribution', [Number(accept[1]), Number(accept[2])]))?.status === 'available' ? true : undefined), 'the contribution to be available', 60_000, 200)
      }
      const keeps = KEEPS_RUNNING.find((k) => k.command.test(step.command))
      if (keeps !== undefined) {
        const started = Date.now()
        const job = await runInBackground(chain, variables, command, keeps.ready, env, home.path)
        background.push(job)
        if (/testnet run/.test(step.command)) {
          // a person sees the nodes log finalized blocks before going on
          const rpc = new RpcClient(testnetRpc)
          await waitFor(async () => ((await rpc.call('chain_getHeader').catch(() => null))?.number ?? 0) >= 2 ? true : undefined, 'the testnet to finalize', 180_000, 250)
        }
        t.pass(`${step.command} runs (${Date.now() - started} ms to start)`)
        for (const shown of expected) t.match(job.output(), shownAsPattern(shown), `${step.command.slice(0, 60)}… prints '${shown}'`)
        continue
      }
      const started = Date.now()
      const { code, output } = await run(`${variables}${command}`, env, home.path)
      // a command the README shows refused (`# error [CODE]: …`) must be refused, with that error
      if (expected.some((shown) => shown.startsWith('error ['))) t.not(code, 0, `${step.command} is refused (${Date.now() - started} ms)`)
      else t.equal(code, 0, `${step.command} (${Date.now() - started} ms)${code === 0 ? '' : `\n${output}`}`)
      for (const shown of expected) t.match(output, shownAsPattern(shown), `${step.command.slice(0, 60)}… prints '${shown}'`)
      if (process.env.README_TEST_VERBOSE !== undefined) t.comment(`${step.command}\n${output}`)
      yourAddress ??= /address: (0x[0-9a-f]{40})/.exec(output)?.[1]
    }
  }
  t.ok(yourAddress !== undefined, 'the walkthrough generated a key and used its address')
})
