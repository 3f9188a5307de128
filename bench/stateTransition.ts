// Transfers per second through the state transition alone (execution on an in-memory state),
// and with the authenticated-state commit of each block (prepare + commit + write).
import { genesisBlock } from '../node/chain/chain.ts'
import { MemoryStore } from '../node/db/memoryStore.ts'
import { WriteBatch } from '../node/db/store.ts'
import { StateDb } from '../node/state/stateDb.ts'
import { createRuntime } from '../runtime/index.ts'
import { recoverSender } from '../runtime/transaction.ts'
import { BlockExecution } from '../runtime/stateTransition.ts'
import type { Address } from '../runtime/crypto/secp256k1.ts'
import { benchAccounts, rate, signTransfers, specWithSenders } from './fixtures.ts'

export interface StateTransitionResult {
  executePerSecond: number
  executeAndCommitPerSecond: number
}

export async function benchStateTransition(options: { log: (line: string) => void; quick?: boolean }): Promise<StateTransitionResult> {
  const { log } = options
  const senders = benchAccounts(options.quick === true ? 200 : 1000)
  const perSender = 5
  const blockSize = options.quick === true ? 500 : 2000
  const spec = specWithSenders(senders)
  const genesis = await genesisBlock(spec)
  const txs = signTransfers(spec.chainId, senders, perSender, 10n ** 10n)
  const signers = txs.map((tx) => recoverSender(tx) as Address)
  const runtime = createRuntime()

  const state = await StateDb.open(new MemoryStore())
  const prepared = await state.prepare(genesis.changes, 0)
  const batch = new WriteBatch()
  state.commit(prepared, batch)
  state.applied(prepared)

  // 1. execution alone: all transfers in one execution on the genesis state, nothing committed
  const started = performance.now()
  const execution = await BlockExecution.begin(runtime, state, { chainId: spec.chainId, height: 1, timestamp: spec.genesisTime + 1000, author: new Uint8Array(20), parentHash: genesis.hash })
  for (let j = 0; j < txs.length; j++) await execution.apply(txs[j]!, signers[j]!)
  await execution.finish()
  const executed = txs.length
  const executeMs = performance.now() - started

  // 2. execution + state commit, block after block
  const store = new MemoryStore()
  const committedState = await StateDb.open(store)
  const genesisPrepared = await committedState.prepare(genesis.changes, 0)
  const genesisBatch = new WriteBatch()
  committedState.commit(genesisPrepared, genesisBatch)
  await store.write(genesisBatch)
  committedState.applied(genesisPrepared)
  const commitStarted = performance.now()
  let height = 1
  for (let i = 0; i + blockSize <= txs.length; i += blockSize) {
    const execution = await BlockExecution.begin(runtime, committedState, { chainId: spec.chainId, height, timestamp: spec.genesisTime + height * 1000, author: new Uint8Array(20), parentHash: genesis.hash })
    for (let j = i; j < i + blockSize; j++) await execution.apply(txs[j]!, signers[j]!)
    const result = await execution.finish()
    const next = await committedState.prepare(result.changes, height)
    const blockBatch = new WriteBatch()
    committedState.commit(next, blockBatch)
    await store.write(blockBatch)
    committedState.applied(next)
    height++
  }
  const committedCount = (height - 1) * blockSize
  const commitMs = performance.now() - commitStarted

  log(`state transition, ${blockSize}-transfer blocks, ${senders.length} senders`)
  log(`  execute only                 ${rate(executed, executeMs).padStart(12)}`)
  log(`  execute + state commit       ${rate(committedCount, commitMs).padStart(12)}   (${((committedCount / commitMs) / (executed / executeMs)).toFixed(2)}x of execute only)`)
  return { executePerSecond: (executed / executeMs) * 1000, executeAndCommitPerSecond: (committedCount / commitMs) * 1000 }
}

if (import.meta.main) await benchStateTransition({ log: (line) => console.log(line), quick: process.argv.includes('--quick') })
