import t from 'tap'
import fc from 'fast-check'
import { toHex } from '../../../runtime/crypto/hash.ts'
import { OpenLedgerError } from '../../../runtime/errors.ts'
import { DOMAIN_ERROR_RPC_CODE, RpcError, toRpcError } from '../../../node/rpc/errors.ts'
import { defineMethod, param, parseParams, RpcRegistry, RpcRegistryError, type ParamSpec } from '../../../node/rpc/registry.ts'
import { stringify } from '../../../node/rpc/json.ts'

/** The INVALID_PARAMS message a spec gives for a value, or undefined when it accepts it. */
function rejection(spec: ParamSpec, value: unknown, path = 'p'): string | undefined {
  try {
    spec.parse(value, path)
    return undefined
  } catch (error) {
    if (!(error instanceof RpcError)) throw error
    if (error.code !== 'INVALID_PARAMS' || error.rpcCode !== -32602) throw error
    return error.message
  }
}

t.test('param.hex', async (t) => {
  t.same(param.hex().parse('0x', 'p'), new Uint8Array())
  t.same(param.hex().parse('0x00fF', 'p'), Uint8Array.of(0, 255))
  t.same(param.hex({ bytes: 2 }).parse('0xabcd', 'p'), Uint8Array.of(0xab, 0xcd))
  t.equal(rejection(param.hex(), 'abcd'), 'invalid params: p: expected 0x-prefixed hex')
  t.ok(rejection(param.hex(), '0xabc'), 'odd length')
  t.ok(rejection(param.hex(), '0xzz'), 'not hex')
  t.ok(rejection(param.hex(), 12), 'a number')
  t.ok(rejection(param.hex(), null), 'null')
  t.equal(rejection(param.hex({ bytes: 2 }), '0xabcdef'), 'invalid params: p: expected 0x-prefixed 2-byte hex')
  t.equal(rejection(param.hex({ maxBytes: 2 }), '0xabcdef'), 'invalid params: p: expected 0x-prefixed hex of at most 2 bytes')
  t.same(param.hex({ maxBytes: 2 }).parse('0xab', 'p'), Uint8Array.of(0xab))
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
    t.same(param.hex().parse(toHex(bytes), 'p'), bytes)
    t.same(param.hex().parse(toHex(bytes).toUpperCase().replace('0X', '0x'), 'p'), bytes)
  }), { seed: 11, numRuns: 200 })
})

t.test('param.address and param.hash', async (t) => {
  const address = '0x' + 'aB'.repeat(20)
  t.same(param.address().parse(address, 'address'), new Uint8Array(20).fill(0xab))
  t.equal(rejection(param.address(), '0x' + 'ab'.repeat(19), 'address'), 'invalid params: address: expected 0x-prefixed 20-byte hex')
  t.ok(rejection(param.address(), 'ab'.repeat(21)), 'no 0x prefix')
  t.ok(rejection(param.address(), '0x' + 'g'.repeat(40)), 'not hex')
  t.same(param.hash().parse('0x' + '01'.repeat(32), 'at'), new Uint8Array(32).fill(1))
  t.equal(rejection(param.hash(), '0x' + '01'.repeat(31), 'at'), 'invalid params: at: expected 0x-prefixed 32-byte hex')
  t.ok(rejection(param.hash(), ['0x00']), 'an array')
})

t.test('param.uint', async (t) => {
  t.equal(param.uint().parse(0, 'n'), 0)
  t.equal(param.uint().parse(Number.MAX_SAFE_INTEGER, 'n'), Number.MAX_SAFE_INTEGER)
  t.equal(param.uint().parse('0x1f', 'n'), 31)
  t.equal(param.uint().parse('0x0', 'n'), 0)
  for (const bad of [-1, 1.5, Number.MAX_SAFE_INTEGER + 1, NaN, '12', '0x', '0x-1', '0x' + 'f'.repeat(14), true, null, {}]) {
    t.match(rejection(param.uint(), bad, 'n'), /^invalid params: n: expected non-negative integer/, `rejects ${String(bad)}`)
  }
  t.equal(rejection(param.uint({ max: 10 }), 11, 'n'), 'invalid params: n: expected integer from 0 to 10 (number or 0x-hex)')
  t.equal(param.uint({ max: 10 }).parse('0xa', 'n'), 10)
})

t.test('param.decimal', async (t) => {
  t.equal(param.decimal().parse('0', 'amount'), 0n)
  t.equal(param.decimal().parse('1000000000000000000000000000', 'amount'), 10n ** 27n)
  for (const bad of ['', '-1', '01', '1.5', '1e3', ' 1', '0x10', 10, 10n, '9'.repeat(79)]) {
    t.equal(rejection(param.decimal(), bad, 'amount'), 'invalid params: amount: expected decimal string of a non-negative integer', `rejects ${String(bad)}`)
  }
  t.ok(rejection(param.decimal({ max: 100n }), '101'), 'over max')
  fc.assert(fc.property(fc.bigInt({ min: 0n, max: 2n ** 256n }), (amount) => {
    t.equal(param.decimal().parse(amount.toString(), 'amount'), amount)
  }), { seed: 3, numRuns: 200 })
})

t.test('param.string, boolean, literal', async (t) => {
  const name = param.string({ maxLength: 5 })
  t.equal(name.parse('abcde', 'name'), 'abcde')
  t.equal(rejection(name, 'abcdef', 'name'), 'invalid params: name: expected string of at most 5 characters')
  t.ok(rejection(name, 5), 'a number')
  t.ok(rejection(param.string({ maxLength: 5, minLength: 1 }), ''), 'too short')
  t.ok(rejection(param.string({ maxLength: 5, pattern: /^[a-z]+$/ }), 'AB'), 'pattern')
  t.equal(param.boolean().parse(false, 'b'), false)
  t.equal(rejection(param.boolean(), 'true', 'b'), 'invalid params: b: expected boolean')
  const tag = param.literal('latest', 'finalized')
  t.equal(tag.parse('latest', 'tag'), 'latest')
  t.equal(rejection(tag, 'pending', 'tag'), 'invalid params: tag: expected "latest" or "finalized"')
})

t.test('param.optional, oneOf, array, object', async (t) => {
  const maybe = param.optional(param.uint())
  t.equal(maybe.optional, true)
  t.equal(maybe.parse(undefined, 'n'), undefined)
  t.equal(maybe.parse(null, 'n'), undefined)
  t.equal(maybe.parse(3, 'n'), 3)
  t.ok(rejection(maybe, 'x'), 'still checks present values')

  const block = param.oneOf(param.literal('latest'), param.uint(), param.hash())
  t.equal(block.parse('latest', 'at'), 'latest')
  t.equal(block.parse(7, 'at'), 7)
  t.same(block.parse('0x' + '00'.repeat(32), 'at'), new Uint8Array(32))
  t.equal(rejection(block, 'earliest', 'at'), 'invalid params: at: expected "latest" or non-negative integer (number or 0x-hex) or 0x-prefixed 32-byte hex')

  const list = param.array(param.uint(), { maxLength: 2 })
  t.same(list.parse([1, 2], 'ns'), [1, 2])
  t.equal(rejection(list, [1, 2, 3], 'ns'), 'invalid params: ns: expected array of at most 2 items')
  t.equal(rejection(list, [1, 'x'], 'ns'), 'invalid params: ns[1]: expected non-negative integer (number or 0x-hex)')

  const tx = param.object({ to: param.address(), value: param.optional(param.decimal()) })
  t.same(tx.parse({ to: '0x' + '11'.repeat(20) }, 'tx'), { to: new Uint8Array(20).fill(0x11), value: undefined })
  t.equal(rejection(tx, { to: '0x11' }, 'tx'), 'invalid params: tx.to: expected 0x-prefixed 20-byte hex')
  t.equal(rejection(tx, {}, 'tx'), 'invalid params: tx.to: missing (expected 0x-prefixed 20-byte hex)')
  t.equal(rejection(tx, { to: '0x' + '11'.repeat(20), gas: 1 }, 'tx'), 'invalid params: tx: unknown field "gas"')
  t.equal(rejection(tx, [1], 'tx'), 'invalid params: tx: expected object')
})

t.test('parseParams by position and by name', async (t) => {
  const specs = [param.address().named('address'), param.optional(param.uint()).named('at')]
  const address = '0x' + '22'.repeat(20)
  t.same(parseParams(specs, [address]), [new Uint8Array(20).fill(0x22), undefined])
  t.same(parseParams(specs, [address, 4]), [new Uint8Array(20).fill(0x22), 4])
  t.same(parseParams(specs, { address, at: 4 }), [new Uint8Array(20).fill(0x22), 4])
  t.same(parseParams(specs, { address }), [new Uint8Array(20).fill(0x22), undefined])
  t.same(parseParams([], undefined), [])
  t.same(parseParams([], null), [])

  const message = (params: unknown, list: readonly ParamSpec[] = specs): string => {
    try {
      parseParams(list, params)
    } catch (error) {
      if (error instanceof RpcError) return `${error.rpcCode} ${error.message}`
      throw error
    }
    return 'accepted'
  }
  t.equal(message([]), '-32602 invalid params: address: missing (expected 0x-prefixed 20-byte hex)')
  t.equal(message([null]), '-32602 invalid params: address: expected 0x-prefixed 20-byte hex')
  t.equal(message([address, 1, 2]), '-32602 invalid params: expected at most 2 params, got 3')
  t.equal(message({ address, extra: 1 }), '-32602 invalid params: unknown param "extra"')
  t.equal(message({ at: 1 }), '-32602 invalid params: address: missing (expected 0x-prefixed 20-byte hex)')
  t.equal(message(['0x12']), '-32602 invalid params: address: expected 0x-prefixed 20-byte hex')
  t.equal(message({ x: 1 }, [param.uint()]), '-32602 invalid params: this method takes params by position (an array)')
  t.equal(message(['a'], [param.uint()]), '-32602 invalid params: params[0]: expected non-negative integer (number or 0x-hex)')
  t.equal(message('x'), '-32600 invalid request: params must be an array or an object')
})

t.test('registry', async (t) => {
  const registry = new RpcRegistry()
  registry.add(defineMethod({ name: 'test_getBlock', params: [param.uint().named('height')], handler: ([height]) => height + 1 }))
  registry.addSubscription({ subscribe: 'chain_subscribeNewHeads', unsubscribe: 'chain_unsubscribeNewHeads', notification: 'chain_newHead', params: [], start: () => () => {} })
  t.ok(registry.has('test_getBlock'))
  t.ok(registry.has('chain_unsubscribeNewHeads'))
  t.notOk(registry.has('chain_newHead'), 'notifications are not callable')
  t.same(registry.names(), ['chain_subscribeNewHeads', 'chain_unsubscribeNewHeads', 'test_getBlock'])
  t.equal(registry.resolve('chain_subscribeNewHeads')?.kind, 'subscribe')
  t.equal(registry.resolve('nope'), undefined)

  const code = (fn: () => void): string | undefined => {
    try {
      fn()
    } catch (error) {
      if (error instanceof RpcRegistryError) return error.code
      throw error
    }
    return undefined
  }
  t.equal(code(() => registry.add({ name: 'test_getBlock', params: [], handler: () => 1 })), 'DUPLICATE_METHOD')
  t.equal(code(() => registry.add({ name: 'bad name', params: [], handler: () => 1 })), 'INVALID_METHOD_NAME')
  t.equal(code(() => registry.add({ name: 'x_y', params: [param.optional(param.uint()), param.uint()], handler: () => 1 })), 'INVALID_PARAM_SPECS')
  t.equal(code(() => registry.add({ name: 'x_z', params: [param.uint().named('a'), param.uint().named('a')], handler: () => 1 })), 'INVALID_PARAM_SPECS')
  t.equal(code(() => registry.addSubscription({ subscribe: 'a_sub', unsubscribe: 'test_getBlock', notification: 'a_n', params: [], start: () => () => {} })), 'DUPLICATE_METHOD')
  t.notOk(registry.has('a_sub'), 'a failed registration leaves nothing behind')
})

t.test('error mapping', async (t) => {
  const domain = toRpcError(new OpenLedgerError('NONCE_TOO_LOW', 'nonce too low', { details: { expected: 3, code: 'ignored' } }))
  t.equal(domain.bug, false)
  t.same(domain.error.toJson(), { code: DOMAIN_ERROR_RPC_CODE, message: 'nonce too low', data: { expected: 3, code: 'NONCE_TOO_LOW' } })

  const own = new RpcError('LIMIT_EXCEEDED', 'too many')
  t.equal(toRpcError(own).error, own, 'RpcErrors pass through')
  t.same(own.toJson(), { code: -32005, message: 'too many', data: { code: 'LIMIT_EXCEEDED' } })
  t.equal(new RpcError('STAKE_TOO_LOW', 'x', { rpcCode: -32011 }).rpcCode, -32011)
  t.equal(new RpcError('STAKE_TOO_LOW', 'x').rpcCode, DOMAIN_ERROR_RPC_CODE)

  const bug = toRpcError(new Error('secret'))
  t.equal(bug.bug, true)
  t.same(bug.error.toJson(), { code: -32603, message: 'internal error', data: { code: 'INTERNAL_ERROR' } })
  t.equal(toRpcError('a string').bug, true)
})

t.test('json encoding of results', async (t) => {
  t.equal(stringify({ a: 10n ** 27n, b: Uint8Array.of(1, 2), c: Buffer.from([255]), d: [1n] }), '{"a":"1000000000000000000000000000","b":"0x0102","c":"0xff","d":["1"]}')
})
