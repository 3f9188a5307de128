// The layering of ARCHITECTURE.md, checked on the real tree: no import against
// `cli → node → {consensus, p2p, attribution → ml} → genesis → runtime → lib` and no loop between
// folders or between the parts of one folder. The fixture shows the check fails on a back edge and
// on a loop, and on a module's inner file imported from outside it, so a passing run means something.
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { checkImportGraph } from './importGraph.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))

t.test('the project\'s imports run with the layering and loop nowhere', async (t) => {
  const report = checkImportGraph(root)
  t.ok(report.files > 150, `read the tree (${report.files} files, ${report.edges.length} imports)`)
  t.same(report.violations, [], 'no import against the direction')
  t.same(report.cycles, [], 'no loop between folders or between the parts of a folder')
  t.same(report.moduleBypasses, [], 'code outside a runtime module imports it through its index.ts')
})

t.test('a fixture with a back edge, a loop and a bypassed module index fails the check', async (t) => {
  const report = checkImportGraph(fileURLToPath(new URL('./fixtures/backEdge', import.meta.url)))
  t.equal(report.files, 6)
  t.same(report.violations, ['runtime/rule.ts → node/mempool/pool.ts (runtime may import lib)'])
  t.same(report.cycles, ['node ↔ runtime', 'node/chain ↔ node/mempool'])
  t.same(report.moduleBypasses, ['node/chain/chain.ts → runtime/modules/fees/gas.ts (through runtime/modules/fees/index.ts)'], 'an inner file of a module reached from outside; its index and its own files are not')
})
