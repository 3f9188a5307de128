import t from 'tap'
import { encode } from '../../../runtime/codec/canonical.ts'
import { toHex } from '../../../runtime/crypto/hash.ts'
import type { Address } from '../../../runtime/crypto/secp256k1.ts'
import { hashHeader, ZERO_HASH, type BlockHeader } from '../../../runtime/block.ts'
import { createRuntime } from '../../../runtime/index.ts'
import { EMPTY_LIST_ROOT, merkleListRoot } from '../../../runtime/merkleList.ts'
import { TREASURY_ACCOUNT } from '../../../runtime/modules/accounts.ts'
import { balanceOf } from '../../../runtime/modules/balances/ledger.ts'
import { baseFeePerGas } from '../../../runtime/modules/fees/index.ts'
import { DEFAULT_FEE_PARAMS } from '../../../runtime/modules/fees/state.ts'
import { accountNonce } from '../../../runtime/modules/system/index.ts'
import { receiptToEncodable, ReceiptStatus } from '../../../runtime/receipt.ts'
import type { InvalidTransactionError } from '../../../runtime/stateTransition.ts'
import type { Transaction } from '../../../runtime/transaction.ts'
import { devAccounts, devKey } from '../../../genesis/devAccounts.ts'
import { DEV_ACCOUNT_BALANCE, devChainSpec } from '../../../genesis/devSpec.ts'
import { parseChainSpec, type ChainSpec } from '../../../genesis/spec.ts'
import { ONE_OPEN } from '../../../genesis/tokenomics.ts'
import { Chain, ChainError, genesisBlock, type BlockCandidate, type ExecutedBlock, type ImportedBlock } from '../../../node/chain/chain.ts'
import { MemoryStore } from '../../../node/db/memoryStore.ts'
import { silentLogger } from '../../../lib/logger.ts'
import { GWEI, transferTx } from '../../runtime/chainFixtures.ts'

const bodyOf = (transactions: readonly { bytes: Uint8Array }[]) => ({ transactions: transactions.map((tx) => tx.bytes), lastCommit: new Uint8Array(0), evidence: [] })

const runtime = createRuntime()
const spec = devChainSpec()
const dev = devAccounts()
type Dev = (typeof dev)[number]
const [alice, bob, charlie] = dev as [Dev, Dev, Dev]
const AUTHOR = devKey('author').address
const hex = toHex

async function openChain(chainSpec: ChainSpec = spec, store = new MemoryStore()): Promise<Chain> {
  const chain = new Chain({ store, runtime, logger: silentLogger })
  await chain.open(chainSpec)
  return chain
}

function* candidates(list: readonly BlockCandidate[]): Generator<BlockCandidate, void, { skipSender?: boolean } | undefined> {
  for (const candidate of list) yield candidate
}

function transfer(from: Dev, to: Address, amount: bigint, nonce: number, tip = 0n): BlockCandidate {
  return { tx: transferTx(from.privateKey, { to, amount, nonce, tip }), sender: from.address }
}

async function build(chain: Chain, list: readonly BlockCandidate[], timestamp = chain.head.header.timestamp + 1000): Promise<ExecutedBlock> {
  return chain.buildBlock({ timestamp, author: AUTHOR }, candidates(list))
}

/** The ChainError code of a rejected promise, or 'accepted'. */
async function chainErrorOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise
    return 'accepted'
  } catch (error) {
    if (error instanceof ChainError) return error.code
    throw error
  }
}

t.test('open writes genesis', async (t) => {
  const chain = await openChain()
  const genesis = await genesisBlock(spec)
  t.equal(hex(chain.head.hash), hex(genesis.hash))
  t.equal(chain.head.header.height, 0)
  t.equal(hex(chain.finalized.hash), hex(genesis.hash))
  t.equal(hex(chain.state.root), hex(genesis.header.stateRoot))
  t.equal(chain.state.version, 0)
  t.equal(hex((await chain.chainStore.genesisHash()) ?? ZERO_HASH), hex(genesis.hash))
  t.equal(hex((await chain.chainStore.getHash(0)) ?? ZERO_HASH), hex(genesis.hash))
  const stored = await chain.chainStore.getBlock(genesis.hash)
  t.same(stored?.body.transactions, [])
  t.equal(hex(hashHeader(stored?.header ?? genesis.header)), hex(genesis.hash))
  t.same(await chain.chainStore.getReceipts(genesis.hash), { receipts: [], blockEvents: [] })
  const json = await chain.chainStore.chainSpecJson()
  t.equal(hex((await genesisBlock(parseChainSpec(json ?? ''))).hash), hex(genesis.hash), 'the stored spec is the chain\'s spec')
  t.equal(await balanceOf(chain.state, alice.address), DEV_ACCOUNT_BALANCE)
  t.equal(genesis.header.txRoot.length, 32)
  t.same(genesis.header.parentHash, ZERO_HASH)
})

t.test('build, commit, and re-execute on a second node: identical hashes and state roots', async (t) => {
  const producer = await openChain()
  const follower = await openChain()
  const imported: ImportedBlock[] = []
  producer.onBlock((block) => void imported.push(block))
  const invalid: Array<[string, string]> = []
  const block1 = await producer.buildBlock({ timestamp: spec.genesisTime + 1000, author: AUTHOR }, candidates([
    transfer(alice, bob.address, 5n * ONE_OPEN, 0, GWEI),
    transfer(bob, charlie.address, 7n * ONE_OPEN, 0),
    transfer(charlie, alice.address, 1n, 5), // nonce gap: invalid, left out
    transfer(alice, charlie.address, 3n * ONE_OPEN, 1, 2n * GWEI),
    transfer(bob, alice.address, 10n ** 30n, 1), // more than bob has: a failed call, included
  ]), {}, (candidate, error: InvalidTransactionError) => void invalid.push([hex(candidate.sender), error.code]))
  t.same(invalid, [[hex(charlie.address), 'NONCE_TOO_HIGH']])
  t.equal(block1.transactions.length, 4)
  t.same(block1.receipts.map((r) => r.status), [ReceiptStatus.success, ReceiptStatus.success, ReceiptStatus.success, ReceiptStatus.failed])
  const header = block1.header
  t.equal(header.height, 1)
  t.equal(hex(header.parentHash), hex(producer.head.hash))
  t.equal(header.timestamp, spec.genesisTime + 1000)
  t.equal(header.gasUsed, block1.receipts.reduce((sum, r) => sum + r.gasUsed, 0))
  t.equal(header.baseFeePerGas, DEFAULT_FEE_PARAMS.minBaseFeePerGas)
  t.equal(hex(header.txRoot), hex(merkleListRoot(block1.transactions.map((tx) => tx.hash))))
  t.equal(hex(header.author), hex(AUTHOR))
  t.equal(hex(block1.hash), hex(hashHeader(header)))
  t.equal(producer.head.header.height, 0, 'building writes nothing')

  await producer.commit(block1, { finalized: true })
  t.equal(hex(producer.head.hash), hex(block1.hash))
  t.equal(hex(producer.finalized.hash), hex(block1.hash))
  t.equal(hex(producer.state.root), hex(header.stateRoot))
  t.equal(await accountNonce(producer.state, alice.address), 2)
  t.equal(await accountNonce(producer.state, bob.address), 2)
  t.equal(await accountNonce(producer.state, charlie.address), 0)
  t.equal(await balanceOf(producer.state, alice.address), DEV_ACCOUNT_BALANCE - 8n * ONE_OPEN - block1.receipts[0]!.fee - block1.receipts[2]!.fee)
  t.ok((await balanceOf(producer.state, TREASURY_ACCOUNT)) > 0n)
  t.equal(await balanceOf(producer.state, AUTHOR), BigInt(block1.receipts[0]!.gasUsed) * GWEI + BigInt(block1.receipts[2]!.gasUsed) * 2n * GWEI)
  t.equal(imported.length, 1)
  t.equal(hex(imported[0]?.hash ?? ZERO_HASH), hex(block1.hash))
  t.equal(imported[0]?.finalized, true)

  const replay = await follower.executeBlock(header, bodyOf(block1.transactions), block1.transactions, block1.senders)
  t.equal(hex(replay.hash), hex(block1.hash), 'the follower computes the same block')
  await follower.commit(replay, { finalized: true })
  t.equal(hex(follower.state.root), hex(producer.state.root))

  // a few more blocks, including an empty one, stay in lockstep
  for (let height = 2; height <= 4; height++) {
    const list = height === 3 ? [] : [transfer(alice, bob.address, BigInt(height), height, BigInt(height)), transfer(charlie, alice.address, ONE_OPEN, height === 2 ? 0 : 1)]
    const built = await build(producer, list)
    await producer.commit(built, { finalized: true })
    const again = await follower.executeBlock(built.header, bodyOf(built.transactions), built.transactions, built.senders)
    t.equal(hex(again.hash), hex(built.hash), `block ${height}`)
    await follower.commit(again, { finalized: false })
    if (list.length === 0) t.equal(hex(built.header.txRoot), hex(EMPTY_LIST_ROOT))
  }
  t.equal(hex(follower.head.hash), hex(producer.head.hash))
  t.equal(hex(follower.state.root), hex(producer.state.root))
  t.equal(follower.finalized.header.height, 1, 'not-final blocks leave the finalized pointer')
  t.equal(imported.length, 4)
})

t.test('tampered blocks are refused with INVALID_BLOCK (or UNKNOWN_PARENT) and change nothing', async (t) => {
  const producer = await openChain()
  const block = await build(producer, [transfer(alice, bob.address, ONE_OPEN, 0, GWEI), transfer(alice, charlie.address, 2n, 1), transfer(bob, alice.address, 3n, 0)])
  const follower = await openChain()
  const h = block.header
  const headers: Array<[string, BlockHeader, string]> = [
    ['state root', { ...h, stateRoot: new Uint8Array(32).fill(7) }, 'INVALID_BLOCK'],
    ['gas used', { ...h, gasUsed: h.gasUsed + 1 }, 'INVALID_BLOCK'],
    ['receipts root', { ...h, receiptsRoot: ZERO_HASH }, 'INVALID_BLOCK'],
    ['tx root', { ...h, txRoot: EMPTY_LIST_ROOT }, 'INVALID_BLOCK'],
    ['base fee', { ...h, baseFeePerGas: h.baseFeePerGas + 1n }, 'INVALID_BLOCK'],
    ['author (tips go elsewhere)', { ...h, author: bob.address }, 'INVALID_BLOCK'],
    ['timestamp equal to the parent', { ...h, timestamp: spec.genesisTime }, 'INVALID_BLOCK'],
    ['timestamp before the parent', { ...h, timestamp: spec.genesisTime - 1 }, 'INVALID_BLOCK'],
    ['height', { ...h, height: 2 }, 'INVALID_BLOCK'],
    ['chain id', { ...h, chainId: h.chainId + 1 }, 'INVALID_BLOCK'],
    ['validators hash', { ...h, validatorsHash: new Uint8Array(32).fill(1) }, 'INVALID_BLOCK'],
    ['parent', { ...h, parentHash: new Uint8Array(32).fill(9) }, 'UNKNOWN_PARENT'],
  ]
  for (const [name, header, code] of headers) {
    t.equal(await chainErrorOf(follower.executeBlock(header, bodyOf(block.transactions), block.transactions, block.senders)), code, name)
  }
  const [first, second, third] = block.transactions as [Transaction, Transaction, Transaction]
  const [alice0, alice1, bob0] = block.senders as [Address, Address, Address]
  const bodies: Array<[string, Transaction[], Address[]]> = [
    ['a transaction dropped', [first, second], [alice0, alice1]],
    ['a transaction added', [first, second, third, transfer(charlie, bob.address, 1n, 0).tx], [alice0, alice1, bob0, charlie.address]],
    ['reordered within a sender (nonce gap)', [second, first, third], [alice1, alice0, bob0]],
    ['reordered across senders', [third, first, second], [bob0, alice0, alice1]],
    ['wrong sender', [first, second, third], [alice0, alice1, charlie.address]],
  ]
  for (const [name, transactions, senders] of bodies) {
    t.equal(await chainErrorOf(follower.executeBlock(h, bodyOf(transactions), transactions, senders)), 'INVALID_BLOCK', name)
  }
  t.equal(follower.head.header.height, 0, 'nothing was imported')
  const good = await follower.executeBlock(h, bodyOf(block.transactions), block.transactions, block.senders)
  t.equal(hex(good.hash), hex(block.hash), 'the untampered block still imports')
})

t.test('commit refuses a block that does not extend the head', async (t) => {
  const chain = await openChain()
  const a = await build(chain, [transfer(alice, bob.address, 1n, 0)])
  const b = await build(chain, [transfer(bob, alice.address, 1n, 0)])
  await chain.commit(a, { finalized: true })
  t.equal(await chainErrorOf(chain.commit(b, { finalized: true })), 'UNKNOWN_PARENT')
  t.equal(hex(chain.head.hash), hex(a.hash))
})

t.test('buildBlock keeps timestamps increasing and stops when the block gas is used up', async (t) => {
  const chain = await openChain()
  const early = await chain.buildBlock({ timestamp: spec.genesisTime - 5000, author: AUTHOR }, candidates([]))
  t.equal(early.header.timestamp, spec.genesisTime + 1, 'never at or before the parent')

  const probe = transferTx(alice.privateKey, { to: bob.address, amount: 1n, nonce: 0 })
  const gas = runtime.checkStatic(probe, spec.chainId).gas
  const small: ChainSpec = { ...spec, fees: { ...DEFAULT_FEE_PARAMS, maxBlockGas: gas * 2, targetBlockGas: gas } }
  const tight = await openChain(small)
  const full = await build(tight, [transfer(alice, bob.address, 1n, 0), transfer(bob, alice.address, 1n, 0), transfer(charlie, alice.address, 1n, 0)])
  t.equal(full.transactions.length, 2, 'the third does not fit')
  t.equal(full.header.gasUsed, gas * 2)
  const limited = await chain.buildBlock({ timestamp: spec.genesisTime + 1000, author: AUTHOR }, candidates([transfer(alice, bob.address, 1n, 0), transfer(bob, alice.address, 1n, 0)]), { maxTransactions: 1 })
  t.equal(limited.transactions.length, 1, 'maxTransactions')
})

t.test('reopening a store resumes at the same head and state root', async (t) => {
  const store = new MemoryStore()
  const first = await openChain(spec, store)
  for (let nonce = 0; nonce < 3; nonce++) {
    await first.commit(await build(first, [transfer(alice, bob.address, ONE_OPEN, nonce)]), { finalized: nonce < 2 })
  }
  const reopened = await openChain(spec, store)
  t.equal(hex(reopened.head.hash), hex(first.head.hash))
  t.equal(reopened.head.header.height, 3)
  t.equal(hex(reopened.finalized.hash), hex((await first.chainStore.getHash(2)) ?? ZERO_HASH), 'finalized pointer survives')
  t.equal(hex(reopened.state.root), hex(first.state.root))
  t.equal(reopened.state.version, 3)
  t.equal(await accountNonce(reopened.state, alice.address), 3)
  // both continue identically
  const next = [transfer(alice, charlie.address, 2n, 3)]
  const fromFirst = await build(first, next)
  const fromReopened = await build(reopened, next)
  t.equal(hex(fromReopened.hash), hex(fromFirst.hash))
  await reopened.commit(fromReopened, { finalized: true })
  t.equal(reopened.head.header.height, 4)
})

t.test('opening a store with a different spec is GENESIS_MISMATCH', async (t) => {
  const store = new MemoryStore()
  await openChain(spec, store)
  const other = new Chain({ store, runtime, logger: silentLogger })
  t.equal(await chainErrorOf(other.open(devChainSpec({ chainId: spec.chainId + 1 }))), 'GENESIS_MISMATCH', 'chain id')
  const moved: ChainSpec = { ...spec, genesisTime: spec.genesisTime + 1, allocations: devChainSpec({ genesisTime: spec.genesisTime + 1 }).allocations }
  t.equal(await chainErrorOf(new Chain({ store, runtime, logger: silentLogger }).open(moved)), 'GENESIS_MISMATCH', 'genesis time')
  t.equal(await chainErrorOf(new Chain({ store, runtime, logger: silentLogger }).open(spec)), 'accepted', 'the right spec still opens')
})

t.test('chainStore lookups return what was committed', async (t) => {
  const chain = await openChain()
  const built = await build(chain, [transfer(alice, bob.address, ONE_OPEN, 0, GWEI), transfer(bob, alice.address, 10n ** 30n, 0), transfer(charlie, bob.address, 3n, 0)])
  await chain.commit(built, { finalized: true })
  const store = chain.chainStore
  t.equal(hex((await store.getHash(1)) ?? ZERO_HASH), hex(built.hash))
  t.equal(await store.getHash(2), undefined)
  t.equal(await store.getHash(-1), undefined)
  t.equal(await store.getHash(1.5), undefined)
  const block = await store.getBlock(built.hash)
  t.equal(hex(block?.hash ?? ZERO_HASH), hex(built.hash))
  t.same(block?.body.transactions.map(hex), built.transactions.map((tx) => hex(tx.bytes)))
  t.same(block?.header, built.header)
  t.same(await store.getHeader(built.hash), built.header)
  t.equal(await store.getBlock(new Uint8Array(32)), undefined)
  t.equal(await store.getHeader(new Uint8Array(32)), undefined)
  const receipts = await store.getReceipts(built.hash)
  t.same(receipts?.receipts.map((r) => hex(encode(receiptToEncodable(r)))), built.receipts.map((r) => hex(encode(receiptToEncodable(r)))))
  t.same(receipts?.receipts.map((r) => r.status), [ReceiptStatus.success, ReceiptStatus.failed, ReceiptStatus.success])
  t.same(receipts?.blockEvents.length, built.blockEvents.length)
  t.equal(await store.getReceipts(new Uint8Array(32)), undefined)
  for (const [index, tx] of built.transactions.entries()) {
    const location = await store.getTxLocation(tx.hash)
    t.equal(location?.height, 1)
    t.equal(location?.index, index)
    t.equal(hex(location?.blockHash ?? ZERO_HASH), hex(built.hash))
  }
  t.equal(await store.getTxLocation(new Uint8Array(32)), undefined)
})

t.test('the chain tells the next block\'s base fee: what the head\'s end-of-block hook left in state', async (t) => {
  const probe = transferTx(alice.privateKey, { to: bob.address, amount: 1n, nonce: 0 })
  const gas = runtime.checkStatic(probe, spec.chainId).gas
  // a target of one transfer: a block of two is over it, so the base fee rises
  const store = new MemoryStore()
  const tight = await openChain({ ...spec, fees: { ...DEFAULT_FEE_PARAMS, maxBlockGas: gas * 2, targetBlockGas: gas } }, store)
  t.equal(tight.baseFeePerGas, DEFAULT_FEE_PARAMS.minBaseFeePerGas, 'at genesis, the minimum')
  await tight.commit(await build(tight, [transfer(alice, bob.address, 1n, 0), transfer(bob, alice.address, 1n, 0)]), { finalized: true })
  t.ok(tight.baseFeePerGas > DEFAULT_FEE_PARAMS.minBaseFeePerGas, 'a full block raised it')
  t.equal(tight.baseFeePerGas, await baseFeePerGas.get(tight.state), 'the value in state, without waiting for a listener')
  const reopened = await openChain({ ...spec, fees: { ...DEFAULT_FEE_PARAMS, maxBlockGas: gas * 2, targetBlockGas: gas } }, store)
  t.equal(reopened.baseFeePerGas, tight.baseFeePerGas, 'and after reopening the store')
})
