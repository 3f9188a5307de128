// Random sequences of datanets calls: supply is conserved, the escrow holds exactly the live
// deposits, a failed call changes nothing, and the incrementally kept tree root always equals the
// root rebuilt from the contribution records.
import t from 'tap'
import fc from 'fast-check'
import { sha256, utf8 } from '../../../../runtime/crypto/hash.ts'
import { Format } from '../../../../runtime/modules/datanets/formats.ts'
import { versionLeaves, versionTree } from '../../../../runtime/modules/datanets/proofs.ts'
import { addressOf, DatanetsHarness, invariantProblems, OPEN } from './harness.ts'

const PEOPLE = ['dave', 'eve', 'ferdie'] as const
const VALIDATORS = ['alice', 'bob', 'charlie'] as const

// weighted so that contributions often get through attestation and acceptance to withdrawal
const action = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('contribute' as const), who: fc.constantFrom(...PEOPLE), blob: fc.integer({ min: 0, max: 4 }), size: fc.integer({ min: 1, max: 2_000 }) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('attest' as const), who: fc.constantFrom(...VALIDATORS, 'eve' as const), index: fc.integer({ min: 0, max: 2 }) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('attestQuorum' as const), index: fc.integer({ min: 0, max: 2 }) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('accept' as const), who: fc.constantFrom('ferdie' as const, 'dave' as const, 'eve' as const), index: fc.integer({ min: 0, max: 2 }) }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('reject' as const), who: fc.constantFrom('ferdie' as const, 'dave' as const), index: fc.integer({ min: 0, max: 2 }) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('withdraw' as const), who: fc.constantFrom('contributor' as const, ...PEOPLE), index: fc.integer({ min: 0, max: 2 }) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('publish' as const), who: fc.constantFrom('ferdie' as const, 'eve' as const) }), weight: 2 },
)

t.test('random call sequences keep every invariant', async (t) => {
  await fc.assert(fc.asyncProperty(fc.array(action, { minLength: 10, maxLength: 40 }), async (actions) => {
    const h = await DatanetsHarness.create()
    await h.call('ferdie', 'create', {
      name: 'p', description: '', tags: [], licence: '', visibility: 0,
      rules: { deposit: 3n * OPEN + 7n, feePerByte: 11n, formats: [Format.documents], maxBytes: 1_500 }, curators: [addressOf('dave')],
    })
    for (const a of actions) {
      const before = h.snapshot()
      let outcome
      switch (a.kind) {
        case 'contribute':
          outcome = await h.call(a.who, 'contribute', { datanet: 1, cid: sha256(utf8(`blob ${a.blob}`)), size: a.size, rows: 1, format: Format.documents, metadata: '' })
          break
        case 'attest':
          outcome = await h.call(a.who, 'attestAvailability', { datanet: 1, contribution: a.index })
          break
        case 'attestQuorum':
          await h.call('alice', 'attestAvailability', { datanet: 1, contribution: a.index })
          outcome = await h.call('bob', 'attestAvailability', { datanet: 1, contribution: a.index })
          break
        case 'accept':
          outcome = await h.call(a.who, 'accept', { datanet: 1, contribution: a.index })
          break
        case 'reject':
          outcome = await h.call(a.who, 'reject', { datanet: 1, contribution: a.index, reason: '' })
          break
        case 'withdraw': {
          const contributor = (await h.contribution(1, a.index))?.contributor
          outcome = await h.call(a.who === 'contributor' ? (contributor ?? 'eve') : a.who, 'withdraw', { datanet: 1, contribution: a.index })
          break
        }
        case 'publish':
          outcome = await h.call(a.who, 'publishVersion', { datanet: 1, note: '' })
          break
      }
      if (outcome.error !== undefined && a.kind !== 'attestQuorum' && h.snapshot() !== before) throw new Error(`failed ${a.kind} (${outcome.error.code}) changed the state`)
      const problems = await invariantProblems(h)
      if (problems.length > 0) throw new Error(problems.join('; '))
      const datanet = await h.datanet(1)
      if (datanet === undefined) throw new Error('datanet lost')
      const rebuilt = versionTree(versionLeaves(h.allContributions(), { version: datanet.versions + 1, positions: datanet.positions })).root
      if (Buffer.compare(rebuilt, datanet.root) !== 0) throw new Error('incremental root differs from the rebuilt one')
      for (let v = 1; v <= datanet.versions; v++) {
        const version = await h.version(1, v)
        if (version === undefined || Buffer.compare(versionTree(versionLeaves(h.allContributions(), version)).root, version.root) !== 0) throw new Error(`version ${v} cannot be rebuilt`)
      }
    }
  }), { numRuns: 60, seed: 7 })
  t.pass('held for 60 random sequences')
})
