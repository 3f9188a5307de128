import t from 'tap'
import fc from 'fast-check'
import { createHash } from 'node:crypto'
import { EMPTY_LIST_ROOT, merkleListRoot } from '../../runtime/merkleList.ts'

// the definition, written the plain way: every node a fresh hash of its concatenated parts
const hash = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha256')
  for (const part of parts) h.update(part)
  return new Uint8Array(h.digest())
}
function reference(items: readonly Uint8Array[]): Uint8Array {
  if (items.length === 0) return hash()
  let level = items.map((item) => hash(Uint8Array.of(0), item))
  while (level.length > 1) {
    const next: Uint8Array[] = []
    for (let i = 0; i < level.length; i += 2) {
      const right = level[i + 1]
      next.push(right === undefined ? (level[i] as Uint8Array) : hash(Uint8Array.of(1), level[i] as Uint8Array, right))
    }
    level = next
  }
  return level[0] as Uint8Array
}

t.test('property: the root is the RFC 6962-style definition for lists of any length and item size', async (t) => {
  fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 70 }), (items) => {
    const root = merkleListRoot(items)
    return root instanceof Uint8Array && root.length === 32 && Buffer.from(root).equals(Buffer.from(reference(items)))
  }), { numRuns: 400 })
  // a large item after small ones (the scratch grows), then small ones again
  const items = [Uint8Array.of(1), new Uint8Array(10_000).fill(7), Uint8Array.of(2, 3)]
  t.same(merkleListRoot(items), reference(items))
  t.same(merkleListRoot([Uint8Array.of(9)]), reference([Uint8Array.of(9)]))
  t.same(merkleListRoot([]), EMPTY_LIST_ROOT)
})

t.test('the root commits to order, content and count', async (t) => {
  const a = Uint8Array.of(1)
  const b = Uint8Array.of(2)
  const roots = [[a, b], [b, a], [a], [a, b, b], [a, Uint8Array.of(2, 0)]].map((items) => Buffer.from(merkleListRoot(items)).toString('hex'))
  t.equal(new Set(roots).size, roots.length)
  const root = merkleListRoot([a, b])
  merkleListRoot([new Uint8Array(500)])
  t.same(merkleListRoot([a, b]), root, 'a later call does not disturb an earlier result')
})
