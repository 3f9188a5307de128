import t from 'tap'
import fc from 'fast-check'
import { proveKey } from '../../../runtime/state/merkleTree.ts'
import { decodeStateProof, encodeStateProof, verifyStateProof, type StateProof } from '../../../runtime/state/proof.ts'
import { StateError } from '../../../runtime/state/errors.ts'
import { EMPTY_HASH } from '../../../runtime/state/treeHash.ts'
import { MemoryTree, hex } from './treeHelpers.ts'

const key = fc.uint8Array({ minLength: 0, maxLength: 24 })
const value = fc.uint8Array({ minLength: 0, maxLength: 16 })
const keySet = fc.uniqueArray(fc.tuple(key, value), { minLength: 0, maxLength: 120, selector: ([k]) => hex(k) })

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = bytes.slice()
  out[(bit >> 3) % out.length] = (out[(bit >> 3) % out.length] as number) ^ (1 << (bit & 7))
  return out
}

/** Every way we know to spoil a proof; each must be rejected. */
function tampered(proof: StateProof, bit: number): StateProof[] {
  const out: StateProof[] = []
  const { siblings } = proof
  const leafPart = proof.leaf === undefined ? {} : { leaf: proof.leaf }
  if (siblings.length > 0) {
    const at = bit % siblings.length
    out.push({ ...leafPart, siblings: siblings.map((s, i) => (i === at ? flipBit(s, bit) : s)) })
    out.push({ ...leafPart, siblings: siblings.slice(0, -1) })
    out.push({ ...leafPart, siblings: siblings.slice(1) })
  }
  out.push({ ...leafPart, siblings: [...siblings, EMPTY_HASH] })
  out.push({ ...leafPart, siblings: [EMPTY_HASH, ...siblings] })
  out.push({ ...leafPart, siblings: [...siblings, flipBit(new Uint8Array(32), bit)] })
  if (proof.leaf !== undefined) {
    out.push({ siblings, leaf: { keyHash: flipBit(proof.leaf.keyHash, bit), valueHash: proof.leaf.valueHash } })
    out.push({ siblings, leaf: { keyHash: proof.leaf.keyHash, valueHash: flipBit(proof.leaf.valueHash, bit) } })
    out.push({ siblings })
  } else {
    // an inclusion proof that also names another leaf is not a proof of anything
    out.push({ siblings, leaf: { keyHash: flipBit(new Uint8Array(32), bit), valueHash: new Uint8Array(32) } })
  }
  return out
}

t.test('inclusion and non-inclusion proofs verify; tampered ones never do', async (t) => {
  let inclusions = 0
  let emptyEnds = 0
  let leafEnds = 0
  await fc.assert(
    fc.asyncProperty(keySet, fc.array(key, { minLength: 1, maxLength: 8 }), fc.nat(), async (entries, absentCandidates, bit) => {
      const tree = new MemoryTree()
      await tree.apply(entries.map(([key, value]) => ({ key, value })))
      const root = tree.rootHash
      const otherTree = new MemoryTree()
      await otherTree.apply([...entries.slice(1).map(([key, value]) => ({ key, value })), { key: Uint8Array.of(1, 2, 3), value: Uint8Array.of(4) }])
      const present = new Set(entries.map(([k]) => hex(k)))
      for (const [k, v] of entries) {
        const proof = await proveKey(tree, tree.root, k)
        inclusions++
        if (!verifyStateProof(root, k, v, proof)) return false
        if (verifyStateProof(root, k, undefined, proof)) return false
        if (verifyStateProof(root, k, flipBit(v.length === 0 ? Uint8Array.of(0) : v, bit), proof)) return false
        if (verifyStateProof(otherTree.rootHash, k, v, proof)) return false
        for (const bad of tampered(proof, bit)) if (verifyStateProof(root, k, v, bad)) return false
        for (const [other] of entries) if (hex(other) !== hex(k) && verifyStateProof(root, other, v, proof)) return false
        const decoded = decodeStateProof(encodeStateProof(proof))
        if (!verifyStateProof(root, k, v, decoded) || hex(encodeStateProof(decoded)) !== hex(encodeStateProof(proof))) return false
      }
      for (const k of absentCandidates) {
        if (present.has(hex(k))) continue
        const proof = await proveKey(tree, tree.root, k)
        if (proof.leaf === undefined) emptyEnds++
        else leafEnds++
        if (!verifyStateProof(root, k, undefined, proof)) return false
        if (verifyStateProof(root, k, Uint8Array.of(), proof)) return false
        for (const bad of tampered(proof, bit)) if (verifyStateProof(root, k, undefined, bad)) return false
        // the other leaf's own key is present: the same proof must not show it absent
        for (const [other] of entries) if (verifyStateProof(root, other, undefined, proof)) return false
        if (entries.length > 1 && verifyStateProof(otherTree.rootHash, k, undefined, proof) && hex(otherTree.rootHash) !== hex(root)) {
          // a non-inclusion proof may only verify against a different root by a hash collision
          return false
        }
        const decoded = decodeStateProof(encodeStateProof(proof))
        if (!verifyStateProof(root, k, undefined, decoded)) return false
      }
      return true
    }),
    { seed: 11, numRuns: 120 },
  )
  t.ok(inclusions > 300, `${inclusions} inclusion proofs checked`)
  t.ok(emptyEnds > 20 && leafEnds > 20, `non-inclusion: ${emptyEnds} end at an empty subtree, ${leafEnds} at another leaf`)
})

t.test('the empty state proves every key absent with no siblings', async (t) => {
  const tree = new MemoryTree()
  const proof = await proveKey(tree, tree.root, Uint8Array.of(1))
  t.same(proof, { siblings: [] })
  t.ok(verifyStateProof(EMPTY_HASH, Uint8Array.of(1), undefined, proof))
  t.notOk(verifyStateProof(EMPTY_HASH, Uint8Array.of(1), Uint8Array.of(1), proof))
})

t.test('a non-inclusion leaf must share the path down to where it sits', async (t) => {
  // a tree no honest node builds: leaf L hanging on the left although its path starts with 1
  const { keyPath, leafHash, innerHash, valueHash } = await import('../../../runtime/state/treeHash.ts')
  let n = 0
  const keyWithFirstBit = (bit: number): Uint8Array => {
    while (true) {
      const k = Uint8Array.of(n++)
      if ((keyPath(k)[0] as number) >> 7 === bit) return k
    }
  }
  const other = keyWithFirstBit(1)
  const absent = keyWithFirstBit(0)
  const otherLeaf = { keyHash: keyPath(other), valueHash: valueHash(Uint8Array.of(5)) }
  const root = innerHash(leafHash(otherLeaf.keyHash, otherLeaf.valueHash), EMPTY_HASH)
  t.notOk(verifyStateProof(root, absent, undefined, { siblings: [EMPTY_HASH], leaf: otherLeaf }))
})

t.test('malformed proof bytes are a typed error, never a crash', async (t) => {
  const good = encodeStateProof({ siblings: [new Uint8Array(32).fill(1)], leaf: { keyHash: new Uint8Array(32), valueHash: new Uint8Array(32) } })
  const cases: Array<[string, Uint8Array]> = [
    ['empty', new Uint8Array(0)],
    ['truncated', good.subarray(0, good.length - 1)],
    ['trailing byte', Uint8Array.of(...good, 0)],
    ['not an array', Uint8Array.of(0xc0)],
    ['one field', Uint8Array.of(0x91, 0x90)],
    ['sibling of 31 bytes', Uint8Array.of(0x92, 0x91, 0xc4, 31, ...new Uint8Array(31), 0xc0)],
    ['leaf of one field', Uint8Array.of(0x92, 0x90, 0x91, 0xc4, 32, ...new Uint8Array(32))],
    ['map', Uint8Array.of(0x80)],
    ['too many siblings', encodeStateProofUnchecked(257)],
  ]
  for (const [name, bytes] of cases) t.throws(() => decodeStateProof(bytes), { code: 'STATE_PROOF_MALFORMED' }, name)
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 120 }), fc.nat(), (noise, at) => {
      const mutated = good.slice()
      if (noise.length > 0) mutated.set(noise.subarray(0, Math.min(noise.length, 4)), at % (mutated.length - 4))
      for (const bytes of [noise, mutated]) {
        try {
          const proof = decodeStateProof(bytes)
          verifyStateProof(EMPTY_HASH, Uint8Array.of(1), undefined, proof)
        } catch (error) {
          if (!(error instanceof StateError) || error.code !== 'STATE_PROOF_MALFORMED') return false
        }
      }
      return true
    }),
    { seed: 12, numRuns: 2000 },
  )
})

t.test('verify rejects ill-typed input without throwing', async (t) => {
  const proof = { siblings: [] }
  t.notOk(verifyStateProof(new Uint8Array(31), Uint8Array.of(1), undefined, proof))
  t.notOk(verifyStateProof(EMPTY_HASH, new Uint8Array(257), undefined, proof))
  t.notOk(verifyStateProof(EMPTY_HASH, Uint8Array.of(1), undefined, { siblings: [new Uint8Array(5)] }))
  t.notOk(verifyStateProof(EMPTY_HASH, Uint8Array.of(1), undefined, null as unknown as StateProof))
  t.notOk(verifyStateProof(EMPTY_HASH, Uint8Array.of(1), undefined, { siblings: 'x' } as unknown as StateProof))
  t.notOk(verifyStateProof(EMPTY_HASH, Uint8Array.of(1), undefined, { siblings: new Array(257).fill(EMPTY_HASH) }))
})

function encodeStateProofUnchecked(count: number): Uint8Array {
  return encodeStateProof({ siblings: new Array<Uint8Array>(count).fill(new Uint8Array(32)) })
}
