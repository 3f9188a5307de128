// Property (issue 27, rule 4): over random sequences of contribute, attest, accept, reject and
// withdraw (in any order, as a contributor racing a curator would order them), every
// contribution that leaves without ever being accepted has paid the rejection forfeit, whether a
// curator rejected it or its contributor withdrew it first: the treasury holds exactly the sum of
// those forfeits, and supply and escrow stay exact. `PROPERTY_RUNS` raises the number of
// sequences (the nightly-size run in the README).
import t from 'tap'
import fc from 'fast-check'
import { sha256, utf8 } from '../../../../runtime/crypto/hash.ts'
import { TREASURY_ACCOUNT } from '../../../../runtime/modules/accounts.ts'
import { Format } from '../../../../runtime/modules/datanets/formats.ts'
import { ContributionStatus, params as datanetsParams } from '../../../../runtime/modules/datanets/state.ts'
import { addressOf, DatanetsHarness, invariantProblems, OPEN } from './harness.ts'

const RUNS = Number(process.env.PROPERTY_RUNS ?? 10_000)
const DEPOSIT = 3n * OPEN + 7n
const CONTRIBUTORS = ['eve', 'ferdie'] as const

const action = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('contribute' as const), who: fc.constantFrom(...CONTRIBUTORS), blob: fc.integer({ min: 0, max: 5 }) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('attestQuorum' as const), index: fc.integer({ min: 0, max: 2 }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('accept' as const), index: fc.integer({ min: 0, max: 2 }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('reject' as const), index: fc.integer({ min: 0, max: 2 }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('withdraw' as const), index: fc.integer({ min: 0, max: 2 }) }), weight: 3 },
)

const setUp = await DatanetsHarness.create()
await setUp.call('dave', 'create', {
  name: 'p', description: '', tags: [], licence: '', visibility: 0,
  rules: { deposit: DEPOSIT, feePerByte: 0n, formats: [Format.documents], maxBytes: 1_500 }, curators: [],
})
const treasuryAtStart = await setUp.balance(TREASURY_ACCOUNT)
const { rejectionForfeitBps } = await datanetsParams.get(setUp.committed)

// run before any tap test opens: inside one, tap's async-hook domain tracks every promise, which
// costs more than the runtime's own work here (the outcome is reported in the test below)
let dodges = 0
const outcome = await fc.check(fc.asyncProperty(fc.array(action, { minLength: 2, maxLength: 8 }), async (actions) => {
    const h = setUp.fork()
    for (const a of actions) {
      switch (a.kind) {
        case 'contribute':
          await h.call(a.who, 'contribute', { datanet: 1, cid: sha256(utf8(`blob ${a.blob}`)), size: 10, rows: 1, format: Format.documents, metadata: '' })
          break
        case 'attestQuorum':
          await h.call('alice', 'attestAvailability', { datanet: 1, contribution: a.index })
          await h.call('bob', 'attestAvailability', { datanet: 1, contribution: a.index })
          break
        case 'accept':
          await h.call('dave', 'accept', { datanet: 1, contribution: a.index })
          break
        case 'reject':
          await h.call('dave', 'reject', { datanet: 1, contribution: a.index, reason: '' })
          break
        case 'withdraw': {
          const contribution = await h.contribution(1, a.index)
          const undecided = contribution?.status === ContributionStatus.pending || contribution?.status === ContributionStatus.available
          const outcome = await h.call(contribution?.contributor ?? addressOf('eve'), 'withdraw', { datanet: 1, contribution: a.index })
          if (undecided && outcome.error === undefined) dodges++
          break
        }
      }
    }
    let owed = 0n
    for (const c of h.allContributions()) {
      const neverAccepted = c.position === undefined
      if (c.status === ContributionStatus.rejected || (c.status === ContributionStatus.withdrawn && neverAccepted)) {
        owed += (c.deposit * BigInt(rejectionForfeitBps)) / 10_000n
      }
    }
    if ((await h.balance(TREASURY_ACCOUNT)) - treasuryAtStart !== owed) return false
    return (await invariantProblems(h)).length === 0
}), { seed: 27, numRuns: RUNS })

t.test('property: no contribution leaves undecided for less than the rejection forfeit', async (t) => {
  t.notOk(outcome.failed, fc.defaultReportMessage(outcome) ?? `held for ${RUNS} sequences`)
  t.ok(dodges > RUNS / 10, `undecided withdrawals tried: ${dodges}`)
})
