// Benchmark: the cost of one block's state-root update as the state grows.
//
// Builds a state of 10k accounts and one of 1M (quick: 100k) on a LevelStore in a temp folder,
// bulk-loaded in versions of LOAD_BATCH accounts, then times blocks of UPDATES_PER_BLOCK random
// account updates: prepare + commit + write of the batch + applied, the whole per-block cost of
// the authenticated state. Prints the median of each size and the ratio large/small; a flat cost
// means a ratio near 1 (the tree is ~log2(n) deep, so a little growth is expected).
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LevelStore } from '../node/db/levelStore.ts'
import { WriteBatch } from '../node/db/store.ts'
import { StateDb, type StateChange } from '../node/state/stateDb.ts'
import { encode } from '../runtime/codec/canonical.ts'
import { sha256 } from '../runtime/crypto/hash.ts'

const UPDATES_PER_BLOCK = 1_000
/** accounts written per version while loading */
const LOAD_BATCH = 50_000
const WARMUP_BLOCKS = 3
const MEASURED_BLOCKS = 11
/** enough for every page of a 1M-account tree plus the versions in flight */
const NODE_CACHE_SIZE = 600_000

/** balances module (index 1), accounts item (index 1), then the 20-byte address */
function accountKey(index: number): Uint8Array {
  const seed = new Uint8Array(4)
  new DataView(seed.buffer).setUint32(0, index)
  const key = new Uint8Array(22)
  key[0] = 1
  key[1] = 1
  key.set(sha256(seed).subarray(0, 20), 2)
  return key
}

function accountValue(nonce: number, balance: bigint): Uint8Array {
  return encode([nonce, balance])
}

/** xorshift32: deterministic picks, so every run times the same work */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1
  return () => {
    state ^= state << 13
    state >>>= 0
    state ^= state >>> 17
    state ^= state << 5
    state >>>= 0
    return state / 2 ** 32
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

interface SizeResult {
  accounts: number
  loadSeconds: number
  blockMs: number
  prepareMs: number
  writeMs: number
  pagesPerBlock: number
}

async function applyBlock(db: StateDb, store: LevelStore, changes: StateChange[]): Promise<{ prepareMs: number; writeMs: number; records: number }> {
  const start = performance.now()
  const prepared = await db.prepare(changes)
  const batch = new WriteBatch()
  db.commit(prepared, batch)
  const prepareMs = performance.now() - start
  await store.write(batch)
  db.applied(prepared)
  return { prepareMs, writeMs: performance.now() - start - prepareMs, records: batch.size }
}

async function measureSize(accounts: number, log: (line: string) => void): Promise<SizeResult> {
  const dir = await mkdtemp(join(tmpdir(), 'openledger-bench-state-'))
  const store = await LevelStore.open(dir)
  try {
    const db = await StateDb.open(store, { nodeCacheSize: NODE_CACHE_SIZE })
    const loadStart = performance.now()
    for (let first = 0; first < accounts; first += LOAD_BATCH) {
      const changes: StateChange[] = []
      for (let i = first; i < Math.min(accounts, first + LOAD_BATCH); i++) changes.push({ key: accountKey(i), value: accountValue(0, 10n ** 24n + BigInt(i)) })
      await applyBlock(db, store, changes)
    }
    const loadSeconds = (performance.now() - loadStart) / 1000
    log(`  ${accounts.toLocaleString('en-US')} accounts loaded in ${loadSeconds.toFixed(1)} s (heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB)`)
    if (process.env.SETTLE) await new Promise((r) => setTimeout(r, Number(process.env.SETTLE)))
    const pick = random(0x5eed + accounts)
    const totals: number[] = []
    const prepares: number[] = []
    const writes: number[] = []
    const records: number[] = []
    for (let block = 0; block < WARMUP_BLOCKS + MEASURED_BLOCKS; block++) {
      const changes: StateChange[] = []
      for (let i = 0; i < UPDATES_PER_BLOCK; i++) {
        const index = Math.floor(pick() * accounts)
        changes.push({ key: accountKey(index), value: accountValue(block + 1, 10n ** 24n - BigInt(block * UPDATES_PER_BLOCK + i)) })
      }
      const result = await applyBlock(db, store, changes)
      if (block < WARMUP_BLOCKS) continue
      totals.push(result.prepareMs + result.writeMs)
      prepares.push(result.prepareMs)
      writes.push(result.writeMs)
      records.push(result.records)
    }
    // records = new pages + new leaves + flat values + root + stale list (+ pruning deletes)
    const pagesPerBlock = median(records) - 2 * UPDATES_PER_BLOCK - 2
    const result = { accounts, loadSeconds, blockMs: median(totals), prepareMs: median(prepares), writeMs: median(writes), pagesPerBlock }
    log(`  ${accounts.toLocaleString('en-US')} accounts: ${result.blockMs.toFixed(1)} ms per block of ${UPDATES_PER_BLOCK} updates (prepare+commit ${result.prepareMs.toFixed(1)} ms, write ${result.writeMs.toFixed(1)} ms, ~${Math.round(pagesPerBlock)} pages written)`)
    return result
  } finally {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  }
}

export async function benchStateRoot(options: { log: (line: string) => void; quick?: boolean }): Promise<void> {
  const { log } = options
  const large = options.quick === true ? 100_000 : 1_000_000
  log(`state root update: ${UPDATES_PER_BLOCK} random account updates per block, LevelStore, median of ${MEASURED_BLOCKS} blocks`)
  const small = await measureSize(10_000, log)
  const big = await measureSize(large, log)
  log(`  ratio ${large.toLocaleString('en-US')} / 10,000 accounts: ${(big.blockMs / small.blockMs).toFixed(2)} (prepare+commit ${(big.prepareMs / small.prepareMs).toFixed(2)}, write ${(big.writeMs / small.writeMs).toFixed(2)})`)
  // The work of a block is the pages on the paths of its k updates: about min(16^level, k) distinct
  // pages per page level, so the shared top levels are nearly free and every level below log16(k)
  // costs about k pages. A larger state has more such levels (log16 n): O(k log n) pages. The cost
  // per page written is what must not depend on the state size.
  const perPage = (r: SizeResult) => r.blockMs / r.pagesPerBlock
  log(`  pages written per block ${Math.round(small.pagesPerBlock)} -> ${Math.round(big.pagesPerBlock)} (${(big.pagesPerBlock / small.pagesPerBlock).toFixed(2)}x: O(k log n), one more 16-ary level per 16x accounts)`)
  log(`  cost per page written ${(perPage(small) * 1000).toFixed(0)} µs -> ${(perPage(big) * 1000).toFixed(0)} µs: ratio ${(perPage(big) / perPage(small)).toFixed(2)} (1.00 = bounded by the updates' paths, not by the state size)`)
}

if (import.meta.main) {
  await benchStateRoot({ log: (line) => console.log(line), quick: process.argv.includes('--quick') })
}
