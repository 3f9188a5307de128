// The datanets and blob RPC methods against an in-process chain: proofs that verify, JSON views,
// and stable error codes for bad requests.
import t from 'tap'
import { fromHex, toHex } from '../../../runtime/crypto/hash.ts'
import { createRuntime } from '../../../runtime/index.ts'
import { Format } from '../../../runtime/modules/datanets/formats.ts'
import { ModuleIndex } from '../../../runtime/modules/indices.ts'
import { verifyInclusionProof } from '../../../runtime/modules/datanets/versionTree.ts'
import { signTransaction } from '../../../runtime/transaction.ts'
import { decodeStateProof, encodeStateProof, verifyStateProof } from '../../../runtime/state/proof.ts'
import { devAccount, devKey, type DevAccountName } from '../../../genesis/devAccounts.ts'
import { devChainSpec } from '../../../genesis/devSpec.ts'
import { datanetsMethods } from '../../../node/api/datanetsApi.ts'
import type { ApiComponents } from '../../../node/api/context.ts'
import { contentId } from '../../../node/blobs/contentId.ts'
import { Chain, type BlockCandidate } from '../../../node/chain/chain.ts'
import { MemoryStore } from '../../../node/db/memoryStore.ts'
import { silentLogger } from '../../../lib/logger.ts'
import type { RpcMethodName, RpcResult } from '../../../node/rpc/contract.ts'
import { parseParams, type RpcMethod } from '../../../node/rpc/registry.ts'
import { createBlobStore } from '../blobs/fixtures.ts'

const runtime = createRuntime()

function datanetsTx(from: DevAccountName, nonce: number, callName: string, args: unknown): BlockCandidate {
  const call = runtime.moduleByName('datanets')?.calls.find((c) => c.name === callName)
  if (call === undefined) throw new Error(callName)
  const tx = signTransaction({ chainId: devChainSpec().chainId, nonce, gasLimit: 100_000, maxFeePerGas: 10_000_000_000n, maxPriorityFeePerGas: 0n, call: { module: ModuleIndex.datanets, call: call.index, args: call.args.encode(call.args.fromJson(args, 'args')) as never } }, devAccount(from).privateKey)
  return { tx, sender: devAccount(from).address }
}

async function commit(chain: Chain, list: BlockCandidate[]): Promise<void> {
  const executed = await chain.buildBlock({ timestamp: chain.head.header.timestamp + 1000, author: devKey('author').address }, (function* () {
    for (const candidate of list) yield candidate
  })())
  const imported = await chain.commit(executed, { finalized: true })
  for (const receipt of imported.receipts) if (receipt.error !== undefined) throw new Error(runtime.errorCode(receipt.error))
}

t.test('datanet queries, proofs and blob methods', async (t) => {
  const chain = new Chain({ store: new MemoryStore(), runtime, logger: silentLogger })
  await chain.open(devChainSpec())
  const { store } = await createBlobStore(t)
  const methods = datanetsMethods({ chain, blobs: store } as unknown as ApiComponents)
  const disabled = datanetsMethods({ chain } as unknown as ApiComponents)
  const invoke = async (name: string, params: unknown[], list: RpcMethod[] = methods): Promise<unknown> => {
    const method = list.find((m) => m.name === name)
    if (method === undefined) throw new Error(name)
    return method.handler(parseParams(method.params, params), { signal: new AbortController().signal, transport: 'http' })
  }
  // the handler's answer is the contract's view of the method (defineMethod checks it)
  const call = async <M extends RpcMethodName>(name: M, params: unknown[]): Promise<RpcResult<M>> => (await invoke(name, params)) as RpcResult<M>
  const codeOf = async (name: string, params: unknown[], list?: RpcMethod[]) => invoke(name, params, list).then(() => 'no error', (error: { code?: string }) => error.code ?? String(error))

  const rows = (n: number) => new TextEncoder().encode(Array.from({ length: n }, (_, i) => JSON.stringify({ text: `doc ${n}/${i}` })).join('\n') + '\n')
  const blobs = [rows(1), rows(2), rows(3)]
  await commit(chain, [
    datanetsTx('bob', 0, 'create', { name: 'docs', description: 'd', tags: ['x'], licence: 'MIT', visibility: 0, rules: { deposit: '0', feePerByte: '0', formats: [Format.documents], maxBytes: 10_000 }, curators: [] }),
    ...blobs.map((bytes, i) => datanetsTx('eve', i, 'contribute', { datanet: 1, cid: toHex(contentId(bytes)), size: bytes.length, rows: i + 1, format: Format.documents, metadata: '' })),
  ])
  await commit(chain, blobs.map((_, i) => ({ tx: signTransaction({ chainId: devChainSpec().chainId, nonce: i, gasLimit: 100_000, maxFeePerGas: 10_000_000_000n, maxPriorityFeePerGas: 0n, call: { module: ModuleIndex.datanets, call: 6, args: [1, i] } }, devKey('alice').privateKey), sender: devKey('alice').address })))
  await commit(chain, [0, 2].map((i, nonce) => datanetsTx('bob', 1 + nonce, 'accept', { datanet: 1, contribution: i })))
  await commit(chain, [datanetsTx('bob', 3, 'publishVersion', { datanet: 1, note: 'v1' })])

  const datanet = await call('openledger_getDatanet', [1])
  t.match(datanet, { name: 'docs', formats: ['documents'], live: 2, visibility: 'public' })
  t.equal(await call('openledger_getDatanet', [7]), null)
  t.equal((await call('openledger_listDatanets', [])).length, 1)
  t.match(await call('openledger_getContribution', [1, 1]), { status: 'available', format: 'documents', rows: 2 })
  t.equal((await call('openledger_listContributions', [1])).length, 3)

  const proof = await call('openledger_getContributionProof', [1, 2])
  t.equal(proof.position, 1, 'accepted second')
  t.ok(verifyInclusionProof(fromHex(proof.root) as Uint8Array, fromHex(proof.leaf) as Uint8Array, proof.position, proof.siblings.map((s) => fromHex(s) as Uint8Array)))
  const key = fromHex(proof.versionStateKey) as Uint8Array
  const height = chain.finalized.header.height
  const value = await chain.state.getAt(key, height)
  const stateProof = decodeStateProof(encodeStateProof(await chain.state.prove(key, height)))
  t.ok(value !== undefined && verifyStateProof(chain.finalized.header.stateRoot, key, value, stateProof), 'the version record is proven against the finalized state root')

  t.equal(await codeOf('openledger_getContributionProof', [1, 1]), 'NOT_IN_VERSION', 'an available but unaccepted contribution')
  t.equal(await codeOf('openledger_getContributionProof', [9, 0]), 'UNKNOWN_DATANET')
  t.equal(await codeOf('openledger_getContributionProof', [1, 0, 5]), 'UNKNOWN_VERSION')
  t.equal(await codeOf('openledger_getContributionProof', [1, 9]), 'UNKNOWN_CONTRIBUTION')

  // blobs
  const { uploadId } = await call('openledger_beginBlobUpload', [3])
  t.equal(await codeOf('openledger_uploadBlobChunk', [uploadId, 0, 'YWJj=']), 'INVALID_PARAMS', 'non-canonical base64')
  t.equal(await codeOf('openledger_uploadBlobChunk', [uploadId, 0, 'Y*Jj']), 'INVALID_PARAMS', 'not base64')
  await call('openledger_uploadBlobChunk', [uploadId, 0, 'YWJj'])
  t.equal(await codeOf('openledger_finishBlobUpload', [uploadId, null, Format.documents]), 'INVALID_PARAMS', 'format needs rows')
  t.equal(await codeOf('openledger_finishBlobUpload', [uploadId, null, Format.documents, 1]), 'INVALID_JSON', 'checked as its format')
  t.equal(await codeOf('openledger_getBlobInfo', [toHex(contentId(new TextEncoder().encode('abc')))], disabled), 'BLOBS_DISABLED')
  const text = new TextEncoder().encode('hello')
  const begun = await call('openledger_beginBlobUpload', [text.length])
  await call('openledger_uploadBlobChunk', [begun.uploadId, 0, Buffer.from(text).toString('base64')])
  const finished = await call('openledger_finishBlobUpload', [begun.uploadId, toHex(contentId(text)), Format.text, 1])
  t.match(await call('openledger_getBlobInfo', [finished.cid]), { size: 5, chunks: 1 })
  t.match(await call('openledger_getBlobChunk', [finished.cid, 0]), { size: 5, data: Buffer.from(text).toString('base64'), siblings: [] })
  t.equal(await codeOf('openledger_getBlobChunk', [finished.cid, 1]), 'CHUNK_OUT_OF_RANGE')
})
