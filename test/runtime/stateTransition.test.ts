import t from 'tap'
import fc from 'fast-check'
import { toHex } from '../../runtime/crypto/hash.ts'
import type { Address } from '../../runtime/crypto/secp256k1.ts'
import { ZERO_HASH } from '../../runtime/block.ts'
import { createRuntime } from '../../runtime/index.ts'
import * as k from '../../runtime/codec/schema.ts'
import type { BlockInfo, CallContext, ModuleError } from '../../runtime/module.ts'
import { ECOSYSTEM_POOL_ACCOUNT, TREASURY_ACCOUNT } from '../../runtime/modules/accounts.ts'
import { TRANSFER_WEIGHT } from '../../runtime/modules/balances/calls.ts'
import { BalancesError } from '../../runtime/modules/balances/errors.ts'
import { Transferred } from '../../runtime/modules/balances/events.ts'
import { balanceOf, lockedAt, transfer as transferFunds } from '../../runtime/modules/balances/ledger.ts'
import { totalIssuance, vesting } from '../../runtime/modules/balances/state.ts'
import { FeePaid, FeesSettled } from '../../runtime/modules/fees/events.ts'
import { intrinsicGas, nextBaseFee } from '../../runtime/modules/fees/gas.ts'
import { baseFeePerGas, DEFAULT_FEE_PARAMS, type FeeParams } from '../../runtime/modules/fees/state.ts'
import { ModuleIndex } from '../../runtime/modules/indices.ts'
import { accountNonce } from '../../runtime/modules/system/index.ts'
import { accounts } from '../../runtime/modules/system/state.ts'
import { ReceiptStatus, type Receipt } from '../../runtime/receipt.ts'
import { BlockExecution, InvalidTransactionCode, InvalidTransactionError, Runtime } from '../../runtime/stateTransition.ts'
import { StateOverlay } from '../../runtime/state/overlay.ts'
import { signTransaction, type Transaction } from '../../runtime/transaction.ts'
import { devAccounts, devKey } from '../../genesis/devAccounts.ts'
import { devChainSpec } from '../../genesis/devSpec.ts'
import type { ChainSpec } from '../../genesis/spec.ts'
import { TOTAL_SUPPLY, VESTING_CLIFF_MS, VESTING_LINEAR_MS, ONE_OPEN } from '../../genesis/tokenomics.ts'
import { eventsOf, genesisState, GWEI, MapState, transferTx, type StateChanges } from './chainFixtures.ts'

const runtime = createRuntime()
const spec = devChainSpec()
const genesis = await genesisState(spec)
const dev = devAccounts()
const [alice, bob, charlie] = dev as [(typeof dev)[0], (typeof dev)[0], (typeof dev)[0]]
const AUTHOR = devKey('author').address
const team = devKey('team')
const nobody = devKey('nobody')
const hex = toHex

function blockInfo(height: number, options: { timestamp?: number; author?: Address; chainSpec?: ChainSpec } = {}): BlockInfo {
  const chainSpec = options.chainSpec ?? spec
  return { chainId: chainSpec.chainId, height, timestamp: options.timestamp ?? chainSpec.genesisTime + height * 1000, author: options.author ?? AUTHOR, parentHash: ZERO_HASH }
}

async function begin(state: MapState, options: Parameters<typeof blockInfo>[1] = {}, height = 1): Promise<BlockExecution> {
  return BlockExecution.begin(runtime, state, blockInfo(height, options))
}

/** The overlay's net writes as comparable strings. */
function snapshot(execution: BlockExecution): Map<string, string> {
  return new Map(execution.state.changes().map(({ key, value }) => [hex(key), value === undefined ? 'deleted' : hex(value)]))
}

/** Keys whose value differs between two snapshots. */
function changedKeys(before: Map<string, string>, after: Map<string, string>): Set<string> {
  const out = new Set<string>()
  for (const [key, value] of after) if (before.get(key) !== value) out.add(key)
  for (const key of before.keys()) if (!after.has(key)) out.add(key)
  return out
}

/** gas a transaction is charged: intrinsic gas of its bytes plus the transfer weight */
const transferGas = (tx: Transaction): number => intrinsicGas(tx.bytes.length) + TRANSFER_WEIGHT

function sumBalances(state: MapState): bigint {
  let sum = 0n
  for (const { value } of state.withPrefix(accounts.prefix)) sum += accounts.decodeValue(value).free
  return sum
}

t.test('genesis state: the whole supply, the minimum base fee, vesting for team and investors', async (t) => {
  t.equal(await totalIssuance.get(genesis), TOTAL_SUPPLY)
  t.equal(sumBalances(genesis), TOTAL_SUPPLY)
  t.equal(await baseFeePerGas.get(genesis), DEFAULT_FEE_PARAMS.minBaseFeePerGas)
  t.equal(await balanceOf(genesis, TREASURY_ACCOUNT), 0n)
  t.ok((await balanceOf(genesis, ECOSYSTEM_POOL_ACCOUNT)) > 0n)
  t.ok(await vesting.get(genesis, team.address))
  t.equal(await vesting.get(genesis, alice.address), undefined)
})

t.test('checkStatic charges intrinsic gas plus the call weight', async (t) => {
  const tx = transferTx(alice.privateKey, { to: bob.address, amount: 1n, nonce: 0 })
  const resolved = runtime.checkStatic(tx, spec.chainId)
  t.equal(resolved.gas, transferGas(tx))
  t.same(resolved.args, { to: bob.address, amount: 1n })
})

interface InvalidCase {
  name: InvalidTransactionCode
  tx: () => Transaction
  sender?: Address
}

t.test('invalid transactions throw their stable code and change nothing', async (t) => {
  const included = transferTx(alice.privateKey, { to: bob.address, amount: ONE_OPEN, nonce: 0 })
  const cases: InvalidCase[] = [
    { name: 'WRONG_CHAIN_ID', tx: () => transferTx(alice.privateKey, { to: bob.address, amount: 1n, nonce: 1, chainId: spec.chainId + 1 }) },
    { name: 'UNKNOWN_CALL', tx: () => signTransaction({ chainId: spec.chainId, nonce: 1, gasLimit: 10_000, maxFeePerGas: 10n * GWEI, maxPriorityFeePerGas: 0n, call: { module: ModuleIndex.balances, call: 99, args: [] } }, alice.privateKey) },
    { name: 'UNKNOWN_CALL', tx: () => signTransaction({ chainId: spec.chainId, nonce: 1, gasLimit: 10_000, maxFeePerGas: 10n * GWEI, maxPriorityFeePerGas: 0n, call: { module: ModuleIndex.treasury, call: 0, args: [] } }, alice.privateKey) },
    { name: 'INVALID_ARGUMENTS', tx: () => signTransaction({ chainId: spec.chainId, nonce: 1, gasLimit: 10_000, maxFeePerGas: 10n * GWEI, maxPriorityFeePerGas: 0n, call: { module: ModuleIndex.balances, call: 0, args: [bob.address] } }, alice.privateKey) },
    { name: 'INVALID_ARGUMENTS', tx: () => signTransaction({ chainId: spec.chainId, nonce: 1, gasLimit: 10_000, maxFeePerGas: 10n * GWEI, maxPriorityFeePerGas: 0n, call: { module: ModuleIndex.balances, call: 0, args: [bob.address.subarray(0, 19), 5n] } }, alice.privateKey) },
    { name: 'INVALID_ARGUMENTS', tx: () => signTransaction({ chainId: spec.chainId, nonce: 1, gasLimit: 10_000, maxFeePerGas: 10n * GWEI, maxPriorityFeePerGas: 0n, call: { module: ModuleIndex.balances, call: 0, args: [bob.address, 5] } }, alice.privateKey) },
    { name: 'GAS_LIMIT_TOO_LOW', tx: () => transferTx(alice.privateKey, { to: bob.address, amount: 1n, nonce: 1, gasLimit: 100 }) },
    { name: 'FEE_BELOW_BASE_FEE', tx: () => transferTx(alice.privateKey, { to: bob.address, amount: 1n, nonce: 1, maxFee: GWEI - 1n }) },
    { name: 'TIP_ABOVE_MAX_FEE', tx: () => transferTx(alice.privateKey, { to: bob.address, amount: 1n, nonce: 1, tip: 3n * GWEI, maxFee: 2n * GWEI }) },
    { name: 'NONCE_TOO_LOW', tx: () => included },
    { name: 'NONCE_TOO_LOW', tx: () => transferTx(alice.privateKey, { to: charlie.address, amount: 7n, nonce: 0 }) },
    { name: 'NONCE_TOO_HIGH', tx: () => transferTx(alice.privateKey, { to: bob.address, amount: 1n, nonce: 2 }) },
    { name: 'NONCE_TOO_HIGH', tx: () => transferTx(bob.privateKey, { to: alice.address, amount: 1n, nonce: 1 }), sender: bob.address },
    { name: 'INSUFFICIENT_FUNDS', tx: () => transferTx(nobody.privateKey, { to: bob.address, amount: 0n, nonce: 0 }), sender: nobody.address },
    // can pay the fee actually charged, but not gasLimit x maxFeePerGas
    { name: 'INSUFFICIENT_FUNDS', tx: () => transferTx(alice.privateKey, { to: bob.address, amount: 1n, nonce: 1, gasLimit: 10_000_000, maxFee: 10n ** 18n }) },
  ]
  for (const item of cases) {
    const execution = await begin(genesis.clone())
    const receipt = await execution.apply(included, alice.address)
    t.equal(receipt.status, ReceiptStatus.success)
    const before = snapshot(execution)
    const gasBefore = execution.gasUsed
    const tx = item.tx()
    await t.rejects(execution.apply(tx, item.sender ?? alice.address), { name: 'InvalidTransactionError', code: item.name }, `apply: ${item.name}`)
    t.same(snapshot(execution), before, `${item.name}: apply changed nothing`)
    const result = await execution.tryApply(tx, item.sender ?? alice.address)
    t.ok(result instanceof InvalidTransactionError && result.code === item.name, `tryApply: ${item.name}`)
    t.same(snapshot(execution), before, `${item.name}: tryApply changed nothing`)
    t.equal(execution.gasUsed, gasBefore)
    t.equal(execution.receipts.length, 1)
    t.equal(execution.state.depth, 0, 'no checkpoint left open')
  }
})

t.test('EXCEEDS_BLOCK_GAS: a block full to its gas limit refuses the next transaction and changes nothing', async (t) => {
  const probe = transferTx(alice.privateKey, { to: bob.address, amount: ONE_OPEN, nonce: 0 })
  const gas = transferGas(probe)
  const small: ChainSpec = { ...spec, fees: { ...DEFAULT_FEE_PARAMS, maxBlockGas: gas * 2 + gas - 1, targetBlockGas: gas } }
  const execution = await BlockExecution.begin(runtime, await genesisState(small), blockInfo(1, { chainSpec: small }))
  t.equal((await execution.apply(probe, alice.address)).gasUsed, gas)
  t.equal((await execution.apply(transferTx(alice.privateKey, { to: bob.address, amount: ONE_OPEN, nonce: 1 }), alice.address)).gasUsed, gas)
  t.equal(execution.gasRemaining, gas - 1)
  const before = snapshot(execution)
  const third = transferTx(alice.privateKey, { to: bob.address, amount: ONE_OPEN, nonce: 2 })
  await t.rejects(execution.apply(third, alice.address), { code: 'EXCEEDS_BLOCK_GAS' })
  const result = await execution.tryApply(third, alice.address)
  t.ok(result instanceof InvalidTransactionError && result.code === 'EXCEEDS_BLOCK_GAS')
  t.same(snapshot(execution), before)
  t.equal(execution.gasUsed, 2 * gas)
})

t.test('a transfer moves the amount and charges gas x (baseFee + tip): tip to the author, base part burned and to the treasury', async (t) => {
  const execution = await begin(genesis.clone())
  const baseFee = execution.baseFeePerGas
  t.equal(baseFee, GWEI)
  const amount = 123n * ONE_OPEN + 45n
  const tip = 2n * GWEI
  const tx = transferTx(alice.privateKey, { to: bob.address, amount, nonce: 0, tip, maxFee: 10n * GWEI })
  const gas = transferGas(tx)
  const receipt = await execution.apply(tx, alice.address)

  const basePart = BigInt(gas) * baseFee
  const burned = (basePart * BigInt(DEFAULT_FEE_PARAMS.burnShareBps)) / 10_000n
  const fee = BigInt(gas) * (baseFee + tip)
  t.equal(receipt.status, ReceiptStatus.success)
  t.equal(receipt.error, undefined)
  t.equal(receipt.gasUsed, gas)
  t.equal(receipt.fee, fee)
  t.equal(burned, basePart / 2n, 'half of the base part burned by default')

  const state = execution.state
  t.equal(await balanceOf(state, alice.address), 1_000_000n * ONE_OPEN - amount - fee)
  t.equal(await balanceOf(state, bob.address), 1_000_000n * ONE_OPEN + amount)
  t.equal(await accountNonce(state, alice.address), 1)
  t.equal(await accountNonce(state, bob.address), 0)
  // the fee's shares are credited once, when the block ends
  t.equal(await balanceOf(state, AUTHOR), 0n, 'tip not credited before the block ends')
  t.equal(await balanceOf(state, TREASURY_ACCOUNT), 0n)
  t.equal(await totalIssuance.get(state), TOTAL_SUPPLY)

  t.same(eventsOf(ModuleIndex.balances, Transferred, receipt.events), [{ from: alice.address, to: bob.address, amount }])
  t.same(eventsOf(ModuleIndex.fees, FeePaid, receipt.events), [{ account: alice.address, gasUsed: gas, baseFee: basePart, burned, tip: BigInt(gas) * tip }])
  t.equal(receipt.events.length, 2)

  const result = await execution.finish()
  t.equal(result.gasUsed, gas)
  t.equal(result.baseFeePerGas, baseFee)
  t.same(result.receipts, [receipt])
  t.equal(await balanceOf(state, AUTHOR), BigInt(gas) * tip)
  t.equal(await balanceOf(state, TREASURY_ACCOUNT), basePart - burned)
  t.equal(await totalIssuance.get(state), TOTAL_SUPPLY - burned)
  t.same(eventsOf(ModuleIndex.fees, FeesSettled, result.blockEvents), [{ author: AUTHOR, transactions: 1, treasury: basePart - burned, tips: BigInt(gas) * tip, burned }])
  await t.rejects(execution.apply(tx, alice.address), /already finished/)
})

t.test('the tip is capped by maxFeePerGas: the effective price is min(baseFee + tip, maxFee)', async (t) => {
  const execution = await begin(genesis.clone())
  const tx = transferTx(alice.privateKey, { to: bob.address, amount: 1n, nonce: 0, tip: GWEI, maxFee: GWEI + 7n })
  const gas = BigInt(transferGas(tx))
  const receipt = await execution.apply(tx, alice.address)
  t.equal(receipt.fee, gas * (GWEI + 7n))
  await execution.finish()
  t.equal(await balanceOf(execution.state, AUTHOR), gas * 7n)
  // all-burn and zero-burn fee parameters move the whole base part one way
  for (const burnShareBps of [0, 10_000]) {
    const custom: ChainSpec = { ...spec, fees: { ...DEFAULT_FEE_PARAMS, burnShareBps } }
    const other = await BlockExecution.begin(runtime, await genesisState(custom), blockInfo(1))
    const paid = await other.apply(transferTx(alice.privateKey, { to: bob.address, amount: 1n, nonce: 0 }), alice.address)
    const burned = eventsOf(ModuleIndex.fees, FeePaid, paid.events)[0]?.burned
    t.equal(burned, burnShareBps === 0 ? 0n : paid.fee, `burnShareBps ${burnShareBps}`)
    await other.finish()
    t.equal(await balanceOf(other.state, TREASURY_ACCOUNT), paid.fee - (burned ?? 0n))
  }
})

/** Runs `tx` on a fresh genesis block at `timestamp`; checks a failed call changed only nonce and fee. */
type Asserts = Pick<typeof t, 'equal' | 'same' | 'ok'>

async function expectFailedCall(t: Asserts, tx: Transaction, sender: Address, code: string, timestamp?: number): Promise<Receipt> {
  const execution = await begin(genesis.clone(), timestamp === undefined ? {} : { timestamp })
  const before = snapshot(execution)
  const balanceBefore = await balanceOf(execution.state, sender)
  const receipt = await execution.apply(tx, sender)
  t.equal(receipt.status, ReceiptStatus.failed)
  t.equal(runtime.errorCode(receipt.error ?? { module: 255, index: 255 }), code)
  t.equal(receipt.fee, BigInt(transferGas(tx)) * (execution.baseFeePerGas + tx.maxPriorityFeePerGas))
  const changed = changedKeys(before, snapshot(execution))
  t.same([...changed], [hex(accounts.key(sender))], `${code}: only the sender's record (nonce and fee) changed`)
  t.equal(await accountNonce(execution.state, sender), 1)
  t.equal(await balanceOf(execution.state, sender), balanceBefore - receipt.fee, 'fee kept')
  t.same(receipt.events.map((e) => [e.module, e.index]), [[ModuleIndex.fees, FeePaid.index]], 'only the fee event')
  return receipt
}

t.test('a failed call keeps its nonce bump and fee and nothing else', async (t) => {
  const tx = transferTx(alice.privateKey, { to: bob.address, amount: 1_000_001n * ONE_OPEN, nonce: 0, tip: GWEI })
  t.equal(BalancesError.InsufficientBalance.code, 'balances.InsufficientBalance')
  const receipt = await expectFailedCall(t, tx, alice.address, 'balances.InsufficientBalance')
  t.same(receipt.error, { module: ModuleIndex.balances, index: BalancesError.InsufficientBalance.index })
  // the whole balance minus nothing for the fee fails too: the fee leaves first
  const all = transferTx(alice.privateKey, { to: bob.address, amount: 1_000_000n * ONE_OPEN, nonce: 0 })
  await expectFailedCall(t, all, alice.address, 'balances.InsufficientBalance')
})

t.test('vesting: the team account cannot move locked funds before the cliff, and a proportion after it', async (t) => {
  const schedule = await vesting.get(genesis, team.address)
  if (schedule === undefined) throw new Error('team has no vesting schedule')
  const total = schedule.total
  t.equal(schedule.cliffEnd, spec.genesisTime + VESTING_CLIFF_MS)
  t.equal(schedule.end, spec.genesisTime + VESTING_CLIFF_MS + VESTING_LINEAR_MS)
  const oneOpen = (nonce = 0): Transaction => transferTx(team.privateKey, { to: bob.address, amount: ONE_OPEN, nonce })
  await expectFailedCall(t, oneOpen(), team.address, 'balances.VestingLocked', spec.genesisTime + 1000)
  await expectFailedCall(t, oneOpen(), team.address, 'balances.VestingLocked', schedule.cliffEnd - 1)
  await expectFailedCall(t, oneOpen(), team.address, 'balances.VestingLocked', schedule.cliffEnd)

  for (const [fraction, timestamp] of [[1n, schedule.cliffEnd + VESTING_LINEAR_MS / 4], [2n, schedule.cliffEnd + VESTING_LINEAR_MS / 2], [3n, schedule.cliffEnd + (3 * VESTING_LINEAR_MS) / 4]] as const) {
    const locked = lockedAt(schedule, timestamp)
    t.equal(locked, total - (total * fraction) / 4n, `${fraction}/4 released`)
    const draft = transferTx(team.privateKey, { to: bob.address, amount: total / 4n, nonce: 0 })
    const fee = BigInt(transferGas(draft)) * GWEI
    // the fee may come out of locked funds; the rest of the unlocked part can move, not one unit more
    const spendable = total - fee - locked
    const exact = transferTx(team.privateKey, { to: bob.address, amount: spendable, nonce: 0 })
    t.equal(transferGas(exact), transferGas(draft), 'same size, same fee')
    const execution = await begin(genesis.clone(), { timestamp })
    const receipt = await execution.apply(exact, team.address)
    t.equal(receipt.status, ReceiptStatus.success, `spendable moves at ${fraction}/4`)
    t.equal(await balanceOf(execution.state, team.address), locked)
    await expectFailedCall(t, transferTx(team.privateKey, { to: bob.address, amount: spendable + 1n, nonce: 0 }), team.address, 'balances.VestingLocked', timestamp)
  }
  const after = await begin(genesis.clone(), { timestamp: schedule.end })
  const everything = transferTx(team.privateKey, { to: bob.address, amount: total - BigInt(transferGas(oneOpen())) * GWEI * 2n, nonce: 0 })
  t.equal((await after.apply(everything, team.address)).status, ReceiptStatus.success, 'all of it after the end')
})

/** A remark from `key` with its fee caps set so the whole of `maxFee` above the base fee is a tip. */
function remarkTx(privateKey: Uint8Array, nonce: number, gasLimit: number, maxFee: bigint, tip: bigint): Transaction {
  return signTransaction({
    chainId: spec.chainId, nonce, gasLimit, maxFeePerGas: maxFee, maxPriorityFeePerGas: tip,
    call: { module: ModuleIndex.system, call: 0, args: [new Uint8Array(0)] },
  }, privateKey)
}

t.test('issue 27 (1): a vesting lock cannot drain through the tip; only the unlocked balance pays tips', async (t) => {
  // the reproduction: before the cliff, a remark whose maxFee takes the team's whole balance and
  // whose tip is all of it above the base fee would hand the locked allocation to the author
  const free = await balanceOf(genesis, team.address)
  const gasLimit = 914
  const maxFee = free / BigInt(gasLimit)
  const drain = remarkTx(team.privateKey, 0, gasLimit, maxFee, maxFee - GWEI)
  const execution = await begin(genesis.clone(), { timestamp: spec.genesisTime + 1000 })
  const before = snapshot(execution)
  await t.rejects(execution.apply(drain, team.address), { code: 'TIP_EXCEEDS_UNLOCKED_BALANCE' }, 'refused in execution')
  t.equal(changedKeys(before, snapshot(execution)).size, 0, 'nothing changed')
  t.equal(await balanceOf(execution.state, team.address), free)

  // the base-fee part may still come out of the locked balance (fees are not transfers)
  const plain = remarkTx(team.privateKey, 0, gasLimit, maxFee, 0n)
  const paid = await (await begin(genesis.clone(), { timestamp: spec.genesisTime + 1000 })).apply(plain, team.address)
  t.equal(paid.status, ReceiptStatus.success)
  t.equal(paid.fee, BigInt(paid.gasUsed) * GWEI, 'only the base fee, from locked funds')

  // a tip the unlocked part covers passes; one unit more does not
  const schedule = await vesting.get(genesis, team.address)
  if (schedule === undefined) throw new Error('team has no vesting schedule')
  const timestamp = schedule.cliffEnd + VESTING_LINEAR_MS / 4
  const unlocked = free - lockedAt(schedule, timestamp)
  const tip = unlocked / BigInt(gasLimit)
  const fits = await (await begin(genesis.clone(), { timestamp })).apply(remarkTx(team.privateKey, 0, gasLimit, GWEI + tip, tip), team.address)
  t.equal(fits.status, ReceiptStatus.success, 'a tip within the unlocked balance')
  await t.rejects((await begin(genesis.clone(), { timestamp })).apply(remarkTx(team.privateKey, 0, gasLimit, GWEI + tip + 1n, tip + 1n), team.address), { code: 'TIP_EXCEEDS_UNLOCKED_BALANCE' })
  // after the end of the schedule nothing is locked
  const after = await (await begin(genesis.clone(), { timestamp: schedule.end })).apply(drain, team.address)
  t.equal(after.status, ReceiptStatus.success, 'after the end the whole balance may tip')
})

t.test('the base fee rises after a block above target and falls to the minimum after empty blocks', async (t) => {
  const probe = transferTx(alice.privateKey, { to: bob.address, amount: 1n, nonce: 0 })
  const target = transferGas(probe) * 2
  const params: FeeParams = { ...DEFAULT_FEE_PARAMS, targetBlockGas: target, maxBlockGas: target * 2 }
  const custom: ChainSpec = { ...spec, fees: params }
  const state = await genesisState(custom)
  const execution = await BlockExecution.begin(runtime, state, blockInfo(1, { chainSpec: custom }))
  for (let nonce = 0; nonce < 3; nonce++) await execution.apply(transferTx(alice.privateKey, { to: bob.address, amount: 1n, nonce }), alice.address)
  const full = await execution.finish()
  t.ok(full.gasUsed > target && full.gasUsed <= params.maxBlockGas)
  state.apply(full.changes)
  let baseFee = await baseFeePerGas.get(state)
  t.equal(baseFee, nextBaseFee(GWEI, full.gasUsed, target, params.baseFeeChangeDenominator, GWEI))
  t.ok(baseFee > GWEI, 'rose')
  t.ok(baseFee <= GWEI + GWEI / 8n, 'by at most 1/8')
  // a transaction paying the old minimum is now below the base fee
  const next = await BlockExecution.begin(runtime, state, blockInfo(2, { chainSpec: custom }))
  t.equal(next.baseFeePerGas, baseFee)
  await t.rejects(next.apply(transferTx(alice.privateKey, { to: bob.address, amount: 1n, nonce: 3, maxFee: GWEI }), alice.address), { code: 'FEE_BELOW_BASE_FEE' })
  let previous = baseFee
  for (let height = 2; height < 12; height++) {
    const empty = await BlockExecution.begin(runtime, state, blockInfo(height, { chainSpec: custom }))
    const result = await empty.finish()
    t.equal(result.gasUsed, 0)
    state.apply(result.changes)
    baseFee = await baseFeePerGas.get(state)
    t.equal(baseFee, nextBaseFee(previous, 0, target, params.baseFeeChangeDenominator, GWEI))
    t.ok(baseFee >= GWEI, 'never below the minimum')
    t.ok(baseFee <= previous)
    previous = baseFee
  }
  t.equal(baseFee, GWEI, 'back at the minimum')
})

t.test('nextBaseFee: never below the minimum, moves at most 1/denominator, in the direction of the load', async (t) => {
  t.equal(nextBaseFee(1000n, 100, 100, 8, 1n), 1000n, 'at target: unchanged')
  t.equal(nextBaseFee(1000n, 200, 100, 8, 1n), 1125n, 'full: +1/8')
  t.equal(nextBaseFee(1000n, 0, 100, 8, 1n), 875n, 'empty: -1/8')
  t.equal(nextBaseFee(1000n, 0, 100, 8, 950n), 950n, 'clamped at the minimum')
  t.equal(nextBaseFee(5n, 101, 100, 8, 1n), 6n, 'moves up by at least one unit')
  t.equal(nextBaseFee(500n, 100, 100, 8, 900n), 900n, 'below the minimum: raised to it')
  fc.assert(fc.property(
    fc.bigInt({ min: 1n, max: 10n ** 15n }),
    fc.bigInt({ min: 0n, max: 10n ** 30n }),
    fc.integer({ min: 1, max: 100_000_000 }),
    fc.integer({ min: 1, max: 64 }),
    fc.integer({ min: 1, max: 10 }),
    fc.double({ min: 0, max: 1, noNaN: true }),
    (minimum, extra, target, denominator, elasticity, load) => {
      const baseFee = minimum + extra
      // any fullness a block can have, also when maxBlockGas is more than twice the target
      const gasUsed = Math.floor(load * target * elasticity)
      const next = nextBaseFee(baseFee, gasUsed, target, denominator, minimum)
      const step = baseFee / BigInt(denominator)
      const maxStep = step > 0n ? step : 1n
      if (next < minimum) return false
      if (gasUsed > target) return next > baseFee && next - baseFee <= maxStep
      if (gasUsed < target) return next <= baseFee && baseFee - next <= maxStep
      return next === baseFee
    },
  ), { seed: 17, numRuns: 2000 })
  t.pass('property holds')
})

// ---------------------------------------------------------------------------------------------
// Property: random blocks of transfers between the dev accounts conserve supply.

interface TransferOp {
  from: number
  to: number
  amount: bigint
  tip: bigint
  /** 0: the right nonce; otherwise the nonce is off by this much */
  nonceShift: number
}

const NEWCOMER = devKey('newcomer').address
const recipients: Address[] = [...dev.map((a) => a.address), NEWCOMER, TREASURY_ACCOUNT]

const transferOp: fc.Arbitrary<TransferOp> = fc.record({
  from: fc.integer({ min: 0, max: dev.length - 1 }),
  to: fc.integer({ min: 0, max: recipients.length - 1 }),
  amount: fc.oneof(
    { weight: 3, arbitrary: fc.bigInt({ min: 0n, max: 10n ** 22n }) },
    { weight: 2, arbitrary: fc.bigInt({ min: 0n, max: 3n * 10n ** 24n }) },
  ),
  tip: fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 3n * GWEI })),
  nonceShift: fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(-1, 1, 2) }),
})

t.test('property: supply is conserved, balances stay decodable and positive, failed calls change only nonce and fee', async (t) => {
  let checkedFailures = 0
  let checkedInvalid = 0
  await fc.assert(fc.asyncProperty(
    fc.array(transferOp, { minLength: 1, maxLength: 40 }),
    fc.array(fc.integer({ min: 1, max: 39 }), { maxLength: 3 }),
    fc.constantFrom(AUTHOR, alice.address),
    async (ops, cuts, author) => {
      const state = genesis.clone()
      const expectedNonce = dev.map(() => 0)
      const blocks: TransferOp[][] = []
      let start = 0
      for (const cut of [...new Set(cuts)].sort((a, b) => a - b).filter((c) => c < ops.length)) {
        blocks.push(ops.slice(start, cut))
        start = cut
      }
      blocks.push(ops.slice(start))
      let burnedTotal = 0n
      for (const [b, blockOps] of blocks.entries()) {
        const execution = await BlockExecution.begin(runtime, state, blockInfo(b + 1, { author }))
        // what the block's fees owe the treasury and the author, and burn, when it ends
        const owed = { transactions: 0, treasury: 0n, tips: 0n, burned: 0n }
        for (const op of blockOps) {
          const sender = dev[op.from] as (typeof dev)[0]
          const right = expectedNonce[op.from] as number
          const nonce = right + op.nonceShift < 0 ? right + 1 : right + op.nonceShift
          const to = recipients[op.to] as Address
          const tx = transferTx(sender.privateKey, { to, amount: op.amount, nonce, tip: op.tip })
          const watched = [sender.address, to, TREASURY_ACCOUNT, author]
          const balancesBefore = await Promise.all(watched.map((a) => balanceOf(execution.state, a)))
          const issuanceBefore = await totalIssuance.get(execution.state)
          const before = snapshot(execution)
          const result = await execution.tryApply(tx, sender.address)
          const changed = changedKeys(before, snapshot(execution))
          if (result instanceof InvalidTransactionError) {
            checkedInvalid++
            if (nonce !== right) t.match(result.code, /^NONCE_TOO_(LOW|HIGH)$/)
            else t.equal(result.code, 'INSUFFICIENT_FUNDS')
            if (changed.size !== 0) return false
            continue
          }
          if (nonce !== right) return false
          expectedNonce[op.from] = right + 1
          const [feePaid] = eventsOf(ModuleIndex.fees, FeePaid, result.events)
          if (feePaid === undefined) return false
          const price = GWEI + op.tip // maxFee is 10 gwei + tip, base fee stays at the minimum here
          if (execution.baseFeePerGas !== GWEI || result.fee !== BigInt(transferGas(tx)) * price || result.gasUsed !== transferGas(tx)) return false
          if (feePaid.baseFee + feePaid.tip !== result.fee) return false
          owed.transactions++
          owed.treasury += feePaid.baseFee - feePaid.burned
          owed.tips += feePaid.tip
          owed.burned += feePaid.burned
          // expected balance deltas: the fee always, the amount only on success; the fee's shares
          // reach the treasury, the author and the issuance only when the block ends
          const delta = new Map<string, bigint>()
          const add = (account: Address, amount: bigint): void => void delta.set(hex(account), (delta.get(hex(account)) ?? 0n) + amount)
          add(sender.address, -result.fee)
          const allowed = new Set([hex(accounts.key(sender.address))])
          if (result.status === ReceiptStatus.success) {
            add(sender.address, -op.amount)
            add(to, op.amount)
            allowed.add(hex(accounts.key(to)))
          } else {
            checkedFailures++
            if (runtime.errorCode(result.error ?? { module: 255, index: 255 }) !== 'balances.InsufficientBalance') return false
            if (result.events.length !== 1) return false
          }
          for (const key of changed) if (!allowed.has(key)) return false
          if (!changed.has(hex(accounts.key(sender.address)))) return false
          const balancesAfter = await Promise.all(watched.map((a) => balanceOf(execution.state, a)))
          for (const [i, account] of watched.entries()) {
            if (watched.findIndex((other) => hex(other) === hex(account)) !== i) continue
            if ((balancesAfter[i] as bigint) - (balancesBefore[i] as bigint) !== (delta.get(hex(account)) ?? 0n)) return false
          }
          if (issuanceBefore !== (await totalIssuance.get(execution.state))) return false
        }
        const issuanceBeforeEnd = await totalIssuance.get(execution.state)
        const [treasuryBeforeEnd, authorBeforeEnd] = await Promise.all([TREASURY_ACCOUNT, author].map((a) => balanceOf(execution.state, a)))
        const result = await execution.finish()
        burnedTotal += owed.burned
        if (owed.transactions > 0) {
          const [settled] = eventsOf(ModuleIndex.fees, FeesSettled, result.blockEvents)
          if (settled === undefined || hex(settled.author) !== hex(author)) return false
          if (settled.transactions !== owed.transactions || settled.treasury !== owed.treasury || settled.tips !== owed.tips || settled.burned !== owed.burned) return false
        }
        // the block's end credits exactly what its receipts owe (the author is never the treasury here)
        if ((await balanceOf(execution.state, TREASURY_ACCOUNT)) - (treasuryBeforeEnd as bigint) !== owed.treasury) return false
        if ((await balanceOf(execution.state, author)) - (authorBeforeEnd as bigint) !== owed.tips) return false
        if (issuanceBeforeEnd - (await totalIssuance.get(execution.state)) !== owed.burned) return false
        state.apply(result.changes)
        // every record decodes (the codec cannot hold a negative balance); none is empty
        let sum = 0n
        for (const { value } of state.withPrefix(accounts.prefix)) {
          const { nonce, free } = accounts.decodeValue(value)
          if (nonce === 0 && free === 0n) return false
          sum += free
        }
        const issuance = await totalIssuance.get(state)
        if (sum !== issuance) return false
        if (issuance !== TOTAL_SUPPLY - burnedTotal) return false
      }
      for (const [i, account] of dev.entries()) if ((await accountNonce(state, account.address)) !== expectedNonce[i]) return false
      return true
    },
  ), { seed: 2024, numRuns: 50 })
  t.ok(checkedFailures > 0, `failed calls were exercised (${checkedFailures})`)
  t.ok(checkedInvalid > 0, `invalid transactions were exercised (${checkedInvalid})`)
})

t.test('the state changes of a block are what the property test applies: the same block twice gives the same changes', async (t) => {
  const run = async (): Promise<StateChanges> => {
    const execution = await begin(genesis.clone())
    await execution.apply(transferTx(alice.privateKey, { to: bob.address, amount: 5n, nonce: 0, tip: 1n }), alice.address)
    await execution.apply(transferTx(bob.privateKey, { to: charlie.address, amount: 10n ** 30n, nonce: 0 }), bob.address)
    return (await execution.finish()).changes
  }
  const a = await run()
  const b = await run()
  t.same(a.map((c) => [hex(c.key), c.value === undefined ? null : hex(c.value)]), b.map((c) => [hex(c.key), c.value === undefined ? null : hex(c.value)]))
})

t.test('a module that throws is a bug: tryApply rethrows and leaves the block as it was', async (t) => {
  const buggy = {
    index: 200,
    name: 'buggy',
    calls: [{ index: 0, name: 'explode', args: k.struct({}), weight: () => 10, execute: async (context: CallContext) => {
      context.state.set(Uint8Array.of(200, 0), Uint8Array.of(1))
      throw new TypeError('module bug')
    } }],
    events: [],
    errors: [],
  }
  const withBug = new Runtime([...runtime.modules, buggy])
  const execution = await BlockExecution.begin(withBug, genesis.clone(), blockInfo(1))
  await execution.apply(transferTx(alice.privateKey, { to: bob.address, amount: 1n, nonce: 0 }), alice.address)
  const before = snapshot(execution)
  const explode = signTransaction({ chainId: spec.chainId, nonce: 1, gasLimit: 10_000, maxFeePerGas: 10n * GWEI, maxPriorityFeePerGas: 0n, call: { module: 200, call: 0, args: [] } }, alice.privateKey)
  await t.rejects(execution.tryApply(explode, alice.address), TypeError)
  t.same(snapshot(execution), before, 'not even the nonce or fee')
  t.equal(execution.receipts.length, 1, 'no receipt')
  t.equal(execution.state.depth, 0)
  t.throws(() => new Runtime([runtime.modules[0]!, runtime.modules[0]!]), /duplicate module index/)
  t.equal(withBug.errorCode({ module: 200, index: 9 }), 'unknown.200.9')
  t.equal(runtime.errorCode({ module: 1, index: 1 }), 'balances.VestingLocked')
})

t.test('StateOverlay: nested checkpoints behave like a stack of copies', async (t) => {
  const key = (n: number): Uint8Array => Uint8Array.of(9, n)
  const op = fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('set' as const), key: fc.integer({ min: 0, max: 5 }), value: fc.integer({ min: 0, max: 255 }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), key: fc.integer({ min: 0, max: 5 }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom('checkpoint' as const, 'revert' as const, 'discard' as const) }) },
  )
  await fc.assert(fc.asyncProperty(fc.array(op, { maxLength: 60 }), async (ops) => {
    const base = new MapState()
    base.apply([0, 1, 2].map((n) => ({ key: key(n), value: Uint8Array.of(100 + n) })))
    const overlay = new StateOverlay(base)
    // the model: the overlay's writes, and a copy of them per open checkpoint
    let writes = new Map<number, number | undefined>()
    const stack: Array<Map<number, number | undefined>> = []
    for (const item of ops) {
      if (item.kind === 'set') {
        overlay.set(key(item.key), Uint8Array.of(item.value))
        writes.set(item.key, item.value)
      } else if (item.kind === 'delete') {
        overlay.delete(key(item.key))
        writes.set(item.key, undefined)
      } else if (item.kind === 'checkpoint') {
        overlay.checkpoint()
        stack.push(new Map(writes))
      } else if (stack.length === 0) {
        if (item.kind === 'revert') t.throws(() => overlay.revert())
        else t.throws(() => overlay.discardCheckpoint())
      } else if (item.kind === 'revert') {
        overlay.revert()
        writes = stack.pop() as Map<number, number | undefined>
      } else {
        overlay.discardCheckpoint()
        stack.pop()
      }
      if (overlay.depth !== stack.length) return false
      for (let n = 0; n <= 5; n++) {
        const expected = writes.has(n) ? writes.get(n) : n <= 2 ? 100 + n : undefined
        const actual = await overlay.get(key(n))
        if ((actual === undefined ? undefined : actual[0]) !== expected) return false
      }
    }
    if (stack.length > 0) {
      t.throws(() => overlay.changes(), /open checkpoints/)
      while (stack.length > 0) {
        overlay.discardCheckpoint()
        stack.pop()
      }
    }
    const changes = new Map(overlay.changes().map(({ key: k, value }) => [k[1] as number, value === undefined ? undefined : value[0]]))
    if (changes.size !== writes.size) return false
    for (const [n, value] of writes) if (!changes.has(n) || changes.get(n) !== value) return false
    return true
  }), { seed: 8, numRuns: 300 })
  t.pass('overlay matches the model')
})

t.test('a call that writes and emits before failing is reverted to its fee', async (t) => {
  const failing: ModuleError = { module: 201, index: 0, code: 'halfway.Failed', message: 'failed after writing' }
  const halfway = {
    index: 201,
    name: 'halfway',
    calls: [{ index: 0, name: 'writeThenFail', args: k.struct({ fail: k.bool }), weight: () => 50, execute: async (context: CallContext, { fail }: { fail: boolean }) => {
      context.state.set(Uint8Array.of(201, 0), Uint8Array.of(1))
      context.emit({ module: 201, index: 0, data: null })
      await transferFunds(context, context.sender, bob.address, ONE_OPEN)
      return fail ? failing : undefined
    } }],
    events: [],
    errors: [{ index: 0, name: 'Failed', message: 'failed after writing' }],
  }
  const custom = new Runtime([...runtime.modules, halfway])
  const call = (nonce: number, fail: boolean): Transaction => signTransaction({ chainId: spec.chainId, nonce, gasLimit: 10_000, maxFeePerGas: 10n * GWEI, maxPriorityFeePerGas: 0n, call: { module: 201, call: 0, args: [fail] } }, alice.privateKey)
  const execution = await BlockExecution.begin(custom, genesis.clone(), blockInfo(1))
  const before = snapshot(execution)
  const failed = await execution.apply(call(0, true), alice.address)
  t.equal(failed.status, ReceiptStatus.failed)
  t.equal(custom.errorCode(failed.error ?? { module: 0, index: 0 }), 'halfway.Failed')
  t.same(failed.events.map((e) => [e.module, e.index]), [[ModuleIndex.fees, FeePaid.index]], 'the call\'s events are gone')
  const changed = changedKeys(before, snapshot(execution))
  t.same([...changed], [hex(accounts.key(alice.address))], 'only the sender\'s record (nonce and fee) remains written')
  t.equal(await execution.state.get(Uint8Array.of(201, 0)), undefined)
  t.equal(await balanceOf(execution.state, bob.address), 1_000_000n * ONE_OPEN)
  const succeeded = await execution.apply(call(1, false), alice.address)
  t.equal(succeeded.status, ReceiptStatus.success)
  t.same(await execution.state.get(Uint8Array.of(201, 0)), Uint8Array.of(1))
  t.equal(succeeded.events.length, 3, 'the fee event, the call\'s own event and its transfer')
})
