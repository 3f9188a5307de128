// A whole node on a small tmpfs that fills on command, through a path other than the chain
// store: a blob upload. The fault stops the node's work at once — no block sealed after it, RPC
// admission answers NODE_HALTED, system_health says failed — and a node reopened on the home once
// space is back has every block the first one sealed.
import t from 'tap'
import { join } from 'node:path'
import { devAccount, devKey } from '../../../genesis/devAccounts.ts'
import { devChainSpec } from '../../../genesis/devSpec.ts'
import { silentLogger } from '../../../lib/logger.ts'
import { OpenLedgerNode } from '../../../node/node.ts'
import { RpcClient } from '../../../node/rpc/client.ts'
import { canMount, mountTmpfs } from './tmpfs.ts'
import { signTransaction } from '../../../runtime/transaction.ts'
import { ModuleIndex } from '../../../runtime/modules/indices.ts'
import { toHex } from '../../../runtime/crypto/hash.ts'

function devNode(home: string): OpenLedgerNode {
  return new OpenLedgerNode(
    {
      home,
      spec: devChainSpec(),
      rpc: { host: '127.0.0.1', port: 0 },
      metrics: false,
      verifierThreads: 0,
      models: false,
      storage: { minFreeBytes: 0 },
      dev: { blockTime: 50, author: devAccount('alice').address, operator: devKey('alice') },
    },
    { logger: silentLogger },
  )
}

t.test('a failed blob write stops the node; a reopened node has every block it sealed', { skip: canMount ? false : 'needs root to mount a tmpfs' }, async (t) => {
  const fs = mountTmpfs(t.teardown, 48 * 1024 * 1024)
  const home = join(fs.path, 'home')
  const node = devNode(home)
  t.teardown(() => node.stop())
  await node.start()
  while (node.chain.head.header.height < 5) await new Promise((resolve) => setTimeout(resolve, 20))
  const rpc = new RpcClient(`http://127.0.0.1:${node.rpcAddress?.port}`)

  fs.fill()
  const upload = node.blobs?.put(new Uint8Array(1024 * 1024).fill(7))
  await t.rejects(upload as Promise<unknown>, 'the upload fails on the full disk')
  const fault = await node.fatal
  t.equal(fault.code, 'STORAGE_WRITE_FAILED')
  t.equal(fault.details?.['cause'], 'ENOSPC')
  t.match(String(fault.details?.['path']), `${home}/blobs/`, 'the blob file is named')
  const sealed = node.chain.head.header.height
  await new Promise((resolve) => setTimeout(resolve, 500))
  t.equal(node.chain.head.header.height, sealed, 'no block sealed after the fault')
  const health = await rpc.call('system_health')
  t.equal(health.storage.status, 'failed', 'system_health says the node cannot write')
  t.match(health.storage.error, /ENOSPC/)
  const alice = devAccount('alice')
  const tx = signTransaction({ chainId: devChainSpec().chainId, nonce: 0, gasLimit: 10_000, maxFeePerGas: 10n ** 12n, maxPriorityFeePerGas: 1n, call: { module: ModuleIndex.balances, call: 0, args: [devAccount('bob').address, 1n] } }, alice.privateKey)
  const refused = await rpc.call('author_submitExtrinsic', [toHex(tx.bytes)]).then(
    () => undefined,
    (error: unknown) => error as { code?: string; message?: string },
  )
  t.equal(refused?.code, 'NODE_HALTED', 'transactions are no longer admitted')
  t.match(refused?.message, /ENOSPC/, 'saying why')
  const hashes = await Promise.all(Array.from({ length: sealed + 1 }, (_, h) => node.chain.chainStore.getHash(h)))
  await node.stop()

  fs.free()
  const again = devNode(home)
  t.teardown(() => again.stop())
  await again.start()
  t.ok(again.chain.head.header.height >= sealed, `reopened at #${again.chain.head.header.height} (had sealed #${sealed})`)
  const reopened = await Promise.all(hashes.map((_, h) => again.chain.chainStore.getHash(h)))
  t.same(reopened, hashes, 'every block sealed before the fault is there, unchanged')
})
