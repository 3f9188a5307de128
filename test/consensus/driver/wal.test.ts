import t from 'tap'
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConsensusWal } from '../../../consensus/driver/wal.ts'
import { SignGuard, SignGuardError, SignStep } from '../../../consensus/driver/signGuard.ts'

const dir = () => {
  const path = mkdtempSync(join(tmpdir(), 'wal-'))
  return { path, [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }) }
}

t.test('records survive reopening; a torn tail is cut and appending continues after the last good record', async (t) => {
  using d = dir()
  const wal = new ConsensusWal(d.path)
  t.same(wal.openHeight(5), [])
  wal.append(Uint8Array.of(1, 2, 3), { sync: true })
  wal.append(Uint8Array.of(4), { sync: false })
  wal.close()
  // a crash mid-append: half a header and garbage
  appendFileSync(join(d.path, '5.wal'), Uint8Array.of(0, 0, 0, 9, 1))
  const again = new ConsensusWal(d.path)
  t.same(again.openHeight(5).map((r) => [...r]), [[1, 2, 3], [4]])
  again.append(Uint8Array.of(7, 7), { sync: true })
  again.close()
  t.same(new ConsensusWal(d.path).openHeight(5).map((r) => [...r]), [[1, 2, 3], [4], [7, 7]])
})

t.test('a flipped byte ends replay at the corrupt record', async (t) => {
  using d = dir()
  const wal = new ConsensusWal(d.path)
  wal.openHeight(1)
  wal.append(Uint8Array.of(1), { sync: false })
  wal.append(Uint8Array.of(2), { sync: false })
  wal.close()
  const file = join(d.path, '1.wal')
  const bytes = readFileSync(file)
  bytes.writeUInt8((bytes.at(-1) ?? 0) ^ 0xff, bytes.length - 1)
  writeFileSync(file, bytes)
  t.same(new ConsensusWal(d.path).openHeight(1).map((r) => [...r]), [[1]])
})

t.test('old heights are removed, the previous one kept', async (t) => {
  using d = dir()
  const wal = new ConsensusWal(d.path)
  for (let h = 1; h <= 5; h++) {
    wal.openHeight(h)
    wal.append(Uint8Array.of(h), { sync: false })
  }
  wal.close()
  t.same(readdirSync(d.path).sort(), ['4.wal', '5.wal'])
})

t.test('sign guard refuses to sign a different message at or before the last signed position, across restarts', async (t) => {
  using d = dir()
  const path = join(d.path, 'sign-state.json')
  const guard = new SignGuard(path)
  guard.authorize({ height: 3, round: 0, step: SignStep.prevote, digest: 'aa' })
  guard.authorize({ height: 3, round: 0, step: SignStep.prevote, digest: 'aa' }) // identical: fine
  t.throws(() => guard.authorize({ height: 3, round: 0, step: SignStep.prevote, digest: 'bb' }), SignGuardError)
  guard.authorize({ height: 3, round: 0, step: SignStep.precommit, digest: 'cc' })
  const restarted = new SignGuard(path)
  t.same(restarted.last, { height: 3, round: 0, step: SignStep.precommit, digest: 'cc' })
  t.throws(() => restarted.authorize({ height: 3, round: 0, step: SignStep.prevote, digest: 'aa' }), { code: 'WOULD_DOUBLE_SIGN' })
  t.throws(() => restarted.authorize({ height: 2, round: 9, step: SignStep.precommit, digest: 'dd' }), { code: 'WOULD_DOUBLE_SIGN' })
  restarted.authorize({ height: 3, round: 1, step: SignStep.proposal, digest: 'ee' })
  writeFileSync(path, '{"height":')
  t.throws(() => new SignGuard(path), { code: 'SIGN_STATE_CORRUPT' })
})
