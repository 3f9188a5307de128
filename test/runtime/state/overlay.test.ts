import t from 'tap'
import fc from 'fast-check'
import { encode } from '../../../runtime/codec/canonical.ts'
import * as k from '../../../runtime/codec/schema.ts'
import { StateOverlay, type StateReader } from '../../../runtime/state/overlay.ts'
import { decodeStored, encodeStored } from '../../../runtime/state/typedValues.ts'
import { storageMap } from '../../../runtime/storage.ts'

// One typed item with a nested list (so copies must be deep) over a handful of keys.
const record = k.struct({ amount: k.amount, owners: k.list(k.address, 4) })
type Rec = k.Infer<typeof record>
const keys = [0, 1, 2, 3].map((i) => new Uint8Array([9, 9, i]))
const bytesOf = (value: Rec): Uint8Array => encode(record.encode(value))
const hex = (bytes: Uint8Array | undefined): string | undefined => (bytes === undefined ? undefined : Buffer.from(bytes).toString('hex'))

const rec: fc.Arbitrary<Rec> = fc.record({ amount: fc.bigInt({ min: 0n, max: 10n ** 27n }), owners: fc.array(fc.uint8Array({ minLength: 20, maxLength: 20 }), { maxLength: 3 }) })
const keyIndex = fc.integer({ min: 0, max: keys.length - 1 })
type Op =
  | { op: 'setRaw' | 'setTyped'; key: number; value: Rec }
  | { op: 'delete' | 'getRaw' | 'getTyped'; key: number }
  | { op: 'checkpoint' | 'revert' | 'discard' }
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constantFrom('setRaw' as const, 'setTyped' as const), key: keyIndex, value: rec }),
  fc.record({ op: fc.constantFrom('delete' as const, 'getRaw' as const, 'getTyped' as const), key: keyIndex }),
  fc.record({ op: fc.constantFrom('checkpoint' as const, 'revert' as const, 'discard' as const) }),
)

class MapReader implements StateReader {
  readonly values: Map<string, Uint8Array>
  constructor(values: Map<string, Uint8Array>) {
    this.values = values
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.values.get(hex(key) as string)
  }
}

t.test('typed and raw writes, reads, checkpoints and reverts agree with a plain map model', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.option(rec, { nil: undefined }), { minLength: keys.length, maxLength: keys.length }), fc.array(op, { maxLength: 60 }), async (committed, ops) => {
      const base = new Map<string, Uint8Array>()
      committed.forEach((value, i) => value !== undefined && base.set(hex(keys[i]) as string, bytesOf(value)))
      const overlay = new StateOverlay(new MapReader(base))
      // the model: encoded value per key (undefined: absent), and one snapshot per open checkpoint
      let model = new Map<number, string | undefined>(keys.map((key, i) => [i, hex(base.get(hex(key) as string))]))
      const snapshots: Array<Map<number, string | undefined>> = []
      const written = new Set<number>()
      for (const step of ops) {
        switch (step.op) {
          case 'setRaw':
            overlay.set(keys[step.key] as Uint8Array, bytesOf(step.value))
            model.set(step.key, hex(bytesOf(step.value)))
            written.add(step.key)
            break
          case 'setTyped':
            overlay.setTyped(keys[step.key] as Uint8Array, record, step.value)
            model.set(step.key, hex(bytesOf(step.value)))
            written.add(step.key)
            break
          case 'delete':
            overlay.delete(keys[step.key] as Uint8Array)
            model.set(step.key, undefined)
            written.add(step.key)
            break
          case 'getRaw':
            t.equal(hex(await overlay.get(keys[step.key] as Uint8Array)), model.get(step.key))
            break
          case 'getTyped': {
            const value = await overlay.getTyped(keys[step.key] as Uint8Array, record)
            t.equal(value === undefined ? undefined : hex(bytesOf(value)), model.get(step.key))
            break
          }
          case 'checkpoint':
            overlay.checkpoint()
            snapshots.push(new Map(model))
            break
          case 'revert':
            if (snapshots.length === 0) continue
            overlay.revert()
            model = snapshots.pop() as Map<number, string | undefined>
            break
          case 'discard':
            if (snapshots.length === 0) continue
            overlay.discardCheckpoint()
            snapshots.pop()
            break
        }
      }
      while (snapshots.length > 0) {
        overlay.discardCheckpoint()
        snapshots.pop()
      }
      // every key whose final value differs from the committed one is among the changes, encoded canonically
      const changes = new Map(overlay.changes().map((change) => [hex(change.key), hex(change.value)]))
      for (const [i, key] of keys.entries()) {
        if (changes.has(hex(key))) t.equal(changes.get(hex(key)), model.get(i))
        else t.equal(model.get(i), hex(base.get(hex(key) as string)), 'an unchanged key is not listed only if it was not written')
        if (!written.has(i)) t.notOk(changes.has(hex(key)))
      }
    }),
    { seed: 11, numRuns: 150 },
  )
})

t.test('a value read or written is the holder’s own copy: changing it in place changes nothing stored', async (t) => {
  const owner = new Uint8Array(20).fill(7)
  const overlay = new StateOverlay(new MapReader(new Map([[hex(keys[0]) as string, bytesOf({ amount: 5n, owners: [owner] })]])))
  const read = (await overlay.getTyped(keys[0] as Uint8Array, record)) as Rec
  read.amount = 99n
  read.owners.push(owner)
  t.same(await overlay.getTyped(keys[0] as Uint8Array, record), { amount: 5n, owners: [owner] }, 'a committed value read back unchanged')

  const value: Rec = { amount: 1n, owners: [] }
  overlay.setTyped(keys[1] as Uint8Array, record, value)
  value.amount = 2n
  value.owners.push(owner)
  const again = (await overlay.getTyped(keys[1] as Uint8Array, record)) as Rec
  t.same(again, { amount: 1n, owners: [] }, 'a write keeps the value as it was when written')
  again.owners.push(owner)
  t.same(await overlay.getTyped(keys[1] as Uint8Array, record), { amount: 1n, owners: [] }, 'a written value read back is a copy too')
  t.same(overlay.changes().find((c) => hex(c.key) === hex(keys[1]))?.value, bytesOf({ amount: 1n, owners: [] }))
})

t.test('decodeStored decodes each bytes object once and hands out copies; encodeStored bytes read back without decoding', async (t) => {
  const bytes = bytesOf({ amount: 3n, owners: [] })
  const first = decodeStored(bytes, record)
  first.owners.push(new Uint8Array(20))
  t.same(decodeStored(bytes, record), { amount: 3n, owners: [] })
  t.not(decodeStored(bytes, record), decodeStored(bytes, record), 'two reads, two objects')
  // the same bytes read as another kind are decoded as that kind, not served the remembered record
  const other = encode(7)
  t.equal(decodeStored(other, k.uint), 7)
  t.throws(() => decodeStored(other, record), 'bytes that are not a record still fail as a record')

  const value: Rec = { amount: 10n ** 27n, owners: [new Uint8Array(20).fill(1)] }
  const encoded = encodeStored(record, value)
  t.same(Buffer.from(encoded), Buffer.from(bytesOf(value)), 'the canonical encoding')
  t.same(decodeStored(encoded, record), value)
})

t.test('storage maps read and write through the typed path of an overlay and through plain readers', async (t) => {
  const map = storageMap(200, 1, (id: number) => new Uint8Array([id]), record)
  const committed = new Map<string, Uint8Array>([[hex(map.key(1)) as string, bytesOf({ amount: 4n, owners: [] })]])
  const reader = new MapReader(committed)
  t.same(await map.get(reader, 1), { amount: 4n, owners: [] }, 'a reader without getTyped: bytes decoded')
  t.equal(await map.get(reader, 2), undefined)
  const overlay = new StateOverlay(reader)
  map.set(overlay, 2, { amount: 8n, owners: [] })
  t.same(await map.get(overlay, 2), { amount: 8n, owners: [] })
  t.same(Buffer.from((await overlay.get(map.key(2))) as Uint8Array), Buffer.from(bytesOf({ amount: 8n, owners: [] })), 'a raw read encodes the typed write')
  map.delete(overlay, 1)
  t.equal(await map.get(overlay, 1), undefined)
})
