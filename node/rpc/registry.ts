// The JSON-RPC method registry and the parameter validators every method declares. Owns: method
// and subscription registration, and turning a request's `params` (by position, or by name where
// the specs are named) into checked values; a bad parameter is answered with -32602 and a message
// naming it. Does not own transport, limits or serialization (server.ts): results may contain
// bigints (sent as decimal strings) and Uint8Arrays (sent as 0x-hex), mirroring `param.decimal()`
// and `param.hex()`.
import { OpenLedgerError } from '../../runtime/errors.ts'
import type { RpcMethodName, RpcResult } from './contract.ts'
import { RpcError } from './errors.ts'

export interface RpcContext {
  /** Aborted when the client goes away, the subscription ends or the server stops. */
  signal: AbortSignal
  transport: 'http' | 'ws'
  /** The caller's remote address, for limits per client (absent for in-process calls). */
  client?: string
}

export interface RpcMethod {
  name: string
  params: readonly ParamSpec[]
  handler(params: unknown[], context: RpcContext): unknown
}

/** A subscription: `subscribe` answers with a subscription id, then `notification` messages carry
 * `{ subscription, result }` until `unsubscribe` (or the socket closes) calls the stop function. */
export interface RpcSubscriptionMethod {
  subscribe: string
  unsubscribe: string
  notification: string
  params: readonly ParamSpec[]
  start(params: unknown[], emit: (result: unknown) => void, context: RpcContext): (() => void) | Promise<() => void>
}

export type RpcRegistryErrorCode = 'DUPLICATE_METHOD' | 'INVALID_METHOD_NAME' | 'INVALID_PARAM_SPECS'
export class RpcRegistryError extends OpenLedgerError<RpcRegistryErrorCode> {}

// ---------------------------------------------------------------------------------------------
// Parameter validators

export interface ParamSpec<T = unknown> {
  /** The name used in error messages and for by-name params; unnamed specs are called `params[i]`. */
  readonly name: string | undefined
  /** Optional params may be missing or null (both read as undefined). */
  readonly optional: boolean
  /** What a valid value looks like, e.g. `0x-prefixed 20-byte hex`. */
  readonly expected: string
  /** Returns the checked value or throws an INVALID_PARAMS RpcError naming `path`. */
  parse(value: unknown, path: string): T
  named(name: string): ParamSpec<T>
}

export type ParamValue<S> = S extends ParamSpec<infer T> ? T : never
export type ParamValues<S extends readonly ParamSpec[]> = { -readonly [K in keyof S]: ParamValue<S[K]> }

const INVALID: unique symbol = Symbol('invalid')
type Check<T> = (value: unknown) => T | typeof INVALID

export function invalidParam(path: string, reason: string): RpcError {
  return new RpcError('INVALID_PARAMS', `invalid params: ${path}: ${reason}`, { details: { param: path } })
}

function createSpec<T>(expected: string, parse: (value: unknown, path: string) => T, optional = false, name?: string): ParamSpec<T> {
  return {
    name,
    optional,
    expected,
    parse,
    named: (newName) => createSpec(expected, parse, optional, newName),
  }
}

function simple<T>(expected: string, check: Check<T>): ParamSpec<T> {
  return createSpec(expected, (value, path) => {
    const result = check(value)
    if (result === INVALID) throw invalidParam(path, `expected ${expected}`)
    return result
  })
}

const HEX_QUANTITY = /^0x[0-9a-fA-F]{1,16}$/ // a safe integer needs at most 14 digits
const DECIMAL = /^(?:0|[1-9][0-9]*)$/
const MAX_DECIMAL_DIGITS = 78 // 2^256 has 78 digits: anything longer is no amount of ours

function hexBytes(value: unknown, bytes: number | undefined, maxBytes: number | undefined): Uint8Array | typeof INVALID {
  if (typeof value !== 'string' || !value.startsWith('0x') || value.length % 2 !== 0) return INVALID
  const length = (value.length - 2) / 2
  if (bytes !== undefined && length !== bytes) return INVALID
  if (maxBytes !== undefined && length > maxBytes) return INVALID
  // Buffer's hex decoder stops at the first pair that is not hex, so a full length means every
  // pair was valid: the same rule as /^0x([0-9a-fA-F]{2})*$/ without a regex pass over the input
  // (a transaction submission is hundreds of characters). The copy owns its memory (not the pool).
  const decoded = Buffer.from(value.slice(2), 'hex')
  return decoded.length === length ? new Uint8Array(decoded) : INVALID
}

function describeHex(bytes: number | undefined, maxBytes: number | undefined): string {
  if (bytes !== undefined) return `0x-prefixed ${bytes}-byte hex`
  if (maxBytes !== undefined) return `0x-prefixed hex of at most ${maxBytes} bytes`
  return '0x-prefixed hex'
}

type ShapeValues<Shape extends Record<string, ParamSpec>> = { [K in keyof Shape]: ParamValue<Shape[K]> }

export const param = {
  /** 0x-prefixed, even-length hex → bytes. */
  hex(options: { bytes?: number; maxBytes?: number } = {}): ParamSpec<Uint8Array> {
    return simple(describeHex(options.bytes, options.maxBytes), (value) => hexBytes(value, options.bytes, options.maxBytes))
  },
  /** An account address: 0x + 40 hex (any case; checksums are not enforced) → 20 bytes. */
  address(): ParamSpec<Uint8Array> {
    return simple(describeHex(20, undefined), (value) => hexBytes(value, 20, undefined))
  },
  /** A block, transaction or state hash: 0x + 64 hex → 32 bytes. */
  hash(): ParamSpec<Uint8Array> {
    return simple(describeHex(32, undefined), (value) => hexBytes(value, 32, undefined))
  },
  /** A non-negative safe integer given as a JSON number or as 0x-hex. */
  uint(options: { max?: number } = {}): ParamSpec<number> {
    const max = options.max ?? Number.MAX_SAFE_INTEGER
    const expected = max === Number.MAX_SAFE_INTEGER ? 'non-negative integer (number or 0x-hex)' : `integer from 0 to ${max} (number or 0x-hex)`
    return simple(expected, (value) => {
      let number: number
      if (typeof value === 'number') number = value
      else if (typeof value === 'string' && HEX_QUANTITY.test(value)) number = Number(BigInt(value))
      else return INVALID
      return Number.isSafeInteger(number) && number >= 0 && number <= max ? number : INVALID
    })
  },
  /** A decimal string of a non-negative integer (an amount) → bigint. */
  decimal(options: { max?: bigint } = {}): ParamSpec<bigint> {
    const expected = options.max === undefined ? 'decimal string of a non-negative integer' : `decimal string of an integer from 0 to ${options.max}`
    return simple(expected, (value) => {
      if (typeof value !== 'string' || value.length > MAX_DECIMAL_DIGITS || !DECIMAL.test(value)) return INVALID
      const amount = BigInt(value)
      return options.max !== undefined && amount > options.max ? INVALID : amount
    })
  },
  string(options: { maxLength: number; minLength?: number; pattern?: RegExp }): ParamSpec<string> {
    const minLength = options.minLength ?? 0
    const expected = `string of ${minLength > 0 ? `${minLength} to ` : 'at most '}${options.maxLength} characters${options.pattern === undefined ? '' : ` matching ${options.pattern.source}`}`
    return simple(expected, (value) => {
      if (typeof value !== 'string' || value.length > options.maxLength || value.length < minLength) return INVALID
      return options.pattern === undefined || options.pattern.test(value) ? value : INVALID
    })
  },
  boolean(): ParamSpec<boolean> {
    return simple('boolean', (value) => (typeof value === 'boolean' ? value : INVALID))
  },
  /** One of a fixed set of strings, e.g. block tags. */
  literal<const L extends readonly [string, ...string[]]>(...values: L): ParamSpec<L[number]> {
    const allowed: ReadonlySet<unknown> = new Set(values)
    return simple(values.map((v) => JSON.stringify(v)).join(' or '), (value) => (allowed.has(value) ? (value as L[number]) : INVALID))
  },
  /** May be missing or null: both give undefined. */
  optional<T>(spec: ParamSpec<T>): ParamSpec<T | undefined> {
    const parse = (value: unknown, path: string): T | undefined => (value === undefined || value === null ? undefined : spec.parse(value, path))
    return createSpec(spec.expected, parse, true, spec.name)
  },
  /** The first spec that accepts the value wins. */
  oneOf<const S extends readonly [ParamSpec, ...ParamSpec[]]>(...specs: S): ParamSpec<ParamValue<S[number]>> {
    const expected = specs.map((s) => s.expected).join(' or ')
    return createSpec(expected, (value, path) => {
      for (const spec of specs) {
        try {
          return spec.parse(value, path) as ParamValue<S[number]>
        } catch (error) {
          if (!(error instanceof RpcError)) throw error
        }
      }
      throw invalidParam(path, `expected ${expected}`)
    })
  },
  array<T>(item: ParamSpec<T>, options: { maxLength: number }): ParamSpec<T[]> {
    return createSpec(`array of at most ${options.maxLength} items`, (value, path) => {
      if (!Array.isArray(value) || value.length > options.maxLength) throw invalidParam(path, `expected array of at most ${options.maxLength} items`)
      return value.map((element, i) => item.parse(element, `${path}[${i}]`))
    })
  },
  /** A JSON object with exactly these fields (optional ones may be absent); unknown fields are rejected. */
  object<const Shape extends Record<string, ParamSpec>>(shape: Shape): ParamSpec<ShapeValues<Shape>> {
    return createSpec('object', (value, path) => {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidParam(path, 'expected object')
      const record = value as Record<string, unknown>
      for (const key of Object.keys(record)) {
        if (!Object.hasOwn(shape, key)) throw invalidParam(path, `unknown field ${quote(key)}`)
      }
      const out: Record<string, unknown> = {}
      for (const [key, spec] of Object.entries(shape)) {
        const field = Object.hasOwn(record, key) ? record[key] : undefined
        out[key] = readParam(spec, field, `${path}.${key}`)
      }
      return out as ShapeValues<Shape>
    })
  },
} as const

function quote(key: string): string {
  return JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}…` : key)
}

function readParam(spec: ParamSpec, value: unknown, path: string): unknown {
  if (value === undefined && !spec.optional) throw invalidParam(path, `missing (expected ${spec.expected})`)
  return spec.parse(value, path)
}

/**
 * Checks a request's `params` against the specs: an array is read by position, an object by name
 * (every spec must be named). Absent params read as `[]`. The result has one entry per spec.
 */
export function parseParams(specs: readonly ParamSpec[], params: unknown): unknown[] {
  if (params === undefined || params === null) params = []
  if (Array.isArray(params)) {
    if (params.length > specs.length) throw new RpcError('INVALID_PARAMS', `invalid params: expected at most ${specs.length} params, got ${params.length}`)
    return specs.map((spec, i) => readParam(spec, params[i], spec.name ?? `params[${i}]`))
  }
  if (typeof params === 'object') {
    if (specs.some((spec) => spec.name === undefined)) throw new RpcError('INVALID_PARAMS', 'invalid params: this method takes params by position (an array)')
    const record = params as Record<string, unknown>
    for (const key of Object.keys(record)) {
      if (!specs.some((spec) => spec.name === key)) throw new RpcError('INVALID_PARAMS', `invalid params: unknown param ${quote(key)}`, { details: { param: key.slice(0, 64) } })
    }
    return specs.map((spec) => {
      const name = spec.name as string
      return readParam(spec, Object.hasOwn(record, name) ? record[name] : undefined, name)
    })
  }
  throw new RpcError('INVALID_REQUEST', 'invalid request: params must be an array or an object')
}

// ---------------------------------------------------------------------------------------------
// Typed definitions: the handler sees the parsed values with their types.

/** What a handler of `name` answers: the contract's view for a method of the contract (contract.ts). */
export type HandlerResult<N extends string> = N extends RpcMethodName ? RpcResult<N> | Promise<RpcResult<N>> : unknown

export function defineMethod<const S extends readonly ParamSpec[], const N extends string>(method: {
  name: N
  params: S
  handler(params: ParamValues<S>, context: RpcContext): HandlerResult<N>
}): RpcMethod {
  return { name: method.name, params: method.params, handler: (params, context) => method.handler(params as ParamValues<S>, context) }
}

export function defineSubscription<const S extends readonly ParamSpec[]>(sub: {
  subscribe: string
  unsubscribe: string
  notification: string
  params: S
  start(params: ParamValues<S>, emit: (result: unknown) => void, context: RpcContext): (() => void) | Promise<() => void>
}): RpcSubscriptionMethod {
  return { ...sub, start: (params, emit, context) => sub.start(params as ParamValues<S>, emit, context) }
}

// ---------------------------------------------------------------------------------------------
// The registry

export type ResolvedMethod =
  | { kind: 'method'; method: RpcMethod }
  | { kind: 'subscribe'; subscription: RpcSubscriptionMethod }
  | { kind: 'unsubscribe'; subscription: RpcSubscriptionMethod }

const METHOD_NAME = /^[A-Za-z][A-Za-z0-9_]{0,99}$/

export class RpcRegistry {
  readonly #entries = new Map<string, ResolvedMethod>()

  add(method: RpcMethod): void {
    checkSpecs(method.name, method.params)
    this.#claim(method.name, { kind: 'method', method })
  }

  addSubscription(subscription: RpcSubscriptionMethod): void {
    checkSpecs(subscription.subscribe, subscription.params)
    checkName(subscription.notification)
    if (subscription.subscribe === subscription.unsubscribe) throw new RpcRegistryError('DUPLICATE_METHOD', `subscribe and unsubscribe share the name ${subscription.subscribe}`)
    this.#claim(subscription.subscribe, { kind: 'subscribe', subscription })
    try {
      this.#claim(subscription.unsubscribe, { kind: 'unsubscribe', subscription })
    } catch (error) {
      this.#entries.delete(subscription.subscribe)
      throw error
    }
  }

  has(name: string): boolean {
    return this.#entries.has(name)
  }

  /** Every callable name (methods, subscribe and unsubscribe), sorted. */
  names(): string[] {
    return [...this.#entries.keys()].sort()
  }

  resolve(name: string): ResolvedMethod | undefined {
    return this.#entries.get(name)
  }

  #claim(name: string, entry: ResolvedMethod): void {
    checkName(name)
    if (this.#entries.has(name)) throw new RpcRegistryError('DUPLICATE_METHOD', `method ${name} is already registered`)
    this.#entries.set(name, entry)
  }
}

function checkName(name: string): void {
  if (!METHOD_NAME.test(name)) throw new RpcRegistryError('INVALID_METHOD_NAME', `invalid method name ${JSON.stringify(name)}`)
}

function checkSpecs(method: string, specs: readonly ParamSpec[]): void {
  const names = new Set<string>()
  let sawOptional = false
  for (const spec of specs) {
    if (spec.optional) sawOptional = true
    else if (sawOptional) throw new RpcRegistryError('INVALID_PARAM_SPECS', `${method}: a required param follows an optional one`)
    if (spec.name === undefined) continue
    if (names.has(spec.name)) throw new RpcRegistryError('INVALID_PARAM_SPECS', `${method}: two params are named ${spec.name}`)
    names.add(spec.name)
  }
}
