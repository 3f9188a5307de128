// The datanets walkthrough on a real dev chain, over the CLI and JSON-RPC: a contributor uploads
// a file; the dev validator attests its availability; a curator (another account) reviews and
// accepts it; the owner publishes a version; the inclusion proof and the version's state proof
// verify against a finalized state root; rejection and withdrawal; bad input is refused with
// stable codes.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { devAccount } from '../../genesis/devAccounts.ts'
import { ONE_OPEN } from '../../genesis/tokenomics.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import { contentId } from '../../node/blobs/contentId.ts'
import { RpcClientError } from '../../node/rpc/client.ts'
import { found, runCli, startDevNode, stopNode, tempHome, waitFor } from './harness.ts'

const address = (name: 'alice' | 'bob' | 'charlie' | 'dave' | 'eve' | 'ferdie') => toHex(devAccount(name).address)

t.test('datanets on a dev chain: contribute, attest, review, accept, publish, prove, reject, withdraw', async (t) => {
  const home = await tempHome()
  t.teardown(home.remove)
  const node = await startDevNode(home.path, ['--block-time', '200'])
  t.teardown(() => stopNode(node, 'SIGKILL'))
  const rpc = ['--rpc', node.rpcUrl]
  const cli = async (...args: string[]) => {
    const result = await runCli(['datanet', ...args, ...rpc])
    return result
  }
  const rpcError = async (method: string, params: unknown[]) => {
    try {
      await node.rpc.call(method, params)
      return 'no error'
    } catch (error) {
      return error instanceof RpcClientError ? error.code : String(error)
    }
  }

  const created = await cli('create', '--from', 'bob', '--name', 'Spam mails', '--deposit', '2', '--formats', 'labelled', '--curators', address('dave'))
  t.equal(created.code, 0, created.stderr)
  t.match(created.stdout, /DatanetCreated/)

  const file = join(home.path, 'mails.jsonl')
  await writeFile(file, '{"text":"win a prize now","label":"spam"}\n{"text":"lunch tomorrow?","label":"ham"}\n{"text":"cheap pills","label":"spam"}\n')
  const contributed = await cli('contribute', file, '--datanet', '1', '--from', 'eve')
  t.equal(contributed.code, 0, contributed.stdout + contributed.stderr)
  t.match(contributed.stdout, /3 rows/)

  // the dev node's validator fetches, checks and attests: the contribution becomes available
  await waitFor(async () => ((found(await node.rpc.call('openledger_getContribution', [1, 0]), 'contribution 0')).status === 'available' ? true : undefined), 'availability')

  const reviewed = await cli('review', '--datanet', '1', '--contribution', '0')
  t.equal(reviewed.code, 0, reviewed.stderr)
  t.match(reviewed.stdout, /"spam":2,"ham":1/)
  t.match(reviewed.stdout, /check\s+ok/)

  const byStranger = await cli('accept', '--datanet', '1', '--contribution', '0', '--from', 'ferdie')
  t.equal(byStranger.code, 1)
  t.match(byStranger.stderr, /REFUSED.*datanets\.NotCurator/, 'review by a non-curator: refused by the dry run')
  const strangerForced = await cli('accept', '--datanet', '1', '--contribution', '0', '--from', 'ferdie', '--force')
  t.equal(strangerForced.code, 1)
  t.match(strangerForced.stdout, /status\s+failed \(datanets\.NotCurator\)/, 'with --force the chain fails it')
  const accepted = await cli('accept', '--datanet', '1', '--contribution', '0', '--from', 'dave')
  t.equal(accepted.code, 0, accepted.stdout + accepted.stderr)
  const published = await cli('publish', '--datanet', '1', '--from', 'bob', '--note', 'first')
  t.equal(published.code, 0, published.stdout + published.stderr)

  // inclusion proof against the version root, version record against a finalized state root
  const proved = await cli('prove', '--datanet', '1', '--contribution', '0')
  t.equal(proved.code, 0, proved.stdout + proved.stderr)
  t.match(proved.stdout, /inclusion .*verified/)
  t.match(proved.stdout, /state .*finalized #\d+ .*verified/)

  const downloaded = join(home.path, 'copy.jsonl')
  const download = await cli('download', '--datanet', '1', '--contribution', '0', '--out', downloaded)
  t.equal(download.code, 0, download.stderr)

  // bad input: nothing is stored, stable codes
  const invalidUtf8 = Uint8Array.of(0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d, 0x0a)
  const { uploadId } = await node.rpc.call('openledger_beginBlobUpload', [invalidUtf8.length])
  await node.rpc.call('openledger_uploadBlobChunk', [uploadId, 0, Buffer.from(invalidUtf8).toString('base64')])
  t.equal(await rpcError('openledger_finishBlobUpload', [uploadId, toHex(contentId(invalidUtf8)), 3, 1]), 'INVALID_UTF8')
  t.equal(await node.rpc.call('openledger_getBlobInfo', [toHex(contentId(invalidUtf8))]), null, 'invalid UTF-8 is not kept')
  t.equal(await rpcError('openledger_beginBlobUpload', [65 * 1024 * 1024]), 'BLOB_TOO_LARGE')
  const other = await node.rpc.call('openledger_beginBlobUpload', [3])
  await node.rpc.call('openledger_uploadBlobChunk', [other.uploadId, 0, Buffer.from('abc').toString('base64')])
  t.equal(await rpcError('openledger_finishBlobUpload', [other.uploadId, toHex(contentId(Buffer.from('abd')))]), 'CID_MISMATCH')
  t.equal(await node.rpc.call('openledger_getBlobInfo', [toHex(contentId(Buffer.from('abc')))]), null, 'mismatching bytes are not kept')
  const badFile = join(home.path, 'bad.jsonl')
  await writeFile(badFile, Uint8Array.of(0x7b, 0xc3, 0x28, 0x7d, 0x0a))
  const badUpload = await cli('contribute', badFile, '--datanet', '1', '--from', 'eve')
  t.equal(badUpload.code, 2)
  t.match(badUpload.stderr, /INVALID_UTF8/)
  const duplicate = await cli('contribute', file, '--datanet', '1', '--from', 'ferdie')
  t.equal(duplicate.code, 1)
  t.match(duplicate.stderr, /REFUSED.*datanets\.DuplicateContribution/)
  const unknown = await cli('contribute', file, '--datanet', '9', '--from', 'ferdie')
  t.match(unknown.stderr, /REFUSED.*datanets\.UnknownDatanet/)

  // data nobody uploaded never becomes available, so it cannot be accepted
  const ghost = toHex(contentId(Buffer.from('never uploaded')))
  const ghostTx = await runCli(['tx', 'call', 'datanets', 'contribute', '--from', 'ferdie', '--args', JSON.stringify({ datanet: 1, cid: ghost, size: 14, rows: 1, format: 3, metadata: '' }), ...rpc])
  t.equal(ghostTx.code, 0, ghostTx.stdout + ghostTx.stderr)
  const unavailable = await cli('accept', '--datanet', '1', '--contribution', '1', '--from', 'dave')
  t.equal(unavailable.code, 1)
  t.match(unavailable.stderr, /REFUSED.*datanets\.DataUnavailable/)

  // rejection forfeits 20 % of the 2 OPEN deposit
  const ferdieBefore = BigInt(await node.rpc.call('openledger_getBalance', [address('ferdie')]))
  const rejected = await cli('reject', '--datanet', '1', '--contribution', '1', '--from', 'dave', '--reason', 'no data')
  t.equal(rejected.code, 0, rejected.stdout)
  t.equal(BigInt(await node.rpc.call('openledger_getBalance', [address('ferdie')])) - ferdieBefore, 2n * ONE_OPEN * 8n / 10n)

  // withdrawal: out of the next version, still provable in the first
  const withdrawn = await cli('withdraw', '--datanet', '1', '--contribution', '0', '--from', 'eve')
  t.equal(withdrawn.code, 0, withdrawn.stdout)
  t.equal((await cli('publish', '--datanet', '1', '--from', 'bob')).code, 0)
  const v2 = found(await node.rpc.call('openledger_getDatanetVersion', [1, 2]), 'version 2')
  t.equal(v2.contributions, 0)
  t.equal(await rpcError('openledger_getContributionProof', [1, 0, 2]), 'NOT_IN_VERSION')
  const old = await cli('prove', '--datanet', '1', '--contribution', '0', '--version', '1')
  t.equal(old.code, 0, old.stdout + old.stderr)

  // a seed goes through the dry run like any other transaction: from an account that cannot pay,
  // it stops before its first transaction, so nothing is created and no fee paid
  const env = { OPENLEDGER_PASSPHRASE: 'seed test passphrase' }
  const generated = await runCli(['keys', 'generate', '--name', 'empty', '--home', home.path], env)
  t.equal(generated.code, 0, generated.stderr)
  const datanetsBefore = (await node.rpc.call('openledger_listDatanets', [])).length
  const seed = await runCli(['datanet', 'seed', '--corpus', 'moby', '--limit', '2', '--contributors', '1', '--from', 'empty', '--home', home.path, ...rpc], env)
  t.equal(seed.code, 1, seed.stdout + seed.stderr)
  t.match(seed.stderr, /REFUSED.*datanets\.create would be refused.*nothing was sent and no fee paid/)
  t.equal((await node.rpc.call('openledger_listDatanets', [])).length, datanetsBefore, 'no datanet was created')
})
