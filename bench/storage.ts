// Benchmark: what the storage durability work costs, each figure next to the one without it,
// measured in the same run on the same disk.
//
//   writes     block-sized synced batches (the chain's commit) through LevelStore (one write at a
//              time, poisoned after a failure) vs the same batches straight into classic-level;
//              and 8 small unsynced writes in flight at once (blob index updates racing a block),
//              which LevelStore runs one by one where LevelDB would group them
//   start      a chain of N blocks: LevelDB's open alone vs the checks added to every start (the
//              files' checksums before open: MB/s; the chain index from genesis to the head and
//              the head state after it)
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { devChainSpec } from '../genesis/devSpec.ts'
import { devKey } from '../genesis/devAccounts.ts'
import { Chain } from '../node/chain/chain.ts'
import { Bucket } from '../node/db/buckets.ts'
import { LevelStore } from '../node/db/levelStore.ts'
import { checkStoreFiles } from '../node/db/storeCheck.ts'
import { WriteBatch } from '../node/db/store.ts'
import { silentLogger } from '../lib/logger.ts'
import { createRuntime } from '../runtime/index.ts'

/** puts per block-sized batch and bytes per value: about a 200-transfer block with its state */
const BLOCK_PUTS = 600
const VALUE_BYTES = 200
const IN_FLIGHT = 8

function blockBatch(block: number): WriteBatch {
  const batch = new WriteBatch()
  for (let i = 0; i < BLOCK_PUTS; i++) {
    const key = new Uint8Array(12)
    new DataView(key.buffer).setUint32(0, block)
    new DataView(key.buffer).setUint32(4, i)
    batch.put(Bucket.stateValue, key, new Uint8Array(VALUE_BYTES).fill(i & 0xff))
  }
  return batch
}

function asLevelOps(batch: WriteBatch): Array<{ type: 'put'; key: Buffer; value: Buffer }> {
  return batch.operations.map((op) => {
    if (op.type !== 'put') throw new Error('puts only')
    return { type: 'put' as const, key: Buffer.concat([Buffer.of(op.bucket), op.key]), value: Buffer.from(op.value) }
  })
}

async function time(run: () => Promise<void>): Promise<number> {
  const started = performance.now()
  await run()
  return performance.now() - started
}

export async function benchStorage({ log, quick }: { log: (line: string) => void; quick: boolean }): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'openledger-bench-storage-'))
  try {
    const blocks = quick ? 100 : 400
    const batches = Array.from({ length: blocks }, (_, i) => blockBatch(i))
    // alternate the two, so the disk's and the neighbours' moods hit both alike
    const raw = new Level<Buffer, Buffer>(join(dir, 'raw'), { keyEncoding: 'buffer', valueEncoding: 'buffer' })
    await raw.open()
    const store = await LevelStore.open(join(dir, 'store'))
    let rawMs = 0
    let storeMs = 0
    for (let i = 0; i < blocks; i++) {
      const batch = batches[i] as WriteBatch
      rawMs += await time(() => raw.batch(asLevelOps(batch), { sync: true }))
      storeMs += await time(() => store.write(batch, { sync: true }))
    }
    log(`  synced block batches (${BLOCK_PUTS} puts): classic-level ${(rawMs / blocks).toFixed(2)} ms, LevelStore ${(storeMs / blocks).toFixed(2)} ms per block = ${(storeMs / rawMs).toFixed(2)}x`)
    const rounds = quick ? 200 : 1000
    const small = (i: number, j: number): WriteBatch => new WriteBatch().put(Bucket.blobIndex, Uint8Array.of(i >> 8, i & 0xff, j), new Uint8Array(100))
    rawMs = 0
    storeMs = 0
    for (let i = 0; i < rounds; i++) {
      rawMs += await time(async () => {
        await Promise.all(Array.from({ length: IN_FLIGHT }, (_, j) => raw.batch(asLevelOps(small(i, j)))))
      })
      storeMs += await time(async () => {
        await Promise.all(Array.from({ length: IN_FLIGHT }, (_, j) => store.write(small(i, j))))
      })
    }
    await raw.close()
    await store.close()
    // the checksum pass over a store of some size (the block batches above)
    let sized = { files: 0, bytes: 0 }
    // the first pass in a process pays for compiling the checksum loop: a start pays it once
    const coldMs = await time(async () => {
      sized = await checkStoreFiles(join(dir, 'store'))
    })
    const sizedMs = await time(async () => {
      sized = await checkStoreFiles(join(dir, 'store'))
    })
    const sizedMiB = sized.bytes / (1024 * 1024)
    log(`  ${IN_FLIGHT} small writes in flight: classic-level ${((rawMs * 1000) / (rounds * IN_FLIGHT)).toFixed(1)} µs, LevelStore ${((storeMs * 1000) / (rounds * IN_FLIGHT)).toFixed(1)} µs per write = ${(storeMs / rawMs).toFixed(2)}x`)
    log(`  store file checksums: ${sizedMiB.toFixed(1)} MiB in ${sized.files} files: ${(sizedMiB / (sizedMs / 1000)).toFixed(0)} MiB/s warm (first pass in the process ${coldMs.toFixed(0)} ms, then ${sizedMs.toFixed(0)} ms)`)

    // a chain of empty blocks, then the checks of one start
    const heights = quick ? 300 : 2000
    const chainPath = join(dir, 'chain')
    const runtime = createRuntime()
    const spec = devChainSpec()
    {
      const chainStore = await LevelStore.open(chainPath)
      const chain = new Chain({ store: chainStore, runtime, logger: silentLogger })
      await chain.open(spec)
      for (let h = 0; h < heights; h++) {
        const block = await chain.buildBlock({ timestamp: chain.head.header.timestamp + 1000, author: devKey('author').address }, (function* () {})())
        await chain.commit(block, { finalized: true })
      }
      await chainStore.close()
    }
    let filesMs = 0
    let checked = { files: 0, bytes: 0 }
    const openMs = await time(async () => {
      const reopened = await LevelStore.open(chainPath)
      await reopened.close()
    })
    filesMs = await time(async () => {
      checked = await checkStoreFiles(chainPath)
    })
    const reopened = await LevelStore.open(chainPath)
    const chain = new Chain({ store: reopened, runtime, logger: silentLogger })
    const chainOpenMs = await time(() => chain.open(spec))
    const verifyMs = await time(async () => {
      await chain.chainStore.verify()
    })
    await reopened.close()
    const mb = checked.bytes / (1024 * 1024)
    log(`  start, ${heights} blocks (${mb.toFixed(1)} MiB in ${checked.files} files): LevelDB open ${openMs.toFixed(0)} ms; file checksums ${filesMs.toFixed(0)} ms; chain open with its index and state checks ${chainOpenMs.toFixed(0)} ms, of which the index walk ${verifyMs.toFixed(0)} ms (${((verifyMs * 1000) / heights).toFixed(1)} µs per block)`)
    log(`  start checks vs LevelDB open alone: ${((filesMs + verifyMs) / openMs).toFixed(2)}x (added ${(filesMs + verifyMs).toFixed(0)} ms)`)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
