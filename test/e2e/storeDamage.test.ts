// Bytes overwritten in a stopped node's store (a bad sector, a torn copy): eight bytes in the
// middle of LevelDB's log, then in a table file. Each time the node refuses to start, naming the
// damaged file and the way out, instead of dropping what it holds and sealing on; with the file
// restored it starts again at the height it had.
import t from 'tap'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { found, runCli, startDevNode, stopNode, tempHome, waitFor } from './harness.ts'

const FLAGS = ['--block-time', '100', '--no-metrics', '--verifier-threads', '0']

t.test('a damaged log or table refuses to start and names the damage', async (t) => {
  const home = await tempHome()
  t.teardown(home.remove)
  const db = join(home.path, 'db')
  // two runs: the first run's log becomes a table when the second opens the store
  let height = 0
  for (let run = 0; run < 2; run++) {
    const node = await startDevNode(home.path, FLAGS)
    height = await waitFor(async () => {
      const head = found(await node.rpc.call('chain_getHeader'), 'the head')
      return head.number >= height + 15 ? head.number : undefined
    }, 'blocks sealed', 120_000)
    t.equal(await stopNode(node), 0, `run ${run + 1}: stopped cleanly at #${height} or later`)
  }
  const names = await readdir(db)
  const log = names.find((name) => name.endsWith('.log'))
  const table = names.find((name) => name.endsWith('.ldb'))
  t.ok(log !== undefined && table !== undefined, `the store has a log (${log}) and a table (${table})`)

  for (const name of [log, table] as string[]) {
    const path = join(db, name)
    const original = await readFile(path)
    const damaged = Buffer.from(original)
    const at = Math.floor(damaged.length / 2)
    damaged.fill(0x41, at, at + 8)
    await writeFile(path, damaged)
    const refused = await runCli(['dev', '--home', home.path, '--rpc-port', '0', ...FLAGS])
    t.equal(refused.code, 1, `${name} damaged: the node refuses to start`)
    t.match(refused.stderr, new RegExp(`error \\[DB_CORRUPT\\]: the database ${db} is damaged: ${name} has a (log record|block) whose checksum fails at byte \\d+`), `${name}: names the file and the damage`)
    t.match(refused.stderr, /resync from peers|restore a snapshot/, 'and the way out')
    t.notMatch(refused.stderr, /sealed block/, 'it sealed nothing')
    await writeFile(path, original)
  }

  const node = await startDevNode(home.path, FLAGS)
  t.teardown(() => stopNode(node, 'SIGKILL'))
  const head = found(await node.rpc.call('chain_getHeader'), 'the head')
  t.ok(head.number >= height, `restored: starts again at #${head.number} (had #${height})`)
  t.equal(await stopNode(node), 0)
})
