// `openledger tx stake …` and `openledger query validators|validator|delegation|staking` against a
// dev chain process, as a user would run them.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { devAccount } from '../../genesis/devAccounts.ts'
import { ONE_OPEN } from '../../genesis/tokenomics.ts'
import { DEV_VALIDATOR_SELF_BOND } from '../../genesis/devSpec.ts'
import { generateEd25519FromSeed } from '../../runtime/crypto/ed25519.ts'
import { toHex } from '../../runtime/crypto/hash.ts'
import { parseCommission } from '../../cli/commands/stake.ts'
import { writeValidatorKey } from '../../node/keyFiles.ts'
import { BEACON_CHAIN_LENGTH, beaconTip } from '../../runtime/modules/staking/index.ts'
import { found, runCli, startDevNode, stopNode, tempHome } from '../e2e/harness.ts'

const alice = toHex(devAccount('alice').address)
const bob = toHex(devAccount('bob').address)
const charlie = toHex(devAccount('charlie').address)

interface ValidatorJson { operator: string; status: string; power: string; tokens: string; selfBond: string; commissionBps: number; slashed: string; jailed: boolean; missedBlocks: number }

t.test('parseCommission: percent with at most two decimals, to basis points', async (t) => {
  t.equal(parseCommission('10', '--commission'), 1_000)
  t.equal(parseCommission('12.5', '--commission'), 1_250)
  t.equal(parseCommission('0.01', '--commission'), 1)
  t.equal(parseCommission('100', '--commission'), 10_000)
  for (const bad of ['100.01', '-1', '1.234', 'ten', '', '1e2']) t.throws(() => parseCommission(bad, '--commission'), { code: 'BAD_ARGUMENT' }, bad)
})

t.test('create a validator, delegate, unbond and query it with the CLI', async (t) => {
  const home = await tempHome()
  t.teardown(home.remove)
  // a block per transaction and no others, so no epoch boundary (every 60 blocks) passes mid-test
  const node = await startDevNode(home.path, ['--instant-seal', '--block-time', '3600000'])
  t.teardown(() => stopNode(node, 'SIGKILL'))
  const rpc = ['--rpc', node.rpcUrl]
  const cli = async (...args: string[]) => runCli([...args, ...rpc])

  const pair = generateEd25519FromSeed(new Uint8Array(randomBytes(32)))
  const key = toHex(pair.publicKey)
  const created = await cli('tx', 'stake', 'create-validator', '--from', 'bob', '--consensus-key', key, '--self-bond', '20000', '--commission', '5')
  t.equal(created.code, 0, created.stderr + created.stdout)
  t.match(created.stdout, /status\s+success/)
  t.match(created.stderr, /reveals nothing to the randomness beacon until it registers a chain: openledger tx stake set-beacon/, 'a bare public key: no beacon chain, and the command says how to register one')
  t.equal(found(await node.rpc.call('openledger_getValidator', [bob]), 'bob\'s validator').beacon, null)
  // from the validator's key file, as its node reads it: generation 0, then a rotation to 1
  const keyFile = join(home.path, 'bob_validator_key.json')
  await writeValidatorKey(keyFile, { secretKey: pair.secretKey, publicKey: pair.publicKey })
  for (const generation of [0, 1]) {
    const registered = await cli('tx', 'stake', 'set-beacon', '--from', 'bob', '--consensus-key', keyFile)
    t.equal(registered.code, 0, registered.stderr + registered.stdout)
    const coming = found(await node.rpc.call('openledger_getValidator', [bob]), 'bob\'s validator').beaconRotation
    t.same({ generation: coming?.generation, tip: coming?.tip }, { generation, tip: toHex(beaconTip(pair.secretKey, generation, BEACON_CHAIN_LENGTH)) }, `generation ${generation} registered`)
    // instant seal: a block per transaction; bob's transfers to himself move the chain to the rotation's height
    while (found(await node.rpc.call('openledger_getValidator', [bob]), 'bob\'s validator').beaconRotation !== null) {
      t.equal((await cli('tx', 'transfer', '--from', 'bob', '--to', bob, '--amount', '1')).code, 0)
    }
    t.equal(found(await node.rpc.call('openledger_getValidator', [bob]), 'bob\'s validator').beacon?.generation, generation, `generation ${generation} in force`)
  }
  const stale = await cli('tx', 'stake', 'set-beacon', '--from', 'bob', '--consensus-key', keyFile, '--generation', '1')
  t.match(stale.stderr, /REFUSED.*staking\.InvalidBeaconChain/, 'a generation already used is refused by the dry run')

  const nonceBefore = await node.rpc.call('system_accountNextIndex', [bob])
  const refused = await cli('tx', 'stake', 'create-validator', '--from', 'bob', '--consensus-key', key, '--self-bond', '20000')
  t.equal(refused.code, 1, 'a call the dry run says would fail exits 1')
  t.match(refused.stderr, /REFUSED.*staking\.ValidatorExists.*nothing was sent and no fee paid/)
  t.equal(await node.rpc.call('system_accountNextIndex', [bob]), nonceBefore, 'nothing was sent')
  const again = await cli('tx', 'stake', 'create-validator', '--from', 'bob', '--consensus-key', key, '--self-bond', '20000', '--force')
  t.equal(again.code, 1, 'a failed call exits 1')
  t.match(again.stdout, /status\s+failed \(staking\.ValidatorExists\)/, '--force sends it: the chain fails it and keeps the fee')

  const delegated = await cli('tx', 'stake', 'delegate', '--from', 'charlie', '--validator', bob, '--amount', '1500.5')
  t.equal(delegated.code, 0, delegated.stderr + delegated.stdout)
  const selfBonded = await cli('tx', 'stake', 'bond', '--from', 'bob', '--amount', '100')
  t.equal(selfBonded.code, 0, 'bond without --validator adds to the sender\'s own validator')

  const validator = found(await node.rpc.call('openledger_getValidator', [bob]), 'bob\'s validator')
  t.equal(validator.tokens, (21_600n * ONE_OPEN + ONE_OPEN / 2n).toString())
  t.equal(validator.selfBond, (20_100n * ONE_OPEN).toString())
  t.equal(validator.commissionBps, 500)
  t.equal(validator.status, 'unbonded', 'not in the set in force until the next epoch boundary')
  t.equal(validator.slashed, '0')

  const delegation = found(await node.rpc.call('openledger_getDelegation', [charlie, bob]), 'charlie\'s delegation')
  t.equal(delegation.amount, (1_500n * ONE_OPEN + ONE_OPEN / 2n).toString())
  const undelegated = await cli('tx', 'stake', 'undelegate', '--from', 'charlie', '--validator', bob, '--amount', '500')
  t.equal(undelegated.code, 0, undelegated.stderr + undelegated.stdout)
  const shown = await cli('query', 'delegation', charlie, bob)
  t.equal(shown.code, 0, shown.stderr)
  const after = JSON.parse(shown.stdout) as { amount: string; unbonding: Array<{ amount: string; completionHeight: number }> }
  t.equal(after.amount, (1_000n * ONE_OPEN + ONE_OPEN / 2n).toString())
  t.equal(after.unbonding[0]?.amount, (500n * ONE_OPEN).toString())

  const list = await cli('query', 'validators')
  t.equal(list.code, 0, list.stderr)
  t.match(list.stdout, /^at height \d+: 1 active validators, total power 100000/)
  t.match(list.stdout, new RegExp(`${alice}\\s+bonded\\s+100000\\s+100000\\s+10%`))
  t.match(list.stdout, new RegExp(`${bob}\\s+unbonded\\s+21100\\s+20100\\s+5%`))
  const json = JSON.parse((await cli('query', 'validators', '--json')).stdout) as { validators: ValidatorJson[] }
  t.same(json.validators.map((v) => v.operator), [alice, bob])

  const info = JSON.parse((await cli('query', 'staking')).stdout) as { params: { epochLength: number }; totals: { bonded: string }; validatorCount: number }
  t.equal(info.validatorCount, 2)
  t.equal(info.totals.bonded, (DEV_VALIDATOR_SELF_BOND + 21_100n * ONE_OPEN + ONE_OPEN / 2n).toString())

  const tooSoon = await cli('tx', 'stake', 'set-commission', '--from', 'bob', '--commission', '5.5')
  t.match(tooSoon.stderr, /REFUSED.*staking\.CommissionChangeTooSoon/, 'once per epoch, creation included')
  const notJailed = await cli('tx', 'stake', 'unjail', '--from', 'bob')
  t.match(notJailed.stderr, /REFUSED.*staking\.NotJailed/)
  const claimed = await cli('tx', 'stake', 'claim-rewards', '--from', 'alice')
  t.equal(claimed.code, 0, 'alice, the block author, has commission to claim')

  // usage errors name what is missing, and send nothing
  const missing = await cli('tx', 'stake', 'delegate', '--from', 'charlie', '--amount', '1')
  t.equal(missing.code, 2)
  t.match(missing.stderr, /--validator ADDRESS/)
  const badKey = await cli('tx', 'stake', 'create-validator', '--from', 'dave', '--consensus-key', '0x1234', '--self-bond', '1')
  t.match(badKey.stderr, /--consensus-key must be/)
  const unknown = await cli('query', 'validator', toHex(devAccount('ferdie').address))
  t.match(unknown.stderr, /no validator operated by/)

  // the staking RPC validates its params at the edge, with stable codes
  t.equal(await node.rpc.call('openledger_getValidator', [toHex(devAccount('ferdie').address)]), null)
  t.equal(await node.rpc.call('openledger_getDelegation', [charlie, alice]), null, 'no delegation, no unbonding: null')
  await t.rejects(node.rpc.call('openledger_getValidator', ['0x1234']), { code: 'INVALID_PARAMS', rpcCode: -32602, message: /address/ })
  await t.rejects(node.rpc.call('openledger_getDelegation', [charlie]), { code: 'INVALID_PARAMS', message: /validator/ })
  await t.rejects(node.rpc.call('openledger_getStakingInfo', ['0x' + '11'.repeat(32)]), { code: 'UNKNOWN_BLOCK', rpcCode: -32010 })
  // a past block's view: before bob's validator existed
  const genesis = await node.rpc.call('chain_getBlockHash', [0])
  const atGenesis = await node.rpc.call('openledger_getValidators', [genesis])
  t.same(atGenesis.validators.map((v) => v.operator), [alice])
  t.equal(atGenesis.active?.effectiveHeight, 0)

  // create-validator given the key file registers the beacon chain (generation 0) right after
  const davePair = generateEd25519FromSeed(new Uint8Array(randomBytes(32)))
  const daveKeyFile = join(home.path, 'dave_validator_key.json')
  await writeValidatorKey(daveKeyFile, davePair)
  const daveCreated = await cli('tx', 'stake', 'create-validator', '--from', 'dave', '--consensus-key', daveKeyFile, '--self-bond', '20000')
  t.equal(daveCreated.code, 0, daveCreated.stderr + daveCreated.stdout)
  const dave = toHex(devAccount('dave').address)
  const daveBeacon = found(await node.rpc.call('openledger_getValidator', [dave]), 'dave\'s validator').beaconRotation
  t.same({ generation: daveBeacon?.generation, tip: daveBeacon?.tip }, { generation: 0, tip: toHex(beaconTip(davePair.secretKey, 0, BEACON_CHAIN_LENGTH)) }, 'its beacon chain registered by create-validator')
})
