// NodeConsensusChain: blocks built, validated and imported with their certificates; what is wrong
// with a peer's block throws BlockImportError with its code (isPeerFault), while a failure of our
// own (a store that cannot write) throws as it is and is no peer's fault.
import t from 'tap'
import { BlockImportError, isPeerFault, type BlockImportErrorCode } from '../../../consensus/errors.ts'
import { encodeCommitCertificate } from '../../../consensus/types.ts'
import { decode, encode } from '../../../runtime/codec/canonical.ts'
import { generateEd25519FromSeed } from '../../../runtime/crypto/ed25519.ts'
import { sha256, toHex, utf8 } from '../../../runtime/crypto/hash.ts'
import { ConsensusChainError } from '../../../node/consensus/consensusChain.ts'
import { certify, consensusParts, produce, validatorKey } from './fixtures.ts'

async function importErrorOf(promise: Promise<unknown>): Promise<BlockImportErrorCode | 'imported'> {
  try {
    await promise
    return 'imported'
  } catch (error) {
    if (error instanceof BlockImportError) return error.code
    throw error
  }
}

const stranger = generateEd25519FromSeed(sha256(utf8('not a validator')))

t.test('blocks a validator finalized import on another node with their certificates', async (t) => {
  const source = await consensusParts()
  const blocks = await produce(source, 3)
  const target = await consensusParts()
  for (const { block, certificate } of blocks) await target.consensusChain.importCertified(block, certificate)
  t.equal(target.chain.head.header.height, 3)
  t.equal(toHex(target.chain.head.hash), toHex(source.chain.head.hash))
  await target.consensusChain.importCertified(blocks[0]!.block, blocks[0]!.certificate)
  t.equal(target.chain.head.header.height, 3, 'a block at or below the head is a no-op (consensus got there first)')
})

t.test('a peer\'s faults carry codes and are peer faults', async (t) => {
  const source = await consensusParts()
  const blocks = await produce(source, 2)
  const [first, second] = blocks as [{ block: Uint8Array; certificate: Uint8Array }, { block: Uint8Array; certificate: Uint8Array }]
  const target = await consensusParts()

  t.equal(await importErrorOf(target.consensusChain.importCertified(Uint8Array.of(1, 2, 3), first.certificate)), 'UNDECODABLE', 'garbage for a block')
  t.equal(await importErrorOf(target.consensusChain.importCertified(first.block, Uint8Array.of(0xc0))), 'INVALID_CERTIFICATE', 'garbage for a certificate')
  const [height, , blockHash] = decode(first.certificate) as [number, number, Uint8Array]
  const forged = encodeCommitCertificate(await certify(target, height, blockHash, stranger))
  t.equal(await importErrorOf(target.consensusChain.importCertified(first.block, forged)), 'INVALID_CERTIFICATE', 'signed by a key that is not the validator\'s')
  t.equal(await importErrorOf(target.consensusChain.importCertified(first.block, second.certificate)), 'INVALID_CERTIFICATE', 'another block\'s certificate')
  t.equal(await importErrorOf(target.consensusChain.importCertified(second.block, second.certificate)), 'UNKNOWN_PARENT', 'a block that skips a height')
  t.equal(target.chain.head.header.height, 0, 'nothing was imported')

  const error = await target.consensusChain.importCertified(Uint8Array.of(1), first.certificate).catch((e: unknown) => e)
  t.ok(isPeerFault(error), 'isPeerFault says so')
  t.notOk(isPeerFault(new Error('EIO')), 'a plain error is not')
})

t.test('a store that fails the write: the import throws our error, not a peer fault, and succeeds later', async (t) => {
  const source = await consensusParts()
  const [first] = await produce(source, 1)
  if (first === undefined) throw new Error('one block')
  const target = await consensusParts()
  target.store.failWrites = true
  const error = await target.consensusChain.importCertified(first.block, first.certificate).catch((e: unknown) => e)
  t.ok(error instanceof Error && /EIO/.test(error.message), 'the store\'s error comes through')
  t.notOk(isPeerFault(error), 'and is not the peer\'s fault')
  t.equal(target.store.writesFailed, 1)
  t.equal(target.chain.head.header.height, 0, 'the head did not move')
  target.store.failWrites = false
  await target.consensusChain.importCertified(first.block, first.certificate)
  t.equal(target.chain.head.header.height, 1, 'the same block imports once the store writes again')
})

t.test('validateBlock: a proposal\'s faults make it invalid with the error code', async (t) => {
  const source = await consensusParts()
  const target = await consensusParts()
  const candidate = await source.consensusChain.buildBlock(1, validatorKey.publicKey, Date.now())
  const valid = await target.consensusChain.validateBlock(candidate.bytes)
  t.equal(valid.valid, true)
  t.equal(toHex(valid.hash), toHex(candidate.hash))
  const garbage = await target.consensusChain.validateBlock(encode([Uint8Array.of(1), Uint8Array.of(2)]))
  t.equal(garbage.valid, false)
  t.match(garbage.reason, /^UNDECODABLE/)
  const [, next] = await produce(source, 2)
  const skipping = await target.consensusChain.validateBlock(next!.block)
  t.equal(skipping.valid, false)
  t.match(skipping.reason, /^UNKNOWN_PARENT/)
})

t.test('what the driver asks that the chain cannot do is our typed error, not a peer fault', async (t) => {
  const parts = await consensusParts()
  const ahead = await parts.consensusChain.buildBlock(5, validatorKey.publicKey, Date.now()).catch((e: unknown) => e)
  t.ok(ahead instanceof ConsensusChainError && ahead.code === 'NOT_NEXT_HEIGHT', 'a height that does not follow the head')
  t.notOk(isPeerFault(ahead))
  const never = sha256(utf8('never executed'))
  const unknown = await parts.consensusChain.commitBlock(never, await certify(parts, 1, never)).catch((e: unknown) => e)
  t.ok(unknown instanceof ConsensusChainError && unknown.code === 'NOT_EXECUTED', 'a block it did not execute')
  t.notOk(isPeerFault(unknown))
  t.equal(parts.chain.head.header.height, 0, 'nothing committed')
})
