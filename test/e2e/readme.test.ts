// The README, followed in order on one dev chain, so that it cannot drift from what the commands
// do: the command blocks of the sections a new user follows first ("Walkthrough: send OPEN and
// watch the balance", "Datanets", and the seed of "ModelFactory") are read from README.md and run
// as written, `npx openledger` being this checkout's CLI, the README's RPC address this node's and
// `0xYOUR_ADDRESS` the key the walkthrough generated. Each command must exit 0, and the output
// lines the README shows under a command (its `# …` lines) must appear in what it printed: `…`
// stands for anything, a block's number for any number (an id the README names must match); an annotation after three spaces and a
// parenthesis is the README talking, not the command.
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { BIN, ROOT, startDevNode, stopNode, tempHome, waitFor } from './harness.ts'

const SECTIONS = ['### Walkthrough: send OPEN and watch the balance', '## Datanets', '## ModelFactory']
/** in ModelFactory only the seed runs (training is test/cli/model.test.ts's) */
const ONLY_IN: Record<string, RegExp> = { '## ModelFactory': /^npx openledger datanet seed / }
const TALKS_TO_NODE = /^npx openledger (tx|query|datanet|model) /

interface Step { command: string; expected: string[] }

/** The shell blocks of `section` (up to the next heading of its level or above), as commands and the output lines shown under each. */
function stepsOf(readme: string, section: string): Step[] {
  const start = readme.indexOf(`\n${section}`)
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
  for (const block of body.matchAll(/```(?:sh)?\n([\s\S]*?)```/g)) {
    const lines = (block[1] as string).replace(/\\\n\s*/g, '').split('\n')
    for (const line of lines) {
      const trimmed = line.trim()
      if (trimmed.length === 0) continue
      if (trimmed.startsWith('#')) {
        const shown = trimmed.slice(1).trim().split(/ {3,}\(/)[0] as string
        steps.at(-1)?.expected.push(shown.trim())
        continue
      }
      const command = trimmed.replace(/\s+#\s.*$/, '')
      if (command === 'npm start') continue
      const only = ONLY_IN[section]
      if (only !== undefined && !only.test(command)) {
        steps.push({ command: '', expected: [] })
        continue
      }
      steps.push({ command, expected: [] })
    }
  }
  return steps.filter((step) => step.command !== '')
}

function shownAsPattern(shown: string): RegExp {
  const escaped = shown.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  return new RegExp(escaped.replace(/…/g, '.*?').replace(/block(\s+)#\d+/g, 'block$1#\\d+').replace(/\s+/g, '\\s+'))
}

function run(command: string, env: Record<string, string>, cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', command], { cwd, env: { ...process.env, NODE_NO_WARNINGS: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.on('exit', (code) => resolve({ code, output }))
  })
}

t.test('the README, followed top to bottom on a dev chain', async (t) => {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8')
  const home = await tempHome('openledger-readme-')
  t.teardown(home.remove)
  const node = await startDevNode(join(home.path, 'node'), ['--block-time', '500'])
  t.teardown(() => stopNode(node, 'SIGKILL'))
  const env = { HOME: home.path, OPENLEDGER_PASSPHRASE: 'readme walkthrough' }
  const cli = `"${process.execPath}" "${BIN}"`
  let yourAddress: string | undefined
  for (const section of SECTIONS) {
    const steps = stepsOf(readme, section)
    t.ok(steps.length > 0, `${section}: ${steps.length} commands`)
    for (const step of steps) {
      let command = step.command.replaceAll('http://127.0.0.1:9944', node.rpcUrl)
      if (yourAddress !== undefined) command = command.replaceAll('0xYOUR_ADDRESS', yourAddress)
      if (TALKS_TO_NODE.test(command) && !command.includes('--rpc ')) command += ` --rpc ${node.rpcUrl}`
      command = command.replace(/^npx openledger /, `${cli} `)
      // a person reads `review` and waits for "available"; the test waits for the same state
      const accept = /datanet accept --datanet (\d+) --contribution (\d+)/.exec(command)
      if (accept !== null) {
        await waitFor(async () => ((await node.rpc.call('openledger_getContribution', [Number(accept[1]), Number(accept[2])]))?.status === 'available' ? true : undefined), 'the contribution to be available', 60_000, 200)
      }
      const { code, output } = await run(command, env, home.path)
      t.equal(code, 0, `${step.command}${code === 0 ? '' : `\n${output}`}`)
      for (const shown of step.expected) t.match(output, shownAsPattern(shown), `${step.command.slice(0, 60)}… prints '${shown}'`)
      yourAddress ??= /address: (0x[0-9a-f]{40})/.exec(output)?.[1]
    }
  }
  t.ok(yourAddress !== undefined, 'the walkthrough generated a key and used its address')
})
