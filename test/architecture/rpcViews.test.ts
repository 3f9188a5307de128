// The RPC contract is the one place a view is declared: no call of a contract method on the real
// tree names a result type or casts its answer. The fixture shows the check finds both forms.
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { contractMethods, handDeclaredViews } from './rpcViews.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))

t.test('no call of a contract method declares its view by hand', async (t) => {
  t.ok(contractMethods(`${root}node/rpc/contract.ts`).size > 100, 'read the contract\'s methods')
  t.same(handDeclaredViews(root), [])
})

t.test('a fixture with hand-declared views fails the check', async (t) => {
  t.same(handDeclaredViews(fileURLToPath(new URL('./fixtures/rpcViews', import.meta.url))), [
    'cli/show.ts:7 chain_getHead (a result type given)',
    'cli/show.ts:8 system_name (its result cast)',
    'cli/show.ts:9 chain_getHead (a result type given)',
  ])
})
