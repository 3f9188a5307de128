// The in-process chain the API tests read through their methods: a real Chain over a MemoryStore
// opened from a dev chain spec, transactions signed by the dev accounts (each with its own nonce
// count), blocks built and committed as final, and a method list called as the RPC server would
// (parameters parsed by their specs), typed by the RPC contract.
import { signTransaction } from '../../../runtime/transaction.ts'
import { createRuntime } from '../../../runtime/index.ts'
import type { Runtime } from '../../../runtime/stateTransition.ts'
import { devAccount, devKey, type DevAccountName } from '../../../genesis/devAccounts.ts'
import type { ChainSpec } from '../../../genesis/spec.ts'
import type { ApiComponents } from '../../../node/api/context.ts'
import { Chain, type BlockCandidate } from '../../../node/chain/chain.ts'
import { MemoryStore } from '../../../node/db/memoryStore.ts'
import { silentLogger } from '../../../lib/logger.ts'
import type { RpcMethodName, RpcParamsOf, RpcResult } from '../../../node/rpc/contract.ts'
import { parseParams, type RpcMethod } from '../../../node/rpc/registry.ts'

export interface ApiFixture {
  readonly chain: Chain
  readonly runtime: Runtime
  /** `module.call(args)` signed by `from`, args as the call's schema takes them (bigints, bytes) */
  tx(from: DevAccountName, module: string, call: string, args: unknown): BlockCandidate
  /** the same with args as JSON (amounts as strings, bytes as 0x-hex), read by the call's schema */
  txFromJson(from: DevAccountName, module: string, call: string, args: unknown): BlockCandidate
  /** builds a block of `list` one second after the head and commits it as final; a failed call throws its error code */
  commit(list: BlockCandidate[]): Promise<void>
  /** `methods(components)`'s method `name` called with `params`, as the server would */
  rpc(methods: (components: ApiComponents) => RpcMethod[]): <M extends RpcMethodName>(name: M, params: RpcParamsOf<M> | Record<string, unknown>) => Promise<RpcResult<M>>
}

export async function openApiFixture(spec: ChainSpec): Promise<ApiFixture> {
  const runtime = createRuntime()
  const chain = new Chain({ store: new MemoryStore(), runtime, logger: silentLogger })
  await chain.open(spec)
  const nonces = new Map<DevAccountName, number>()
  const sign = (from: DevAccountName, moduleName: string, callName: string, encode: (call: NonNullable<ReturnType<typeof findCall>>) => unknown): BlockCandidate => {
    const found = findCall(moduleName, callName)
    if (found === undefined) throw new Error(`no call ${moduleName}.${callName}`)
    const nonce = nonces.get(from) ?? 0
    nonces.set(from, nonce + 1)
    const call = { module: found.module, call: found.definition.index, args: encode(found) as never }
    const signed = signTransaction({ chainId: spec.chainId, nonce, gasLimit: 2_000_000, maxFeePerGas: 10_000_000_000n, maxPriorityFeePerGas: 0n, call }, devAccount(from).privateKey)
    return { tx: signed, sender: devAccount(from).address }
  }
  function findCall(moduleName: string, callName: string) {
    const module = runtime.moduleByName(moduleName)
    const definition = module?.calls.find((c) => c.name === callName)
    return module === undefined || definition === undefined ? undefined : { module: module.index, definition }
  }
  return {
    chain,
    runtime,
    tx: (from, module, call, args) => sign(from, module, call, ({ definition }) => definition.args.encode(args)),
    txFromJson: (from, module, call, args) => sign(from, module, call, ({ definition }) => definition.args.encode(definition.args.fromJson(args, 'args'))),
    async commit(list) {
      const executed = await chain.buildBlock({ timestamp: chain.head.header.timestamp + 1000, author: devKey('author').address }, (function* () {
        yield* list
      })())
      const imported = await chain.commit(executed, { finalized: true })
      for (const receipt of imported.receipts) if (receipt.error !== undefined) throw new Error(runtime.errorCode(receipt.error))
    },
    rpc(methods) {
      const list = methods({ chain } as unknown as ApiComponents)
      return async (name, params) => {
        const method = list.find((m) => m.name === name)
        if (method === undefined) throw new Error(`no method ${name}`)
        return method.handler(parseParams(method.params, params), { signal: new AbortController().signal, transport: 'http' }) as Promise<RpcResult<typeof name>>
      }
    },
  }
}
