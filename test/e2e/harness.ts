// Real node processes for end-to-end tests: started with the `openledger` command on loopback
// with ephemeral ports, talked to only over JSON-RPC and the CLI, like a user would.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { RpcClient } from '../../node/rpc/client.ts'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const BIN = join(ROOT, 'bin/openledger.js')

export interface RunningNode {
  readonly process: ChildProcess
  readonly rpcUrl: string
  readonly rpc: RpcClient
  readonly log: () => string
  /** resolves with the exit code (null when killed by a signal) */
  readonly exited: Promise<number | null>
}

/**
 * The environment a node or CLI process gets: this one's, without the test runner's NODE_OPTIONS
 * (tap's processinfo import, which every process and worker thread would otherwise load: ~1 s
 * more per node start).
 */
export function processEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { NODE_OPTIONS: _runnerHooks, ...inherited } = process.env
  return { ...inherited, NODE_NO_WARNINGS: '1', ...extra }
}

export async function tempHome(prefix = 'openledger-e2e-'): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix))
  return { path, remove: () => rm(path, { recursive: true, force: true }) }
}

/** Starts `openledger dev` and resolves once its RPC port is known and answering. */
export function startDevNode(home: string, extraArgs: string[] = [], timeoutMs = 60_000): Promise<RunningNode> {
  return spawnNode(['dev', '--home', home, '--rpc-port', '0', '--metrics-port', '0', ...extraArgs], timeoutMs)
}

/** Runs `openledger ARGS` as a node and resolves once it logs its JSON-RPC address. */
export async function spawnNode(args: string[], timeoutMs = 60_000): Promise<RunningNode> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: processEnv(),
  })
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      // a node that never answered is nobody's to stop: do not leave it running
      child.kill('SIGKILL')
      reject(new Error(`node did not start within ${timeoutMs} ms:\n${output}`))
    }, timeoutMs)
    const onData = () => {
      const match = /JSON-RPC listening url=(http:\/\/127\.0\.0\.1:\d+)/.exec(output)
      if (match?.[1] !== undefined) {
        clearTimeout(timer)
        resolve(match[1])
      }
    }
    child.stderr?.on('data', onData)
    child.stdout?.on('data', onData)
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`node exited with ${code} before listening:\n${output}`))
    })
  })
  return { process: child, rpcUrl: url, rpc: new RpcClient(url), log: () => output, exited }
}

export async function stopNode(node: RunningNode, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (node.process.exitCode === null && node.process.signalCode === null) node.process.kill(signal)
  return node.exited
}

/** The node's exit code once it exits, or 'running' if it is still running after `timeoutMs` (the timer never outlives the answer). */
export async function exitedWithin(node: RunningNode, timeoutMs: number): Promise<number | null | 'running'> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([node.exited, new Promise<'running'>((resolve) => (timer = setTimeout(() => resolve('running'), timeoutMs)))])
  } finally {
    clearTimeout(timer)
  }
}

/** Runs the CLI to completion; resolves with its exit code and output. */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: processEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.on('exit', (code) => resolve({ code, stdout, stderr }))
  })
}

/** Polls `check` until it returns a value other than undefined. */
export async function waitFor<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 30_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

/** A value an RPC answered with, which the test expects to exist (the contract types it `T | null`). */
export function found<T>(value: T, what: string): NonNullable<T> {
  if (value === null || value === undefined) throw new Error(`expected ${what}, the node answered null`)
  return value
}
