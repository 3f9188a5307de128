// The staking module inside the real runtime: signed transactions dispatched by the state
// transition (fees, receipts, error codes), the evidence port passed through createRuntime, and
// the dev chain's validator.
import t from 'tap'
import type { Encodable } from '../../../../runtime/codec/canonical.ts'
import { toHex } from '../../../../runtime/crypto/hash.ts'
import { ZERO_HASH } from '../../../../runtime/block.ts'
import { createRuntime } from '../../../../runtime/index.ts'
import { balanceOf } from '../../../../runtime/modules/balances/ledger.ts'
import { ModuleIndex } from '../../../../runtime/modules/indices.ts'
import { BlockRewarded, Bonded, Slashed } from '../../../../runtime/modules/staking/events.ts'
import { delegation, STAKING_ACCOUNT, validatorInfo, validatorSetAt } from '../../../../runtime/modules/staking/index.ts'
import { ReceiptStatus } from '../../../../runtime/receipt.ts'
import { BlockExecution } from '../../../../runtime/stateTransition.ts'
import { signTransaction } from '../../../../runtime/transaction.ts'
import { devAccount, devValidatorKey } from '../../../../genesis/devAccounts.ts'
import { DEV_ACCOUNT_BALANCE, DEV_STAKING_PARAMS, DEV_VALIDATOR_SELF_BOND, devChainSpec } from '../../../../genesis/devSpec.ts'
import { eventsOf, genesisState, GWEI } from '../../chainFixtures.ts'
import { fakeEvidence, fakeVerifier, OPEN } from './harness.ts'

const spec = devChainSpec()
const alice = devAccount('alice')
const bob = devAccount('bob')
const runtime = createRuntime({ verifyEvidence: fakeVerifier })

function stakingTx(from: typeof alice, nonce: number, call: string, args: Record<string, unknown>) {
  const definition = runtime.moduleByName('staking')?.calls.find((c) => c.name === call)
  if (definition === undefined) throw new Error(`no call ${call}`)
  return signTransaction({
    chainId: spec.chainId,
    nonce,
    gasLimit: 200_000,
    maxFeePerGas: 10n * GWEI,
    maxPriorityFeePerGas: 0n,
    call: { module: ModuleIndex.staking, call: definition.index, args: definition.args.encode(args) as Encodable[] },
  }, from.privateKey)
}

t.test('the dev chain: alice operates the one validator, bonded at genesis, her spending balance intact', async (t) => {
  const state = await genesisState(spec)
  t.equal(await balanceOf(state, alice.address), DEV_ACCOUNT_BALANCE)
  t.equal(await balanceOf(state, STAKING_ACCOUNT), DEV_VALIDATOR_SELF_BOND)
  const info = await validatorInfo(state, alice.address)
  t.equal(info?.selfBond, DEV_VALIDATOR_SELF_BOND)
  t.equal(toHex(info?.consensusKey ?? ZERO_HASH), toHex(devValidatorKey('alice').publicKey))
  for (const height of [0, 1, 2]) {
    const set = await validatorSetAt(state, height)
    t.same(set.map((m) => [toHex(m.operator), toHex(m.consensusKey), m.power]), [[toHex(alice.address), toHex(devValidatorKey('alice').publicKey), DEV_VALIDATOR_SELF_BOND / OPEN]])
  }
  t.equal(DEV_STAKING_PARAMS.epochLength, 60)
})

t.test('staking calls through the state transition: fees, receipts, errors, block rewards', async (t) => {
  const state = await genesisState(spec)
  // alice authors the block (the dev producer's author): her validator earns the block reward
  const execution = await BlockExecution.begin(runtime, state, { chainId: spec.chainId, height: 1, timestamp: spec.genesisTime + 1000, author: alice.address, parentHash: ZERO_HASH })
  const bobBefore = await balanceOf(execution.state, bob.address)
  const ok = await execution.apply(stakingTx(bob, 0, 'bond', { validator: alice.address, amount: 500n * OPEN }), bob.address)
  t.equal(ok.status, ReceiptStatus.success)
  t.same(eventsOf(ModuleIndex.staking, Bonded, ok.events), [{ delegator: bob.address, validator: alice.address, amount: 500n * OPEN }])
  t.equal(await balanceOf(execution.state, bob.address), bobBefore - 500n * OPEN - ok.fee)
  const failed = await execution.apply(stakingTx(bob, 1, 'unbond', { validator: bob.address, amount: OPEN }), bob.address)
  t.equal(failed.status, ReceiptStatus.failed)
  t.equal(runtime.errorCode(failed.error ?? { module: 0, index: 0 }), 'staking.UnknownValidator')
  t.equal(await balanceOf(execution.state, bob.address), bobBefore - 500n * OPEN - ok.fee - failed.fee, 'a failed call keeps only its fee')
  const evidence = await execution.apply(stakingTx(bob, 2, 'submitEvidence', { evidence: fakeEvidence(devValidatorKey('alice').publicKey, 0) }), bob.address)
  t.equal(evidence.status, ReceiptStatus.success, 'the verifier given to createRuntime is used')
  t.equal(eventsOf(ModuleIndex.staking, Slashed, evidence.events).length, 1)
  const result = await execution.finish()
  t.same(eventsOf(ModuleIndex.staking, BlockRewarded, result.blockEvents), [], 'jailed in this block: no reward')
  state.apply(result.changes)
  t.equal((await delegation(state, bob.address, alice.address))?.amount, 500n * OPEN - 25n * OPEN)

  const strict = createRuntime()
  const other = await genesisState(spec)
  const block = await BlockExecution.begin(strict, other, { chainId: spec.chainId, height: 1, timestamp: spec.genesisTime + 1000, author: alice.address, parentHash: ZERO_HASH })
  const rejected = await block.apply(stakingTx(bob, 0, 'submitEvidence', { evidence: fakeEvidence(devValidatorKey('alice').publicKey, 0) }), bob.address)
  t.equal(strict.errorCode(rejected.error ?? { module: 0, index: 0 }), 'staking.InvalidEvidence', 'by default no evidence is accepted')
  const rewarded = await block.finish()
  t.same(eventsOf(ModuleIndex.staking, BlockRewarded, rewarded.blockEvents), [{ validator: alice.address, amount: DEV_STAKING_PARAMS.blockRewardPerBlock, commission: DEV_STAKING_PARAMS.blockRewardPerBlock / 10n }])
})
