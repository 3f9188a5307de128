// openledger_getBlockEvents against an in-process dev chain: a training job that misses its
// deadline is refunded by the models end-of-block hook, and the method serves exactly the events
// the block stored (by hash and by number), null for unknown blocks, INVALID_PARAMS for bad input.
import t from 'tap'
import { toHex } from '../../../runtime/crypto/hash.ts'
import { createRuntime } from '../../../runtime/index.ts'
import { Format } from '../../../runtime/modules/datanets/formats.ts'
import { RefundReason } from '../../../runtime/modules/models/events.ts'
import { MODELS_ACCOUNT } from '../../../runtime/modules/models/state.ts'
import { RANDOMNESS_LOOKAHEAD } from '../../../runtime/modules/system/randomness.ts'
import type { RuntimeEvent } from '../../../runtime/module.ts'
import { signTransaction } from '../../../runtime/transaction.ts'
import { devAccount, devKey, type DevAccountName } from '../../../genesis/devAccounts.ts'
import { DEV_MODELS_PARAMS, devChainSpec } from '../../../genesis/devSpec.ts'
import type { ChainSpec } from '../../../genesis/spec.ts'
import { openledgerMethods } from '../../../node/api/openledgerApi.ts'
import type { ApiComponents } from '../../../node/api/context.ts'
import { Chain, type BlockCandidate, type ImportedBlock } from '../../../node/chain/chain.ts'
import { MemoryStore } from '../../../node/db/memoryStore.ts'
import { silentLogger } from '../../../lib/logger.ts'
import type { DryRunView } from '../../../node/rpc/contract.ts'
import { parseParams, type RpcMethod } from '../../../node/rpc/registry.ts'
import { balanceOf } from '../../../runtime/modules/balances/ledger.ts'
import { baseModelArgs, FEE, jobArgs } from '../../runtime/modules/models/harness.ts'

const runtime = createRuntime()
/** blocks a trainer has before its job expires: short, so the test reaches the deadline quickly */
const TRAIN_BLOCKS = 3
const spec: ChainSpec = { ...devChainSpec(), models: { params: { ...DEV_MODELS_PARAMS, trainBlocks: TRAIN_BLOCKS }, baseModels: [baseModelArgs()] } }
const nonces = new Map<DevAccountName, number>()

/** `module.Event`, from the runtime's own definitions */
function nameOf(event: RuntimeEvent): string {
  const module = runtime.module(event.module)
  return `${module?.name ?? event.module}.${module?.events.find((e) => e.index === event.index)?.name ?? event.index}`
}

function tx(from: DevAccountName, moduleName: 'datanets' | 'models', callName: string, args: unknown): BlockCandidate {
  const module = runtime.moduleByName(moduleName)
  const call = module?.calls.find((c) => c.name === callName)
  if (module === undefined || call === undefined) throw new Error(`${moduleName}.${callName}`)
  const nonce = nonces.get(from) ?? 0
  nonces.set(from, nonce + 1)
  const signed = signTransaction({ chainId: spec.chainId, nonce, gasLimit: 1_000_000, maxFeePerGas: 10_000_000_000n, maxPriorityFeePerGas: 0n, call: { module: module.index, call: call.index, args: call.args.encode(call.args.fromJson(args, 'args')) as never } }, devAccount(from).privateKey)
  return { tx: signed, sender: devAccount(from).address }
}

async function commit(chain: Chain, list: BlockCandidate[], finalized = true): Promise<ImportedBlock> {
  const executed = await chain.buildBlock({ timestamp: chain.head.header.timestamp + 1000, author: devKey('author').address }, (function* () {
    yield* list
  })())
  const imported = await chain.commit(executed, { finalized })
  if (imported.transactions.length !== list.length) throw new Error('a transaction was left out of the block')
  for (const receipt of imported.receipts) if (receipt.error !== undefined) throw new Error(runtime.errorCode(receipt.error))
  return imported
}

t.test('openledger_getBlockEvents serves the events of the end-of-block hooks', async (t) => {
  const chain = new Chain({ store: new MemoryStore(), runtime, logger: silentLogger })
  await chain.open(spec)
  const methods = openledgerMethods({ chain } as unknown as ApiComponents)
  const call = async (params: unknown): Promise<unknown> => {
    const method = methods.find((m) => m.name === 'openledger_getBlockEvents') as RpcMethod
    return method.handler(parseParams(method.params, params), { signal: new AbortController().signal, transport: 'http' })
  }
  const codeOf = (params: unknown) => call(params).then(() => 'no error', (error: { code?: string }) => error.code ?? String(error))

  // a published datanet version, then eve's job: alice's validator is the only one, so the job's trainer
  const datanet = { name: 'docs', description: 'd', tags: [], licence: 'MIT', visibility: 0, rules: { deposit: '0', feePerByte: '0', formats: [Format.documents], maxBytes: 10_000 }, curators: [] }
  await commit(chain, [tx('bob', 'datanets', 'create', datanet), tx('eve', 'datanets', 'contribute', { datanet: 1, cid: toHex(new Uint8Array(32).fill(7)), size: 1_000, rows: 1, format: Format.documents, metadata: '' })])
  await commit(chain, [tx('alice', 'datanets', 'attestAvailability', { datanet: 1, contribution: 0 })])
  await commit(chain, [tx('bob', 'datanets', 'accept', { datanet: 1, contribution: 0 })])
  await commit(chain, [tx('bob', 'datanets', 'publishVersion', { datanet: 1, note: 'v1' })])
  const created = await commit(chain, [tx('eve', 'models', 'createJob', jobArgs({ fee: FEE.toString() }))])
  // the trainer is drawn RANDOMNESS_LOOKAHEAD blocks later (the beacon's lookahead), then trains for TRAIN_BLOCKS
  const assignedAt = created.header.height + RANDOMNESS_LOOKAHEAD
  const deadline = assignedAt + TRAIN_BLOCKS

  // alice never submits a result: at the deadline she is excluded, nobody is left, eve is refunded
  let expired: ImportedBlock | undefined
  let assigning: ImportedBlock | undefined
  while (chain.head.header.height < deadline) {
    expired = await commit(chain, [])
    if (expired.header.height === assignedAt) assigning = expired
  }
  if (expired === undefined) throw new Error('no block was built')
  const eve = toHex(devAccount('eve').address)
  // the escrow going back, then the refund: the order the hook emitted them in
  const expected = [
    { module: 'balances', event: 'Transferred', data: { from: toHex(MODELS_ACCOUNT), to: eve, amount: FEE.toString() } },
    { module: 'models', event: 'JobRefunded', data: { job: 1, owner: eve, amount: FEE.toString(), reason: RefundReason.noValidators } },
  ]
  t.same(expired.blockEvents.map(nameOf), expected.map((e) => `${e.module}.${e.event}`), 'the deadline block emitted the refund (the scenario under test)')

  const byHash = await call([toHex(expired.hash)])
  t.same(byHash, { blockHash: toHex(expired.hash), number: deadline, finalized: true, events: expected }, 'by hash: exactly the block events, in order')
  t.same(await call([deadline]), byHash, 'by number')
  t.same(await call([`0x${deadline.toString(16)}`]), byHash, 'by 0x-hex number, as chain_getBlockHash takes it')
  t.same(await call({ block: toHex(expired.hash) }), byHash, 'by name')

  // the block that created the job: JobCreated is the transaction's, in its receipt; JobAssigned the
  // hook's of the block RANDOMNESS_LOOKAHEAD later
  const creation = await call([created.header.height]) as { events: Array<Record<string, unknown>> }
  t.same(creation.events.map((e) => `${String(e['module'])}.${String(e['event'])}`), created.blockEvents.map(nameOf), 'the creation block: its hook events only')
  t.notOk(creation.events.some((e) => e['module'] === 'models'), 'no transaction events')
  const receiptEvents = (await chain.chainStore.getReceipts(created.hash))?.receipts[0]?.events.map(nameOf)
  t.ok(receiptEvents?.includes('models.JobCreated'), 'JobCreated is in the receipt')
  const assignment = await call([assignedAt]) as { events: Array<Record<string, unknown>> }
  t.ok(assigning !== undefined && assignment.events.some((e) => e['module'] === 'models' && e['event'] === 'JobAssigned'), 'JobAssigned is a block event of the drawing block')
  const genesisHash = await chain.chainStore.getHash(0)
  t.same(await call([0]), { blockHash: toHex(genesisHash ?? new Uint8Array()), number: 0, finalized: true, events: [] }, 'genesis: no block events')

  const pending = await commit(chain, [], false)
  const unfinalized = await call([toHex(pending.hash)]) as { events: unknown[] }
  t.match(unfinalized, { blockHash: toHex(pending.hash), number: pending.header.height, finalized: false }, 'a block above the finalized head')
  t.equal(unfinalized.events.length, pending.blockEvents.length)

  t.equal(await call([toHex(new Uint8Array(32).fill(0xab))]), null, 'unknown hash')
  t.equal(await call([chain.head.header.height + 1]), null, 'a number above the head')
  t.equal(await codeOf([toHex(new Uint8Array(31))]), 'INVALID_PARAMS', 'a 31-byte hash')
  t.equal(await codeOf([-1]), 'INVALID_PARAMS', 'a negative number')
  t.equal(await codeOf([1.5]), 'INVALID_PARAMS', 'a fraction')
  t.equal(await codeOf(['latest']), 'INVALID_PARAMS', 'a string that is not hex')
  t.equal(await codeOf([`0x${'zz'.repeat(32)}`]), 'INVALID_PARAMS', 'a hash-length string that is not hex')
  t.equal(await codeOf([]), 'INVALID_PARAMS', 'no parameter')
  t.equal(await codeOf([null]), 'INVALID_PARAMS', 'null')
  t.equal(await codeOf([deadline, deadline]), 'INVALID_PARAMS', 'two parameters')
  const message = await call([-1]).then(() => '', (error: Error) => error.message)
  t.match(message, /block/, 'the error names the parameter')
})

t.test('openledger_dryRun: what the next block would record, nothing written', async (t) => {
  const chain = new Chain({ store: new MemoryStore(), runtime, logger: silentLogger })
  await chain.open(devChainSpec())
  const methods = openledgerMethods({ chain } as unknown as ApiComponents)
  const dryRun = async (bytes: Uint8Array): Promise<DryRunView> => {
    const method = methods.find((m) => m.name === 'openledger_dryRun') as RpcMethod
    return await method.handler(parseParams(method.params, [toHex(bytes)]), { signal: new AbortController().signal, transport: 'http' }) as DryRunView
  }
  const balances = runtime.moduleByName('balances')
  const transferCall = balances?.calls.find((c) => c.name === 'transfer')
  if (balances === undefined || transferCall === undefined) throw new Error('balances.transfer')
  const transfer = (nonce: number, amount: bigint) => signTransaction({
    chainId: chain.spec.chainId, nonce, gasLimit: 100_000, maxFeePerGas: 10_000_000_000n, maxPriorityFeePerGas: 0n,
    call: { module: balances.index, call: transferCall.index, args: transferCall.args.encode(transferCall.args.fromJson({ to: toHex(devAccount('bob').address), amount: amount.toString() }, 'args')) as never },
  }, devAccount('alice').privateKey)
  const stateRoot = toHex(chain.head.header.stateRoot)
  const bobBefore = await balanceOf(chain.state, devAccount('bob').address)
  const balanceBefore = await balanceOf(chain.state, devAccount('alice').address)

  const ok = await dryRun(transfer(0, 5n).bytes)
  t.match(ok, { status: 'success', error: null, message: null }, 'a transfer within the balance succeeds')
  t.ok(ok.gasUsed > 0 && BigInt(ok.fee) > 0n, `with its gas and fee (${ok.gasUsed} gas)`)
  t.ok(ok.events.some((e) => e.module === 'balances' && e.event === 'Transferred'), 'and its events')

  const tooMuch = await dryRun(transfer(0, balanceBefore).bytes)
  t.match(tooMuch, { status: 'failed' }, 'the whole balance leaves nothing for the fee: the call would fail')
  t.match(tooMuch.error, /^balances\./, `with the module error (${tooMuch.error})`)

  t.match(await dryRun(transfer(3, 5n).bytes), { status: 'success' }, 'a nonce ahead (earlier transactions pending) is simulated as the next one')
  const garbage = await dryRun(new Uint8Array([1, 2, 3]))
  t.match(garbage, { status: 'invalid', error: 'INVALID_ENCODING' }, 'bytes that are no transaction are invalid')

  t.equal(await balanceOf(chain.state, devAccount('bob').address), bobBefore, 'the dry runs moved no funds')
  await commit(chain, [{ tx: transfer(0, 5n), sender: devAccount('alice').address }])
  t.match(await dryRun(transfer(0, 5n).bytes), { status: 'invalid', error: 'NONCE_TOO_LOW' }, 'a used nonce is invalid')
  t.not(toHex(chain.head.header.stateRoot), stateRoot, 'the committed block changed the state')
  const afterCommit = toHex(chain.head.header.stateRoot)
  await dryRun(transfer(1, 7n).bytes)
  t.equal(toHex(chain.head.header.stateRoot), afterCommit, 'a dry run commits nothing')
})
