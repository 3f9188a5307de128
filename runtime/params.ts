// Governable parameters. Each module declares its own (name, type, bounds, default, meaning) next
// to the struct that stores their current values in ONE storage value of the module; genesis and
// governance both check a value against the declaration (and the module's cross-parameter rule)
// before storing it, so no path can leave a module with an unusable set. The registry is the
// runtime's list of modules: a parameter is addressed as (module name, parameter name).
import * as k from './codec/schema.ts'
import type { StateOverlay, StateReader } from './state/overlay.ts'
import { storageValue, type StorageValue } from './storage.ts'

/** What a parameter's number means; it fixes the codec (uint / amount / bool) and the default bounds. */
export const ParamType = {
  /** a count (validators, steps, entries) */
  integer: 'integer',
  /** base units of OPEN (up to 2^128 - 1) */
  amount: 'amount',
  /** basis points: a share of 10,000 */
  bps: 'bps',
  /** a duration in blocks */
  blocks: 'blocks',
  /** a duration in ms of BFT time */
  ms: 'ms',
  /** a size in bytes */
  bytes: 'bytes',
  bool: 'bool',
} as const
export type ParamType = (typeof ParamType)[keyof typeof ParamType]

export type ParamValue = number | bigint | boolean

/** Why a parameter (or a set of them) is refused: bounded codes, stable forever. */
export const ParamProblemCode = {
  unknownModule: 'UNKNOWN_MODULE',
  unknownParameter: 'UNKNOWN_PARAMETER',
  wrongType: 'WRONG_TYPE',
  outOfBounds: 'OUT_OF_BOUNDS',
  /** each value is in bounds but together they break the module's rule (e.g. target above max gas) */
  inconsistent: 'INCONSISTENT',
} as const
export type ParamProblemCode = (typeof ParamProblemCode)[keyof typeof ParamProblemCode]

export interface ParamProblem {
  readonly code: ParamProblemCode
  /** `module.parameter` (or the module alone) */
  readonly parameter: string
  readonly message: string
}

export interface ParamDeclaration {
  readonly name: string
  readonly type: ParamType
  /** inclusive bounds; a bool is 0..1 */
  readonly min: bigint
  readonly max: bigint
  readonly default: ParamValue
  readonly description: string
}

/** How a module declares one parameter: the type, optional bounds (the type's own otherwise), what it means. */
export interface ParamSpec {
  readonly type: ParamType
  readonly min?: number | bigint
  readonly max?: number | bigint
  readonly description: string
}

export interface ModuleParams<P extends object = Record<string, ParamValue>> {
  readonly module: string
  readonly kind: k.Kind<P>
  readonly defaults: P
  /** in storage (struct field) order */
  readonly declarations: readonly ParamDeclaration[]
  /** the one storage value holding the module's current parameters */
  readonly storage: StorageValue<P>
  /** the first problem of a whole set (a value's type or bounds, then the cross-parameter rule), or undefined */
  problem(params: P): ParamProblem | undefined
}

const MAX_UINT = BigInt(Number.MAX_SAFE_INTEGER)
const MAX_AMOUNT = (1n << 128n) - 1n

const TYPE_DEFAULTS: Record<ParamType, { codec: 'uint' | 'amount' | 'bool'; min: bigint; max: bigint }> = {
  integer: { codec: 'uint', min: 0n, max: MAX_UINT },
  amount: { codec: 'amount', min: 0n, max: MAX_AMOUNT },
  bps: { codec: 'uint', min: 0n, max: 10_000n },
  blocks: { codec: 'uint', min: 0n, max: MAX_UINT },
  ms: { codec: 'uint', min: 0n, max: MAX_UINT },
  bytes: { codec: 'uint', min: 0n, max: MAX_UINT },
  bool: { codec: 'bool', min: 0n, max: 1n },
}

/** A value as the number the bounds compare (bool: 0 or 1), or undefined when it is not of the type. */
function numeric(type: ParamType, value: unknown): bigint | undefined {
  const codec = TYPE_DEFAULTS[type].codec
  if (codec === 'bool') return typeof value === 'boolean' ? (value ? 1n : 0n) : undefined
  if (codec === 'amount') return typeof value === 'bigint' ? value : undefined
  return typeof value === 'number' && Number.isSafeInteger(value) ? BigInt(value) : undefined
}

/** A declared value's problem (type, then bounds), or undefined. */
export function paramValueProblem(module: string, declaration: ParamDeclaration, value: unknown): ParamProblem | undefined {
  const parameter = `${module}.${declaration.name}`
  const n = numeric(declaration.type, value)
  if (n === undefined) return { code: ParamProblemCode.wrongType, parameter, message: `${parameter} must be ${typeDescription(declaration.type)}` }
  if (n < declaration.min || n > declaration.max) {
    return { code: ParamProblemCode.outOfBounds, parameter, message: `${parameter} must be in [${declaration.min}, ${declaration.max}], got ${n}` }
  }
  return undefined
}

function typeDescription(type: ParamType): string {
  const codec = TYPE_DEFAULTS[type].codec
  return codec === 'bool' ? 'true or false' : codec === 'amount' ? 'an amount in base units' : `an integer (${type})`
}

/**
 * A value for `declaration` from its wire form: governance carries every value as an unsigned
 * integer (bool as 0 or 1), so one call schema serves every parameter.
 */
export function paramValueFromWire(module: string, declaration: ParamDeclaration, raw: bigint): ParamValue | ParamProblem {
  const parameter = `${module}.${declaration.name}`
  const codec = TYPE_DEFAULTS[declaration.type].codec
  let value: ParamValue
  if (codec === 'bool') {
    if (raw !== 0n && raw !== 1n) return { code: ParamProblemCode.wrongType, parameter, message: `${parameter} must be true or false (0 or 1)` }
    value = raw === 1n
  } else if (codec === 'uint') {
    if (raw > MAX_UINT) return { code: ParamProblemCode.outOfBounds, parameter, message: `${parameter} must be in [${declaration.min}, ${declaration.max}], got ${raw}` }
    value = Number(raw)
  } else {
    value = raw
  }
  return paramValueProblem(module, declaration, value) ?? value
}

/** The wire form of a value (see paramValueFromWire). */
export function paramValueToWire(value: ParamValue): bigint {
  return typeof value === 'boolean' ? (value ? 1n : 0n) : BigInt(value)
}

/** A value typed by a user (CLI, JSON): a decimal integer, or true/false for a bool. */
export function parseParamValue(module: string, declaration: ParamDeclaration, text: string): ParamValue | ParamProblem {
  const parameter = `${module}.${declaration.name}`
  if (TYPE_DEFAULTS[declaration.type].codec === 'bool') {
    if (text === 'true' || text === 'false') return text === 'true'
    return { code: ParamProblemCode.wrongType, parameter, message: `${parameter} must be true or false` }
  }
  if (!/^(0|[1-9][0-9]{0,38})$/.test(text)) return { code: ParamProblemCode.wrongType, parameter, message: `${parameter} must be ${typeDescription(declaration.type)}` }
  return paramValueFromWire(module, declaration, BigInt(text))
}

/** A value's JSON form: amounts as decimal strings (as everywhere in the RPC), the rest as is. */
export function paramValueToJson(value: ParamValue): string | number | boolean {
  return typeof value === 'bigint' ? value.toString() : value
}

type Declarations<P> = { readonly [K in keyof P]: ParamSpec }

/**
 * A module's parameters: the struct `kind` (its field order is the storage encoding), the
 * defaults, one declaration per field, and the rule across fields (`crossProblem`, a message).
 * The declarations must match the struct's fields and codecs: a mismatch is a bug, thrown at load.
 */
export function defineParams<F extends k.Fields>(
  module: { index: number; name: string },
  item: number,
  kind: k.Kind<k.StructOf<F>> & { readonly fields: F },
  defaults: k.StructOf<F>,
  specs: Declarations<k.StructOf<F>>,
  crossProblem?: (params: k.StructOf<F>) => string | undefined,
): ModuleParams<k.StructOf<F>> {
  type P = k.StructOf<F>
  const declarations: ParamDeclaration[] = []
  for (const [name, field] of Object.entries(kind.fields)) {
    const spec = (specs as Record<string, ParamSpec | undefined>)[name]
    if (spec === undefined) throw new Error(`${module.name}: parameter ${name} is not declared`)
    const base = TYPE_DEFAULTS[spec.type]
    if (base.codec !== field.name) throw new Error(`${module.name}.${name}: a ${spec.type} parameter cannot be stored as ${field.name}`)
    const declaration: ParamDeclaration = Object.freeze({
      name,
      type: spec.type,
      min: spec.min === undefined ? base.min : BigInt(spec.min),
      max: spec.max === undefined ? base.max : BigInt(spec.max),
      default: (defaults as Record<string, ParamValue>)[name] as ParamValue,
      description: spec.description,
    })
    if (paramValueProblem(module.name, declaration, declaration.default) !== undefined) throw new Error(`${module.name}.${name}: the default is out of its own bounds`)
    declarations.push(declaration)
  }
  for (const name of Object.keys(specs)) if (!(name in kind.fields)) throw new Error(`${module.name}: declared parameter ${name} is not stored`)
  const problem = (params: P): ParamProblem | undefined => {
    for (const declaration of declarations) {
      const found = paramValueProblem(module.name, declaration, (params as Record<string, unknown>)[declaration.name])
      if (found !== undefined) return found
    }
    const message = crossProblem?.(params)
    return message === undefined ? undefined : { code: ParamProblemCode.inconsistent, parameter: module.name, message: `${module.name}: ${message}` }
  }
  const frozenDefaults = Object.freeze({ ...defaults }) as P
  if (problem(frozenDefaults) !== undefined) throw new Error(`${module.name}: the default parameters break their own rule`)
  return {
    module: module.name,
    kind,
    defaults: frozenDefaults,
    declarations,
    storage: storageValue(module.index, item, kind, frozenDefaults),
    problem,
  }
}

/** One change a governance proposal (or a test) asks for: values in wire form. */
export interface ParamChange {
  readonly module: string
  readonly name: string
  readonly value: bigint
}

export const paramChangeKind = k.struct({ module: k.string(32), name: k.string(64), value: k.amount })

/** What the registry needs of a module. */
interface WithParams {
  readonly name: string
  readonly params?: ModuleParams<object>
}

/** The governable parameters of a runtime: every module that declares some, by name. */
export class ParamRegistry {
  readonly #byName = new Map<string, ModuleParams<object>>()

  constructor(modules: readonly WithParams[]) {
    for (const module of modules) if (module.params !== undefined) this.#byName.set(module.name, module.params)
  }

  get modules(): readonly ModuleParams<object>[] {
    return [...this.#byName.values()]
  }

  module(name: string): ModuleParams<object> | undefined {
    return this.#byName.get(name)
  }

  /**
   * `changes` applied to `state`'s current values, every touched module's whole set checked
   * afterwards: the new sets by module, or the first problem (nothing is written either way).
   */
  async resolve(state: StateReader, changes: readonly ParamChange[]): Promise<Map<ModuleParams<object>, object> | ParamProblem> {
    const updated = new Map<ModuleParams<object>, Record<string, ParamValue>>()
    for (const change of changes) {
      const params = this.#byName.get(change.module)
      if (params === undefined) return { code: ParamProblemCode.unknownModule, parameter: change.module, message: `no module ${change.module} declares parameters` }
      const declaration = params.declarations.find((d) => d.name === change.name)
      if (declaration === undefined) return { code: ParamProblemCode.unknownParameter, parameter: `${change.module}.${change.name}`, message: `${change.module} has no parameter ${change.name}` }
      const value = paramValueFromWire(change.module, declaration, change.value)
      if (typeof value === 'object') return value
      let set = updated.get(params)
      if (set === undefined) {
        set = { ...((await params.storage.get(state)) as Record<string, ParamValue>) }
        updated.set(params, set)
      }
      set[change.name] = value
    }
    for (const [params, set] of updated) {
      const problem = params.problem(set)
      if (problem !== undefined) return problem
    }
    return updated
  }

  /** Checks and writes `changes`; the problem, or undefined when all were written. */
  async apply(state: StateOverlay, changes: readonly ParamChange[]): Promise<ParamProblem | undefined> {
    const resolved = await this.resolve(state, changes)
    if (!(resolved instanceof Map)) return resolved
    for (const [params, set] of resolved) params.storage.set(state, set)
    return undefined
  }
}
