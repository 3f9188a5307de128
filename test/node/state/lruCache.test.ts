import t from 'tap'
import fc from 'fast-check'
import { LruCache } from '../../../node/state/lruCache.ts'

t.test('behaves like a reference LRU under random operations', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 8 }), fc.array(fc.tuple(fc.constantFrom('get', 'set', 'delete'), fc.integer({ min: 0, max: 12 }), fc.integer({ min: 1, max: 3 })), { maxLength: 200 }), (capacity, ops) => {
      const cache = new LruCache<number>(capacity, (value) => value)
      // reference: array from least to most recently used
      const model: Array<[string, number]> = []
      for (const [op, n, weight] of ops) {
        const key = `k${n}`
        const at = model.findIndex(([k]) => k === key)
        if (op === 'get') {
          const got = cache.get(key)
          if (at < 0) {
            if (got !== undefined) return false
          } else {
            const [entry] = model.splice(at, 1) as [[string, number]]
            model.push(entry)
            if (got !== entry[1]) return false
          }
        } else if (op === 'set') {
          cache.set(key, weight)
          if (at >= 0) model.splice(at, 1)
          if (weight <= capacity) model.push([key, weight])
          while (model.reduce((sum, [, w]) => sum + w, 0) > capacity) model.shift()
        } else {
          cache.delete(key)
          if (at >= 0) model.splice(at, 1)
        }
        if (cache.size !== model.length || cache.weight !== model.reduce((sum, [, w]) => sum + w, 0)) return false
      }
      return true
    }),
    { seed: 5, numRuns: 500 },
  )
  t.pass()
})

t.test('evicting many entries stays fast', async (t) => {
  const cache = new LruCache<number>(1000)
  const start = performance.now()
  for (let i = 0; i < 300_000; i++) cache.set(String(i), i)
  t.equal(cache.size, 1000)
  t.equal(cache.get('299999'), 299999)
  t.equal(cache.get('0'), undefined)
  t.ok(performance.now() - start < 5000)
})
