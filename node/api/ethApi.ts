// eth_*, net_* and web3_*: the subset of Ethereum's JSON-RPC that wallets (MetaMask), libraries
// (viem, ethers) and explorers use, over the chain's own accounts, nonces, fees and receipts.
// Ethereum-signed transactions are ordinary chain transactions (runtime/ethereumTransaction.ts);
// blocks, receipts and runtime events (as logs) are shown in Ethereum's shapes (ethViews.ts);
// refusals are worded as geth words them (ethErrors.ts). Not here: anything of an EVM (contract
// creation, storage slots, traces) and filters kept on the node (eth_newFilter: use eth_getLogs
// or eth_subscribe), which answer -32601, "the method … does not exist/is not available" as geth does.
import { decodeTransaction, MAX_TX_BYTES, MAX_TX_GAS, recoverSender, type Transaction } from '../../runtime/transaction.ts'
import { encodeRlp, rlpUint } from '../../runtime/codec/rlp.ts'
import { concatBytes, toHex } from '../../runtime/crypto/hash.ts'
import { EthereumTxType, moduleOfAddress } from '../../runtime/ethereumTransaction.ts'
import type { BlockInfo } from '../../runtime/module.ts'
import { accountInfo } from '../../runtime/modules/system/index.ts'
import { feeParams } from '../../runtime/modules/fees/index.ts'
import type { StateReader } from '../../runtime/state/overlay.ts'
import { StateOverlay } from '../../runtime/state/overlay.ts'
import { defineMethod, defineSubscription, param, type ParamSpec, type RpcMethod, type RpcSubscriptionMethod } from '../rpc/registry.ts'
import { RpcError } from '../rpc/errors.ts'
import type { EthBlockView } from '../rpc/contract.ts'
import type { ApiComponents } from './context.ts'
import { ethTxError, headerNotFound, oversizedError, revertError, ETH_TX_ERROR_RPC_CODE } from './ethErrors.ts'
import { blockLogs, ethBlock, ethReceipt, ethTransaction, quantity, type BlockData, type BlockLog, type EthLog } from './ethViews.ts'
import { SUGGESTED_TIP } from './openledgerApi.ts'

/** blocks one eth_getLogs may scan, and logs it may return (each block costs a receipts read) */
export const MAX_LOG_BLOCK_RANGE = 2_000
export const MAX_LOGS = 10_000
/** blocks eth_feeHistory answers at most (geth's own cap) */
const MAX_FEE_HISTORY = 1_024
const ZERO_ADDRESS = new Uint8Array(20)
/** the runtime code eth_getCode shows at a module address: PUSH1 0 PUSH1 0 REVERT, so wallets see a contract */
const MODULE_CODE = '0x60006000fd'

type BlockTag = 'latest' | 'pending' | 'safe' | 'finalized' | 'earliest'
type BlockRef = { tag: BlockTag } | { height: number } | { hash: Uint8Array }
const TAGS: ReadonlySet<string> = new Set(['latest', 'pending', 'safe', 'finalized', 'earliest'])
const QUANTITY = /^0x(?:0|[1-9a-fA-F][0-9a-fA-F]*)$/

function gethArgumentError(index: number, reason: string): RpcError {
  return new RpcError('INVALID_PARAMS', `invalid argument ${index}: ${reason}`, { details: { param: `params[${index}]` } })
}

/** A hex quantity as geth reads one: 0x, no leading zeros. */
function readQuantity(value: unknown, index: number, max: bigint): bigint {
  if (typeof value !== 'string') throw gethArgumentError(index, 'json: cannot unmarshal non-string into Go value of type hexutil.Big')
  if (!value.startsWith('0x')) throw gethArgumentError(index, 'hex string without 0x prefix')
  if (value.length > 66) throw gethArgumentError(index, 'hex number > 256 bits')
  if (!QUANTITY.test(value)) throw gethArgumentError(index, value === '0x' ? 'hex string "0x"' : /^0x0[0-9a-fA-F]/.test(value) ? 'hex number with leading zero digits' : 'invalid hex string')
  const number = BigInt(value)
  if (number > max) throw gethArgumentError(index, `number above ${max}`)
  return number
}

function spec<T>(name: string, expected: string, parse: (value: unknown) => T): ParamSpec<T> {
  const make = (specName: string): ParamSpec<T> => ({ name: specName, optional: false, expected, parse: (value) => parse(value), named: make })
  return make(name)
}

/** A block number or tag ("latest", "pending", "safe", "finalized", "earliest"), as geth takes it. */
function blockNumberParam(index: number, options: { hash?: boolean } = {}): ParamSpec<BlockRef> {
  return spec('block', 'block number (0x-hex) or tag', (value) => {
    if (typeof value === 'string' && TAGS.has(value)) return { tag: value as BlockTag }
    if (options.hash === true && typeof value === 'object' && value !== null && !Array.isArray(value)) {
      const { blockHash, blockNumber } = value as { blockHash?: unknown; blockNumber?: unknown }
      if (blockHash !== undefined) return { hash: param.hash().parse(blockHash, `params[${index}].blockHash`) }
      if (blockNumber !== undefined) return { height: Number(readQuantity(blockNumber, index, BigInt(Number.MAX_SAFE_INTEGER))) }
      throw gethArgumentError(index, 'block hash or block number must be specified')
    }
    if (options.hash === true && typeof value === 'string' && value.length === 66) return { hash: param.hash().parse(value, `params[${index}]`) }
    return { height: Number(readQuantity(value, index, BigInt(Number.MAX_SAFE_INTEGER))) }
  })
}

interface CallRequest {
  from: Uint8Array | undefined
  to: Uint8Array | undefined
  value: bigint
  data: Uint8Array
}

const MAX_CALLDATA = MAX_TX_BYTES

/** A transaction call object (eth_call, eth_estimateGas): fields wallets send that we have no use for (gas, fees, nonce) are checked and ignored. */
function callParam(index: number): ParamSpec<CallRequest> {
  return spec('transaction', 'transaction call object', (value) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw gethArgumentError(index, 'expected a transaction call object')
    const record = value as Record<string, unknown>
    const address = (field: string): Uint8Array | undefined => (record[field] === undefined || record[field] === null ? undefined : param.address().parse(record[field], `params[${index}].${field}`))
    for (const field of ['gas', 'gasPrice', 'maxFeePerGas', 'maxPriorityFeePerGas', 'nonce', 'chainId', 'type']) {
      if (record[field] !== undefined && record[field] !== null) readQuantity(record[field], index, (1n << 256n) - 1n)
    }
    const dataField = record.input ?? record.data
    const data = dataField === undefined || dataField === null ? new Uint8Array(0) : param.hex({ maxBytes: MAX_CALLDATA }).parse(dataField, `params[${index}].input`)
    const value_ = record.value === undefined || record.value === null ? 0n : readQuantity(record.value, index, (1n << 256n) - 1n)
    return { from: address('from'), to: address('to'), value: value_, data }
  })
}

const topicsParam = param.array(param.optional(param.oneOf(param.hash(), param.array(param.hash(), { maxLength: 32 }))), { maxLength: 4 })
const addressesParam = param.oneOf(param.address(), param.array(param.address(), { maxLength: 64 }))

interface LogFilter {
  addresses: ReadonlySet<string> | undefined
  topics: ReadonlyArray<ReadonlySet<string> | undefined>
}

function logFilter(address: Uint8Array | Uint8Array[] | undefined, topics: Array<Uint8Array | Uint8Array[] | undefined> | undefined): LogFilter {
  const addresses = address === undefined ? undefined : new Set((Array.isArray(address) ? address : [address]).map(toHex))
  return {
    addresses: addresses !== undefined && addresses.size === 0 ? undefined : addresses,
    topics: (topics ?? []).map((topic) => (topic === undefined ? undefined : new Set((Array.isArray(topic) ? topic : [topic]).map(toHex)))),
  }
}

function matches(log: EthLog, filter: LogFilter): boolean {
  if (filter.addresses !== undefined && !filter.addresses.has(log.address)) return false
  return filter.topics.every((wanted, i) => {
    if (wanted === undefined || wanted.size === 0) return true
    const topic = log.topics[i]
    return topic !== undefined && wanted.has(topic)
  })
}

export function ethMethods({ chain, mempool, submission, version }: ApiComponents): RpcMethod[] {
  const chainId = (): number => chain.spec.chainId

  function tagHeight(tag: BlockTag): number {
    if (tag === 'earliest') return 0
    if (tag === 'safe' || tag === 'finalized') return chain.finalized.header.height
    return chain.head.header.height
  }

  /** The block `ref` names, or undefined when this node has none such. */
  async function blockHash(ref: BlockRef): Promise<Uint8Array | undefined> {
    if ('hash' in ref) return (await chain.chainStore.getHeader(ref.hash)) === undefined ? undefined : ref.hash
    const height = 'tag' in ref ? tagHeight(ref.tag) : ref.height
    if (height === chain.head.header.height) return chain.head.hash
    return height > chain.head.header.height ? undefined : await chain.chainStore.getHash(height)
  }

  /** The state after block `ref`, for reads; geth's "header not found" for a block we lack. */
  async function stateAt(ref: BlockRef): Promise<{ reader: StateReader; hash: Uint8Array; height: number; timestamp: number; author: Uint8Array }> {
    const hash = await blockHash(ref)
    const header = hash === undefined ? undefined : await chain.chainStore.getHeader(hash)
    if (hash === undefined || header === undefined) throw headerNotFound()
    const height = header.height
    const reader: StateReader = height === chain.state.version ? chain.state : { get: (key) => chain.state.getAt(key, height) }
    return { reader, hash, height, timestamp: header.timestamp, author: header.author }
  }

  async function loadBlock(hash: Uint8Array): Promise<(BlockData & { body: NonNullable<Awaited<ReturnType<typeof chain.chainStore.getBlock>>>['body'] }) | undefined> {
    const [block, stored] = await Promise.all([chain.chainStore.getBlock(hash), chain.chainStore.getReceipts(hash)])
    if (block === undefined) return undefined
    const { receipts, blockEvents } = stored ?? { receipts: [], blockEvents: [] }
    return { hash, header: block.header, body: block.body, transactions: block.body.transactions.map((bytes) => decodeTransaction(bytes)), receipts, blockEvents }
  }

  async function blockView(hash: Uint8Array | undefined, full: boolean): Promise<EthBlockView | null> {
    if (hash === undefined) return null
    const block = await loadBlock(hash)
    if (block === undefined) return null
    const { maxBlockGas } = await feeParams.get(chain.state)
    const senders = full ? block.transactions.map((tx) => recoverSender(tx)) : undefined
    return ethBlock(block, { gasLimit: maxBlockGas, full, logs: blockLogs(chain.runtime, block), ...(senders === undefined ? {} : { senders }) })
  }

  /**
   * The call a request stands for, resolved by the runtime's own static checks, with an upper
   * bound of the gas a signed transaction making it uses: its bytes are counted with every
   * variable-length field at its largest (an EIP-1559 encoding is the longest a wallet can send).
   */
  function resolveCall(request: CallRequest, nonce: number): { tx: Transaction; resolved: ReturnType<typeof chain.runtime.checkStatic> } {
    if (request.to === undefined) throw new RpcError('UNSUPPORTED', 'contract creation is not supported (there is no EVM)', { rpcCode: ETH_TX_ERROR_RPC_CODE })
    const widest = new Uint8Array(16).fill(0xff)
    const scalar = new Uint8Array(32).fill(0xff)
    const fields = [rlpUint(chainId()), rlpUint(nonce), widest, widest, rlpUint(MAX_TX_GAS), request.to, rlpUint(request.value), request.data, [], Uint8Array.of(1), scalar, scalar]
    let tx: Transaction
    try {
      tx = decodeTransaction(concatBytes(Uint8Array.of(EthereumTxType.eip1559), encodeRlp(fields)))
    } catch (error) {
      throw ethTxError(error, undefined, request.from, chainId())
    }
    try {
      return { tx, resolved: chain.runtime.checkStatic({ ...tx, gasLimit: Number.MAX_SAFE_INTEGER }, chainId()) }
    } catch (error) {
      throw ethTxError(error, tx, request.from, chainId())
    }
  }

  /** Runs the call on a throwaway overlay of the state at `ref`; a failing call is a revert. */
  async function dryRun(request: CallRequest, ref: BlockRef): Promise<number> {
    const at = await stateAt(ref)
    const sender = request.from ?? ZERO_ADDRESS
    const { nonce } = await accountInfo(at.reader, sender)
    const { resolved } = resolveCall(request, nonce)
    const block: BlockInfo = { chainId: chainId(), height: at.height + 1, timestamp: at.timestamp, author: at.author, parentHash: at.hash }
    const error = await resolved.definition.execute({ state: new StateOverlay(at.reader), block, sender, emit: () => {} }, resolved.args)
    if (error !== undefined) throw revertError(`${error.code}: ${error.message}`)
    return resolved.gas
  }

  async function logsIn(hash: Uint8Array, filter: LogFilter, out: EthLog[]): Promise<void> {
    const block = await loadBlock(hash)
    if (block === undefined) return
    for (const log of blockLogs(chain.runtime, block)) {
      if (!matches(log.json, filter)) continue
      if (out.length >= MAX_LOGS) throw new RpcError('LIMIT_EXCEEDED', `query returned more than ${MAX_LOGS} results`)
      out.push(log.json)
    }
  }

  return [
    defineMethod({ name: 'eth_chainId', params: [], handler: () => quantity(chainId()) }),
    defineMethod({ name: 'net_version', params: [], handler: () => String(chainId()) }),
    defineMethod({ name: 'net_listening', params: [], handler: () => true }),
    defineMethod({ name: 'web3_clientVersion', params: [], handler: () => `openledger/v${version}/${process.platform}-${process.arch}/node${process.versions.node}` }),
    defineMethod({ name: 'eth_syncing', params: [], handler: () => false }),
    defineMethod({ name: 'eth_accounts', params: [], handler: () => [] }),
    defineMethod({ name: 'eth_blockNumber', params: [], handler: () => quantity(chain.head.header.height) }),
    defineMethod({
      name: 'eth_getBalance',
      params: [param.address().named('address'), param.optional(blockNumberParam(1, { hash: true }))],
      async handler([address, ref]) {
        const { reader } = await stateAt(ref ?? { tag: 'latest' })
        return quantity((await accountInfo(reader, address)).free)
      },
    }),
    defineMethod({
      name: 'eth_getTransactionCount',
      params: [param.address().named('address'), param.optional(blockNumberParam(1, { hash: true }))],
      async handler([address, ref]) {
        if (ref !== undefined && 'tag' in ref && ref.tag === 'pending') return quantity(await mempool.nextNonce(address))
        const { reader } = await stateAt(ref ?? { tag: 'latest' })
        return quantity((await accountInfo(reader, address)).nonce)
      },
    }),
    defineMethod({
      name: 'eth_getCode',
      params: [param.address().named('address'), param.optional(blockNumberParam(1, { hash: true }))],
      async handler([address, ref]) {
        await stateAt(ref ?? { tag: 'latest' })
        const module = moduleOfAddress(address)
        return module !== undefined && chain.runtime.module(module) !== undefined ? MODULE_CODE : '0x'
      },
    }),
    defineMethod({ name: 'eth_gasPrice', params: [], handler: () => quantity(chain.baseFeePerGas + SUGGESTED_TIP) }),
    defineMethod({ name: 'eth_maxPriorityFeePerGas', params: [], handler: () => quantity(SUGGESTED_TIP) }),
    defineMethod({
      name: 'eth_feeHistory',
      params: [
        spec('blockCount', 'block count', (value) => (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : Number(readQuantity(value, 0, BigInt(Number.MAX_SAFE_INTEGER))))),
        blockNumberParam(1),
        param.optional(param.array(spec('percentile', 'number from 0 to 100', (value) => {
          if (typeof value !== 'number' || !(value >= 0 && value <= 100)) throw gethArgumentError(2, 'percentile must be a number from 0 to 100')
          return value
        }), { maxLength: 100 })),
      ],
      async handler([count, ref, percentiles]) {
        for (let i = 1; i < (percentiles?.length ?? 0); i++) {
          if ((percentiles?.[i] as number) < (percentiles?.[i - 1] as number)) throw gethArgumentError(2, `invalid reward percentile: #${i - 1}:${percentiles?.[i - 1]} > #${i}:${percentiles?.[i]}`)
        }
        const newestHash = await blockHash(ref)
        const newest = newestHash === undefined ? undefined : await chain.chainStore.getHeader(newestHash)
        if (newest === undefined) throw headerNotFound()
        const blocks = Math.min(count, MAX_FEE_HISTORY, newest.height + 1)
        const oldest = newest.height - blocks + 1
        const { maxBlockGas } = await feeParams.get(chain.state)
        const baseFees: string[] = []
        const ratios: number[] = []
        const rewards: string[][] = []
        for (let height = oldest; height <= newest.height; height++) {
          const hash = await chain.chainStore.getHash(height)
          const block = hash === undefined ? undefined : await loadBlock(hash)
          if (block === undefined) throw headerNotFound()
          baseFees.push(quantity(block.header.baseFeePerGas))
          ratios.push(block.header.gasUsed / maxBlockGas)
          if (percentiles !== undefined) rewards.push(rewardPercentiles(block, percentiles).map(quantity))
        }
        const nextHash = await chain.chainStore.getHash(newest.height + 1)
        const next = nextHash === undefined ? undefined : await chain.chainStore.getHeader(nextHash)
        baseFees.push(quantity(next?.baseFeePerGas ?? (newest.height === chain.head.header.height ? chain.baseFeePerGas : newest.baseFeePerGas)))
        return { oldestBlock: quantity(oldest), baseFeePerGas: baseFees, gasUsedRatio: ratios, ...(percentiles === undefined ? {} : { reward: rewards }) }
      },
    }),
    defineMethod({
      name: 'eth_estimateGas',
      params: [callParam(0), param.optional(blockNumberParam(1, { hash: true }))],
      handler: async ([request, ref]) => quantity(await dryRun(request, ref ?? { tag: 'latest' })),
    }),
    defineMethod({
      name: 'eth_call',
      params: [callParam(0), param.optional(blockNumberParam(1, { hash: true }))],
      async handler([request, ref]) {
        // calling an ordinary account runs no code, as on Ethereum: only a value transfer is simulated
        if (request.to !== undefined && moduleOfAddress(request.to) === undefined && request.data.length > 0) {
          await stateAt(ref ?? { tag: 'latest' })
          return '0x'
        }
        await dryRun(request, ref ?? { tag: 'latest' })
        return '0x'
      },
    }),
    defineMethod({
      name: 'eth_sendRawTransaction',
      params: [param.hex().named('transaction')],
      async handler([bytes]) {
        if (bytes.length > MAX_TX_BYTES) throw oversizedError(bytes.length, MAX_TX_BYTES)
        let tx: Transaction
        try {
          tx = decodeTransaction(bytes)
        } catch (error) {
          throw ethTxError(error, undefined, undefined, chainId())
        }
        try {
          return toHex((await submission.submit(bytes)).hash)
        } catch (error) {
          throw ethTxError(error, tx, recoverSender(tx), chainId())
        }
      },
    }),
    defineMethod({
      name: 'eth_getTransactionByHash',
      params: [param.hash().named('hash')],
      async handler([hash]) {
        const pooled = mempool.get(hash)
        if (pooled !== undefined) return ethTransaction(pooled.tx, pooled.sender, undefined)
        const location = await chain.chainStore.getTxLocation(hash)
        const block = location === undefined ? undefined : await chain.chainStore.getBlock(location.blockHash)
        const bytes = location === undefined ? undefined : block?.body.transactions[location.index]
        if (location === undefined || block === undefined || bytes === undefined) return null
        const tx = decodeTransaction(bytes)
        return ethTransaction(tx, recoverSender(tx), { ...location, baseFeePerGas: block.header.baseFeePerGas })
      },
    }),
    defineMethod({
      name: 'eth_getTransactionReceipt',
      params: [param.hash().named('hash')],
      async handler([hash]) {
        const location = await chain.chainStore.getTxLocation(hash)
        const block = location === undefined ? undefined : await loadBlock(location.blockHash)
        if (location === undefined || block === undefined) return null
        const tx = block.transactions[location.index]
        return ethReceipt(block, location.index, tx === undefined ? undefined : recoverSender(tx), blockLogs(chain.runtime, block)) ?? null
      },
    }),
    defineMethod({
      name: 'eth_getBlockByNumber',
      params: [blockNumberParam(0), param.boolean().named('full')],
      handler: async ([ref, full]) => blockView(await blockHash(ref), full),
    }),
    defineMethod({
      name: 'eth_getBlockByHash',
      params: [param.hash().named('hash'), param.boolean().named('full')],
      handler: async ([hash, full]) => blockView((await chain.chainStore.getHeader(hash)) === undefined ? undefined : hash, full),
    }),
    defineMethod({
      name: 'eth_getBlockTransactionCountByNumber',
      params: [blockNumberParam(0)],
      async handler([ref]) {
        const hash = await blockHash(ref)
        const block = hash === undefined ? undefined : await chain.chainStore.getBlock(hash)
        return block === undefined ? null : quantity(block.body.transactions.length)
      },
    }),
    defineMethod({
      name: 'eth_getLogs',
      params: [param.object({
        fromBlock: param.optional(blockNumberParam(0)),
        toBlock: param.optional(blockNumberParam(0)),
        blockHash: param.optional(param.hash()),
        address: param.optional(addressesParam),
        topics: param.optional(topicsParam),
      }).named('filter')],
      async handler([{ fromBlock, toBlock, blockHash: hash, address, topics }]) {
        const filter = logFilter(address, topics)
        const out: EthLog[] = []
        if (hash !== undefined) {
          if (fromBlock !== undefined || toBlock !== undefined) throw gethArgumentError(0, 'cannot specify both BlockHash and FromBlock/ToBlock, choose one or the other')
          if ((await chain.chainStore.getHeader(hash)) === undefined) throw new RpcError('UNKNOWN_BLOCK', 'unknown block', { rpcCode: ETH_TX_ERROR_RPC_CODE })
          await logsIn(hash, filter, out)
          return out
        }
        const head = chain.head.header.height
        const heightOf = (ref: BlockRef | undefined): number => (ref === undefined ? head : 'tag' in ref ? tagHeight(ref.tag) : 'height' in ref ? ref.height : head)
        const from = heightOf(fromBlock)
        const to = Math.min(heightOf(toBlock), head)
        if (from > heightOf(toBlock)) throw new RpcError('INVALID_BLOCK_RANGE', 'invalid block range params', { rpcCode: ETH_TX_ERROR_RPC_CODE })
        if (to - from + 1 > MAX_LOG_BLOCK_RANGE) throw new RpcError('LIMIT_EXCEEDED', `block range too large: at most ${MAX_LOG_BLOCK_RANGE} blocks per query`)
        for (let height = from; height <= to; height++) {
          const blockHashAt = await chain.chainStore.getHash(height)
          if (blockHashAt !== undefined) await logsIn(blockHashAt, filter, out)
        }
        return out
      },
    }),
  ]
}

/** The tips paid in a block at the given percentiles of its gas (eth_feeHistory's reward). */
function rewardPercentiles(block: BlockData, percentiles: readonly number[]): bigint[] {
  const paid = block.transactions.map((tx, i) => {
    const room = tx.maxFeePerGas - block.header.baseFeePerGas
    return { tip: tx.maxPriorityFeePerGas < room ? tx.maxPriorityFeePerGas : room, gas: block.receipts[i]?.gasUsed ?? 0 }
  }).sort((a, b) => (a.tip < b.tip ? -1 : a.tip > b.tip ? 1 : 0))
  const total = paid.reduce((sum, item) => sum + item.gas, 0)
  return percentiles.map((percentile) => {
    if (paid.length === 0) return 0n
    const threshold = (total * percentile) / 100
    let cumulative = 0
    for (const item of paid) {
      cumulative += item.gas
      if (cumulative >= threshold) return item.tip
    }
    return paid[paid.length - 1]?.tip ?? 0n
  })
}

export function ethSubscriptions({ chain }: ApiComponents): RpcSubscriptionMethod[] {
  return [
    defineSubscription({
      subscribe: 'eth_subscribe',
      unsubscribe: 'eth_unsubscribe',
      notification: 'eth_subscription',
      params: [
        param.literal('newHeads', 'logs').named('kind'),
        param.optional(param.object({ address: param.optional(addressesParam), topics: param.optional(topicsParam) })).named('filter'),
      ],
      async start([kind, options], emit) {
        const { maxBlockGas } = await feeParams.get(chain.state)
        if (kind === 'newHeads') {
          return chain.onBlock((block) => {
            const { transactions: _transactions, ...head } = ethBlock(block, { gasLimit: maxBlockGas, full: false, logs: blockLogs(chain.runtime, block) })
            emit(head)
          })
        }
        const filter = logFilter(options?.address, options?.topics)
        return chain.onBlock((block) => {
          const logs: BlockLog[] = blockLogs(chain.runtime, block)
          for (const log of logs) if (matches(log.json, filter)) emit(log.json)
        })
      },
    }),
  ]
}
