// The randomness beacon on the consensus path: a validator with a registered hash chain puts the
// next value down it in each block it proposes, the tip moves down and the mix changes with it;
// a block with a missing, malformed or wrong reveal is refused with its code before execution; a
// chain registered or rotated by a call (setBeaconChain) takes over BEACON_ROTATION_DELAY blocks later.
import t from 'tap'
import { decodeBlock, encodeBlock } from '../../../node/consensus/consensusChain.ts'
import { ZERO_HASH, type BlockHeader } from '../../../runtime/block.ts'
import { encode, decode } from '../../../runtime/codec/canonical.ts'
import { sha256, toHex, utf8 } from '../../../runtime/crypto/hash.ts'
import { beaconChains, beaconRotations } from '../../../runtime/modules/staking/state.ts'
import { BEACON_ROTATION_DELAY, beaconTip, MAX_BEACON_CHAIN_LENGTH, type BeaconChain } from '../../../runtime/modules/staking/beacon.ts'
import { setBeaconChain } from '../../../runtime/modules/staking/calls.ts'
import { validatorInfo } from '../../../runtime/modules/staking/stake.ts'
import { ModuleIndex } from '../../../runtime/modules/indices.ts'
import { StateOverlay } from '../../../runtime/state/overlay.ts'
import { signTransaction } from '../../../runtime/transaction.ts'
import { BeaconReveals } from '../../../node/consensus/beaconReveals.ts'
import { GWEI } from '../../runtime/chainFixtures.ts'
import { mixAt, nextMix } from '../../../runtime/modules/system/randomness.ts'
import { devAccount } from '../../../genesis/devAccounts.ts'
import { BEACON_TEST_LENGTH, consensusParts, produce, spec, validatorKey } from './fixtures.ts'

const alice = devAccount('alice').address

/** The block's bytes with its header's reveal replaced (the header hash changes with it). */
function withReveal(bytes: Uint8Array, reveal: Uint8Array): Uint8Array {
  const block = decodeBlock(bytes)
  const header: BlockHeader = { ...block.header, randomnessReveal: reveal }
  return encodeBlock(header, block.body)
}

t.test('each block carries the proposer\'s next reveal; the tip moves down and the mix folds it in; another node imports them', async (t) => {
  const source = await consensusParts({ beacon: true })
  const target = await consensusParts({ beacon: true })
  const blocks = await produce(source, 3)
  let previousTip = (await beaconChains.get(target.chain.state, alice))?.tip
  let mix = await mixAt(target.chain.state, 0)
  for (const [i, { block, certificate }] of blocks.entries()) {
    const { header } = decodeBlock(block)
    t.notSame(header.randomnessReveal, ZERO_HASH, `block ${i + 1} carries a reveal`)
    t.same(sha256(header.randomnessReveal), previousTip, `block ${i + 1}: its reveal hashes to the tip before it`)
    await target.consensusChain.importCertified(block, certificate)
    const chain = await beaconChains.get(target.chain.state, alice)
    t.same(chain, { tip: header.randomnessReveal, remaining: BEACON_TEST_LENGTH - i - 1 }, 'the reveal is the new tip')
    mix = nextMix(mix, header.randomnessReveal)
    t.same(await mixAt(target.chain.state, i + 1), mix, 'the mix folds the reveal in')
    previousTip = chain?.tip
  }
})

t.test('import refuses a block whose reveal is missing, wrong, a replay or malformed', async (t) => {
  const source = await consensusParts({ beacon: true })
  const target = await consensusParts({ beacon: true })
  const candidate = await source.consensusChain.buildBlock(1, validatorKey.publicKey, Date.now())
  const reveal = decodeBlock(candidate.bytes).header.randomnessReveal
  const verdict = async (bytes: Uint8Array) => {
    const result = await target.consensusChain.validateBlock(bytes)
    return result.valid ? 'valid' : (result.reason ?? '').split(':')[0]
  }
  t.equal(await verdict(candidate.bytes), 'valid')
  t.equal(await verdict(withReveal(candidate.bytes, ZERO_HASH)), 'MISSING_REVEAL')
  t.equal(await verdict(withReveal(candidate.bytes, sha256(utf8('a value of the proposer\'s choosing')))), 'WRONG_REVEAL')
  t.equal(await verdict(withReveal(candidate.bytes, sha256(reveal))), 'WRONG_REVEAL', 'the tip itself (an old reveal replayed)')
  // a reveal of 31 bytes: the header does not decode
  const [headerBytes, body] = decode(candidate.bytes) as [Uint8Array, Uint8Array]
  const fields = decode(headerBytes) as unknown[]
  fields[16] = reveal.subarray(0, 31)
  const malformed = encode([encode(fields as never), body])
  const result = await target.consensusChain.validateBlock(malformed)
  t.equal(result.valid, false)
  t.match(result.reason, /^UNDECODABLE: .*randomnessReveal/)
  // and the same refusals on the sync path, as BlockImportError codes
  const [{ block, certificate }] = (await produce(source, 1)) as [{ block: Uint8Array; certificate: Uint8Array }]
  await t.rejects(target.consensusChain.importCertified(withReveal(block, ZERO_HASH), certificate), { code: 'INVALID_CERTIFICATE' }, 'a changed header no longer matches its certificate')
  t.equal(toHex((await beaconChains.get(target.chain.state, alice))?.tip ?? ZERO_HASH), toHex(sha256(reveal)), 'nothing imported moved the tip')
})

t.test('a proposer without a beacon chain reveals zero; anything else is WRONG_REVEAL', async (t) => {
  const source = await consensusParts()
  const target = await consensusParts()
  const candidate = await source.consensusChain.buildBlock(1, validatorKey.publicKey, Date.now())
  t.same(decodeBlock(candidate.bytes).header.randomnessReveal, ZERO_HASH)
  t.equal((await target.consensusChain.validateBlock(candidate.bytes)).valid, true)
  const chosen = await target.consensusChain.validateBlock(withReveal(candidate.bytes, sha256(utf8('chosen'))))
  t.equal(chosen.valid, false)
  t.match(chosen.reason, /^WRONG_REVEAL/)
})

t.test('setBeaconChain: a chain registered by a call counts BEACON_ROTATION_DELAY blocks later, a rotation to the next generation likewise; a value of the replaced chain is WRONG_REVEAL', async (t) => {
  // alice's validator has no chain at genesis (as one made by createValidator): it reveals zero
  const source = await consensusParts()
  const target = await consensusParts()
  const LENGTH = 2048
  let nonce = 0
  const register = async (generation: number): Promise<number> => {
    const args = { tip: beaconTip(validatorKey.secretKey, generation, LENGTH), length: LENGTH, generation }
    const tx = signTransaction({
      chainId: spec.chainId, nonce: nonce++, gasLimit: 1_000_000, maxFeePerGas: 10n * GWEI, maxPriorityFeePerGas: 0n,
      call: { module: ModuleIndex.staking, call: setBeaconChain.index, args: setBeaconChain.args.encode(args) },
    }, devAccount('alice').privateKey)
    await source.mempool.add(tx, alice)
    return source.chain.head.header.height + 1
  }
  const step = async (): Promise<Uint8Array> => {
    const [{ block, certificate }] = (await produce(source, 1)) as [{ block: Uint8Array; certificate: Uint8Array }]
    await target.consensusChain.importCertified(block, certificate)
    return decodeBlock(block).header.randomnessReveal
  }
  const registeredAt = await register(0)
  const reveals = [await step()]
  t.same((await beaconRotations.get(target.chain.state, alice))?.effectiveHeight, registeredAt + BEACON_ROTATION_DELAY, 'registered, in force BEACON_ROTATION_DELAY blocks later')
  while (target.chain.head.header.height < registeredAt + BEACON_ROTATION_DELAY) reveals.push(await step())
  t.same(reveals.slice(0, -1), reveals.slice(0, -1).map(() => ZERO_HASH), 'zero reveals until then')
  t.same(sha256(reveals.at(-1) as Uint8Array), beaconTip(validatorKey.secretKey, 0, LENGTH), 'then the first value below the registered tip')
  t.same(await beaconChains.get(target.chain.state, alice), { tip: reveals.at(-1), remaining: LENGTH - 1 })

  // what the call refuses: a second registration while one is pending, an old generation, a bad length
  const refusal = async (args: { tip: Uint8Array; length: number; generation: number }, sender = alice): Promise<string | undefined> => {
    const state = new StateOverlay(target.chain.state)
    const block = { chainId: spec.chainId, height: target.chain.head.header.height + 1, timestamp: Date.now(), author: alice, parentHash: ZERO_HASH }
    return (await setBeaconChain.execute({ state, block, sender, emit: () => undefined }, args))?.code
  }
  const tipOf = (generation: number, length = LENGTH) => beaconTip(validatorKey.secretKey, generation, length)
  t.equal(await refusal({ tip: tipOf(0), length: LENGTH, generation: 0 }), 'staking.InvalidBeaconChain', 'generation 0 again: its values below the tip are public')
  t.equal(await refusal({ tip: tipOf(1), length: 0, generation: 1 }), 'staking.InvalidBeaconChain', 'no values')
  t.equal(await refusal({ tip: tipOf(1), length: MAX_BEACON_CHAIN_LENGTH + 1, generation: 1 }), 'staking.InvalidBeaconChain', 'too long')
  t.equal(await refusal({ tip: tipOf(1), length: LENGTH, generation: 1 }, devAccount('bob').address), 'staking.UnknownValidator')
  t.equal(await refusal({ tip: tipOf(1), length: LENGTH, generation: 1 }), undefined)

  // a rotation: the old chain counts until the new one is in force
  const rotatedAt = await register(1)
  await step()
  t.equal(await refusal({ tip: tipOf(2), length: LENGTH, generation: 2 }), 'staking.BeaconRotationPending', 'one registration at a time')
  const coming = await validatorInfo(target.chain.state, alice)
  t.same(coming?.beaconRotation, { tip: tipOf(1), remaining: LENGTH, generation: 1, effectiveHeight: rotatedAt + BEACON_ROTATION_DELAY }, 'the validator view shows the rotation coming')
  t.equal(coming?.beacon?.generation, 0)
  let oldChain = await beaconChains.get(target.chain.state, alice) as BeaconChain
  while (target.chain.head.header.height < rotatedAt + BEACON_ROTATION_DELAY - 1) {
    const reveal = await step()
    t.same(sha256(reveal), oldChain.tip, `height ${target.chain.head.header.height}: still the generation-0 chain`)
    oldChain = { tip: reveal, remaining: oldChain.remaining - 1 }
  }
  const candidate = await source.consensusChain.buildBlock(target.chain.head.header.height + 1, validatorKey.publicKey, Date.now())
  t.same(sha256(decodeBlock(candidate.bytes).header.randomnessReveal), tipOf(1), 'from the rotation\'s height on, the generation-1 chain')
  const stale = new BeaconReveals(validatorKey.secretKey).revealFor(oldChain, 0) as Uint8Array
  const verdict = await target.consensusChain.validateBlock(withReveal(candidate.bytes, stale))
  t.equal(verdict.valid, false)
  t.match(verdict.reason, /^WRONG_REVEAL/, 'the next value of the replaced chain is refused')
  t.equal((await target.consensusChain.validateBlock(candidate.bytes)).valid, true)
  const view = await validatorInfo(target.chain.state, alice)
  t.same(view?.beacon, { tip: tipOf(1), remaining: LENGTH, generation: 1 }, 'the validator view: the generation-1 chain in force')
  t.equal(view?.beaconRotation, undefined)
})
