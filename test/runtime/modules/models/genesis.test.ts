// The chain spec's models section: parameters and base models, validated like the call, applied
// with ids from 1, and passed through by the dev and testnet spec builders.
import t from 'tap'
import { sha256, utf8 } from '../../../../runtime/crypto/hash.ts'
import { baseModelCount, baseModels, MODELS_ACCOUNT, params } from '../../../../runtime/modules/models/state.ts'
import { devKey, devValidatorKey } from '../../../../genesis/devAccounts.ts'
import { DEV_MODELS_PARAMS, devChainSpec } from '../../../../genesis/devSpec.ts'
import { chainSpecToJson, GenesisError, parseChainSpec, validateChainSpec, type ChainSpec } from '../../../../genesis/spec.ts'
import { testnetChainSpec } from '../../../../genesis/testnetSpec.ts'
import { genesisState } from '../../chainFixtures.ts'
import { baseModelArgs, TEST_MODELS_PARAMS } from './harness.ts'

const shipped = [baseModelArgs({ name: 'tiny-lm' }), baseModelArgs({ name: 'tiny-lm-2' })]

function problemOf(spec: ChainSpec): string | undefined {
  try {
    validateChainSpec(spec)
    return undefined
  } catch (error) {
    if (error instanceof GenesisError) return `${error.code}: ${error.message}`
    throw error
  }
}

t.test('the dev spec registers the base models it is given, with ids from 1, owned by the module account', async (t) => {
  const spec = devChainSpec({ baseModels: shipped })
  t.same(spec.models?.params, DEV_MODELS_PARAMS)
  const state = await genesisState(spec)
  t.equal(await baseModelCount.get(state), 2)
  const second = await baseModels.get(state, 2)
  t.match(second, { id: 2, name: 'tiny-lm-2', deposit: 0n, registeredHeight: 0 })
  t.same(second?.owner, MODELS_ACCOUNT)
  t.same(await params.get(state), DEV_MODELS_PARAMS)
  t.same(devChainSpec().models?.baseModels, [], 'none unless the node passes them')
  t.same(parseChainSpec(chainSpecToJson(spec)), spec, 'the section survives JSON')
})

t.test('the testnet spec passes base models through', async (t) => {
  const validators = [0, 1].map((i) => ({ operator: devKey(`tn-${i}`).address, consensusKey: devValidatorKey(`tn-${i}`).publicKey }))
  const spec = testnetChainSpec({ validators, genesisTime: Date.UTC(2026, 1, 1), chainId: 4242, baseModels: shipped })
  t.same(spec.models?.baseModels, shipped)
  t.same(testnetChainSpec({ validators, genesisTime: Date.UTC(2026, 1, 1), chainId: 4242 }).models?.baseModels, [])
})

t.test('a bad models section is refused with the reason', async (t) => {
  const base = devChainSpec()
  const withModels = (models: ChainSpec['models']): ChainSpec => ({ ...base, models })
  t.equal(problemOf(withModels(undefined)), undefined, 'the section is optional')
  t.equal(problemOf(withModels({ params: undefined, baseModels: shipped })), undefined, 'default parameters')
  t.match(problemOf(withModels({ params: { ...TEST_MODELS_PARAMS, verifiers: 0 }, baseModels: [] })), /INVALID_SPEC: models.params: models.verifiers must be in \[1, 16\], got 0/)
  t.match(problemOf(withModels({ params: { ...TEST_MODELS_PARAMS, minVerifiers: 3 }, baseModels: [] })), /minVerifiers/)
  t.match(problemOf(withModels({ params: { ...TEST_MODELS_PARAMS, trainerShareBps: 10_001 }, baseModels: [] })), /trainerShareBps/)
  t.match(problemOf(withModels({ params: undefined, baseModels: [shipped[0], baseModelArgs({ name: 'x', architecture: '{"kind":"lm"}' })] as never })), /models.baseModels\[1\]: architecture must have exactly the keys/)
  t.match(problemOf(withModels({ params: undefined, baseModels: [baseModelArgs({ name: 'y', engineVersion: '' })] })), /models.baseModels\[0\]: engineVersion is empty/)
  const twin = baseModelArgs({ name: 'z', weightsHash: sha256(utf8('tiny-lm weights')) })
  t.match(problemOf(withModels({ params: undefined, baseModels: [baseModelArgs(), twin] })), /weightsHash .* is listed twice/)
})
