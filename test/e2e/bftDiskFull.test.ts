// One of four validators runs out of disk (its home on a small tmpfs, filled on command): it stops
// with ENOSPC named and exits non-zero while the other three finalize on; once space is back it
// restarts, catches up, survives a kill -9, and no validator ever signs two different votes
// (every vote audited, and no double-sign evidence or slash on chain).
import t from 'tap'
import { cp, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EXIT_STORAGE_FAULT } from '../../cli/nodeRun.ts'
import { exitedWithin } from './harness.ts'
import { canMount, mountTmpfs } from '../node/storage/tmpfs.ts'
import { assertSameChain, createTestnet, doubleSigns, headHeight, validatorsAt, waitForHeight } from './testnet.ts'

t.test('a validator whose disk fills stops, comes back and never double-signs', { skip: canMount ? false : 'needs root to mount a tmpfs' }, async (t) => {
  const net = await createTestnet({ validators: 4, blockTimeMs: 500 })
  const [node0, node1, node2, node3] = net.nodes as [typeof net.nodes[0], typeof net.nodes[0], typeof net.nodes[0], typeof net.nodes[0]]
  const validators = [node0, node1, node2, node3]
  // node3's home moves onto its own small filesystem
  const saved = await mkdtemp(join(tmpdir(), 'openledger-home-'))
  await cp(node3.home, saved, { recursive: true })
  const teardowns: Array<() => void | Promise<void>> = []
  const fs = mountTmpfs((fn) => teardowns.push(fn), 64 * 1024 * 1024, node3.home)
  t.teardown(async () => {
    await net.stopAll()
    for (const fn of teardowns) await fn()
    await net.remove()
    await rm(saved, { recursive: true, force: true })
  })
  await cp(saved, node3.home, { recursive: true })
  // the audit log of its votes stays off the disk that fills (a test's file, not the node's state)
  node3.voteLog = join(saved, 'votes.jsonl')
  const node3Flags = ['--min-free-disk', '0']

  await Promise.all([net.start(node0), net.start(node1), net.start(node2), net.start(node3, node3Flags)])
  await waitForHeight(validators, 3, 120_000)
  const running = node3.running
  if (running === undefined) throw new Error('node3 is not running')

  fs.fill()
  const code = await exitedWithin(running, 90_000)
  t.equal(code, EXIT_STORAGE_FAULT, 'the validator with the full disk exits non-zero')
  t.match(running.log(), /storage fault: stopping the node .*cause=ENOSPC/, 'naming ENOSPC')
  node3.running = undefined
  const stoppedAt = await headHeight(node0)
  await waitForHeight([node0, node1, node2], stoppedAt + 3, 120_000)
  t.pass('the other three finalize on')

  fs.free()
  await net.start(node3, node3Flags)
  await waitForHeight([node3], await headHeight(node0), 120_000)
  t.pass('with space again it restarts and catches up')
  await net.kill(node3, 'SIGKILL')
  await net.start(node3, node3Flags)
  const tip = await headHeight(node0)
  await waitForHeight(validators, tip + 2, 120_000)
  t.pass('after a kill -9 it is back in consensus')

  const upTo = Math.min(...(await Promise.all(validators.map(headHeight))))
  t.same((await assertSameChain(validators, upTo)).problems, [], `one chain on all four up to ${upTo}`)
  const [view] = await validatorsAt([node0], upTo)
  t.same(view?.validators.filter((v) => v.slashed !== '0' || v.jailed).map((v) => v.operator), [], 'no double-sign evidence landed: nobody slashed or jailed')
  await net.stopAll()
  const signs = await doubleSigns(validators)
  t.ok(signs.votes > 50, `${signs.votes} votes audited`)
  t.same(signs.conflicts, [], 'no validator ever signed two different votes for one height/round/step')
})
