import t from 'tap'
import fc from 'fast-check'
import { PageCache } from '../../../node/state/pageCache.ts'

const record = (n: number, length: number): Uint8Array => new Uint8Array(length).fill(n & 0xff)

t.test('returns what was stored, evicts beyond capacity, compacts holes', async (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 30 }),
      fc.array(fc.tuple(fc.constantFrom('get', 'set', 'set', 'delete'), fc.integer({ min: 0, max: 60 }), fc.integer({ min: 1, max: 40 })), { maxLength: 400 }),
      (capacity, ops) => {
        const cache = new PageCache(capacity, 128)
        const stored = new Map<string, Uint8Array>()
        const views: Array<[Uint8Array, Uint8Array]> = []
        for (const [op, n, length] of ops) {
          const key = `k${n}`
          if (op === 'set') {
            const bytes = stored.get(key) ?? record(n, length) // a key always names the same bytes
            stored.set(key, bytes)
            const view = cache.set(key, bytes)
            views.push([view, bytes])
          } else if (op === 'delete') {
            cache.delete(key)
          } else {
            const got = cache.get(key)
            const want = stored.get(key)
            if (got !== undefined && (want === undefined || Buffer.compare(got, want) !== 0)) return false
            if (got !== undefined) views.push([got, want as Uint8Array])
          }
          // never more than capacity records, plus one chunk being filled
          if (cache.size > capacity + 128) return false
          if (cache.bytes > 2 * 40 * (capacity + 1) + 4 * 128) return false
        }
        // views handed out stay valid whatever happened afterwards
        return views.every(([view, bytes]) => Buffer.compare(view, bytes) === 0)
      },
    ),
    { seed: 9, numRuns: 400 },
  )
  t.pass()
})

t.test('keeps records that are read (second chance) over ones that are not', async (t) => {
  const cache = new PageCache(100, 1000)
  for (let i = 0; i < 100; i++) cache.set(`k${i}`, record(i, 100))
  // k0 is read every 50 insertions, the other first records never again
  for (let round = 0; round < 10; round++) {
    t.ok(cache.get('k0'), `round ${round}: k0 kept`)
    for (let i = 0; i < 50; i++) cache.set(`r${round}.${i}`, record(i, 100))
  }
  t.equal(cache.get('k1'), undefined)
  t.ok(cache.size <= 110)
})

t.test('holes left by deleted records are compacted away', async (t) => {
  const cache = new PageCache(1_000_000, 1000)
  const live = new Map<string, Uint8Array>()
  for (let i = 0; i < 20_000; i++) {
    const key = `k${i}`
    const bytes = record(i, 50 + (i % 50))
    cache.set(key, bytes)
    live.set(key, bytes)
    // keep about 30 recent records alive
    if (i >= 30) {
      cache.delete(`k${i - 30}`)
      live.delete(`k${i - 30}`)
    }
    // now and then a deleted key comes back (with the same bytes, as ids name one content)
    if (i % 500 === 0 && i >= 40) {
      const again = `k${i - 35}`
      const bytes = record(i - 35, 50 + ((i - 35) % 50))
      cache.set(again, bytes)
      live.set(again, bytes)
    }
  }
  t.equal(cache.size, live.size)
  t.ok(cache.bytes < live.size * 100 * 2 + 3 * 1000, `${cache.bytes} bytes held for ${live.size} live records`)
  for (const [key, bytes] of live) t.same(cache.get(key), bytes)
})
