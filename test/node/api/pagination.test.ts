// Bounded lists (issue 21, defect 1): a list call reads no further than its data and stops when its
// caller has gone. Before the fix, `openledger_listTrainingJobs [4294967295]` walked down one state
// read per id from 2^32 and never answered.
import t from 'tap'
import { createRuntime } from '../../../runtime/index.ts'
import { devChainSpec } from '../../../genesis/devSpec.ts'
import { datanetsMethods } from '../../../node/api/datanetsApi.ts'
import { modelsMethods } from '../../../node/api/modelsApi.ts'
import type { ApiComponents } from '../../../node/api/context.ts'
import { listByIds, listEntries } from '../../../node/api/pagination.ts'
import { Chain } from '../../../node/chain/chain.ts'
import { MemoryStore } from '../../../node/db/memoryStore.ts'
import { silentLogger } from '../../../lib/logger.ts'
import { parseParams, type RpcMethod } from '../../../node/rpc/registry.ts'
import { RpcError } from '../../../node/rpc/errors.ts'

/** Resolves with the result, or 'timeout' if the call is still running after `ms`. */
async function within<T>(ms: number, promise: Promise<T>): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

t.test('every paginated list method answers a start far past its data at once', async (t) => {
  const chain = new Chain({ store: new MemoryStore(), runtime: createRuntime(), logger: silentLogger })
  await chain.open(devChainSpec())
  const methods = [...modelsMethods({ chain } as unknown as ApiComponents), ...datanetsMethods({ chain } as unknown as ApiComponents)]
  const controller = new AbortController()
  t.teardown(() => controller.abort())
  const call = (name: string, params: unknown[]): Promise<unknown> => {
    const method = methods.find((m) => m.name === name) as RpcMethod
    return Promise.resolve(method.handler(parseParams(method.params, params), { signal: controller.signal, transport: 'http' }))
  }
  for (const [name, params] of [
    ['openledger_listTrainingJobs', [Number.MAX_SAFE_INTEGER]],
    ['openledger_listTrainingJobs', [4294967295]],
    ['openledger_listModelVersions', [Number.MAX_SAFE_INTEGER]],
    ['openledger_listBaseModels', [Number.MAX_SAFE_INTEGER]],
    ['openledger_listDatanets', [4294967295]],
  ] as const) {
    t.same(await within(5_000, call(name, [...params])), [], `${name} ${JSON.stringify(params)}`)
  }
})

t.test('listByIds reads within the data, in order, and clamps start', async (t) => {
  const signal = new AbortController().signal
  const reads: number[] = []
  const read = async (id: number) => {
    reads.push(id)
    return id % 2 === 0 ? id : undefined
  }
  t.same(await listByIds({ first: 1, last: 10, start: 1e15, count: 3, order: 'descending', signal }, read), [10, 8, 6])
  t.same(reads, [10, 9, 8, 7, 6], 'the walk starts at the last id, not at start')
  reads.length = 0
  t.same(await listByIds({ first: 1, last: 10, start: undefined, count: undefined, order: 'ascending', signal }, read), [2, 4, 6, 8, 10])
  t.same(reads, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'never past last')
  t.same(await listByIds({ first: 0, last: -1, start: 0, count: 5, order: 'ascending', signal }, read), [], 'no data')
})

t.test('a list stops at the read after its caller is gone', async (t) => {
  const controller = new AbortController()
  let reads = 0
  const read = async (id: number) => {
    if (++reads === 3) controller.abort(new RpcError('INTERNAL_ERROR', 'client disconnected'))
    return id > 1e9 ? id : undefined
  }
  await t.rejects(listByIds({ first: 1, last: Number.MAX_SAFE_INTEGER, start: undefined, count: 100, order: 'ascending', signal: controller.signal }, read), { message: 'client disconnected' })
  t.equal(reads, 3)

  const scan = new AbortController()
  let yielded = 0
  async function* endless(): AsyncIterable<number> {
    for (;;) {
      yielded++
      if (yielded === 5) scan.abort()
      yield yielded
    }
  }
  await t.rejects(listEntries(endless(), { count: 100, signal: scan.signal }, () => undefined), { code: 'INTERNAL_ERROR' })
  t.equal(yielded, 5)
})
