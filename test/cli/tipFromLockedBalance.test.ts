// A holder whose whole balance is vesting-locked can still pay base fees (issue 27): the CLI's
// default tip gives way to none instead of having the node refuse the transaction, while a tip
// the user asked for is refused with its code. Against an in-process dev node whose genesis is
// now, so the team allocation is before its cliff.
import t from 'tap'
import { devAccount, devKey } from '../../genesis/devAccounts.ts'
import { devChainSpec } from '../../genesis/devSpec.ts'
import { silentLogger } from '../../lib/logger.ts'
import { OpenLedgerNode } from '../../node/node.ts'
import { RpcClient } from '../../node/rpc/client.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import { createRuntime } from '../../runtime/index.ts'
import { keysCommand } from '../../cli/commands/keys.ts'
import { txCommand } from '../../cli/commands/tx.ts'
import { TxBatch } from '../../cli/txBatch.ts'
import type { CliIo } from '../../cli/io.ts'
import { tempHome } from '../e2e/harness.ts'

interface Receipt { status: string; fee: string }

t.test('a vesting-locked sender: the default tip gives way to none, an asked-for tip is refused', async (t) => {
  const home = await tempHome()
  t.teardown(home.remove)
  const node = new OpenLedgerNode({
    home: home.path,
    spec: devChainSpec({ genesisTime: Date.now() - 1_000 }),
    rpc: { host: '127.0.0.1', port: 0 },
    metrics: false,
    verifierThreads: 0,
    dev: { blockTime: 1_000, instantSeal: true, author: devAccount('alice').address, operator: devKey('alice') },
  }, { logger: silentLogger })
  await node.start()
  t.teardown(() => node.stop())
  const address = node.rpcAddress
  if (address === undefined) throw new Error('no RPC server')
  const url = `http://${address.host}:${address.port}`
  const rpc = new RpcClient(url)
  const team = toHex(devKey('team').address)
  const tx = async (...args: string[]) => {
    const out: string[] = []
    const err: string[] = []
    const io: CliIo = { out: (line) => out.push(line), err: (line) => err.push(line), secret: async () => 'passphrase' }
    const code = await txCommand.run([...args, '--rpc', url, '--home', home.path], io).catch((error: unknown) => error)
    return { code, out: out.join('\n'), err: err.join('\n') }
  }
  // the team allocation's key, as its holder would import it
  const imported = await keysCommand.run(['import', '--name', 'team', '--private-key', toHex(devKey('team').privateKey), '--home', home.path], { out: () => {}, err: () => {}, secret: async () => 'passphrase' })
  t.equal(imported, 0)
  const balance = async () => BigInt((await rpc.call('openledger_getAccount', [team])).free)

  const before = await balance()
  const sent = await tx('remark', '--from', 'team', '--text', 'from a locked balance', '--json')
  t.equal(sent.code, 0, sent.err)
  t.match(sent.err, /no tip offered/)
  const receipt = JSON.parse(sent.out) as Receipt
  t.equal(receipt.status, 'success')
  t.equal(before - (await balance()), BigInt(receipt.fee), 'the base fee only was paid from the locked balance')

  const refused = await tx('remark', '--from', 'team', '--text', 'with a tip', '--tip', '1')
  t.match(refused.code, { code: 'REFUSED', details: { error: 'TIP_EXCEEDS_UNLOCKED_BALANCE' } }, 'a tip the user named is not dropped: the dry run refuses it before it is sent')

  // the batch path (datanet and model commands) gives way the same
  const batch = new TxBatch(rpc, createRuntime())
  const hash = await batch.submit(devKey('team'), 'system', 'remark', { remark: '0x01' })
  const [landed] = await batch.wait([hash])
  t.equal(landed?.status, 'success')
})
