// Transfers per second through the state transition alone: blocks of transfers executed on a
// committed state (execution alone), then with the authenticated-state commit of each block
// (prepare + commit + write). Warm-up blocks run first (JIT, caches), and each figure is the median
// over the measured blocks, so one slow block on a shared machine does not move it.
import { recoverSender } from '../runtime/transaction.ts'
import type { Address } from '../runtime/crypto/secp256k1.ts'
import { benchAccounts, InProcessChain, signTransfers, specWithSenders } from './fixtures.ts'

export interface StateTransitionResult {
  executePerSecond: number
  executeAndCommitPerSecond: number
}

const WARM_UP_BLOCKS = 4

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

export async function benchStateTransition(options: { log: (line: string) => void; quick?: boolean }): Promise<StateTransitionResult> {
  const { log } = options
  const quick = options.quick === true
  const senders = benchAccounts(quick ? 200 : 1000)
  const blockSize = quick ? 400 : 2000
  const measuredBlocks = quick ? 4 : 12
  // each sender sends blockSize / senders transfers per block, nonces in order
  const perSender = ((WARM_UP_BLOCKS + measuredBlocks) * blockSize) / senders.length
  const spec = specWithSenders(senders)
  const txs = signTransfers(spec.chainId, senders, perSender, 10n ** 10n)
  const signers = txs.map((tx) => recoverSender(tx) as Address)
  const chain = await InProcessChain.open(spec)

  const executeMs: number[] = []
  const blockMs: number[] = []
  for (let height = 1; height <= WARM_UP_BLOCKS + measuredBlocks; height++) {
    const first = (height - 1) * blockSize
    const started = performance.now()
    const execution = await chain.begin()
    for (let j = first; j < first + blockSize; j++) await execution.apply(txs[j]!, signers[j]!)
    const result = await execution.finish()
    const executed = performance.now()
    await chain.commit(result)
    if (height > WARM_UP_BLOCKS) {
      executeMs.push(executed - started)
      blockMs.push(performance.now() - started)
    }
  }
  const executePerSecond = (blockSize / median(executeMs)) * 1000
  const executeAndCommitPerSecond = (blockSize / median(blockMs)) * 1000
  const show = (perSecond: number): string => `${Math.round(perSecond).toLocaleString('en-US')}/s`.padStart(12)
  log(`state transition, ${blockSize}-transfer blocks, ${senders.length} senders (median of ${measuredBlocks} blocks after ${WARM_UP_BLOCKS} warm-up blocks)`)
  log(`  execute only                 ${show(executePerSecond)}   (${((1e6 / executePerSecond)).toFixed(1)} µs per transfer)`)
  log(`  execute + state commit       ${show(executeAndCommitPerSecond)}   (${(executeAndCommitPerSecond / executePerSecond).toFixed(2)}x of execute only)`)
  return { executePerSecond, executeAndCommitPerSecond }
}

if (import.meta.main) await benchStateTransition({ log: (line) => console.log(line), quick: process.argv.includes('--quick') })
