// The disk fills during production on a real small filesystem (tmpfs, as root): the node stops
// with one error naming path, cause and free space and exits non-zero; it refuses to run while
// the disk is full; once space is back it reopens with every block and transfer it acknowledged,
// and so again after a kill -9.
import t, { type Test } from 'tap'
import { join } from 'node:path'
import { devAccount } from '../../genesis/devAccounts.ts'
import { fromHex, toHex } from '../../runtime/crypto/hash.ts'
import { signTransaction } from '../../runtime/transaction.ts'
import { ModuleIndex } from '../../runtime/modules/indices.ts'
import { EXIT_STORAGE_FAULT } from '../../cli/nodeRun.ts'
import { exitedWithin, found, runCli, type RunningNode, startDevNode, stopNode, waitFor } from './harness.ts'
import { canMount, mountTmpfs } from '../node/storage/tmpfs.ts'

const RECIPIENT = fromHex('0x' + 'cd'.repeat(20)) as Uint8Array
const FLAGS = ['--block-time', '100', '--no-metrics', '--min-free-disk', '0', '--verifier-threads', '0', '--training-threads', '1']

interface Acknowledged {
  blocks: Map<number, string>
  transfers: Array<{ hash: string; block: number }>
}

/** Sends a transfer and waits until the node reports it included; records it as acknowledged. */
async function transfer(t: Test, node: RunningNode, amount: bigint, acknowledged: Acknowledged): Promise<void> {
  const alice = devAccount('alice')
  const { chainId } = await node.rpc.call('system_properties')
  const fees = await node.rpc.call('openledger_estimateFee')
  const nonce = await node.rpc.call('system_accountNextIndex', [toHex(alice.address)])
  const tx = signTransaction({ chainId, nonce, gasLimit: 10_000, maxFeePerGas: BigInt(fees.suggestedMaxFeePerGas), maxPriorityFeePerGas: 1n, call: { module: ModuleIndex.balances, call: 0, args: [RECIPIENT, amount] } }, alice.privateKey)
  await node.rpc.call('author_submitExtrinsic', [toHex(tx.bytes)])
  const receipt = await waitFor(async () => (await node.rpc.call('openledger_getReceipt', [toHex(tx.hash)])) ?? undefined, 'the transfer included', 60_000)
  t.equal(receipt.status, 'success', `transfer of ${amount} succeeded in block #${receipt.blockNumber}`)
  acknowledged.transfers.push({ hash: toHex(tx.hash), block: receipt.blockNumber })
}

/** Records the hash of every block up to the node's head (what it has told the world). */
async function recordBlocks(node: RunningNode, acknowledged: Acknowledged): Promise<number> {
  const head = found(await node.rpc.call('chain_getHeader'), 'the head')
  for (let height = 0; height <= head.number; height++) acknowledged.blocks.set(height, found(await node.rpc.call('chain_getBlockHash', [height]), `block ${height}`))
  return head.number
}

async function checkAcknowledged(t: Test, node: RunningNode, acknowledged: Acknowledged, when: string): Promise<void> {
  let missing = 0
  for (const [height, hash] of acknowledged.blocks) if ((await node.rpc.call('chain_getBlockHash', [height])) !== hash) missing++
  t.equal(missing, 0, `${when}: all ${acknowledged.blocks.size} acknowledged blocks are there, unchanged`)
  for (const { hash, block } of acknowledged.transfers) {
    const receipt = await node.rpc.call('openledger_getReceipt', [hash])
    t.same({ status: receipt?.status, block: receipt?.blockNumber }, { status: 'success', block }, `${when}: transfer in #${block} is there`)
  }
}

t.test('a dev chain whose disk fills stops, refuses to run full, and loses nothing it acknowledged', { skip: canMount ? false : 'needs root to mount a tmpfs', timeout: 600_000 }, async (t) => {
  const fs = mountTmpfs(t.teardown, 96 * 1024 * 1024)
  const home = join(fs.path, 'home')
  const acknowledged: Acknowledged = { blocks: new Map(), transfers: [] }
  let node: RunningNode | undefined
  t.teardown(async () => {
    if (node !== undefined) await stopNode(node, 'SIGKILL')
  })

  node = await startDevNode(home, FLAGS)
  await transfer(t, node, 1_000n, acknowledged)
  await recordBlocks(node, acknowledged)

  // the disk fills while blocks are being sealed
  fs.fill()
  const code = await exitedWithin(node, 60_000)
  t.equal(code, EXIT_STORAGE_FAULT, 'the node exits non-zero on its own')
  const output = node.log()
  const faults = output.split('\n').filter((line) => line.includes('storage fault: stopping the node'))
  t.equal(faults.length, 1, 'one storage-fault error')
  t.match(faults[0], /cause=ENOSPC/, 'naming the cause')
  t.match(faults[0], new RegExp(`path=${fs.path}/home/`), 'the path')
  t.match(faults[0], /free=/, 'and the free space')
  t.ok(output.split('block production failed').length <= 2, 'the block in flight fails; no retry loop follows')
  node = undefined

  // a restart on the still-full disk refuses, saying why
  const full = await runCli(['dev', '--home', home, '--rpc-port', '0', ...FLAGS])
  t.not(full.code, 0, 'cannot start on a full disk')
  t.match(full.stderr + full.stdout, /ENOSPC/, 'and says ENOSPC')

  fs.free()
  node = await startDevNode(home, FLAGS)
  await checkAcknowledged(t, node, acknowledged, 'after the disk-full stop')
  await transfer(t, node, 2_000n, acknowledged)
  await recordBlocks(node, acknowledged)
  node.process.kill('SIGKILL')
  await node.exited

  node = await startDevNode(home, FLAGS)
  await checkAcknowledged(t, node, acknowledged, 'after kill -9')
  const health = await node.rpc.call('system_health')
  t.equal(health.storage.status, 'low', 'system_health: the 96 MiB home is under the 1 GiB warning threshold')
  t.ok((health.storage.freeBytes ?? 0) > 0, 'and reports its free bytes')
  await stopNode(node)
  node = undefined
})
