// The randomness beacon on the consensus path: a validator with a registered hash chain puts the
// next value down it in each block it proposes, the tip moves down and the mix changes with it;
// a block with a missing, malformed or wrong reveal is refused with its code before execution.
import t from 'tap'
import { decodeBlock, encodeBlock } from '../../../node/consensus/consensusChain.ts'
import { ZERO_HASH, type BlockHeader } from '../../../runtime/block.ts'
import { encode, decode } from '../../../runtime/codec/canonical.ts'
import { sha256, toHex, utf8 } from '../../../runtime/crypto/hash.ts'
import { beaconChains } from '../../../runtime/modules/staking/state.ts'
import { mixAt, nextMix } from '../../../runtime/modules/system/randomness.ts'
import { devAccount } from '../../../genesis/devAccounts.ts'
import { BEACON_TEST_LENGTH, consensusParts, produce, validatorKey } from './fixtures.ts'

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
  let mix: Uint8Array = ZERO_HASH
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
