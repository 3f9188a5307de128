// `openledger attribution show|verify` and `openledger rewards show|claim` against a dev chain
// process, as a user runs them: the reads, the refusals a user meets before any inference was
// attributed (the full flow with a final receipt and a verified payout proof is
// test/node/api/attributionApi.test.ts, in process).
import t from 'tap'
import { devAccount } from '../../genesis/devAccounts.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import { runCli, startDevNode, stopNode, tempHome } from '../e2e/harness.ts'

const bob = toHex(devAccount('bob').address)

t.test('rewards and attributions with the CLI on a fresh dev chain', async (t) => {
  const home = await tempHome()
  t.teardown(home.remove)
  const node = await startDevNode(home.path, ['--instant-seal', '--block-time', '3600000'])
  t.teardown(() => stopNode(node, 'SIGKILL'))
  const cli = async (...args: string[]) => runCli([...args, '--rpc', node.rpcUrl])

  const shown = await cli('rewards', 'show', '--address', bob)
  t.equal(shown.code, 0, shown.stderr)
  t.same(JSON.parse(shown.stdout), { address: bob, accrued: '0', claimed: '0', credits: [] })

  // the dry run catches it before any fee is paid; --force sends it and the chain refuses it
  const claimed = await cli('rewards', 'claim', '--from', 'bob')
  t.equal(claimed.code, 1, 'a refused claim exits 1')
  t.match(claimed.stderr, /REFUSED.*attribution\.NothingToClaim.*no fee paid/)
  const forced = await cli('rewards', 'claim', '--from', 'bob', '--force')
  t.equal(forced.code, 1, 'a failed claim exits 1')
  t.match(forced.stdout, /status\s+failed \(attribution\.NothingToClaim\)/)

  const missing = await cli('attribution', 'show', '1')
  t.not(missing.code, 0)
  t.match(missing.stderr, /record 1 has no attribution/)
  const unproven = await cli('attribution', 'verify', '1', '--address', bob)
  t.not(unproven.code, 0)
  t.match(unproven.stderr, /NOT_FINAL|no final attribution/)
  const usage = await cli('attribution', 'verify', '1')
  t.match(usage.stderr, /needs --address/)
})
