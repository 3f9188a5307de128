// Data availability across two nodes: the contributor's node holds the blob; the validator node
// follows finalized blocks, fetches the blob over the network port (MemoryNetwork), checks it,
// pins it and submits an attestation signed with its operator key. Until that attestation is in
// a block, a curator cannot accept the contribution.
import t from 'tap'
import { decode, encode, type Decoded } from '../../../runtime/codec/canonical.ts'
import { toHex } from '../../../runtime/crypto/hash.ts'
import { createRuntime } from '../../../runtime/index.ts'
import { Format } from '../../../runtime/modules/datanets/formats.ts'
import { contributions, ContributionStatus } from '../../../runtime/modules/datanets/state.ts'
import { ModuleIndex } from '../../../runtime/modules/indices.ts'
import { accountNonce } from '../../../runtime/modules/system/index.ts'
import { decodeTransaction, signTransaction, type Transaction } from '../../../runtime/transaction.ts'
import { devAccount, devKey, type DevAccountName } from '../../../genesis/devAccounts.ts'
import { devChainSpec } from '../../../genesis/devSpec.ts'
import { ONE_OPEN } from '../../../genesis/tokenomics.ts'
import { MemoryNetworkHub } from '../../../p2p/memoryNetwork.ts'
import { BlobFetcher, serveBlobs } from '../../../node/blobs/blobExchange.ts'
import { contentId } from '../../../node/blobs/contentId.ts'
import { Chain, type BlockCandidate } from '../../../node/chain/chain.ts'
import { MemoryStore } from '../../../node/db/memoryStore.ts'
import { OperatorTransactions } from '../../../node/operator/operatorTransactions.ts'
import { silentLogger } from '../../../lib/logger.ts'
import { AvailabilityService } from '../../../node/datanets/availabilityService.ts'
import { createBlobStore } from '../blobs/fixtures.ts'

const runtime = createRuntime()
const GWEI = 1_000_000_000n

function datanetsTx(from: DevAccountName, nonce: number, callName: string, args: unknown): BlockCandidate {
  const call = runtime.moduleByName('datanets')?.calls.find((c) => c.name === callName)
  if (call === undefined) throw new Error(callName)
  const tx = signTransaction({ chainId: devChainSpec().chainId, nonce, gasLimit: 100_000, maxFeePerGas: 10n * GWEI, maxPriorityFeePerGas: 0n, call: { module: ModuleIndex.datanets, call: call.index, args: call.args.encode(call.args.fromJson(args, 'args')) as never } }, devAccount(from).privateKey)
  return { tx, sender: devAccount(from).address }
}

async function commit(chain: Chain, list: BlockCandidate[]) {
  const executed = await chain.buildBlock({ timestamp: chain.head.header.timestamp + 1000, author: devKey('author').address }, (function* () {
    for (const candidate of list) yield candidate
  })())
  const imported = await chain.commit(executed, { finalized: true })
  return imported.receipts.map((r) => (r.error === undefined ? 'success' : runtime.errorCode(r.error)))
}

t.test('a validator node fetches, checks and attests; only then can a curator accept', async (t) => {
  const chain = new Chain({ store: new MemoryStore(), runtime, logger: silentLogger })
  await chain.open(devChainSpec())
  const hub = new MemoryNetworkHub()
  const validatorNet = hub.createNode({ peerId: 'validator' })
  const contributorNet = hub.createNode({ peerId: 'contributor' })
  t.teardown(() => Promise.all([validatorNet.stop(), contributorNet.stop()]))
  const { store: validatorStore } = await createBlobStore(t)
  const { store: contributorStore } = await createBlobStore(t)
  serveBlobs(contributorNet, contributorStore)
  serveBlobs(validatorNet, validatorStore)
  await validatorNet.start()
  await contributorNet.start()

  const submitted: Transaction[] = []
  const service = new AvailabilityService({
    chain,
    store: validatorStore,
    fetcher: new BlobFetcher({ network: validatorNet, store: validatorStore, logger: silentLogger }),
    transactions: new OperatorTransactions({
      chain,
      operator: devKey('alice'),
      submit: async (bytes) => void submitted.push(decodeTransaction(bytes)),
      nextNonce: (account) => accountNonce(chain.state, account),
    }),
    logger: silentLogger,
  })
  service.start()
  t.teardown(() => service.stop())

  const good = new TextEncoder().encode('{"text":"win money","label":"spam"}\n{"text":"see you","label":"ham"}\n')
  const lying = new TextEncoder().encode('{"text":"only one row","label":"ham"}\n')
  await contributorStore.put(good)
  await contributorStore.put(lying)
  t.equal(await validatorStore.has(contentId(good)), false, 'the validator node does not hold the blob yet')

  const created = await commit(chain, [
    datanetsTx('bob', 0, 'create', { name: 'mails', description: '', tags: [], licence: '', visibility: 0, rules: { deposit: ONE_OPEN.toString(), feePerByte: '0', formats: [Format.labelled], maxBytes: 1000 }, curators: [toHex(devAccount('dave').address)] }),
    datanetsTx('eve', 0, 'contribute', { datanet: 1, cid: toHex(contentId(good)), size: good.length, rows: 2, format: Format.labelled, metadata: '' }),
    datanetsTx('ferdie', 0, 'contribute', { datanet: 1, cid: toHex(contentId(lying)), size: lying.length, rows: 5, format: Format.labelled, metadata: '' }),
  ])
  t.same(created, ['success', 'success', 'success'])
  await service.idle()

  t.same(await validatorStore.read(contentId(good)), good, 'fetched from the contributor\'s node over the network')
  t.equal((await validatorStore.info(contentId(good)))?.refs, 1, 'and pinned')
  t.equal(submitted.length, 1, 'one attestation: the contribution declaring 5 rows for 1 is not attested')
  const attestation = submitted[0] as Transaction
  t.same([attestation.call.module, attestation.call.call], [ModuleIndex.datanets, 6])
  t.same(decode(encode(attestation.call.args)) as Decoded, [1, 0])

  t.same(await commit(chain, [datanetsTx('dave', 0, 'accept', { datanet: 1, contribution: 0 })]), ['datanets.DataUnavailable'], 'not before the attestation is in a block')
  t.same(await commit(chain, [{ tx: attestation, sender: devAccount('alice').address }]), ['success'])
  t.equal((await contributions.get(chain.state, { datanet: 1, index: 0 }))?.status, ContributionStatus.available, 'alice holds all the power: > 2/3')
  t.same(await commit(chain, [datanetsTx('dave', 1, 'accept', { datanet: 1, contribution: 0 }), datanetsTx('dave', 2, 'accept', { datanet: 1, contribution: 1 })]), ['success', 'datanets.DataUnavailable'])

  // a restarted service reconciles with the state: pins are per contribution, so nothing doubles
  await service.stop()
  service.start()
  await service.idle()
  t.equal((await validatorStore.info(contentId(good)))?.refs, 1, 'still one reference after a restart')
  t.equal(submitted.length, 1, 'nothing submitted again')

  // a withdrawn contribution's blob is unpinned
  t.same(await commit(chain, [datanetsTx('eve', 1, 'withdraw', { datanet: 1, contribution: 0 })]), ['success'])
  await service.idle()
  t.equal((await validatorStore.info(contentId(good)))?.refs, 0)
})
