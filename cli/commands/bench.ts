// `openledger bench [--quick] [--only NAME,…]`: the node's benchmarks (bench/index.ts, the same
// program as `npm run bench`), run in a child process so their timings see a fresh runtime.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Command } from '../io.ts'

const BENCH = fileURLToPath(new URL('../../bench/index.ts', import.meta.url))

export const benchCommand: Command = {
  usage: 'openledger bench [--quick] [--only signatures,stateTransition,stateRoot,devChain,bftNetwork,blobs,modelForward,training]',
  run(argv) {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [BENCH, ...argv], { stdio: 'inherit' })
      child.on('exit', (code, signal) => resolve(code ?? (signal === null ? 1 : 130)))
    })
  },
}
