import t from 'tap'
import { createRuntime } from '../../runtime/index.ts'
import { DEFAULT_FEE_PARAMS, feeParams } from '../../runtime/modules/fees/state.ts'
import { modelsParams } from '../../runtime/modules/models/state.ts'
import { ParamProblemCode, parseParamValue, type ParamChange, type ParamProblem } from '../../runtime/params.ts'
import { StateOverlay } from '../../runtime/state/overlay.ts'
import { devChainSpec } from '../../genesis/devSpec.ts'
import { GenesisError, parseChainSpec, chainSpecToJson } from '../../genesis/spec.ts'
import { genesisState } from './chainFixtures.ts'

const runtime = createRuntime()
const registry = runtime.params
const genesis = await genesisState(devChainSpec())

t.test('every module with genesis-fixed parameters declares them, defaults within bounds', async (t) => {
  for (const name of ['fees', 'staking', 'datanets', 'models']) {
    const params = registry.module(name)
    t.ok(params, `${name} declares its parameters`)
    if (params === undefined) continue
    t.same(params.declarations.map((d) => d.name), Object.keys(params.defaults), `${name}: one declaration per stored field, in storage order`)
    t.equal(params.problem(params.defaults), undefined)
  }
  const burn = registry.module('fees')?.declarations.find((d) => d.name === 'burnShareBps')
  t.match(burn, { type: 'bps', min: 0n, max: 10_000n, default: 5_000 })
})

t.test('a change is written only when every value and the module rule hold', async (t) => {
  const expectProblem = async (changes: ParamChange[], code: ParamProblemCode, parameter: string) => {
    const state = new StateOverlay(genesis)
    const problem = await registry.apply(state, changes)
    t.match(problem, { code, parameter }, `${code} for ${parameter}`)
    t.same(state.changes(), [], 'nothing written')
  }
  await expectProblem([{ module: 'nope', name: 'x', value: 1n }], ParamProblemCode.unknownModule, 'nope')
  await expectProblem([{ module: 'fees', name: 'nope', value: 1n }], ParamProblemCode.unknownParameter, 'fees.nope')
  await expectProblem([{ module: 'fees', name: 'burnShareBps', value: 10_001n }], ParamProblemCode.outOfBounds, 'fees.burnShareBps')
  await expectProblem([{ module: 'fees', name: 'maxBlockGas', value: 1n << 60n }], ParamProblemCode.outOfBounds, 'fees.maxBlockGas')
  await expectProblem([{ module: 'models', name: 'publishOnPartialQuorum', value: 2n }], ParamProblemCode.wrongType, 'models.publishOnPartialQuorum')
  await expectProblem([{ module: 'fees', name: 'targetBlockGas', value: BigInt(DEFAULT_FEE_PARAMS.maxBlockGas + 1) }], ParamProblemCode.inconsistent, 'fees')
  // a valid first change does not survive a bad second one
  await expectProblem([{ module: 'fees', name: 'burnShareBps', value: 1n }, { module: 'staking', name: 'maxValidators', value: 0n }], ParamProblemCode.outOfBounds, 'staking.maxValidators')

  const state = new StateOverlay(genesis)
  t.equal(await registry.apply(state, [{ module: 'fees', name: 'burnShareBps', value: 2_500n }, { module: 'models', name: 'publishOnPartialQuorum', value: 1n }]), undefined)
  t.same(await feeParams.get(state), { ...DEFAULT_FEE_PARAMS, burnShareBps: 2_500 })
  t.equal((await modelsParams.storage.get(state)).publishOnPartialQuorum, true)
  // two changes of one module both apply, the cross rule judged on the result
  t.equal(await registry.apply(state, [{ module: 'fees', name: 'maxBlockGas', value: 200_000_000n }, { module: 'fees', name: 'targetBlockGas', value: 160_000_000n }]), undefined)
  t.match(await feeParams.get(state), { maxBlockGas: 200_000_000, targetBlockGas: 160_000_000, burnShareBps: 2_500 })
})

t.test('typed input from a user', async (t) => {
  const fees = registry.module('fees')
  const models = registry.module('models')
  if (fees === undefined || models === undefined) throw new Error('fees and models declare parameters')
  const burn = fees.declarations.find((d) => d.name === 'burnShareBps')
  const flag = models.declarations.find((d) => d.name === 'publishOnPartialQuorum')
  const deposit = models.declarations.find((d) => d.name === 'registrationDeposit')
  if (burn === undefined || flag === undefined || deposit === undefined) throw new Error('declared')
  t.equal(parseParamValue('fees', burn, '4000'), 4_000)
  t.match(parseParamValue('fees', burn, '40.5') as ParamProblem, { code: ParamProblemCode.wrongType })
  t.match(parseParamValue('fees', burn, 'true') as ParamProblem, { code: ParamProblemCode.wrongType })
  t.match(parseParamValue('fees', burn, '10001') as ParamProblem, { code: ParamProblemCode.outOfBounds })
  t.equal(parseParamValue('models', flag, 'true'), true)
  t.match(parseParamValue('models', flag, '1') as ParamProblem, { code: ParamProblemCode.wrongType })
  t.equal(parseParamValue('models', deposit, '123456789012345678901234567890'), 123456789012345678901234567890n)
})

t.test('genesis is checked against the registry', async (t) => {
  const spec = devChainSpec()
  const json = JSON.parse(chainSpecToJson(spec)) as Record<string, unknown>
  const withFees = (fees: Record<string, unknown>) => JSON.stringify({ ...json, fees: { ...(json['fees'] as object ?? {}), ...fees } })
  const base = { minBaseFeePerGas: '1000000000', maxBlockGas: 150_000_000, targetBlockGas: 75_000_000, baseFeeChangeDenominator: 8, burnShareBps: 5_000 }
  t.ok(parseChainSpec(withFees(base)))
  t.throws(() => parseChainSpec(withFees({ ...base, burnShareBps: 10_001 })), { code: 'INVALID_SPEC', details: { parameter: 'fees.burnShareBps', problem: 'OUT_OF_BOUNDS' } })
  t.throws(() => parseChainSpec(withFees({ ...base, targetBlockGas: 200_000_000 })), { code: 'INVALID_SPEC', details: { parameter: 'fees', problem: 'INCONSISTENT' } })
  t.throws(() => parseChainSpec(withFees({ ...base, burnShareBps: 'half' })), GenesisError)
})
