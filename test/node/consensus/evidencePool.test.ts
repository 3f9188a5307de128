// The evidence pool: checked on the way in, offered to the next block, dropped once a block carries it.
import t from 'tap'
import { createDuplicateVoteEvidence, encodeEvidence } from '../../../consensus/types.ts'
import { createEvidenceVerifier } from '../../../node/consensus/evidence.ts'
import { EvidencePool, MAX_EVIDENCE_PER_BLOCK } from '../../../node/consensus/evidencePool.ts'
import { toHex } from '../../../runtime/crypto/hash.ts'
import { CHAIN_ID, blockHash, committee, vote } from '../../consensus/fixtures.ts'

const c = committee([1n, 1n, 1n, 1n])
const validators = new Set(c.keys.slice(0, 3).map((key) => toHex(key.publicKey)))

function pool(maxPending?: number): EvidencePool {
  return new EvidencePool(maxPending === undefined ? {} : { maxPending }, {
    verify: createEvidenceVerifier(),
    chainId: CHAIN_ID,
    nextHeight: () => 100,
    isValidator: (key) => Promise.resolve(validators.has(toHex(key))),
  })
}

function equivocation(validator: number, height: number): Uint8Array {
  return encodeEvidence(createDuplicateVoteEvidence(vote(c, validator, 'prevote', height, 0, blockHash('a')), vote(c, validator, 'prevote', height, 0, blockHash('b'))))
}

t.test('valid evidence is pooled once and offered to the next block until a block carries it', async (t) => {
  const p = pool()
  const evidence = equivocation(0, 10)
  t.equal(await p.add(evidence), 'added')
  t.equal(await p.add(evidence), 'known', 'the same bytes again')
  t.same(p.pending(), [evidence])
  p.onCommitted([evidence])
  t.same(p.pending(), [], 'gone once committed')
  t.equal(await p.add(evidence), 'known', 'a late gossip copy is not pooled again')
})

t.test('bytes that prove nothing are invalid; a key that does not vote is irrelevant', async (t) => {
  const p = pool()
  t.equal(await p.add(Uint8Array.of(1, 2, 3)), 'invalid', 'garbage')
  const sameVote = vote(c, 1, 'prevote', 10, 0, blockHash('a'))
  t.equal(await p.add(encodeEvidence({ voteA: sameVote, voteB: sameVote })), 'invalid', 'two identical votes are no equivocation')
  const forged = { ...vote(c, 1, 'prevote', 10, 0, blockHash('b')), validator: c.keys[2]?.publicKey as Uint8Array }
  t.equal(await p.add(encodeEvidence({ voteA: vote(c, 2, 'prevote', 10, 0, blockHash('a')), voteB: forged })), 'invalid', 'a forged signature')
  t.equal(await p.add(equivocation(3, 10)), 'irrelevant', 'validator 3 is not in the set')
  t.equal(p.size, 0)
})

t.test('bounded: blocks take at most MAX_EVIDENCE_PER_BLOCK, the pool drops its oldest past its limit', async (t) => {
  const p = pool(20)
  const all: Uint8Array[] = []
  for (let height = 1; height <= 25; height++) {
    const evidence = equivocation(height % 3, height)
    all.push(evidence)
    t.equal(await p.add(evidence), 'added')
  }
  t.equal(p.size, 20)
  t.equal(p.pending().length, MAX_EVIDENCE_PER_BLOCK)
  t.same(p.pending(100), all.slice(5), 'the five oldest were dropped')
})
