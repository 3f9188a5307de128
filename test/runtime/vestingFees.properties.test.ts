// Property (issue 27, rule 1): over random sequences of transactions from vesting-locked accounts
// (remarks and transfers, random gas limits, fee caps, tips and block times), nothing leaves the
// locked part of a balance except the base-fee part of a fee: every tip and every transferred
// amount comes from the unlocked part, a refused transaction changes nothing, and supply is
// conserved. `PROPERTY_RUNS` raises the number of sequences (the nightly-size run in the README).
import t from 'tap'
import fc from 'fast-check'
import { ZERO_HASH } from '../../runtime/block.ts'
import { createRuntime } from '../../runtime/index.ts'
import { balanceOf, lockedAt } from '../../runtime/modules/balances/ledger.ts'
import { totalIssuance, vesting, type VestingSchedule } from '../../runtime/modules/balances/state.ts'
import { FeePaid } from '../../runtime/modules/fees/events.ts'
import { ModuleIndex } from '../../runtime/modules/indices.ts'
import { BlockExecution, InvalidTransactionError } from '../../runtime/stateTransition.ts'
import { signTransaction } from '../../runtime/transaction.ts'
import { devKey } from '../../genesis/devAccounts.ts'
import { devChainSpec } from '../../genesis/devSpec.ts'
import { VESTING_LINEAR_MS } from '../../genesis/tokenomics.ts'
import { eventsOf, genesisState, GWEI } from './chainFixtures.ts'

const RUNS = Number(process.env.PROPERTY_RUNS ?? 10_000)
const runtime = createRuntime()
const spec = devChainSpec()
const genesis = await genesisState(spec)
const AUTHOR = devKey('author').address
const holders = [devKey('team'), devKey('investors')]
const bob = devKey('bob').address

async function scheduleOf(address: Uint8Array): Promise<VestingSchedule> {
  const schedule = await vesting.get(genesis, address)
  if (schedule === undefined) throw new Error('a vesting holder has no schedule')
  return schedule
}
const schedule = await scheduleOf(holders[0]!.address)
const free = await balanceOf(genesis, holders[0]!.address)

interface Op {
  holder: number
  /** a remark or a transfer of `amount` */
  transfer: boolean
  amount: bigint
  gasLimit: number
  maxFee: bigint
  tip: bigint
}

// fee caps from the minimum up to what takes the whole balance at the gas limit
const opArbitrary: fc.Arbitrary<Op> = fc.record({
  holder: fc.integer({ min: 0, max: holders.length - 1 }),
  transfer: fc.boolean(),
  amount: fc.oneof(fc.bigInt({ min: 0n, max: 10n ** 20n }), fc.bigInt({ min: 0n, max: free })),
  gasLimit: fc.integer({ min: 1_000, max: 20_000 }),
  maxFee: fc.oneof(fc.bigInt({ min: GWEI, max: 20n * GWEI }), fc.bigInt({ min: GWEI, max: free / 1_000n })),
  tip: fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 10n * GWEI }), fc.bigInt({ min: 0n, max: free / 1_000n })),
})

// before the cliff, at it, inside the linear release and after the end
const timeArbitrary = fc.oneof(
  fc.integer({ min: spec.genesisTime, max: schedule.cliffEnd }),
  fc.integer({ min: schedule.cliffEnd, max: schedule.cliffEnd + VESTING_LINEAR_MS }),
  fc.constant(schedule.end),
)

// run before any tap test opens: inside one, tap's async-hook domain tracks every promise, which
// costs more than the runtime's own work here (the outcome is reported in the test below)
let applied = 0
let refused = 0
const outcome = await fc.check(fc.asyncProperty(fc.array(opArbitrary, { minLength: 1, maxLength: 6 }), timeArbitrary, async (ops, timestamp) => {
    const execution = await BlockExecution.begin(runtime, genesis.clone(), { chainId: spec.chainId, height: 1, timestamp, author: AUTHOR, parentHash: ZERO_HASH })
    const nonces = holders.map(() => 0)
    for (const op of ops) {
      const holder = holders[op.holder]!
      const tx = signTransaction({
        chainId: spec.chainId, nonce: nonces[op.holder]!, gasLimit: op.gasLimit, maxFeePerGas: op.maxFee, maxPriorityFeePerGas: op.tip > op.maxFee ? op.maxFee : op.tip,
        call: op.transfer ? { module: ModuleIndex.balances, call: 0, args: [bob, op.amount] } : { module: ModuleIndex.system, call: 0, args: [new Uint8Array(0)] },
      }, holder.privateKey)
      const before = await balanceOf(execution.state, holder.address)
      const locked = lockedAt(await scheduleOf(holder.address), timestamp)
      const result = await execution.tryApply(tx, holder.address)
      const after = await balanceOf(execution.state, holder.address)
      if (result instanceof InvalidTransactionError) {
        refused++
        if (after !== before) return false
        continue
      }
      applied++
      nonces[op.holder]!++
      const [fee] = eventsOf(ModuleIndex.fees, FeePaid, result.events)
      if (fee === undefined) return false
      // all that left beyond the base-fee part came out of what the lock did not cover
      const unlocked = before > locked ? before - locked : 0n
      if (before - after - fee.baseFee > unlocked) return false
    }
    const result = await execution.finish()
    const state = genesis.clone()
    state.apply(result.changes)
    return (await totalIssuance.get(state)) <= (await totalIssuance.get(genesis))
}), { seed: 27, numRuns: RUNS })

t.test('property: a vesting lock pays base fees only: tips and transfers come from the unlocked part', async (t) => {
  t.notOk(outcome.failed, fc.defaultReportMessage(outcome) ?? `held for ${RUNS} sequences`)
  t.ok(applied > RUNS / 2 && refused > RUNS / 10, `both kinds seen: ${applied} applied, ${refused} refused`)
})
